// Registry tests: names, pinned URLs and hashes, and the download / verify / cache / mirror / mismatch / 404 /
// offline paths, all against a loopback HTTP mirror built from the data kit (nothing reaches the internet).
import { promises as fs } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { MobileNetError } from '../lib/errors';
import { hashFile } from '../lib/download';
import { cacheDir } from '../lib/cache';
import { load, type DownloadProgress } from '../lib';
import { DEFAULT_MODEL, imagenetLabels, isRegistryName, registryEntries, resolveRegistryModel } from '../lib/registry';
import { REPO_ROOT, dataPath } from './helpers/data';
import { buildMirrorDir, closedLoopbackPort, dataFilesBySha, startMirror, type Mirror } from './helpers/mirror';

const ENV_KEYS = ['MOBILENET_MODEL_MIRROR', 'MOBILENET_CACHE_DIR', 'MOBILENET_REGISTRY_ORIGIN', 'MOBILENET_PROGRESS'] as const;
const savedEnv: Record<string, string | undefined> = {};
let cache: string;

beforeAll(() => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
});
afterAll(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

beforeEach(async () => {
  // A fresh cache per test, and no way out to the real origin unless a test sets one.
  cache = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-cache-'));
  process.env.MOBILENET_CACHE_DIR = cache;
  process.env.MOBILENET_REGISTRY_ORIGIN = `http://127.0.0.1:${await closedLoopbackPort()}`;
  process.env.MOBILENET_PROGRESS = '0';
  delete process.env.MOBILENET_MODEL_MIRROR;
});
afterEach(async () => {
  await fs.rm(cache, { recursive: true, force: true });
});

async function expectDownloadError(p: Promise<unknown>): Promise<MobileNetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MobileNetError);
  expect((err as MobileNetError).code).toBe('E_DOWNLOAD');
  return err as MobileNetError;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (d.isFile()) out.push(path.join(d.parentPath ?? d.path, d.name));
  return out;
}

