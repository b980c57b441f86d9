// The wasm backends: build/feature detection (relaxed vs simd128), contract parity of assembly/contract.ts,
// whole-model equality with the reference backend for both builds, arena/memory rules, batches and errors.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { executeReference } from '../lib/backends/js';
import { getBackend } from '../lib/backends';
import type { Executable } from '../lib/backends/types';
import {
  packDwconv,
  FUSE_MIN_FLOATS,
  markFusedBlocks,
  packPwconv,
  setWasmFusion,
  setWasmLoader,
  validateProgram,
  wasmRelaxedBackend,
  wasmSimdBackend,
  type WasmExecutable,
} from '../lib/backends/wasm';
import { MobileNetError } from '../lib/errors';
import { GraphBuilder } from '../lib/graph/builder';
import { fuseActivations } from '../lib/graph/optimize';
import { planGraph, type Plan } from '../lib/graph/plan';
import * as contract from '../lib/kernels/contract';
import { buildArchitecture, buildArchitectureShapes, type ArchitectureSpec } from '../lib/models';
import { argmax, relError } from './helpers/run';

const ROOT = path.resolve(__dirname, '..');
const WASM_DIR = path.join(ROOT, 'build', 'wasm');
const SIMD_FILE = path.join(WASM_DIR, 'mobilenet-simd.wasm');
const RELAXED_FILE = path.join(WASM_DIR, 'mobilenet-relaxed.wasm');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** Flags a child needs for relaxed SIMD: Node 20 has it behind a flag; Node 22+ has it on and rejects the flag. */
function relaxedFlags(): string[] {
  return WebAssembly.validate(fs.readFileSync(RELAXED_FILE)) ? [] : ['--experimental-wasm-relaxed-simd'];
}

/** Deterministic input in [-1, 1] (a seeded LCG), so failures reproduce from the printed seed. */
function seededInput(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

function planOf(spec: ArchitectureSpec): Plan {
  return planGraph(fuseActivations(buildArchitecture(spec)));
}

async function expectMobileNetError(p: Promise<unknown>, code: string, text?: RegExp): Promise<MobileNetError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MobileNetError);
  expect((err as MobileNetError).code).toBe(code);
  if (text) expect((err as MobileNetError).message).toMatch(text);
  return err as MobileNetError;
}

beforeAll(() => {
  // The modules are build outputs; build them once here rather than fail on a fresh checkout.
  if (!fs.existsSync(SIMD_FILE) || !fs.existsSync(RELAXED_FILE)) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-wasm.js')], { cwd: ROOT, stdio: 'pipe' });
  }
}, 120_000);

