// CLI tests: the real `mobilenet` process on real files and through the loopback registry mirror, JSON lines,
// one-line errors without stacks for bad input, and the argument parser, progress bar and info output in-process.
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, parseModelSource } from '../lib/cli/args';
import { main, reportError } from '../lib/cli/index';
import { ProgressBar, formatBytes, progressEnabled } from '../lib/cli/progress';
import { MobileNetError } from '../lib/errors';
import { registryEntries } from '../lib/registry';
import { REPO_ROOT, dataPath } from './helpers/data';
import { closedLoopbackPort, startMirror, type Mirror } from './helpers/mirror';

const CLI = path.join(REPO_ROOT, 'lib', 'cli', 'index.ts');
const V2_QUANT = dataPath('models', 'tflite', 'mobilenet_v2_1.0_224_quant.tflite');
const V1_SMALL = dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite');
const GRACE = dataPath('images', 'classic', 'grace_hopper.bmp');
const CLASSIC = dataPath('images', 'classic');

let cache: string;
let offlineOrigin: string;

beforeAll(async () => {
  cache = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-cli-cache-'));
  offlineOrigin = `http://127.0.0.1:${await closedLoopbackPort()}`;
});
afterAll(async () => {
  await fs.rm(cache, { recursive: true, force: true });
});

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Spawns the real CLI (TypeScript through tsx); async so the in-process mirror keeps serving meanwhile. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      {
        cwd: REPO_ROOT,
        maxBuffer: 1 << 24,
        // The registry may never reach the internet from a test: the original origin is a closed loopback port.
        env: { ...process.env, MOBILENET_CACHE_DIR: cache, MOBILENET_REGISTRY_ORIGIN: offlineOrigin, MOBILENET_PROGRESS: '0', MOBILENET_DEBUG: '', ...env },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** An in-memory stdout/stderr pair for main(). */
function memoryIO(options: { tty?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: options.tty ?? false, columns: 100 } },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

/** The label of a prediction row in the table output ("   1   47.59%  military uniform   [653]"). */
function tableTop1(stdout: string): string {
  const row = stdout.split('\n')[1];
  const m = /^\s+1\s+[\d.]+%\s+(.*?)\s+\[(\d+)\]$/.exec(row);
  if (!m) throw new Error(`unexpected table row ${JSON.stringify(row)}`);
  return m[1];
}

async function labelsFile(): Promise<string[]> {
  return (await fs.readFile(dataPath('labels', 'imagenet_labels_1001_with_background.txt'), 'utf8')).split('\n');
}

describe('mobilenet classify (spawned process)', () => {
  test('grace_hopper.bmp with the V2 uint8 TFLite file prints "military uniform" first', async () => {
    const r = await runCli(['classify', GRACE, '--model', V2_QUANT]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(GRACE);
    expect(tableTop1(r.stdout)).toBe('military uniform');
  });

  describe('through the registry name served by a loopback mirror', () => {
    let mirror: Mirror;
    beforeAll(async () => {
      mirror = await startMirror();
    });
    afterAll(async () => {
      await mirror.close();
    });

    test('the default model ships in the package: no request; another registry model downloads once, then hits the cache', async () => {
      const byDefault = await runCli(['classify', GRACE, '--top', '3'], { MOBILENET_MODEL_MIRROR: mirror.url });
      expect(byDefault.stderr).toBe('');
      expect(byDefault.code).toBe(0);
      expect(tableTop1(byDefault.stdout)).toBe('military uniform');
      const named = await runCli(['classify', GRACE, '--model', 'mobilenet_v2', '--json', '--top', '1'], { MOBILENET_MODEL_MIRROR: mirror.url });
      expect(JSON.parse(named.stdout.trim()).predictions[0]).toMatchObject({ index: 653, label: 'military uniform' });
      expect(mirror.requests).toEqual([]);

      const v1 = registryEntries().find((e) => e.name === 'mobilenet_v1_0.25_128')!;
      const first = await runCli(['classify', GRACE, '--model', v1.name, '--json', '--top', '1'], { MOBILENET_MODEL_MIRROR: mirror.url });
      expect(first.code).toBe(0);
      expect(mirror.requests).toEqual([v1.model.relativePath]);
      await expect(fs.stat(path.join(cache, ...v1.model.relativePath.split('/')))).resolves.toBeTruthy();
      const second = await runCli(['classify', GRACE, '--model', v1.name, '--json', '--top', '1'], { MOBILENET_MODEL_MIRROR: mirror.url });
      expect(second.stdout).toBe(first.stdout);
      expect(mirror.requests).toHaveLength(1);
    });

    test('the CLI draws the download bar from load()\'s onProgress; the library alone writes nothing to stderr (in-process)', async () => {
      const saved = { mirror: process.env.MOBILENET_MODEL_MIRROR, cache: process.env.MOBILENET_CACHE_DIR, origin: process.env.MOBILENET_REGISTRY_ORIGIN, progress: process.env.MOBILENET_PROGRESS };
      const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-cli-bar-'));
      const stderrWrites: string[] = [];
      const realWrite = process.stderr.write;
      try {
        Object.assign(process.env, { MOBILENET_MODEL_MIRROR: mirror.url, MOBILENET_CACHE_DIR: path.join(fresh, 'a'), MOBILENET_REGISTRY_ORIGIN: offlineOrigin, MOBILENET_PROGRESS: '1' });
        const m = memoryIO();
        expect(await main(['classify', GRACE, '--model', 'mobilenet_v1_0.5_160', '--top', '1'], m.io)).toBe(0);
        expect(m.stderr()).toContain('\rmobilenet_v1_0.5_160_quant.tflite [');
        expect(m.stderr().endsWith('#] 100% 1.3 MB / 1.3 MB\u001b[K\n')).toBe(true);
        process.env.MOBILENET_CACHE_DIR = path.join(fresh, 'b');
        process.stderr.write = ((chunk: string) => stderrWrites.push(String(chunk)) > 0) as typeof process.stderr.write;
        const { load } = await import('../lib');
        (await load('mobilenet_v1_0.5_160', { backend: 'js' })).dispose();
      } finally {
        process.stderr.write = realWrite;
        for (const [key, value] of [['MOBILENET_MODEL_MIRROR', saved.mirror], ['MOBILENET_CACHE_DIR', saved.cache], ['MOBILENET_REGISTRY_ORIGIN', saved.origin], ['MOBILENET_PROGRESS', saved.progress]] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
        await fs.rm(fresh, { recursive: true, force: true });
      }
      expect(stderrWrites).toEqual([]);
    });

    test('mobilenet_v3_small gets its labels from the registry label file (in-process)', async () => {
      const saved = { mirror: process.env.MOBILENET_MODEL_MIRROR, cache: process.env.MOBILENET_CACHE_DIR, origin: process.env.MOBILENET_REGISTRY_ORIGIN };
      Object.assign(process.env, { MOBILENET_MODEL_MIRROR: mirror.url, MOBILENET_CACHE_DIR: cache, MOBILENET_REGISTRY_ORIGIN: offlineOrigin });
      try {
        const m = memoryIO();
        expect(await main(['classify', GRACE, '--model', 'mobilenet_v3_small', '--json', '--top', '1'], m.io)).toBe(0);
        // tflite-reference/README.md (Arm NN, central crop + bilinear): V3-Small puts 653 military uniform first on grace_hopper.bmp.
        const [top] = JSON.parse(m.stdout()).predictions;
        expect(top.index).toBe(653);
        expect(top.label).toBe((await labelsFile())[653]);
      } finally {
        for (const [key, value] of [['MOBILENET_MODEL_MIRROR', saved.mirror], ['MOBILENET_CACHE_DIR', saved.cache], ['MOBILENET_REGISTRY_ORIGIN', saved.origin]] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    });
  });

  test('bad inputs exit non-zero with exactly one line on stderr and no stack trace', async () => {
    const notAModel = path.join(cache, 'not-a-model.tflite');
    await fs.writeFile(notAModel, 'this is not a model\n');
    const cases: Array<{ args: string[]; code: number; pattern: RegExp; env?: Record<string, string> }> = [
      { args: ['classify', GRACE, '--frobnicate'], code: 2, pattern: /E_ARG: .*"--frobnicate"/ },
      { args: ['classify', path.join(cache, 'missing.jpg'), '--model', V1_SMALL], code: 1, pattern: /E_IO: .*missing\.jpg.*does not exist/ },
      { args: ['classify', GRACE, '--model', notAModel], code: 1, pattern: /E_MODEL_FORMAT: .*not-a-model\.tflite/ },
      { args: ['classify', GRACE, '--top', '0'], code: 2, pattern: /E_ARG: Expected --top to be an integer from 1/ },
      { args: ['classify', GRACE, '--threads', 'many'], code: 2, pattern: /E_ARG: Expected --threads to be an integer/ },
      { args: ['classify', GRACE, '--backend', 'gpu'], code: 2, pattern: /E_ARG: Expected --backend to be one of auto/ },
      { args: ['classify', dataPath('MANIFEST.md'), '--model', V1_SMALL], code: 1, pattern: /E_IMAGE: / },
      { args: ['classify', GRACE, '--model', 'mobilenet_v3_small'], code: 1, pattern: /E_DOWNLOAD: .*sha256 da341cf0.*MOBILENET_MODEL_MIRROR/, env: { MOBILENET_CACHE_DIR: path.join(cache, 'empty') } },
      { args: ['frobnicate'], code: 2, pattern: /E_ARG: .*unknown command "frobnicate"/ },
      // A registry model the cache does not hold yet, with no way to download it.
      { args: ['info', 'mobilenet_v1_0.5_160'], code: 1, pattern: /E_DOWNLOAD: .*mobilenet_v1_0\.5_160_quant\.tflite/, env: { MOBILENET_CACHE_DIR: path.join(cache, 'empty') } },
    ];
    // Four processes at a time: enough overlap to be quick, few enough for a 2-core CI machine.
    const runs: CliRun[] = [];
    for (let i = 0; i < cases.length; i += 4) runs.push(...(await Promise.all(cases.slice(i, i + 4).map((c) => runCli(c.args, c.env)))));
    runs.forEach((r, i) => {
      const c = cases[i];
      const context = `mobilenet ${c.args.join(' ')}\n${r.stderr}`;
      expect({ context, code: r.code }).toEqual({ context, code: c.code });
      const lines = r.stderr.split('\n').filter(Boolean);
      expect({ context, lines: lines.length }).toEqual({ context, lines: 1 });
      expect(lines[0]).toMatch(/^mobilenet: E_[A-Z_]+: /);
      expect(lines[0]).toMatch(c.pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    });
  });

  test('--version prints the package version and --help lists the commands', async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    const [v, h] = await Promise.all([runCli(['--version']), runCli(['--help'])]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^\s+classify\s/m);
    expect(h.stdout).toMatch(/^\s+info\s/m);
    expect(h.stdout).toContain('MOBILENET_MODEL_MIRROR');
  });
});

describe('mobilenet classify (in-process)', () => {
  test('--json over a folder: one parseable object per image per line, sorted, labels from the file', async () => {
    const m = memoryIO();
    const code = await main(['classify', CLASSIC, '--model', V1_SMALL, '--json', '--top', '3'], m.io);
    expect(m.stderr()).toBe('');
    expect(code).toBe(0);
    const lines = m.stdout().trimEnd().split('\n');
    const expectedFiles = (await fs.readdir(CLASSIC)).filter((f) => /\.(bmp|jpe?g)$/i.test(f)).sort().map((f) => path.join(CLASSIC, f));
    expect(lines).toHaveLength(expectedFiles.length);
    const labels = await labelsFile();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((p) => p.file)).toEqual(expectedFiles);
    for (const p of parsed) {
      expect(Object.keys(p).sort()).toEqual(['file', 'predictions']);
      expect(p.predictions).toHaveLength(3);
      for (const [i, q] of p.predictions.entries()) {
        expect(Object.keys(q).sort()).toEqual(['index', 'label', 'probability']);
        expect(Number.isInteger(q.index) && q.index >= 1 && q.index <= 1000).toBe(true); // background (0) is left out
        expect(q.label).toBe(labels[q.index]);
        if (i > 0) expect(q.probability).toBeLessThanOrEqual(p.predictions[i - 1].probability);
      }
    }
    // MANIFEST §3.2: parrot.jpg is a scarlet macaw (idx1001 89); libcoral's test expects tiger cat in the top 3 of cat.bmp for this model.
    expect(parsed.find((p) => p.file.endsWith('parrot.jpg')).predictions[0].index).toBe(89);
    expect(parsed.find((p) => p.file.endsWith('cat.bmp')).predictions.map((q: { index: number }) => q.index)).toContain(283);
  });

  test('a folder draws a progress bar on stderr when forced, while stdout stays clean', async () => {
    const saved = process.env.MOBILENET_PROGRESS;
    process.env.MOBILENET_PROGRESS = '1';
    try {
      const m = memoryIO();
      expect(await main(['classify', CLASSIC, '--model', V1_SMALL, '--top', '1'], m.io)).toBe(0);
      expect(m.stderr()).toContain('classifying');
      expect(m.stderr()).toContain('100%');
      expect(m.stdout()).not.toContain('\r');
      expect(m.stdout()).not.toContain('classifying');
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_PROGRESS;
      else process.env.MOBILENET_PROGRESS = saved;
    }
  });

  test('--labels replaces the names; a label file of the wrong length is E_ARG', async () => {
    const custom = path.join(cache, 'labels.txt');
    await fs.writeFile(custom, Array.from({ length: 1001 }, (_, i) => `name${i}`).join('\n') + '\n');
    const m = memoryIO();
    expect(await main(['classify', GRACE, '--model', V1_SMALL, '--labels', custom, '--json', '--top', '2'], m.io)).toBe(0);
    for (const q of JSON.parse(m.stdout()).predictions) expect(q.label).toBe(`name${q.index}`);

    await fs.writeFile(custom, 'a\nb\nc\n');
    const bad = memoryIO();
    expect(await main(['classify', GRACE, '--model', V1_SMALL, '--labels', custom], bad.io)).toBe(2);
    expect(bad.stderr()).toMatch(/^mobilenet: E_ARG: Expected 1001 labels .*received 3/);
  });

  test('a bad image among good ones is reported on its own line, the rest are still classified, exit 1', async () => {
    const m = memoryIO();
    const code = await main(['classify', dataPath('SHA256SUMS'), dataPath('images', 'classic', 'parrot.jpg'), '--model', V1_SMALL, '--json', '--top', '1'], m.io);
    expect(code).toBe(1);
    const lines = m.stdout().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ file: dataPath('SHA256SUMS'), error: { code: 'E_IMAGE' } });
    expect(lines[1].predictions[0].index).toBe(89);
    expect(m.stderr().trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('mobilenet info', () => {
  test('--json reports the file, its shapes and layer rows; MACs and params match the published 14M / 0.47M', async () => {
    const m = memoryIO();
    expect(await main(['info', V1_SMALL, '--json', '--backend', 'js'], m.io)).toBe(0);
    const info = JSON.parse(m.stdout());
    expect(info).toMatchObject({ format: 'tflite', inputShape: [128, 128, 3], outputSize: 1001, backgroundClass: true, embeddingSize: 256, labels: 1001 });
    expect(info.backend.name).toBe('js');
    // TF-slim's published table for MobileNet_v1_0.25_128: 14 million MACs, 0.47 million parameters (rounded).
    expect(Math.abs(info.macs - 14e6)).toBeLessThanOrEqual(0.5e6);
    expect(Math.abs(info.params - 0.47e6)).toBeLessThanOrEqual(0.005e6);
    expect(info.layers.reduce((s: number, r: { macs: number }) => s + r.macs, 0)).toBe(info.totals.macs);
    expect(info.totals.macs).toBe(info.macs);
    expect(info.layers.filter((r: { op: string }) => r.op === 'dwconv')).toHaveLength(13);
  });

  test('the text form has the summary and the layer table (V3-Small: 5x5 depthwise)', async () => {
    const m = memoryIO();
    expect(await main(['info', dataPath('models', 'tflite', 'mobilenet_v3_small_1.0_224_uint8.tflite'), '--backend', 'js'], m.io)).toBe(0);
    expect(m.stdout()).toMatch(/^format\s+tflite$/m);
    expect(m.stdout()).toMatch(/^input\s+224x224x3/m);
    expect(m.stdout()).toMatch(/^classes\s+1000 \+ background at index 0$/m);
    expect(m.stdout()).toMatch(/^MACs\s+[\d.]+M per image$/m);
    expect(m.stdout()).toMatch(/\bdwconv\b.*5x5/);
  });
});

describe('argument parsing, errors and progress (units)', () => {
  const specs = [
    { name: 'top', short: 'k', kind: 'int' as const, min: 1, description: '' },
    { name: 'json', kind: 'flag' as const, description: '' },
    { name: 'scale', kind: 'number' as const, description: '' },
  ];

  test('accepts --x v, --x=v, -k v, flags and -- ; rejects junk with E_ARG', () => {
    const a = parseArgs(['a.jpg', '--top=3', '--json', '--scale', '0.5', '--', '--not-an-option'], specs, 'test');
    expect(a.positionals).toEqual(['a.jpg', '--not-an-option']);
    expect([a.number('top'), a.flag('json'), a.number('scale')]).toEqual([3, true, 0.5]);
    expect(parseArgs(['-k', '7'], specs, 'test').number('top')).toBe(7);
    for (const bad of [['--top'], ['--top', '1.5'], ['--top', '0x10'], ['--top', ''], ['--scale', 'NaN'], ['--json=yes'], ['--top', '2', '--top', '3'], ['-z']]) {
      let err: unknown;
      try {
        parseArgs(bad, specs, 'test');
      } catch (e) {
        err = e;
      }
      expect({ bad, code: (err as MobileNetError)?.code }).toEqual({ bad, code: 'E_ARG' });
    }
  });

  test('arch: model sources become architecture specs', () => {
    expect(parseModelSource('arch:mobilenet_v2,alpha=0.5,resolution=160')).toEqual({ arch: 'mobilenet_v2', alpha: 0.5, resolution: 160 });
    expect(parseModelSource('mobilenet_v2')).toBe('mobilenet_v2');
    expect(() => parseModelSource('arch:resnet50')).toThrow(MobileNetError);
    expect(() => parseModelSource('arch:mobilenet_v1,depth=3')).toThrow(MobileNetError);
  });

  test('an internal error is one line, with the stack only when MOBILENET_DEBUG=1', () => {
    const saved = process.env.MOBILENET_DEBUG;
    try {
      delete process.env.MOBILENET_DEBUG;
      const quiet = memoryIO();
      expect(reportError(new TypeError('boom\nsecond line'), quiet.io)).toBe(70);
      expect(quiet.stderr().split('\n').filter(Boolean)).toHaveLength(1);
      expect(quiet.stderr()).toMatch(/^mobilenet: internal error: boom second line/);
      process.env.MOBILENET_DEBUG = '1';
      const loud = memoryIO();
      reportError(new TypeError('boom'), loud.io);
      expect(loud.stderr()).toMatch(/\n\s+at /);
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_DEBUG;
      else process.env.MOBILENET_DEBUG = saved;
    }
  });

  test('the progress bar draws only on a terminal or when forced', () => {
    const writes: string[] = [];
    const tty = { write: (s: string) => writes.push(s), isTTY: true, columns: 60 };
    const saved = process.env.MOBILENET_PROGRESS;
    delete process.env.MOBILENET_PROGRESS;
    try {
      expect(progressEnabled(tty)).toBe(true);
      expect(progressEnabled({ write: () => true, isTTY: false })).toBe(false);
      process.env.MOBILENET_PROGRESS = '0';
      expect(progressEnabled(tty)).toBe(false);
      process.env.MOBILENET_PROGRESS = '1';
      expect(progressEnabled({ write: () => true })).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_PROGRESS;
      else process.env.MOBILENET_PROGRESS = saved;
    }
    const bar = new ProgressBar('model', 2048, { stream: tty, enabled: true, unit: 'bytes', intervalMs: 0 });
    bar.update(1024);
    expect(writes.join('')).toContain('\r');
    expect(bar.render(60)).toMatch(/^model \[#+-+\] {2}50% 1\.0 KB \/ 2\.0 KB$/);
    expect(bar.render(60).length).toBeLessThanOrEqual(60);
    bar.finish();
    expect(writes[writes.length - 1]).toBe('\n');
    const silent: string[] = [];
    const off = new ProgressBar('x', 10, { stream: { write: (s: string) => silent.push(s), isTTY: false }, enabled: false });
    off.update(5);
    off.finish();
    expect(silent).toEqual([]);
    expect(formatBytes(3610798)).toBe('3.4 MB');
  });
});
