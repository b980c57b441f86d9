// Backend selection: auto picks the fastest measured candidate (even a lower-priority one), remembers it,
// yields to the override, and falls back down the chain keeping every reason.
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { load, MobileNetError } from '../lib';
import { getBackend, overrideBackend } from '../lib/backends';
import { clearAutoCache, compileAuto } from '../lib/backends/auto';
import { jsBackend } from '../lib/backends/js';
import type { Backend, BackendName, Executable } from '../lib/backends/types';
import { BACKEND_NAMES } from '../lib/backends/types';
import { buildArchitecture } from '../lib/models';
import { planGraph } from '../lib/graph/plan';

/** A stand-in backend that computes with the reference kernels but reports its own name. */
function fakeBackend(name: BackendName, behaviour: { available?: boolean; compileError?: string } = {}): Backend & { compiled: number } {
  const b = {
    name,
    compiled: 0,
    async availability() {
      return behaviour.available === false ? { name, available: false, reason: `${name} is switched off in this test` } : { name, available: true };
    },
    async compile(plan: Parameters<Backend['compile']>[0]): Promise<Executable> {
      if (behaviour.compileError) throw new MobileNetError('E_NATIVE', behaviour.compileError);
      b.compiled++;
      const inner = await jsBackend.compile(plan);
      return { backend: name, isa: 'test', threads: 1, run: inner.run.bind(inner), profile: inner.profile.bind(inner), dispose: () => inner.dispose() };
    },
  };
  return b;
}

const plan = planGraph(buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 1 }));
let cacheDir: string;

beforeEach(async () => {
  clearAutoCache();
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mbn-auto-'));
});
afterEach(() => {
  for (const n of BACKEND_NAMES) overrideBackend(n, undefined);
  delete process.env.MOBILENET_BACKEND;
});

function install(fakes: Partial<Record<BackendName, Backend>>): void {
  for (const n of BACKEND_NAMES) overrideBackend(n, fakes[n] ?? fakeBackend(n, { available: false }));
}

test('auto picks a lower-priority backend when its measured time is lowest', async () => {
  install({ native: fakeBackend('native'), 'wasm-relaxed': fakeBackend('wasm-relaxed'), js: fakeBackend('js') });
  const fake: Record<string, number> = { native: 5, 'wasm-relaxed': 2 };
  const { exe, decision } = await compileAuto(plan, {}, { cacheDir, measure: async (e) => fake[e.backend] });
  expect(exe.backend).toBe('wasm-relaxed');
  expect(decision.timings).toEqual({ native: 5, 'wasm-relaxed': 2 });
  // js cannot win against SIMD backends and wasm-simd not against wasm-relaxed: neither is timed
  expect(decision.skipped.join('\n')).toMatch(/js: not timed, it cannot beat/);
  expect(decision.skipped.join('\n')).toMatch(/wasm-simd: not timed, wasm-relaxed loaded/);
});

test('the decision is cached per model, machine and runtime (memory and disk)', async () => {
  const native = fakeBackend('native');
  install({ native, 'wasm-simd': fakeBackend('wasm-simd') });
  let measured = 0;
  const measure = async (e: Executable) => { measured++; return e.backend === 'wasm-simd' ? 1 : 9; };
  const first = await compileAuto(plan, {}, { cacheDir, measure });
  expect(first.decision.chosen).toBe('wasm-simd');
  expect(first.decision.fromCache).toBe(false);
  expect(measured).toBe(2);
  const second = await compileAuto(plan, {}, { cacheDir, measure });
  expect(second.decision.fromCache).toBe(true);
  expect(second.exe.backend).toBe('wasm-simd');
  expect(measured).toBe(2);
  clearAutoCache(); // memory gone, the disk file remains
  const third = await compileAuto(plan, {}, { cacheDir, measure });
  expect(third.decision.fromCache).toBe(true);
  expect(measured).toBe(2);
  // a different model is measured again
  const other = planGraph(buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 40, seed: 1 }));
  await compileAuto(other, {}, { cacheDir, measure });
  expect(measured).toBe(4);
});

test('the backend option and MOBILENET_BACKEND override auto', async () => {
  install({ native: fakeBackend('native'), 'wasm-simd': fakeBackend('wasm-simd'), js: fakeBackend('js') });
  const m1 = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 }, { backend: 'js' });
  expect(m1.backend.name).toBe('js');
  process.env.MOBILENET_BACKEND = 'wasm-simd';
  const m2 = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 });
  expect(m2.backend.name).toBe('wasm-simd');
  m1.dispose();
  m2.dispose();
});

test('a failing native falls back to wasm, and the reason is kept', async () => {
  install({
    native: fakeBackend('native', { compileError: 'simulated addon failure' }),
    'wasm-relaxed': fakeBackend('wasm-relaxed', { available: false }),
    'wasm-simd': fakeBackend('wasm-simd'),
    js: fakeBackend('js'),
  });
  process.env.MOBILENET_CACHE_DIR = cacheDir;
  const model = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 });
  expect(model.backend.name).toBe('wasm-simd');
  expect(model.backend.notes.join('\n')).toMatch(/native: simulated addon failure/);
  expect(model.backend.notes.join('\n')).toMatch(/wasm-relaxed is switched off/);
  model.dispose();
  delete process.env.MOBILENET_CACHE_DIR;
});

test('when every backend fails, one error lists every reason', async () => {
  install({ native: fakeBackend('native', { compileError: 'boom native' }), js: fakeBackend('js', { compileError: 'boom js' }) });
  let err: unknown;
  try {
    await compileAuto(plan, {}, { cacheDir });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MobileNetError);
  expect((err as MobileNetError).code).toBe('E_BACKEND');
  for (const s of ['boom native', 'boom js', 'wasm-relaxed is switched off', 'wasm-simd is switched off']) expect((err as Error).message).toContain(s);
});

test('a forced backend that is unavailable is an error naming it, not a silent fallback', async () => {
  install({ js: fakeBackend('js') });
  let err: unknown;
  try {
    await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 }, { backend: 'native' });
  } catch (e) {
    err = e;
  }
  expect((err as MobileNetError).code).toBe('E_BACKEND');
  expect((err as Error).message).toMatch(/native is switched off/);
  expect(getBackend('js').name).toBe('js');
});
