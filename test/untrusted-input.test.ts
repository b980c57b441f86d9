// Untrusted input, bounded (issue "Untrusted input"): devices, FIFOs and folders are refused without reading or
// hanging, files and downloads stop at their limit with E_LIMIT naming it, TF.js shards are read only from the
// model's own folder or origin (no '..', no symlink out, no other host), the CLI walk survives symlink loops,
// a NaN weight is an E_NUMERIC on every backend, and infer() takes its input at call time.
// Servers here are real HTTP servers on loopback; every request they get is counted.
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { load, MobileNetError } from '../lib';
import { getBackend } from '../lib/backends';
import { buildArchitecture } from '../lib/models';
import { runGraph } from './helpers/run';
import { fuseActivations } from '../lib/graph/optimize';
import { planGraph } from '../lib/graph/plan';
import { resolveSource } from '../lib/source';
import { collectImages } from '../lib/cli/classify';
import { dataPath } from './helpers/data';

const V1_SMALL = dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite');
const LAYERS = dataPath('models', 'tfjs', 'mobilenet_v1_0.25_224_layers');
const GRACE = dataPath('images', 'classic', 'grace_hopper.bmp');

let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-untrusted-'));
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<MobileNetError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(MobileNetError);
  return e as MobileNetError;
}