describe('feature detection', () => {
  test('simd128 module validates on this engine and the backend says so', async () => {
    expect(WebAssembly.validate(fs.readFileSync(SIMD_FILE))).toBe(true);
    const a = await wasmSimdBackend.availability();
    expect(a).toMatchObject({ name: 'wasm-simd', available: true });
    expect(a.detail).toMatchObject({ features: ['simd128'], file: 'mobilenet-simd.wasm' });
  });

  test('the relaxed module really uses relaxed-simd: Node 20 rejects it without the flag, accepts it with it', async () => {
    const relaxedValid = WebAssembly.validate(fs.readFileSync(RELAXED_FILE));
    const a = await wasmRelaxedBackend.availability();
    expect(a.available).toBe(relaxedValid);
    if (NODE_MAJOR === 20 && !process.execArgv.some((f) => f.includes('relaxed-simd'))) {
      expect(relaxedValid).toBe(false);
      expect(a.reason).toMatch(/relaxed SIMD.*--experimental-wasm-relaxed-simd/);
      // The loader then picks wasm-simd: the 'wasm' choice's first available candidate.
      const firstAvailable = (await Promise.all(['wasm-relaxed', 'wasm-simd'].map(async (n) => ((await getBackend(n as 'wasm-simd').availability()).available ? n : null)))).find(Boolean);
      expect(firstAvailable).toBe('wasm-simd');
    }
    // With the flag (Node 20; Node 22+ needs none), the same bytes validate and report the relaxed build.
    const out = execFileSync(process.execPath, [...relaxedFlags(), '-e', `
      const bytes = require('fs').readFileSync(${JSON.stringify(RELAXED_FILE)});
      const ok = WebAssembly.validate(bytes);
      const flag = ok ? new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { now: () => 0 } }).exports.RELAXED_SIMD.value : -1;
      process.stdout.write(JSON.stringify({ ok, flag }));`], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ ok: true, flag: 1 });
  });

  test('a missing build names `npm run build:wasm`; an engine without SIMD gets its own reason', async () => {
    const { wasmFileLoader } = await import('../lib/backends/wasm');
    try {
      setWasmLoader(wasmFileLoader(path.join(ROOT, 'no-such-dir')));
      const a = await wasmSimdBackend.availability();
      expect(a.available).toBe(false);
      expect(a.reason).toMatch(/npm run build:wasm/);
      await expectMobileNetError(wasmSimdBackend.compile(planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 })), 'E_BACKEND', /npm run build:wasm/);
      // A module using an opcode this engine lacks stands in for an engine without SIMD.
      setWasmLoader(async () => Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 6, 1, 5, 0, 0xfd, 0xff, 0x0b, 0x0b]));
      const b = await wasmSimdBackend.availability();
      expect(b.available).toBe(false);
      expect(b.reason).toMatch(/does not support WebAssembly SIMD/);
    } finally {
      setWasmLoader(wasmFileLoader());
    }
    expect((await wasmSimdBackend.availability()).available).toBe(true);
  });
});

describe('contract parity', () => {
  test('assembly/contract.ts exports the same numbers as lib/kernels/contract.ts', async () => {
    const { instance } = await WebAssembly.instantiate(fs.readFileSync(SIMD_FILE), { env: { now: () => 0 } });
    const exp = instance.exports as Record<string, unknown>;
    const value = (name: string) => {
      const g = exp[name];
      expect(g).toBeInstanceOf(WebAssembly.Global);
      return (g as WebAssembly.Global).value as number;
    };
    for (const table of ['Op', 'Act', 'Header', 'Param'] as const) {
      const ts = contract[table] as Record<string, number>;
      for (const [key, v] of Object.entries(ts)) expect([`${table}.${key}`, value(`${table}.${key}`)]).toEqual([`${table}.${key}`, v]);
      // and nothing extra on the wasm side
      const wasmKeys = Object.keys(exp).filter((k) => k.startsWith(`${table}.`)).map((k) => k.slice(table.length + 1));
      expect(wasmKeys.sort()).toEqual(Object.keys(ts).sort());
    }
    for (const name of ['MAX_OUTPUTS', 'HEADER_WORDS', 'PROGRAM_MAGIC', 'PROGRAM_VERSION', 'STEP_WORDS', 'CONSTANT_ALIGN_FLOATS', 'ARENA_ALIGN_FLOATS'] as const) {
      expect([name, value(name)]).toEqual([name, contract[name]]);
    }
    expect(value('RELAXED_SIMD')).toBe(0);
  });

  test('packing puts every weight where the kernels read it (pwconv panels of 8, dwconv groups of 4)', () => {
    const w = seededInput(13 * 5, 7); // Cout 13, Cin 5
    const p = packPwconv(w, 13, 5);
    expect(p.length).toBe(2 * 5 * 8);
    for (let co = 0; co < 16; co++) for (let ci = 0; ci < 5; ci++) {
      expect(p[(co >> 3) * 40 + ci * 8 + (co & 7)]).toBe(co < 13 ? w[co * 5 + ci] : 0);
    }
    const dw = seededInput(9 * 6, 8);
    const bias = seededInput(6, 9);
    const d = packDwconv(dw, bias, 9, 6);
    expect(d.length).toBe(2 * 10 * 4);
    for (let c = 0; c < 8; c++) {
      expect(d[(c >> 2) * 40 + (c & 3)]).toBe(c < 6 ? bias[c] : 0);
      for (let t = 0; t < 9; t++) expect(d[(c >> 2) * 40 + (1 + t) * 4 + (c & 3)]).toBe(c < 6 ? dw[t * 6 + c] : 0);
    }
  });
});

