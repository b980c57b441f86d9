// Addon-level tests of the native backend: contract parity, loading and its failure report, whole
// models vs the reference on every ISA, async responsiveness, concurrency, worker_threads, ISA override
// and errors. Skips (with the loader's reason) only when no native binary is built.
import { Worker } from 'worker_threads';
import { executeReference } from '../lib/backends/js';
import { loadAddon, nativeBackend } from '../lib/backends/native';
import * as contract from '../lib/kernels/contract';
import { MobileNetError } from '../lib/errors';
import { fuseActivations } from '../lib/graph/optimize';
import { planGraph, type Plan } from '../lib/graph/plan';
import { buildArchitecture, type ArchitectureSpec } from '../lib/models';
import { load } from '../lib';
import { relError } from './helpers/run';

const loaded = loadAddon();
const native = loaded.addon ? describe : describe.skip;
if (!loaded.addon) {
  console.warn(`native tests skipped: ${loaded.attempts.map((a) => `${a.path}: ${a.error}`).join('; ')}`);
}

function planOf(spec: ArchitectureSpec): Plan {
  return planGraph(fuseActivations(buildArchitecture(spec)));
}

/** Deterministic pseudo-random input in [-1, 1) (seeded LCG), so failures reproduce. */
function randomInput(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

const runnableIsas = (): string[] => (loaded.addon ? loaded.addon.cpu().isas.filter((i) => i.available).map((i) => i.name) : []);

native('native addon: contract and loading', () => {
  test('the C++ contract mirror equals lib/kernels/contract.ts', () => {
    const c = loaded.addon!.contract();
    expect(c.Op).toEqual({ ...contract.Op });
    expect(c.Act).toEqual({ ...contract.Act });
    expect(c.Header).toEqual({ ...contract.Header });
    expect(c.Param).toEqual({ ...contract.Param });
    expect(c.constants).toEqual({
      MAX_OUTPUTS: contract.MAX_OUTPUTS,
      HEADER_WORDS: contract.HEADER_WORDS,
      STEP_WORDS: contract.STEP_WORDS,
      PROGRAM_MAGIC: contract.PROGRAM_MAGIC,
      PROGRAM_VERSION: contract.PROGRAM_VERSION,
      CONSTANT_ALIGN_FLOATS: contract.CONSTANT_ALIGN_FLOATS,
      ARENA_ALIGN_FLOATS: contract.ARENA_ALIGN_FLOATS,
    });
  });

  test('availability lists the runnable ISAs best first, ending with scalar, and the binary loaded', async () => {
    const a = await nativeBackend.availability();
    expect(a.available).toBe(true);
    const isas = a.detail!.isas as string[];
    expect(isas[isas.length - 1]).toBe('scalar');
    expect(a.detail!.isa).toBe(isas[0]);
    expect(a.detail!.binary).toBe(loaded.binary);
    const order = ['avx512', 'avx2', 'neon', 'scalar'].filter((i) => isas.includes(i));
    expect(isas).toEqual(order);
  });

  test('with no binary anywhere, availability reports every attempt and what to do', async () => {
    let backend: typeof nativeBackend | undefined;
    jest.isolateModules(() => {
      jest.doMock('fs', () => ({ ...jest.requireActual('fs'), existsSync: () => false }));
      backend = require('../lib/backends/native').nativeBackend;
    });
    jest.dontMock('fs');
    const a = await backend!.availability();
    expect(a.available).toBe(false);
    expect(a.reason).toContain(`prebuilds/${process.platform}-${process.arch}/mobilenet_simd.node: not found`);
    expect(a.reason).toContain('build/native/Release/mobilenet_simd.node: not found');
    expect(a.reason).toContain('build/Release/mobilenet_simd.node: not found');
    expect(a.reason).toContain('npm run build:native');
    expect(a.reason).toContain('wasm');
    await expect(backend!.compile(planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 }))).rejects.toMatchObject({ code: 'E_BACKEND' });
  });
});

