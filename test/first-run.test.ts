// A newcomer's first five minutes, as the README promises them: `npx mobilenet classify photo.jpg` in the clone with
// an empty HOME, no MOBILENET_* variables and no network at all (a fresh network namespace holding only a loopback
// that is down), ImageNet names for a 1001-class file without labels, and `bench --backend wasm` measuring the wasm
// build this engine runs while listing the other with its reason (test-node22.sh runs this file under Node 22 too).
import { execFile, execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { load } from '../lib';
import { getBackend } from '../lib/backends';
import { REPO_ROOT, dataPath } from './helpers/data';

const GRACE = dataPath('images', 'classic', 'grace_hopper.bmp');
const V3_SMALL = dataPath('models', 'tflite', 'mobilenet_v3_small_1.0_224_uint8.tflite');
const CLI = path.join(REPO_ROOT, 'lib', 'cli', 'index.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, env, maxBuffer: 1 << 24, timeout: 240_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr }));
  });
}

/** The environment of a fresh shell: PATH and an empty HOME, nothing of ours. */
function bareEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, TMPDIR: os.tmpdir() };
}

test('offline, with an empty HOME: `npx mobilenet classify grace_hopper.bmp` prints "military uniform" first', async () => {
  // unshare --net: a new network namespace whose only interface is a loopback that is down, so any download fails
  execFileSync('unshare', ['--net', '--map-root-user', 'true']); // throws with the reason where namespaces are not allowed
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-first-run-'));
  try {
    const r = await run('unshare', ['--net', '--map-root-user', 'npx', '--offline', 'mobilenet', 'classify', GRACE], bareEnv(home));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const [file, first] = r.stdout.split('\n');
    expect(file).toBe(GRACE);
    expect(first).toMatch(/^\s+1\s+[\d.]+%\s+military uniform\s+\[653\]$/);
    // the default model came from the package itself: the only thing cached is auto's backend choice
    expect(await fs.readdir(path.join(home, '.cache', 'mobilenet-simd'), { recursive: true })).toEqual(['backend-choice.json']);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test('a 1001-class file without labels (V3-Small TFLite by path) gets the ImageNet names, and info says they were assumed', async () => {
  const model = await load(V3_SMALL, { backend: 'wasm-simd' });
  try {
    expect(model.info.labels).toBe('imagenet (assumed)');
    expect(model.labels).toHaveLength(1001);
    const [best] = await model.classify(GRACE, { topK: 1 });
    expect(best).toMatchObject({ index: 653, label: 'military uniform' });
  } finally {
    model.dispose();
  }
  const withFileLabels = await load(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'), { backend: 'js' });
  expect(withFileLabels.info.labels).toBe('file');
  withFileLabels.dispose();
  const random = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 96, seed: 1 }, { backend: 'js' });
  expect(random.info.labels).toBe('none'); // random weights are not ImageNet's
  random.dispose();
});

test('`mobilenet classify` on the V3-Small file by path prints ImageNet names', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', CLI, 'classify', GRACE, '--model', V3_SMALL, '--top', '1'], { ...process.env, MOBILENET_PROGRESS: '0' });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout.split('\n')[1]).toMatch(/military uniform\s+\[653\]$/);
});

test('`mobilenet bench --backend wasm` measures the wasm build this engine runs and lists the other with its reason', async () => {
  const relaxed = await getBackend('wasm-relaxed').availability();
  const r = await run(process.execPath, ['--import', 'tsx', CLI, 'bench', '--backend', 'wasm', '--runs', '3', '--warmup', '1', '--arch', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '96'], { ...process.env, MOBILENET_PROGRESS: '0' });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const rows = r.stdout.split('\n').filter((l) => /^\| wasm/.test(l)).map((l) => l.split('|')[1].trim());
  if (relaxed.available) {
    expect(rows).toEqual(['wasm-relaxed', 'wasm-simd']);
  } else {
    expect(rows).toEqual(['wasm-simd']);
    expect(r.stdout).toContain(`wasm-relaxed: no: ${relaxed.reason}`);
  }
  // naming the unavailable build itself is still an error, with its reason
  if (!relaxed.available) {
    const forced = await run(process.execPath, ['--import', 'tsx', CLI, 'bench', '--backend', 'wasm-relaxed', '--runs', '1', '--arch', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '96'], { ...process.env, MOBILENET_PROGRESS: '0' });
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/^mobilenet: E_BACKEND: .*wasm-relaxed/);
  }
});