describe('whole models equal the reference backend', () => {
  const cases: { spec: ArchitectureSpec; batch: number }[] = [
    { spec: { arch: 'mobilenet_v2', alpha: 1, resolution: 96, seed: 11 }, batch: 1 },
    { spec: { arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed: 12 }, batch: 3 },
    { spec: { arch: 'mobilenet_v3_small', alpha: 0.75, resolution: 80, seed: 13 }, batch: 2 },
    { spec: { arch: 'mobilenet_v3_large', alpha: 1, resolution: 64, seed: 14 }, batch: 1 },
  ];
  for (const { spec, batch } of cases) {
    const name = `${spec.arch} alpha ${spec.alpha} @${spec.resolution} seed ${spec.seed}, batch ${batch}, input seed ${spec.seed! + 100}`;
    test(`wasm-simd: ${name}`, async () => {
      const plan = planOf(spec);
      const input = seededInput(plan.program[contract.Header.inputFloatsPerImage] * batch, spec.seed! + 100);
      const ref = executeReference(plan, input, batch);
      const exe = await wasmSimdBackend.compile(plan);
      try {
        expect(exe.isa).toBe('simd128');
        const outs = await exe.run(input, batch);
        expect(outs.length).toBe(ref.length);
        const classes = plan.outputs[0].shape[2];
        for (let k = 0; k < ref.length; k++) {
          expect(outs[k].length).toBe(ref[k].length);
          expect(relError(outs[k], ref[k])).toBeLessThanOrEqual(1e-4);
        }
        for (let n = 0; n < batch; n++) {
          expect(argmax(outs[0], n * classes, (n + 1) * classes)).toBe(argmax(ref[0], n * classes, (n + 1) * classes));
        }
      } finally {
        exe.dispose();
      }
    });
  }

  test('wasm-relaxed: V3-Small 0.75@80 and V2 1.0@64 batch 2 in a child with relaxed SIMD enabled', () => {
    const script = `
      const { wasmRelaxedBackend } = require('./lib/backends/wasm');
      const { executeReference } = require('./lib/backends/js');
      const { planGraph } = require('./lib/graph/plan');
      const { fuseActivations } = require('./lib/graph/optimize');
      const { buildArchitecture } = require('./lib/models');
      const { relError, argmax } = require('./test/helpers/run');
      (async () => {
        const res = [];
        for (const [spec, batch] of [[{ arch: 'mobilenet_v3_small', alpha: 0.75, resolution: 80, seed: 21 }, 1], [{ arch: 'mobilenet_v2', alpha: 1, resolution: 64, seed: 22 }, 2]]) {
          const plan = planGraph(fuseActivations(buildArchitecture(spec)));
          const n = plan.program[5] * batch;
          const input = new Float32Array(n);
          for (let i = 0; i < n; i++) input[i] = Math.sin(i * 0.731 + spec.seed);
          const ref = executeReference(plan, input, batch);
          const exe = await wasmRelaxedBackend.compile(plan);
          const [out] = await exe.run(input, batch);
          const C = plan.outputs[0].shape[2];
          const top = [];
          for (let b = 0; b < batch; b++) top.push(argmax(out, b * C, (b + 1) * C) === argmax(ref[0], b * C, (b + 1) * C));
          res.push({ arch: spec.arch, isa: exe.isa, err: relError(out, ref[0]), top });
        }
        process.stdout.write(JSON.stringify(res));
      })().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) })); });`;
    const text = execFileSync(process.execPath, [...relaxedFlags(), '--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const res = JSON.parse(text) as { arch: string; isa: string; err: number; top: boolean[] }[];
    expect(Array.isArray(res)).toBe(true);
    for (const r of res) {
      expect([r.arch, r.isa]).toEqual([r.arch, 'relaxed-simd']);
      expect(r.err).toBeLessThanOrEqual(1e-4);
      expect(r.top.every(Boolean)).toBe(true);
    }
  }, 150_000);
});

describe('fused inverted-residual blocks', () => {
  test('V2 blocks fuse where the intermediates are private, and fused equals unfused bit for bit (batch 2)', async () => {
    const plan = planOf({ arch: 'mobilenet_v2', alpha: 0.5, resolution: 64, seed: 51 });
    // 16 of the 17 V2 blocks have an expand conv; all fuse (some through the spill buffer, when the
    // planner put the block's output over its dead input).
    expect(markFusedBlocks(plan.program.slice())).toBe(16);
    // By default only blocks whose expanded tensor is large enough to leave the cache fuse.
    const full = planGraph(fuseActivations(buildArchitectureShapes({ arch: 'mobilenet_v2' })));
    expect(markFusedBlocks(full.program.slice(), FUSE_MIN_FLOATS)).toBe(3);
    const input = seededInput(plan.program[contract.Header.inputFloatsPerImage] * 2, 52);
    const run = async (fuse: boolean) => {
      setWasmFusion(fuse ? 'always' : false);
      const exe = await wasmSimdBackend.compile(plan);
      try {
        return await exe.run(input, 2);
      } finally {
        exe.dispose();
        setWasmFusion(true);
      }
    };
    const [fused, plain] = [await run(true), await run(false)];
    expect(Array.from(fused[0])).toEqual(Array.from(plain[0]));
    expect(relError(fused[0], executeReference(plan, input, 2)[0])).toBeLessThanOrEqual(1e-4);
  });

  test('a chain whose intermediate is read later is not fused', () => {
    /** One residual block [6,6,8] -> expand 16 -> 3x3 dwconv -> project 8 (+ x); `exposeExpanded` makes e a second output. */
    const residualBlock = (name: string, exposeExpanded: boolean) => {
      const b = new GraphBuilder('x', [6, 6, 8], 'test');
      const e = b.pwconv('x', seededInput(8 * 16, 61), undefined, { name: 'e', activation: 'relu6' });
      const d = b.conv('dwconv', e, seededInput(9 * 16, 62), undefined, { name: 'd', kernel: [3, 3], stride: [1, 1], padding: 'same' });
      const p = b.pwconv(d, seededInput(16 * 8, 63), undefined, { name: 'p' });
      const r = b.add(p, 'x', { name: 'r' });
      return planGraph(b.finish(r, { format: 'test', name, outputKind: 'logits', backgroundClass: false }, exposeExpanded ? e : undefined));
    };
    expect(markFusedBlocks(residualBlock('ok', false).program.slice())).toBe(1);
    // the expanded tensor also feeds the output: fusing would never write it
    expect(markFusedBlocks(residualBlock('leak', true).program.slice())).toBe(0);
  });
});

describe('arena and memory', () => {
  test('memory never grows inside run; a bigger batch grows it between runs and results stay right', async () => {
    const plan = planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 48, seed: 31 });
    const per = plan.program[contract.Header.inputFloatsPerImage];
    const exe = (await wasmSimdBackend.compile(plan)) as Executable as WasmExecutable;
    try {
      const one = seededInput(per, 32);
      const before = exe.memory.buffer;
      const r1 = await exe.run(one, 1);
      await exe.run(one, 1);
      // A grow detaches the old ArrayBuffer and installs a new one: same object means no grow.
      expect(exe.memory.buffer).toBe(before);
      const three = seededInput(per * 3, 33);
      three.set(one, per); // image 1 of the batch equals the single image
      const r3 = await exe.run(three, 3);
      const grown = exe.memory.buffer;
      expect(grown.byteLength).toBeGreaterThan(before.byteLength);
      await exe.run(three, 3);
      await exe.run(one, 1);
      expect(exe.memory.buffer).toBe(grown);
      const classes = plan.outputs[0].shape[2];
      expect(Array.from(r3[0].subarray(classes, 2 * classes))).toEqual(Array.from(r1[0]));
      expect(relError(r3[0], executeReference(plan, three, 3)[0])).toBeLessThanOrEqual(1e-4);
      // profile: one clock reading per step, from inside the single call
      const { outputs, stepMs } = await exe.profile(one, 1);
      expect(Array.from(outputs[0])).toEqual(Array.from(r1[0]));
      expect(stepMs.length).toBe(plan.steps.length);
      expect(stepMs.every((t) => t >= 0 && Number.isFinite(t))).toBe(true);
      expect(stepMs.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    } finally {
      exe.dispose();
    }
  });
});

describe('single ops on awkward shapes against the reference', () => {
  // Channel counts around the vector width and the 8-channel panel, odd sizes at stride 2, 5x5 at borders.
  const shapes: [string, number, number, number, number, number, number][] = [
    // op, H, W, C, Cout, kernel, stride
    ['dwconv', 9, 7, 1, 1, 3, 2],
    ['dwconv', 7, 9, 5, 5, 5, 1],
    ['dwconv', 11, 11, 7, 7, 5, 2],
    ['dwconv', 1, 1, 9, 9, 3, 1],
    ['conv2d', 9, 11, 3, 13, 3, 2],
    ['conv2d', 6, 6, 5, 8, 5, 1],
    ['pwconv', 3, 5, 7, 9, 1, 1],
    ['pwconv', 1, 1, 17, 1001, 1, 1],
  ];
  const acts = ['relu6', 'hswish', 'hsigmoid', 'sigmoid', 'none'] as const;
  shapes.forEach(([op, H, W, C, Cout, k, s], i) => {
    const seed = 500 + i;
    const act = acts[i % acts.length];
    test(`${op} [${H},${W},${C}] -> Cout ${Cout} k${k} s${s} ${act}, batch 2, seed ${seed}`, async () => {
      const b = new GraphBuilder('x', [H, W, C], 'test');
      let y: string;
      if (op === 'pwconv') y = b.pwconv('x', seededInput(C * Cout, seed), seededInput(Cout, seed + 1), { name: 'op', activation: act });
      else if (op === 'dwconv') y = b.conv('dwconv', 'x', seededInput(k * k * C, seed), seededInput(C, seed + 1), { name: 'op', kernel: [k, k], stride: [s, s], padding: 'same', activation: act });
      else y = b.conv('conv2d', 'x', seededInput(Cout * k * k * C, seed), seededInput(Cout, seed + 1), { name: 'op', kernel: [k, k], stride: [s, s], padding: 'same', activation: act });
      // a residual add, a pool, an SE-style scale and a softmax behind it exercise the small ops too
      const pooled = b.gavgpool(y, { name: 'pool' });
      const gate = b.affine(pooled, Float32Array.of(0.5), Float32Array.of(0.1), { name: 'gate', activation: 'hsigmoid' });
      const scaled = b.scale(y, gate, { name: 'se' });
      const summed = b.add(scaled, y, { name: 'res', activation: 'relu' });
      const prob = b.softmax(summed, { name: 'prob', beta: 0.5 });
      const plan = planGraph(b.finish(prob, { format: 'test', name: 'ops', outputKind: 'probabilities', backgroundClass: false }, summed));
      const input = seededInput(H * W * C * 2, seed + 2);
      const ref = executeReference(plan, input, 2);
      const exe = await wasmSimdBackend.compile(plan);
      try {
        const outs = await exe.run(input, 2);
        for (let k2 = 0; k2 < ref.length; k2++) expect(relError(outs[k2], ref[k2])).toBeLessThanOrEqual(1e-5);
      } finally {
        exe.dispose();
      }
    });
  });
});

describe('affine rounds once', () => {
  test('x/scale + 1.5*2^23 (the importers\' integer-rounding trick) equals the reference bit for bit, seed 71, [50,40,5]', async () => {
    const b = new GraphBuilder('x', [50, 40, 5], 'test');
    const magic = 1.5 * 2 ** 23;
    const shifted = b.affine('x', Float32Array.of(1 / 0.0235), Float32Array.of(magic), { name: 'round' });
    const perChannel = b.affine(shifted, Float32Array.of(1, 0.5, 0.25, 2, 3), Float32Array.of(-magic, -magic / 2, -magic / 4, -magic * 2, -magic * 3), { name: 'back' });
    const plan = planGraph(b.finish(perChannel, { format: 'test', name: 'affine', outputKind: 'logits', backgroundClass: false }, shifted));
    const input = seededInput(50 * 40 * 5, 71).map((v) => v * 3);
    const ref = executeReference(plan, input, 1);
    const exe = await wasmSimdBackend.compile(plan);
    const outs = await exe.run(input, 1);
    exe.dispose();
    expect(Array.from(outs[1])).toEqual(Array.from(ref[1]));
    expect(Array.from(outs[0])).toEqual(Array.from(ref[0]));
  });
});

describe('errors', () => {
  const plan = () => planOf({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 41 });

  test('bad programs are MobileNetErrors at compile time, never traps', async () => {
    const corrupt = (edit: (p: Int32Array) => void): Plan => {
      const p = plan();
      const program = p.program.slice();
      edit(program);
      return { ...p, program };
    };
    const step0 = contract.HEADER_WORDS;
    await expectMobileNetError(wasmSimdBackend.compile(corrupt((p) => { p[contract.Header.magic] = 7; })), 'E_MODEL_FORMAT', /magic/);
    await expectMobileNetError(wasmSimdBackend.compile(corrupt((p) => { p[step0 + contract.Param.op] = 99; })), 'E_MODEL_FORMAT', /step 0.*op code 99/);
    await expectMobileNetError(wasmSimdBackend.compile(corrupt((p) => { p[step0 + contract.Param.out] = 1 << 30; })), 'E_MODEL_FORMAT', /outside the arena/);
    await expectMobileNetError(wasmSimdBackend.compile(corrupt((p) => { p[step0 + contract.Param.weights] = -5; })), 'E_MODEL_FORMAT', /outside the constants/);
    await expectMobileNetError(wasmSimdBackend.compile(corrupt((p) => { p[contract.Header.stepCount] = 1000; })), 'E_MODEL_FORMAT', /stepCount/);
    // A fusion mark smuggled into `reserved` is ignored: the backend decides fusion itself.
    setWasmFusion(false);
    try {
      const marked = corrupt((p) => { for (let i = 0; i < p[contract.Header.stepCount]; i++) p[step0 + i * contract.STEP_WORDS + contract.Param.reserved] = 1; });
      const exe = await wasmSimdBackend.compile(marked);
      const input = seededInput(marked.program[contract.Header.inputFloatsPerImage], 42);
      expect(relError((await exe.run(input, 1))[0], executeReference(marked, input, 1)[0])).toBeLessThanOrEqual(1e-4);
      exe.dispose();
    } finally {
      setWasmFusion(true);
    }
    expect(() => validateProgram(new Int32Array(3), 0)).toThrow(MobileNetError);
    await expectMobileNetError(wasmSimdBackend.compile(null as unknown as Plan), 'E_ARG');
  });

  test('wrong input, batch or a disposed executable are MobileNetErrors', async () => {
    const p = plan();
    const per = p.program[contract.Header.inputFloatsPerImage];
    const exe = await wasmSimdBackend.compile(p);
    await expectMobileNetError(exe.run(new Float32Array(per - 1), 1), 'E_INPUT', new RegExp(`${per} floats`));
    await expectMobileNetError(exe.run(new Float32Array(per), 0), 'E_ARG', /positive integer/);
    await expectMobileNetError(exe.run([1, 2, 3] as unknown as Float32Array, 1), 'E_INPUT');
    exe.dispose();
    await expectMobileNetError(exe.run(new Float32Array(per), 1), 'E_DISPOSED');
  });
});