native('native backend: whole models equal the reference on every ISA', () => {
  const cases: { spec: ArchitectureSpec; batch: number }[] = [
    { spec: { arch: 'mobilenet_v2', alpha: 0.35, resolution: 64, seed: 3 }, batch: 2 },
    { spec: { arch: 'mobilenet_v3_small', alpha: 0.75, resolution: 56, seed: 5 }, batch: 1 },
    { spec: { arch: 'mobilenet_v1', alpha: 0.25, resolution: 50, seed: 7 }, batch: 3 },
  ];
  for (const { spec, batch } of cases) {
    const plan = planOf(spec);
    const input = randomInput(plan.program[contract.Header.inputFloatsPerImage] * batch, spec.seed!);
    const ref = executeReference(plan, input, batch);
    for (const isa of runnableIsas()) {
      for (const threads of [1, 2]) {
        test(`${spec.arch} alpha ${spec.alpha} @${spec.resolution} batch ${batch} seed ${spec.seed} on ${isa} x${threads}: rel error <= 1e-4`, async () => {
          const exe = await nativeBackend.compile(plan, { isa, threads });
          expect(exe.isa).toBe(isa);
          expect(exe.threads).toBe(threads);
          const outs = await exe.run(input, batch);
          expect(outs.length).toBe(ref.length);
          for (let k = 0; k < ref.length; k++) {
            expect(outs[k].length).toBe(ref[k].length);
            expect(relError(outs[k], ref[k])).toBeLessThanOrEqual(1e-4);
          }
          const prof = await exe.profile(input, batch);
          expect(prof.stepMs.length).toBe(plan.steps.length);
          expect(prof.stepMs.every((t) => t >= 0)).toBe(true);
          expect(relError(prof.outputs[0], ref[0])).toBeLessThanOrEqual(1e-4);
          exe.dispose();
        });
      }
    }
  }
});

native('native backend: fused inverted-residual blocks and depthwise -> pointwise pairs', () => {
  // V2 has blocks, pairs (the first dw -> project) and residual adds; V1 has blocks and pairs
  const cases: { spec: ArchitectureSpec; adds: number }[] = [
    { spec: { arch: 'mobilenet_v2', alpha: 0.5, resolution: 72, seed: 13 }, adds: 10 },
    { spec: { arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed: 14 }, adds: 0 },
  ];
  for (const { spec, adds } of cases) {
    const plan = planOf(spec);
    const batch = 2;
    const input = randomInput(plan.program[contract.Header.inputFloatsPerImage] * batch, spec.seed!);
    const ref = executeReference(plan, input, batch);
    for (const isa of runnableIsas()) {
      test(`${spec.arch} alpha ${spec.alpha} @${spec.resolution} batch ${batch} seed ${spec.seed}, everything fused and every add absorbed, or nothing, ${isa} x2: equals the reference`, async () => {
        const model = loaded.addon!.compile(plan.program, plan.constants, 2, isa, 'all');
        expect(model.fusedBlocks).toBeGreaterThanOrEqual(5);
        expect(model.fusedPairs).toBeGreaterThanOrEqual(1);
        // every residual add runs in its projection's epilogue (fused block or plain pwconv)
        expect(plan.steps.filter((s) => s.op === 'add').length).toBe(adds);
        expect(model.absorbedAdds).toBe(adds);
        const outs = await model.run(input, batch);
        expect(relError(outs[0], ref[0])).toBeLessThanOrEqual(1e-4);
        model.dispose();
        const plain = loaded.addon!.compile(plan.program, plan.constants, 2, isa, 'off');
        expect(plain.fusedBlocks).toBe(0);
        expect(plain.fusedPairs).toBe(0);
        expect(plain.absorbedAdds).toBe(0);
        expect(relError((await plain.run(input, batch))[0], ref[0])).toBeLessThanOrEqual(1e-4);
        plain.dispose();
      });
    }
  }
});

native('native backend: the default fusion plan at full size', () => {
  // fusion thresholds only trigger on big tensors, so the small models above never reach them
  for (const arch of ['mobilenet_v1', 'mobilenet_v2'] as const) {
    test(`${arch} 1.0@224 batch 2 seed 3, 2 threads, default fusion: rel error <= 1e-4 against the reference`, async () => {
      const plan = planOf({ arch, alpha: 1, resolution: 224, seed: 3 });
      const input = randomInput(plan.program[contract.Header.inputFloatsPerImage] * 2, 3);
      const ref = executeReference(plan, input, 2);
      const model = loaded.addon!.compile(plan.program, plan.constants, 2, runnableIsas()[0]);
      expect(model.fusedBlocks + model.fusedPairs).toBeGreaterThanOrEqual(3);
      expect(relError((await model.run(input, 2))[0], ref[0])).toBeLessThanOrEqual(1e-4);
      model.dispose();
    }, 60000);
  }
});