describe('registry entries', () => {
  test('names the required models, with the V2 uint8 TFLite file as the default', () => {
    const entries = registryEntries();
    const byName = (n: string) => entries.find((e) => e.name === n || e.aliases.includes(n));
    for (const n of ['mobilenet_v1_0.25_128', 'mobilenet_v2', 'mobilenet_v2_int8', 'mobilenet_v3_small']) expect(isRegistryName(n)).toBe(true);
    expect(byName(DEFAULT_MODEL)?.model.relativePath).toMatch(/\/mobilenet_v2_1\.0_224_quant\.tflite$/);
    expect(byName('mobilenet_v2_int8')?.model.relativePath).toMatch(/\/tf2_mobilenet_v2_1\.0_224_ptq\.tflite$/);
    expect(isRegistryName('mobilenet_v9')).toBe(false);
    expect(isRegistryName('model.tflite')).toBe(false);
    // Every name and alias is unambiguous: it resolves to exactly one entry.
    const all = entries.flatMap((e) => [e.name, ...e.aliases]);
    expect(new Set(all).size).toBe(all.length);
  });

  test('every file is pinned to a public commit URL whose hash and size match the data kit copy', async () => {
    delete process.env.MOBILENET_REGISTRY_ORIGIN;
    const bySha = await dataFilesBySha();
    for (const e of registryEntries()) {
      const files = e.labels === 'embedded' ? [{ ...e.model, url: e.url }] : [{ ...e.model, url: e.url }, e.labels];
      for (const f of files) {
        expect(f.url).toBe(`https://raw.githubusercontent.com/${f.relativePath}`);
        expect(f.relativePath).toMatch(/^[\w.-]+\/[\w.-]+\/[0-9a-f]{40}\/.+/);
        const local = bySha.get(f.sha256);
        expect(local).toBeDefined();
        expect((await fs.stat(local!)).size).toBe(f.bytes);
      }
    }
  });

  test('an unknown name is E_ARG listing the names', async () => {
    const err = await resolveRegistryModel('mobilenet_v9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MobileNetError);
    expect((err as MobileNetError).code).toBe('E_ARG');
    expect((err as MobileNetError).message).toContain('mobilenet_v3_small');
  });

  test('the cache folder defaults under the home folder and follows MOBILENET_CACHE_DIR', () => {
    expect(cacheDir()).toBe(cache);
    delete process.env.MOBILENET_CACHE_DIR;
    const xdg = process.env.XDG_CACHE_HOME;
    delete process.env.XDG_CACHE_HOME;
    try {
      expect(cacheDir()).toBe(path.join(os.homedir(), '.cache', 'mobilenet-simd'));
    } finally {
      if (xdg !== undefined) process.env.XDG_CACHE_HOME = xdg;
      process.env.MOBILENET_CACHE_DIR = cache;
    }
  });
});

describe('downloads through a loopback mirror', () => {
  let mirror: Mirror;
  beforeAll(async () => {
    mirror = await startMirror();
  });
  afterAll(async () => {
    await mirror.close();
  });
  beforeEach(() => {
    mirror.requests.length = 0;
    process.env.MOBILENET_MODEL_MIRROR = mirror.url;
  });

  test('first use downloads and verifies into the cache; the second use is a cache hit', async () => {
    const entry = registryEntries().find((e) => e.name === 'mobilenet_v1_0.25_128')!;
    const first = await resolveRegistryModel('mobilenet_v1_0.25_128');
    expect(first.path).toBe(path.join(cache, ...entry.model.relativePath.split('/')));
    expect(first.labels).toBeUndefined();
    expect(await hashFile(first.path)).toEqual({ sha256: entry.model.sha256, bytes: entry.model.bytes });
    expect(mirror.requests).toEqual([entry.model.relativePath]);
    // No temp files are left beside the cached model.
    expect(await listFiles(cache)).toEqual([first.path]);

    const second = await resolveRegistryModel('MOBILENET_V1_0.25_128_QUANT');
    expect(second.path).toBe(first.path);
    expect(mirror.requests).toHaveLength(1);
  });

  test('V3-Small fetches its label file too: 1001 lines starting with background', async () => {
    const { path: modelPath, labels } = await resolveRegistryModel('mobilenet_v3_small');
    expect(path.basename(modelPath)).toBe('mobilenet_v3_small_1.0_224.uint8.tflite');
    expect(labels).toHaveLength(1001);
    expect(labels![0]).toBe('background');
    const reference = (await fs.readFile(dataPath('labels', 'imagenet_labels_1001_with_background.txt'), 'utf8')).split('\n');
    expect(labels![653]).toBe(reference[653]);
    expect(mirror.requests.map((r) => path.posix.basename(r)).sort()).toEqual(['imagenet_labels.txt', 'mobilenet_v3_small_1.0_224.uint8.tflite']);
  });

  test('concurrent first uses share one download', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => resolveRegistryModel('mobilenet_v1_0.5_160')));
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    expect(mirror.requests).toHaveLength(1);
  });

  test('a corrupted cache file is detected by its hash and downloaded again', async () => {
    const entry = registryEntries().find((e) => e.name === 'mobilenet_v1_0.25_128')!;
    const dest = path.join(cache, ...entry.model.relativePath.split('/'));
    await fs.mkdir(path.dirname(dest), { recursive: true });
    const bytes = await fs.readFile(path.join(mirror.dir, ...entry.model.relativePath.split('/')));
    bytes[100] ^= 0xff; // same size, different content: only the hash can tell
    await fs.writeFile(dest, bytes);
    const { path: got } = await resolveRegistryModel('mobilenet_v1_0.25_128');
    expect(got).toBe(dest);
    expect((await hashFile(dest)).sha256).toBe(entry.model.sha256);
    expect(mirror.requests).toEqual([entry.model.relativePath]);
  });

  test('a mirror can be a plain folder or a file:// URL', async () => {
    const dir = await buildMirrorDir();
    try {
      for (const [i, mirrorValue] of [dir, pathToFileURL(dir).toString()].entries()) {
        process.env.MOBILENET_CACHE_DIR = path.join(cache, `c${i}`);
        process.env.MOBILENET_MODEL_MIRROR = mirrorValue;
        const { path: got } = await resolveRegistryModel('mobilenet_v1_0.25_128');
        expect(got.startsWith(path.join(cache, `c${i}`))).toBe(true);
        expect((await hashFile(got)).sha256).toBe('cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785');
      }
      expect(mirror.requests).toHaveLength(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('download failures are E_DOWNLOAD with what to get and where to put it', () => {
  const v1 = () => registryEntries().find((e) => e.name === 'mobilenet_v1_0.25_128')!;

  test('hash mismatch from the mirror: the file is removed and the message names both hashes', async () => {
    const entry = v1();
    const mirror = await startMirror({ corrupt: [entry.model.relativePath] });
    try {
      process.env.MOBILENET_MODEL_MIRROR = mirror.url;
      const err = await expectDownloadError(resolveRegistryModel(entry.name));
      const actual = (await hashFile(path.join(mirror.dir, ...entry.model.relativePath.split('/')))).sha256;
      expect(err.message).toContain(entry.model.sha256);
      expect(err.message).toContain(actual);
      expect(err.message).toContain('deleted');
      expect(err.message).not.toContain('\n');
      expect(err.details).toMatchObject({ reason: 'mismatch', sha256: entry.model.sha256 });
      expect(await listFiles(cache)).toEqual([]);
    } finally {
      await mirror.close();
    }
  });

  test('404 on the mirror: the message gives the mirror location, the original URL and the cache path', async () => {
    const entry = v1();
    const mirror = await startMirror({ missing: [entry.model.relativePath] });
    try {
      process.env.MOBILENET_MODEL_MIRROR = mirror.url;
      const err = await expectDownloadError(resolveRegistryModel(entry.name));
      expect(err.message).toContain('404');
      expect(err.message).toContain(`${mirror.url}/${entry.model.relativePath}`);
      expect(err.message).toContain(entry.url);
      expect(err.message).toContain(entry.model.sha256);
      expect(err.message).toContain(path.join(cache, ...entry.model.relativePath.split('/')));
      expect(await listFiles(cache)).toEqual([]);
    } finally {
      await mirror.close();
    }
  });

  test('offline without a mirror: the message names the URL, the sha256, the exact cache path and MOBILENET_MODEL_MIRROR', async () => {
    const entry = v1();
    const err = await expectDownloadError(resolveRegistryModel(entry.name));
    expect(entry.url.startsWith(process.env.MOBILENET_REGISTRY_ORIGIN!)).toBe(true);
    expect(err.message).toContain(entry.url);
    expect(err.message).toContain(entry.model.sha256);
    expect(err.message).toContain(path.join(cache, ...entry.model.relativePath.split('/')));
    expect(err.message).toContain('MOBILENET_MODEL_MIRROR');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.details).toMatchObject({ reason: 'network', cachePath: path.join(cache, ...entry.model.relativePath.split('/')) });
  });

  test('a mirror that stalls times out, and one that sends too many bytes is cut off as a mismatch', async () => {
    const entry = v1();
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/stall/')) return; // accept, never answer
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(entry.model.bytes + 4096, 7)); // bigger than the file can be
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      process.env.MOBILENET_MODEL_MIRROR = `${base}/stall`;
      process.env.MOBILENET_DOWNLOAD_TIMEOUT_MS = '300';
      const stalled = await expectDownloadError(resolveRegistryModel(entry.name));
      expect(stalled.message).toMatch(/timed out \(no data for 300 ms\)/);
      expect(stalled.details).toMatchObject({ reason: 'network' });

      process.env.MOBILENET_MODEL_MIRROR = `${base}/huge`;
      const huge = await expectDownloadError(resolveRegistryModel(entry.name));
      expect(huge.message).toContain(`more than the expected ${entry.model.bytes} bytes`);
      expect(huge.details).toMatchObject({ reason: 'mismatch' });
      expect(await listFiles(cache)).toEqual([]);
    } finally {
      delete process.env.MOBILENET_DOWNLOAD_TIMEOUT_MS;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a mirror URL with a scheme that cannot be fetched is E_ARG', async () => {
    process.env.MOBILENET_MODEL_MIRROR = 'ftp://mirror.example.com/models';
    const err = await resolveRegistryModel('mobilenet_v3_small').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MobileNetError);
    expect((err as MobileNetError).code).toBe('E_ARG');
    expect((err as MobileNetError).message).toContain('ftp://mirror.example.com/models');
  });

  test('a folder mirror missing the file says where to put it', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-empty-mirror-'));
    try {
      process.env.MOBILENET_MODEL_MIRROR = empty;
      const err = await expectDownloadError(resolveRegistryModel('mobilenet_v3_small'));
      expect(err.message).toContain(path.join(empty, 'ken-unger', 'tflite'));
      expect(err.details).toMatchObject({ reason: 'missing' });
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  test('a file manually placed at the cache path named in the error is used without any network', async () => {
    const entry = v1();
    const err = await expectDownloadError(resolveRegistryModel(entry.name));
    const dest = err.details!.cachePath as string;
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.copyFile(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'), dest);
    expect((await resolveRegistryModel(entry.name)).path).toBe(dest);
  });
});

describe('what the package ships, and where it caches', () => {
  test('the default model and the ImageNet label lists are in the package, byte-identical to the data kit', async () => {
    const entry = registryEntries().find((e) => e.aliases.includes(DEFAULT_MODEL))!;
    expect(entry.bundledPath).toBe(path.join(REPO_ROOT, 'models', 'mobilenet_v2_1.0_224_quant.tflite'));
    expect(await hashFile(entry.bundledPath!)).toEqual({ sha256: '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776', bytes: 3610798 });
    // no mirror, the origin a closed port, an empty cache: resolving the default touches none of them
    expect((await resolveRegistryModel(DEFAULT_MODEL)).path).toBe(entry.bundledPath);
    expect(await listFiles(cache)).toEqual([]);
    const kit = await fs.readFile(dataPath('labels', 'imagenet_labels_1001_with_background.txt'), 'utf8');
    expect(await fs.readFile(path.join(REPO_ROOT, 'models', 'imagenet_labels_1001.txt'), 'utf8')).toBe(kit);
    expect(await imagenetLabels(1001)).toEqual(kit.split('\n').slice(0, 1001));
    expect(await imagenetLabels(1000)).toEqual(kit.split('\n').slice(1, 1001));
  });

  test('with XDG_CACHE_HOME set, a downloaded model and the backend choice are both cached under it; load() reports progress', async () => {
    const xdg = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-xdg-'));
    const mirrorDir = await buildMirrorDir();
    const savedXdg = process.env.XDG_CACHE_HOME;
    try {
      delete process.env.MOBILENET_CACHE_DIR;
      process.env.XDG_CACHE_HOME = xdg;
      process.env.MOBILENET_MODEL_MIRROR = mirrorDir;
      const entry = registryEntries().find((e) => e.name === 'mobilenet_v1_0.25_128')!;
      const events: DownloadProgress[] = [];
      const model = await load(entry.name, { backend: 'auto', onProgress: (p) => events.push(p) });
      model.dispose();
      const root = path.join(xdg, 'mobilenet-simd');
      expect((await listFiles(xdg)).sort()).toEqual([path.join(root, 'backend-choice.json'), path.join(root, ...entry.model.relativePath.split('/'))].sort());
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.file === 'mobilenet_v1_0.25_128_quant.tflite' && e.total === entry.model.bytes)).toBe(true);
      expect(events[events.length - 1].received).toBe(entry.model.bytes);
      // a cache hit reports nothing
      const again: DownloadProgress[] = [];
      (await load(entry.name, { backend: 'js', onProgress: (p) => again.push(p) })).dispose();
      expect(again).toEqual([]);
    } finally {
      if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = savedXdg;
      await fs.rm(xdg, { recursive: true, force: true });
      await fs.rm(mirrorDir, { recursive: true, force: true });
    }
  });
});
