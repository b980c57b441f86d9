// The kernel matrix: every backend (and every native ISA this CPU runs) x every distinct MobileNet
// layer shape and edge shape x every epilogue, against the reference backend with a tolerance that
// grows with the reduction length; the reference itself is checked against an independent float64
// im2col + matmul formulation written here.
import { getBackend } from '../lib/backends';
import type { BackendName } from '../lib/backends/types';
import type { Activation, Graph, GraphNode } from '../lib/graph/types';
import {
  allLayerShapes,
  buildLayerGraph,
  cutSpatially,
  describeLayerShape,
  layerInput,
  layerMacs,
  layerShapeKey,
  type LayerShape,
  outputSize,
} from '../lib/models/shapes';
import { runGraph } from './helpers/run';
import { probeBackends, type Probe } from './helpers/probe';

/** Base seed; every case derives its own and prints it. Override with MATRIX_SEED to explore. */
const BASE_SEED = Number(process.env.MATRIX_SEED ?? 20261124) >>> 0;
/** Layers above this many MACs run on a smaller image (same channels, kernel, stride, pad pattern). */
const MAX_MACS = 60_000;
/** Elementwise layers above this many values per image run on a smaller image too. */
const MAX_ELEMENTS = 6_000;
const U = 2 ** -23;
const ABS = 2 ** -20;