/** A copy of the TF.js layers model whose manifest names `paths` for its first weight group. */
async function layersCopy(name: string, firstPaths: string[]): Promise<string> {
  const dir = path.join(work, name);
  await fs.mkdir(dir);
  for (const f of await fs.readdir(LAYERS)) await fs.copyFile(path.join(LAYERS, f), path.join(dir, f));
  const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = firstPaths;
  await fs.chmod(path.join(dir, 'model.json'), 0o644);
  await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

interface Server {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
  const requests: string[] = [];
  const sockets = new Set<import('net').Socket>();
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('only regular files are read', () => {
  test('a device as model, image or labels is E_IO "a device", read not at all', async () => {
    expect((await rejection(load('/dev/zero', { backend: 'js' }))).message).toMatch(/regular file at \/dev\/zero, received a device/);
    const model = await load(V1_SMALL, { backend: 'js' });
    try {
      const e = await rejection(model.classify('/dev/zero'));
      expect(e.code).toBe('E_IO');
      expect(e.message).toMatch(/received a device/);
    } finally {
      model.dispose();
    }
    expect((await rejection(load(V1_SMALL, { backend: 'js', labels: '/dev/zero' }))).message).toMatch(/label file .*received a device/);
  });

  test('a FIFO is refused at once instead of hanging the open', async () => {
    const fifo = path.join(work, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const e = await rejection(load(fifo, { backend: 'js' }));
    expect(e.code).toBe('E_IO');
    expect(e.message).toMatch(/received a FIFO/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('labels naming a folder say "a directory", not "no such file"', async () => {
    const e = await rejection(load(V1_SMALL, { backend: 'js', labels: '/etc' }));
    expect(e.code).toBe('E_IO');
    expect(e.message).toMatch(/received a directory/);
  });
});

describe('sizes and times have limits, named when exceeded', () => {
  test('a model file over limits.modelBytes (or MOBILENET_MAX_MODEL_BYTES) is E_LIMIT before it is read', async () => {
    const e = await rejection(load(V1_SMALL, { backend: 'js', limits: { modelBytes: 100000 } }));
    expect(e.code).toBe('E_LIMIT');
    expect(e.message).toContain('limit modelBytes');
    expect(e.message).toContain('MOBILENET_MAX_MODEL_BYTES');
    expect(e.details).toMatchObject({ limit: 'modelBytes', value: 100000 });
    const saved = process.env.MOBILENET_MAX_MODEL_BYTES;
    process.env.MOBILENET_MAX_MODEL_BYTES = '100000';
    try {
      expect((await rejection(load(V1_SMALL, { backend: 'js' }))).code).toBe('E_LIMIT');
      (await load(V1_SMALL, { backend: 'js', limits: { modelBytes: 1 << 20 } })).dispose(); // the option wins
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_MAX_MODEL_BYTES;
      else process.env.MOBILENET_MAX_MODEL_BYTES = saved;
    }
    expect((await rejection(load(V1_SMALL, { limits: { modelBytes: -1 } }))).code).toBe('E_ARG');
  });

  test('a shard over limits.shardBytes is E_LIMIT', async () => {
    const e = await rejection(load(LAYERS, { backend: 'js', limits: { shardBytes: 500000 } }));
    expect(e.code).toBe('E_LIMIT');
    expect(e.message).toMatch(/group29-shard1of1 of 1028000 bytes/);
  });

  test('an endless response stops at limits.downloadBytes; a silent server at limits.downloadIdleMs', async () => {
    const endless = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (res.write(chunk)) { /* until the socket pushes back */ }
      };
      res.on('drain', pump);
      pump();
    });
    const silent = await serve(() => { /* never answers */ });
    try {
      const big = await rejection(load(`${endless.url}/model.tflite`, { backend: 'js', limits: { downloadBytes: 4 << 20 } }));
      expect(big.code).toBe('E_LIMIT');
      expect(big.message).toContain('limit downloadBytes');
      const t0 = Date.now();
      const quiet = await rejection(load(`${silent.url}/model.tflite`, { backend: 'js', limits: { downloadIdleMs: 300 } }));
      expect(quiet.code).toBe('E_IO');
      expect(quiet.message).toContain('no data for 300 ms (limit downloadIdleMs)');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await endless.close();
      await silent.close();
    }
  });
});

describe('TF.js shards come only from the model\'s own folder or origin', () => {
  test('a shard path with .. is refused without reading it', async () => {
    const dir = await layersCopy('dotdot', ['../../../../dev/zero']);
    const e = await rejection(load(dir, { backend: 'js' }));
    expect(e.code).toBe('E_MODEL_FORMAT');
    expect(e.message).toMatch(/inside the model's folder/);
  });

  test('a shard that is a symlink out of the folder is refused; one inside it loads', async () => {
    const out = await layersCopy('symlink-out', ['group1-shard1of1']);
    await fs.rm(path.join(out, 'group1-shard1of1'));
    const secret = path.join(work, 'secret.bin');
    await fs.writeFile(secret, Buffer.alloc(864));
    await fs.symlink(secret, path.join(out, 'group1-shard1of1'));
    const e = await rejection(load(out, { backend: 'js' }));
    expect(e.code).toBe('E_MODEL_FORMAT');
    expect(e.message).toMatch(/symlink out of it/);

    const inside = await layersCopy('symlink-in', ['alias-of-group1']);
    await fs.symlink('group1-shard1of1', path.join(inside, 'alias-of-group1'));
    (await load(inside, { backend: 'js' })).dispose();
  });

  test('a remote model.json naming a shard on another origin is refused, and that origin gets no request', async () => {
    const other = await serve((_req, res) => res.end(Buffer.alloc(864)));
    const json = JSON.parse(await fs.readFile(path.join(LAYERS, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = [`${other.url}/internal/secret`];
    const origin = await serve(async (req, res) => {
      if (req.url === '/m/model.json') res.end(JSON.stringify(json));
      else res.end(await fs.readFile(path.join(LAYERS, path.basename(req.url ?? ''))).catch(() => Buffer.alloc(0)));
    });
    try {
      const e = await rejection(load(`${origin.url}/m/model.json`, { backend: 'js' }));
      expect(e.code).toBe('E_MODEL_FORMAT');
      expect(e.message).toContain(`on the model's origin ${origin.url}`);
      expect(other.requests).toEqual([]);
    } finally {
      await other.close();
      await origin.close();
    }
  });
});

test('the CLI folder walk ends on a symlink loop and lists each file once', async () => {
  const dir = path.join(work, 'photos');
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fs.copyFile(GRACE, path.join(dir, 'sub', 'grace.bmp'));
  await fs.symlink('..', path.join(dir, 'sub', 'loop'));
  await fs.symlink(path.join(dir, 'sub', 'grace.bmp'), path.join(dir, 'again.bmp'));
  const { files } = await collectImages([dir]);
  expect(files).toEqual([path.join(dir, 'again.bmp')]);
});

describe('no silent NaN', () => {
  test('one NaN in the first kernel of a TF.js model is E_NUMERIC on every backend (native used to answer a class)', async () => {
    const dir = await layersCopy('nan-kernel', ['group1-shard1of1']);
    const shard = path.join(dir, 'group1-shard1of1');
    const bytes = await fs.readFile(shard);
    bytes.writeFloatLE(NaN, 0);
    await fs.chmod(shard, 0o644);
    await fs.writeFile(shard, bytes);
    const backends = (await Promise.all((['native', 'wasm-simd', 'js'] as const).map(async (b) => ((await getBackend(b).availability()).available ? b : undefined)))).filter((b) => b !== undefined);
    expect(backends).toContain('wasm-simd');
    for (const backend of backends) {
      const model = await load(dir, { backend });
      try {
        const e = await rejection(model.classify(GRACE));
        expect({ backend, code: e.code }).toEqual({ backend, code: 'E_NUMERIC' });
        expect(e.message).toMatch(/received NaN in its main output/);
      } finally {
        model.dispose();
      }
    }
  });

  test('infer() takes its input when called: changing the array afterwards changes nothing', async () => {
    for (const backend of ['wasm-simd', 'js'] as const) {
      const model = await load(V1_SMALL, { backend });
      try {
        const [H, W, C] = model.info.inputShape;
        const make = () => Float32Array.from({ length: H * W * C }, (_, i) => Math.sin(i) * 0.9);
        const expected = await model.infer({ data: make(), shape: [1, H, W, C] });
        const busy = model.infer({ data: make(), shape: [1, H, W, C] }); // keeps the queue busy
        const data = make();
        const queued = model.infer({ data, shape: [1, H, W, C] });
        data.fill(NaN);
        await busy;
        expect({ backend, out: Array.from((await queued).data) }).toEqual({ backend, out: Array.from(expected.data) });
      } finally {
        model.dispose();
      }
    }
  });
});

test('a NaN weight stays NaN through every native ISA\'s clamps (ReLU6, h-swish, h-sigmoid), as on wasm and js', async () => {
  const native = await getBackend('native').availability();
  const isas = native.available ? (native.detail?.isas as string[]) : [];
  expect(isas.length).toBeGreaterThan(0);
  for (const arch of ['mobilenet_v2', 'mobilenet_v3_small'] as const) {
    const graph = buildArchitecture({ arch, alpha: 0.35, resolution: 96, seed: 3 });
    const conv = graph.nodes.find((n) => 'weights' in n && n.weights.length > 0) as { weights: Float32Array };
    conv.weights[0] = NaN;
    const input = Float32Array.from({ length: 96 * 96 * 3 }, (_, i) => Math.cos(i) * 0.8);
    const runs: [string, Float32Array][] = [];
    for (const isa of isas) runs.push([`native ${isa}`, (await runGraph(graph, input, 1, 'native', { isa }))[0]]);
    runs.push(['wasm-simd', (await runGraph(graph, input, 1, 'wasm-simd'))[0]], ['js', (await runGraph(graph, input, 1, 'js'))[0]]);
    for (const [name, out] of runs) expect({ arch, name, nan: out.some(Number.isNaN) }).toEqual({ arch, name, nan: true });
  }
});

test('a corrupt input scale (byte 503624 of the V1 0.25 file set to 24) is E_MODEL_FORMAT, not the user\'s E_ARG', async () => {
  const bytes = await fs.readFile(V1_SMALL);
  bytes[503624] = 24;
  const file = path.join(work, 'bad-input-scale.tflite');
  await fs.writeFile(file, bytes);
  const e = await rejection(load(file, { backend: 'js' }));
  expect(e.code).toBe('E_MODEL_FORMAT');
  expect(e.message).toMatch(/broken input quantization/);
  // the user's own bad option stays E_ARG
  expect((await rejection(load(V1_SMALL, { backend: 'js', preprocess: { std: [0, 1, 1] } }))).code).toBe('E_ARG');
});

test('the working memory of an inference is checked against limits.arenaBytes before any backend allocates it', async () => {
  const perImage = planGraph(fuseActivations((await resolveSource(V1_SMALL)).graph)).arenaFloatsPerImage * 4;
  const tooSmall = await rejection(load(V1_SMALL, { backend: 'js', limits: { arenaBytes: perImage - 4 } }));
  expect(tooSmall.code).toBe('E_LIMIT');
  expect(tooSmall.message).toContain(`needing ${perImage} bytes`);
  expect(tooSmall.message).toContain('MOBILENET_MAX_ARENA_BYTES');
  for (const backend of ['native', 'wasm-simd', 'js'] as const) {
    if (!(await getBackend(backend).availability()).available) continue;
    const model = await load(V1_SMALL, { backend, limits: { arenaBytes: Math.floor(perImage * 2.5) } });
    try {
      expect(await model.classifyBatch([GRACE, GRACE], { topK: 1 })).toHaveLength(2);
      const e = await rejection(model.classifyBatch([GRACE, GRACE, GRACE], { topK: 1 }));
      expect({ backend, code: e.code }).toEqual({ backend, code: 'E_LIMIT' });
    } finally {
      model.dispose();
    }
  }
});

test('worker.terminate() while native inferences run ends the worker, not the process (it used to abort with SIGABRT)', () => {
  const entry = path.resolve(__dirname, '..', 'dist', 'index.js');
  // the worker loops infer() and profile() on native; the parent terminates it at staggered moments, so
  // some terminations land inside the addon's run() call (a 5 MB input copy makes that likely) and some
  // while a run is on the thread pool
  const script = `
    const { Worker } = require('node:worker_threads');
    const body = ${JSON.stringify(`
      const { parentPort, workerData } = require('node:worker_threads');
      const { load } = require(${JSON.stringify(entry)});
      (async () => {
        const model = await load({ arch: 'mobilenet_v2', alpha: 0.35, resolution: 160 }, { backend: 'native', threads: workerData.threads });
        const input = { data: new Float32Array(16 * 160 * 160 * 3).fill(0.25), shape: [16, 160, 160, 3] };
        parentPort.postMessage('ready');
        for (let i = 0; ; i++) await (i % 3 === 2 ? model.profile(input) : model.infer(input));
      })();
    `)};
    (async () => {
      for (let round = 0; round < 12; round++) {
        const w = new Worker(body, { eval: true, workerData: { threads: 1 + (round % 2) } });
        await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
        await new Promise((r) => setTimeout(r, 3 + round * 4));
        await w.terminate();
      }
      console.log('survived 12 terminations');
    })();
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(out.trim()).toBe('survived 12 terminations');
});