native('native backend: async, concurrency, worker_threads', () => {
  // "Expected ticks" = what the same 1 ms interval achieves while a worker_thread does the same thing
  // in JS: compute for one inference's time, post the result, get the next job - interleaved with the
  // inference periods so load that comes and goes on a shared machine hits both alike. That is the
  // best any off-thread work reporting back can do; an addon computing on the JS thread gives ~0.
  const countTicks = async (during: (stop: () => boolean) => Promise<number>, ms: number) => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const work = await during(() => performance.now() - t0 >= ms);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    return { ticks, elapsed, work };
  };

  test('the event loop keeps ticking during 2 s of back-to-back inferences (1 ms timer >= 80% of its expected ticks)', async () => {
    const plan = planOf({ arch: 'mobilenet_v2', alpha: 0.75, resolution: 128, seed: 1 });
    const exe = await nativeBackend.compile(plan, { threads: 1 });
    const input = randomInput(plan.program[contract.Header.inputFloatsPerImage], 1);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await exe.run(input, 1);
    const inferenceMs = (performance.now() - t0) / 5;
    const neighbour = new Worker(
      'const { parentPort } = require("worker_threads"); parentPort.on("message", (ms) => { const t = performance.now(); let x = 0; while (performance.now() - t < ms) x += Math.sqrt(x + 1); parentPort.postMessage(x); });',
      { eval: true },
    );
    const jsJob = () => new Promise((resolve) => { neighbour.once('message', resolve); neighbour.postMessage(inferenceMs); });
    const loop = (job: () => Promise<unknown>, ms: number) =>
      countTicks(async (stop) => {
        let jobs = 0;
        while (!stop()) {
          await job();
          jobs++;
        }
        return jobs;
      }, ms);
    const baseline = { ticks: 0, elapsed: 0 };
    const busy = { ticks: 0, elapsed: 0, work: 0 };
    for (let round = 0; round < 4; round++) {
      const n = await loop(jsJob, 250);
      baseline.ticks += n.ticks;
      baseline.elapsed += n.elapsed;
      const b = await loop(() => exe.run(input, 1), 500);
      busy.ticks += b.ticks;
      busy.elapsed += b.elapsed;
      busy.work += b.work;
    }
    await neighbour.terminate();
    exe.dispose();
    const expected = Math.min(1, baseline.ticks / baseline.elapsed) * busy.elapsed;
    expect(busy.work).toBeGreaterThan(5);
    expect(busy.ticks).toBeGreaterThanOrEqual(0.8 * expected);
  });

  test('50 concurrent infer() calls on one native model equal sequential ones', async () => {
    const spec: ArchitectureSpec = { arch: 'mobilenet_v2', alpha: 0.5, resolution: 64, seed: 11 };
    const model = await load(spec, { backend: 'native', threads: 2 });
    expect(model.backend.name).toBe('native');
    const inputs = Array.from({ length: 50 }, (_, i) => randomInput(64 * 64 * 3, 100 + i));
    const sequential: Float32Array[] = [];
    for (const data of inputs) sequential.push((await model.infer({ data, shape: [1, 64, 64, 3] })).data);
    const concurrent = await Promise.all(inputs.map((data) => model.infer({ data, shape: [1, 64, 64, 3] })));
    concurrent.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(sequential[i])));
    model.dispose();
  });

  test('non-finite input is E_INPUT from the native copy, with the message the JS-side scan gives', async () => {
    const spec: ArchitectureSpec = { arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 5 };
    const [native, js] = await Promise.all([load(spec, { backend: 'native', threads: 2 }), load(spec, { backend: 'js' })]);
    const per = 32 * 32 * 3;
    for (const [value, index] of [[NaN, 0], [Infinity, per + 17], [-Infinity, 2 * per - 1]] as const) {
      const data = randomInput(2 * per, 7);
      data[index] = value;
      const tensor = { data, shape: [2, 32, 32, 3] as [number, number, number, number] };
      const expected = await js.infer(tensor).catch((e: MobileNetError) => e);
      expect(expected).toMatchObject({ code: 'E_INPUT' });
      const received = await native.infer(tensor).catch((e: MobileNetError) => e);
      expect(received).toBeInstanceOf(MobileNetError);
      expect(received).toMatchObject({ code: 'E_INPUT' });
      expect((received as Error).message).toBe((expected as Error).message);
    }
    // the model stays usable after a rejected input
    const ok = randomInput(per, 8);
    const [a, b] = await Promise.all([native.infer({ data: ok, shape: [1, 32, 32, 3] }), js.infer({ data: ok, shape: [1, 32, 32, 3] })]);
    expect(relError(a.data, b.data)).toBeLessThanOrEqual(1e-4);
    native.dispose();
    js.dispose();
  });

  test('two worker_threads each compile and run a model with the addon', async () => {
    const plan = planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed: 2 });
    const input = randomInput(plan.program[contract.Header.inputFloatsPerImage], 2);
    const ref = executeReference(plan, input, 1)[0];
    const code = `
      const { parentPort, workerData } = require('worker_threads');
      const addon = require(workerData.binary);
      const model = addon.compile(workerData.program, workerData.constants, 2, addon.cpu().best);
      (async () => {
        let out;
        for (let i = 0; i < 5; i++) out = (await model.run(workerData.input, 1))[0];
        model.dispose();
        parentPort.postMessage(out);
      })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
    const runWorker = () =>
      new Promise<Float32Array>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { binary: loaded.binary, program: plan.program, constants: plan.constants, input } });
        w.once('message', (m) => (ArrayBuffer.isView(m) ? resolve(m as Float32Array) : reject(new Error(m.error))));
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([runWorker(), runWorker()]);
    expect(relError(a, ref)).toBeLessThanOrEqual(1e-4);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  test('several executables run at the same time without interfering', async () => {
    const planA = planOf({ arch: 'mobilenet_v2', alpha: 0.35, resolution: 48, seed: 4 });
    const planB = planOf({ arch: 'mobilenet_v3_large', alpha: 0.75, resolution: 48, seed: 6 });
    const [ea, eb] = await Promise.all([nativeBackend.compile(planA, { threads: 2 }), nativeBackend.compile(planB, { threads: 2 })]);
    const xa = randomInput(48 * 48 * 3, 4);
    const xb = randomInput(48 * 48 * 3, 6);
    const [ra, rb] = await Promise.all([ea.run(xa, 1), eb.run(xb, 1)]);
    expect(relError(ra[0], executeReference(planA, xa, 1)[0])).toBeLessThanOrEqual(1e-4);
    expect(relError(rb[0], executeReference(planB, xb, 1)[0])).toBeLessThanOrEqual(1e-4);
    ea.dispose();
    eb.dispose();
  });
});

native('native backend: ISA choice and errors', () => {
  const plan = planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 9 });
  const input = randomInput(32 * 32 * 3, 9);
  const saved = process.env.MOBILENET_NATIVE_ISA;
  afterEach(() => {
    if (saved === undefined) delete process.env.MOBILENET_NATIVE_ISA;
    else process.env.MOBILENET_NATIVE_ISA = saved;
  });

  test('MOBILENET_NATIVE_ISA forces each runnable ISA; options.isa wins over it', async () => {
    for (const isa of runnableIsas()) {
      process.env.MOBILENET_NATIVE_ISA = isa;
      const exe = await nativeBackend.compile(plan, { threads: 1 });
      expect(exe.isa).toBe(isa);
      exe.dispose();
    }
    process.env.MOBILENET_NATIVE_ISA = runnableIsas()[0];
    const exe = await nativeBackend.compile(plan, { threads: 1, isa: 'scalar' });
    expect(exe.isa).toBe('scalar');
    exe.dispose();
  });

  test('an ISA the machine cannot run is an E_BACKEND error naming the runnable ones', async () => {
    process.env.MOBILENET_NATIVE_ISA = 'avx1024';
    await expect(nativeBackend.compile(plan, { threads: 1 })).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringContaining(runnableIsas().join(', ')),
    });
  });

  test('a corrupt program is E_NATIVE with the step and reason, and the process survives', async () => {
    for (const [word, value, what] of [
      [contract.HEADER_WORDS + contract.Param.op, 99, 'unknown op code 99'],
      [contract.HEADER_WORDS + contract.Param.out, 1 << 28, 'outside the arena'],
      [contract.HEADER_WORDS + contract.Param.weights, 1 << 28, 'outside the constants'],
      [contract.Header.magic, 7, 'magic'],
    ] as const) {
      const program = plan.program.slice();
      program[word] = value;
      const err = await nativeBackend.compile({ ...plan, program }, { threads: 1 }).catch((e) => e);
      expect(err).toBeInstanceOf(MobileNetError);
      expect(err.code).toBe('E_NATIVE');
      expect(err.message).toContain(what);
    }
    const exe = await nativeBackend.compile(plan, { threads: 1 });
    await expect(exe.run(input, 1)).resolves.toHaveLength(plan.outputs.length);
    exe.dispose();
  });

  test('bad run arguments, overlapping runs and use after dispose are errors, not crashes', async () => {
    const exe = await nativeBackend.compile(plan, { threads: 1 });
    await expect(exe.run(input.subarray(0, 10), 1)).rejects.toMatchObject({ code: 'E_NATIVE' });
    await expect(exe.run(input, 0)).rejects.toMatchObject({ code: 'E_NATIVE' });
    const model = loaded.addon!.compile(plan.program, plan.constants, 1, 'scalar');
    const first = model.run(input, 1);
    expect(() => model.run(input, 1)).toThrow(/serialized/);
    await first;
    model.dispose();
    exe.dispose();
    await expect(exe.run(input, 1)).rejects.toMatchObject({ code: 'E_DISPOSED' });
    await expect(nativeBackend.compile(plan, { threads: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
  });

  test('a bigger batch grows the arena between runs; results match single-image runs', async () => {
    const exe = await nativeBackend.compile(plan, { threads: 2 });
    const one = await exe.run(input, 1);
    const four = new Float32Array(input.length * 4);
    for (let i = 0; i < 4; i++) four.set(input, i * input.length);
    const [batched] = await exe.run(four, 4);
    for (let i = 0; i < 4; i++) expect(relError(batched.subarray(i * one[0].length, (i + 1) * one[0].length), one[0])).toBeLessThanOrEqual(1e-6);
    exe.dispose();
  });
});