interface Row { label: string; backend: BackendName; isa?: string; skip?: string }
function backendRows(probe: Probe[]): Row[] {
  const rows: Row[] = [];
  for (const p of probe) {
    if (p.name !== 'native') {
      rows.push({ label: p.name, backend: p.name, skip: p.available ? undefined : p.reason ?? 'unavailable' });
      continue;
    }
    const known = process.arch === 'arm64' ? ['neon', 'scalar'] : ['avx512', 'avx2', 'scalar'];
    if (!p.available) {
      for (const isa of known) rows.push({ label: `native[${isa}]`, backend: 'native', isa, skip: p.reason ?? 'unavailable' });
      continue;
    }
    const runnable = p.isas ?? [];
    for (const isa of new Set([...runnable, ...known])) {
      rows.push({
        label: `native[${isa}]`, backend: 'native', isa,
        skip: runnable.includes(isa) ? undefined : `this CPU/OS cannot run ${isa} (availability().detail.isas = [${runnable.join(', ')}])`,
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The cases: distinct geometries x epilogues.
interface Epilogue { activation: Activation; clamp?: [number, number] }
const CONV_EPILOGUES: Epilogue[] = [
  { activation: 'none' }, { activation: 'relu' }, { activation: 'relu6' },
  { activation: 'hswish' }, { activation: 'hsigmoid' }, { activation: 'none', clamp: [-0.5, 0.75] },
];
function epiloguesFor(op: LayerShape['op']): Epilogue[] {
  if (op === 'softmax') return [{ activation: 'none' }];
  // the builder gives pooling and gating a clamp but no nonlinearity; their values are small
  if (op === 'gavgpool' || op === 'scale') return [{ activation: 'none' }, { activation: 'none', clamp: [-0.02, 0.03] }];
  return CONV_EPILOGUES;
}

/** One geometry; its test runs every epilogue of epiloguesFor(op) on the same seeded weights. */
interface Case { name: string; shape: LayerShape; epilogues: Epilogue[]; seed: number; batch: number }
function epilogueLabel(e: Epilogue): string {
  return e.clamp ? `${e.activation}+clamp[${e.clamp.join(',')}]` : e.activation;
}
function buildCases(): Case[] {
  const seen = new Set<string>();
  const cases: Case[] = [];
  for (const full of allLayerShapes()) {
    const key = layerShapeKey(full, false);
    if (seen.has(key)) continue;
    seen.add(key);
    const weighted = full.op === 'conv2d' || full.op === 'dwconv' || full.op === 'pwconv';
    const shape = cutSpatially(full, weighted ? MAX_MACS : MAX_ELEMENTS);
    const batch = !weighted || layerMacs(shape) <= 20_000 ? 2 : 1;
    const seed = (BASE_SEED + 7919 * cases.length) >>> 0;
    const epilogues = epiloguesFor(shape.op);
    const note = shape === full ? '' : ` (cut from ${full.H}x${full.W})`;
    const name = `${describeLayerShape(shape, false)} acts=${epilogues.map(epilogueLabel).join('|')} batch=${batch} seed=${seed}${note} [${full.sources[0]}]`;
    cases.push({ name, shape, epilogues, seed, batch });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The independent float64 formulation: im2col + matmul for convolutions, direct sums elsewhere.
// It gives, per output element, the pre-activation, the sum of |terms| S and the number of roundings K a
// float32 kernel may make, which set the tolerance; each epilogue is then applied to the same sums.
const ACT: Record<string, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  hswish: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
  hsigmoid: (x) => Math.min(Math.max(x + 3, 0), 6) / 6,
};

interface NaiveSums { pre: Float64Array; S: Float64Array; K: Float64Array }
interface Naive extends NaiveSums { value: Float64Array }

function nodeOf(graph: Graph, op: GraphNode['op']): GraphNode {
  const n = graph.nodes.find((x) => x.op === op);
  if (!n) throw new Error(`no ${op} node`);
  return n;
}
function weightsOf(graph: Graph, op: 'conv2d' | 'dwconv' | 'pwconv'): { weights: Float32Array; bias: Float32Array } {
  return nodeOf(graph, op) as unknown as { weights: Float32Array; bias: Float32Array };
}
function affineOf(graph: Graph): { mul: Float32Array; add: Float32Array } {
  return nodeOf(graph, 'affine') as unknown as { mul: Float32Array; add: Float32Array };
}

function im2col(x: Float32Array, s: LayerShape, outH: number, outW: number, channels: number[]): Float64Array {
  const [kH, kW] = s.kernel;
  const cols = kH * kW * channels.length;
  const out = new Float64Array(outH * outW * cols);
  for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) {
    const row = (oy * outW + ox) * cols;
    for (let ky = 0; ky < kH; ky++) for (let kx = 0; kx < kW; kx++) {
      const iy = oy * s.stride[0] - s.pads[0] + ky;
      const ix = ox * s.stride[1] - s.pads[1] + kx;
      if (iy < 0 || ix < 0 || iy >= s.H || ix >= s.W) continue; // padding stays 0
      channels.forEach((c, j) => { out[row + (ky * kW + kx) * channels.length + j] = x[(iy * s.W + ix) * s.Cin + c]; });
    }
  }
  return out;
}

function naiveLayer(shape: LayerShape, graph: Graph, input: Float32Array, batch: number): NaiveSums {
  const [outH, outW] = outputSize(shape);
  const outPerImage = outH * outW * shape.Cout;
  const n = outPerImage * batch;
  const pre = new Float64Array(n);
  const S = new Float64Array(n);
  const K = new Float64Array(n);
  const inPerImage = shape.H * shape.W * shape.Cin;
  const f32 = Math.fround;
  for (let b = 0; b < batch; b++) {
    const x = input.subarray(b * inPerImage, (b + 1) * inPerImage);
    const o = b * outPerImage;
    if (shape.op === 'conv2d' || shape.op === 'pwconv') {
      const node = weightsOf(graph, shape.op);
      const geo = shape.op === 'pwconv' ? { ...shape, kernel: [1, 1] as [number, number], stride: [1, 1] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number] } : shape;
      const cols = geo.kernel[0] * geo.kernel[1] * shape.Cin;
      const A = im2col(x, geo, outH, outW, Array.from({ length: shape.Cin }, (_, c) => c));
      for (let p = 0; p < outH * outW; p++) for (let co = 0; co < shape.Cout; co++) {
        let acc = node.bias[co];
        let mag = Math.abs(node.bias[co]);
        for (let k = 0; k < cols; k++) {
          const t = A[p * cols + k] * node.weights[co * cols + k];
          acc += t;
          mag += Math.abs(t);
        }
        pre[o + p * shape.Cout + co] = acc;
        S[o + p * shape.Cout + co] = mag;
        K[o + p * shape.Cout + co] = cols + 1;
      }
    } else if (shape.op === 'dwconv') {
      const node = weightsOf(graph, 'dwconv');
      const taps = shape.kernel[0] * shape.kernel[1];
      for (let c = 0; c < shape.Cin; c++) {
        const A = im2col(x, shape, outH, outW, [c]);
        for (let p = 0; p < outH * outW; p++) {
          let acc = node.bias[c];
          let mag = Math.abs(node.bias[c]);
          for (let k = 0; k < taps; k++) {
            const t = A[p * taps + k] * node.weights[k * shape.Cin + c];
            acc += t;
            mag += Math.abs(t);
          }
          pre[o + p * shape.Cin + c] = acc;
          S[o + p * shape.Cin + c] = mag;
          K[o + p * shape.Cin + c] = taps + 1;
        }
      }
    } else if (shape.op === 'add' || shape.op === 'affine') {
      const aff = affineOf(graph);
      for (let i = 0; i < inPerImage; i++) {
        const j = aff.mul.length === 1 ? 0 : i % shape.Cin;
        const term = x[i] * aff.mul[j];
        if (shape.op === 'affine') {
          pre[o + i] = term + aff.add[j];
          S[o + i] = Math.abs(term) + Math.abs(aff.add[j]);
          K[o + i] = 2;
        } else {
          // the second operand is a float32 tensor in every backend
          pre[o + i] = x[i] + f32(term + aff.add[j]);
          S[o + i] = Math.abs(x[i]) + Math.abs(term) + Math.abs(aff.add[j]);
          K[o + i] = 3;
        }
      }
    } else if (shape.op === 'lookup') {
      const node = nodeOf(graph, 'lookup') as unknown as { table: Float32Array; indexMul: number; indexAdd: number };
      const last = node.table.length - 1;
      for (let i = 0; i < inPerImage; i++) {
        // the contract's index: float32 x * mul, then + add in float32, nearest with ties to even, clamped
        const v = f32(f32(x[i] * node.indexMul) + node.indexAdd);
        const floor = Math.floor(v);
        const nearest = v - floor > 0.5 || (v - floor === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
        const t = node.table[Math.min(Math.max(nearest, 0), last)];
        pre[o + i] = t;
        S[o + i] = Math.abs(t);
        K[o + i] = 1;
      }
    } else if (shape.op === 'gavgpool' || shape.op === 'scale') {
      const hw = shape.H * shape.W;
      for (let c = 0; c < shape.Cin; c++) {
        let sum = 0;
        let mag = 0;
        for (let p = 0; p < hw; p++) { sum += x[p * shape.Cin + c]; mag += Math.abs(x[p * shape.Cin + c]); }
        if (shape.op === 'gavgpool') {
          pre[o + c] = sum / hw;
          S[o + c] = mag / hw;
          K[o + c] = hw + 1;
        } else {
          const gate = f32(sum / hw);
          for (let p = 0; p < hw; p++) {
            const i = p * shape.Cin + c;
            pre[o + i] = x[i] * gate;
            S[o + i] = Math.abs(x[i]) * (mag / hw);
            K[o + i] = hw + 2;
          }
        }
      }
    } else if (shape.op === 'softmax') {
      const C = shape.Cin;
      for (let p = 0; p < shape.H * shape.W; p++) {
        let max = -Infinity;
        for (let c = 0; c < C; c++) max = Math.max(max, x[p * C + c]);
        let sum = 0;
        let spread = 0;
        for (let c = 0; c < C; c++) { sum += Math.exp(x[p * C + c] - max); spread = Math.max(spread, max - x[p * C + c]); }
        for (let c = 0; c < C; c++) {
          const y = Math.exp(x[p * C + c] - max) / sum;
          pre[o + p * C + c] = y;
          // relative error: C roundings in the sum, the exp argument's rounding, a few ulps of exp
          S[o + p * C + c] = y;
          K[o + p * C + c] = C + 2 * spread + 16;
        }
      }
    }
  }
  return { pre, S, K };
}

/** The naive sums with an epilogue applied in float64. */
function withNaiveEpilogue(sums: NaiveSums, e: Epilogue): Naive {
  const act = ACT[e.activation];
  const [lo, hi] = e.clamp ?? [-Infinity, Infinity];
  return { ...sums, value: sums.pre.map((p) => Math.min(Math.max(act(p), lo), hi)) };
}

/** Slope bound of the epilogue (h-swish rises at most 1.5 per unit, at x = 3). */
const LIPSCHITZ: Record<string, number> = { none: 1, relu: 1, relu6: 1, hswish: 1.5, hsigmoid: 1 };

/** Worst element as a message, or undefined when every |got - want| <= tol[i]. */
function compare(got: Float32Array, want: Float32Array | Float64Array, tol: Float64Array): string | undefined {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    // written so that NaN in `got` fails too
    if (!(err <= tol[i])) {
      const ratio = Number.isNaN(err) ? Infinity : err / tol[i];
      if (ratio >= worstRatio) { worst = i; worstRatio = ratio; }
    }
  }
  if (worst < 0) return undefined;
  return `element ${worst}: got ${got[worst]}, expected ${want[worst]}, |diff| ${Math.abs(got[worst] - want[worst]).toExponential(3)} > tolerance ${tol[worst].toExponential(3)} (x${worstRatio.toFixed(2)})`;
}

/** Tolerance of the js reference against the naive float64 formulation: both round once to float32. */
function jsTolerance(naive: Naive, e: Epilogue): Float64Array {
  const L = LIPSCHITZ[e.activation];
  return naive.value.map((v, i) => U * Math.abs(v) + L * naive.K[i] * 2 ** -50 * naive.S[i] + 2 ** -50 * (Math.abs(naive.pre[i]) + 1) * 8 + 1e-300);
}

/**
 * Tolerance of a float32 backend against the reference, per element: the float32 accumulation bound
 * K * 2^-23 * sum|terms| (any summation order, FMA or not) times the epilogue's slope, the rounding
 * inside h-swish/h-sigmoid, and a small absolute term for flushed denormals.
 */
function backendTolerance(naive: Naive, js: Float32Array, e: Epilogue): Float64Array {
  const L = LIPSCHITZ[e.activation];
  const nonlinear = e.activation === 'hswish' || e.activation === 'hsigmoid';
  return naive.pre.map((pre, i) => {
    const p = Math.abs(pre);
    const epi = nonlinear ? 8 * U * (p * (p / 6 + 1) + 1) : U * Math.abs(js[i]);
    return L * naive.K[i] * U * naive.S[i] + epi + ABS;
  });
}

// ---------------------------------------------------------------------------------------------
const PROBE = probeBackends();
const CASES = buildCases();
const ROWS = backendRows(PROBE);

interface Reference { graph: Graph; input: Float32Array; js: Float32Array; naive: Naive; tolerance: Float64Array }
const references = new Map<string, Reference>();

/** What a case's epilogues share: its graph with the seeded weights, its input, and the naive sums. */
interface CaseData { graph: Graph; input: Float32Array; sums: NaiveSums }
const caseData = new Map<number, CaseData>();
function caseDataFor(index: number): CaseData {
  let d = caseData.get(index);
  if (!d) {
    const c = CASES[index];
    const graph = buildLayerGraph({ ...c.shape, activation: 'none', clamp: undefined }, c.seed);
    const input = layerInput(c.shape, c.seed, c.batch);
    d = { graph, input, sums: naiveLayer(c.shape, graph, input, c.batch) };
    caseData.set(index, d);
  }
  return d;
}

/** The same graph with another epilogue on the node that produces the output (weights shared). */
function withEpilogue(graph: Graph, e: Epilogue): Graph {
  return { ...graph, nodes: graph.nodes.map((n) => (n.output === graph.output ? { ...n, activation: e.activation, clamp: e.clamp } : n)) };
}

/** The js output and the naive formulation for one case and epilogue, computed once and shared by every row. */
async function referenceFor(index: number, epilogue: Epilogue): Promise<Reference> {
  const key = `${index} ${epilogueLabel(epilogue)}`;
  let ref = references.get(key);
  if (!ref) {
    const { graph: base, input, sums } = caseDataFor(index);
    const graph = withEpilogue(base, epilogue);
    const [js] = await runGraph(graph, input, CASES[index].batch, 'js');
    const naive = withNaiveEpilogue(sums, epilogue);
    ref = { graph, input, js, naive, tolerance: backendTolerance(naive, js, epilogue) };
    references.set(key, ref);
  }
  return ref;
}

test(`the matrix covers every model and edge shape (${CASES.length} geometries, base seed ${BASE_SEED})`, () => {
  const ops = new Set(CASES.map((c) => c.shape.op));
  for (const op of ['conv2d', 'dwconv', 'pwconv', 'add', 'scale', 'gavgpool', 'softmax', 'affine', 'lookup']) expect(ops).toContain(op);
  expect(CASES.some((c) => c.shape.op === 'affine' && c.shape.paramLen === 1)).toBe(true);
  expect(CASES.some((c) => c.shape.op === 'affine' && (c.shape.paramLen ?? 0) > 1)).toBe(true);
  expect(CASES.some((c) => c.shape.kernel[0] === 5 && c.shape.op === 'dwconv')).toBe(true);
  expect(CASES.some((c) => c.shape.Cin === 1)).toBe(true);
});

test('the availability probe (child process) agrees with this process, so skips are honest', async () => {
  for (const p of PROBE) {
    const here = await getBackend(p.name).availability();
    expect({ name: p.name, available: here.available }).toEqual({ name: p.name, available: p.available });
  }
});

describe('js (float64 reference) vs an independent float64 im2col/matmul formulation', () => {
  test.each(CASES.map((c, i) => [c.name, i] as const))('js | %s', async (_name, index) => {
    const failures: string[] = [];
    for (const epilogue of CASES[index].epilogues) {
      const { js, naive } = await referenceFor(index, epilogue);
      const problem = compare(js, naive.value, jsTolerance(naive, epilogue));
      if (problem) failures.push(`act ${epilogueLabel(epilogue)}: ${problem}`);
    }
    if (failures.length) throw new Error(`js reference disagrees with the naive formulation:\n${failures.join('\n')}`);
  });
});

for (const row of ROWS) {
  if (row.skip) {
    test.skip(`${row.label}: SKIPPED, not runnable here: ${row.skip}`, () => {});
    continue;
  }
  describe(`${row.label} vs js reference`, () => {
    test.each(CASES.map((c, i) => [c.name, i] as const))(`${row.label} | %s`, async (_name, index) => {
      const c = CASES[index];
      const failures: string[] = [];
      for (const [k, epilogue] of c.epilogues.entries()) {
        const { graph, input, js, tolerance } = await referenceFor(index, epilogue);
        // one epilogue per case runs multi-threaded (where the backend has threads) so work splitting is
        // covered; the rest single-threaded, since thread start-up would dominate these small layers
        const threads = k === 1 ? 2 : 1;
        const [got] = await runGraph(graph, input, c.batch, row.backend, { ...(row.isa ? { isa: row.isa } : {}), threads });
        const problem = compare(got, js, tolerance);
        if (problem) failures.push(`act ${epilogueLabel(epilogue)} threads=${threads}: ${problem}`);
      }
      if (failures.length) throw new Error(`${row.label} disagrees with the js reference:\n${failures.join('\n')}`);
    });
  });
}
