// Fidelity of imported TFLite graphs against the TFLite interpreter's own outputs (tflite-reference/):
// the float graph users run, and the same graph evaluated with each quantized tensor's rounding.
import * as fs from 'fs';
import { importTflite } from '../lib/importers/tflite';
import type { Graph } from '../lib/graph/types';
import { dataPath } from './helpers/data';
import { argmax, fastestBackend, runGraph } from './helpers/run';

interface ModelCase {
  model: string;
  /** Max |ours - interpreter| on any probability, for the float graph (measured, see below). */
  floatTolerance: number;
  /** The same for the quantization-aware evaluation: the task's bound (16/256 V1/V2, 48/256 V3-Small). */
  quantTolerance: number;
  /** Top-1 must agree wherever the interpreter's top-1 leads its top-2 by at least this much. */
  floatLead: number;
  quantLead: number;
}

// Tolerances in units of 1/256 (one output quantization step).
// The float graph is the quantized network without its per-tensor rounding. That rounding is noise the
// interpreter adds and a float runtime cannot reproduce; on the small V1 files it moves probabilities by up
// to ~25/256 (measured 24.6 for v1 0.25, 23.7 for v1 0.5; 11 or less for v1 0.75, V2 and tf2 ptq; 51 for V3-Small).
// The quantization-aware evaluation below puts that rounding back and lands within 7/256 for V1/V2, which
// shows the gap is rounding, not an import error. V3-Small is ill-conditioned: Arm NN and the interpreter
// differ by up to 44/256 and disagree on top-1 at leads of 19, 50 and 57/256 (tflite-reference/README.md),
// so its top-1 is held only where the lead is 64/256 or more.
const CASES: ModelCase[] = [
  { model: 'mobilenet_v1_0.25_128_quant', floatTolerance: 32, quantTolerance: 16, floatLead: 8, quantLead: 8 },
  { model: 'mobilenet_v1_0.5_160_quant', floatTolerance: 32, quantTolerance: 16, floatLead: 8, quantLead: 8 },
  { model: 'mobilenet_v1_0.75_192_quant', floatTolerance: 16, quantTolerance: 16, floatLead: 8, quantLead: 8 },
  { model: 'mobilenet_v2_1.0_224_quant', floatTolerance: 16, quantTolerance: 16, floatLead: 8, quantLead: 8 },
  { model: 'tf2_mobilenet_v2_1.0_224_ptq', floatTolerance: 16, quantTolerance: 16, floatLead: 8, quantLead: 8 },
  { model: 'mobilenet_v3_small_1.0_224_uint8', floatTolerance: 64, quantTolerance: 48, floatLead: 64, quantLead: 64 },
];
const VARIANTS = ['crop-legacy', 'full-legacy'];
const ALL_IMAGES = ['bird.bmp', 'cat.bmp', 'dragonfly.bmp', 'grace_hopper.bmp', 'hot_dog.jpg', 'parrot.jpg', 'tfjs_converter_demo_cat.jpg'];
/** The three near-tie photos (the hardest to match): all the float64 evaluator and the slow js backend can afford on larger models. */
const HARD_IMAGES = ['cat.bmp', 'grace_hopper.bmp', 'tfjs_converter_demo_cat.jpg'];

const ref = (...p: string[]) => dataPath('tflite-reference', ...p);
const graphs = new Map<string, Graph>();
const graphOf = (model: string): Graph => {
  if (!graphs.has(model)) graphs.set(model, importTflite(new Uint8Array(fs.readFileSync(dataPath('models', 'tflite', `${model}.tflite`))), `${model}.tflite`));
  return graphs.get(model)!;
};

/** The exact uint8 input tensors, turned into the real values the input quantization represents. */
function inputs(graph: Graph, model: string, variant: string, images: string[]): Float32Array {
  const per = graph.input.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(per * images.length);
  const { scale, offset } = graph.meta.inputRange!;
  images.forEach((img, i) => {
    const rgb = fs.readFileSync(ref('armnn', variant, model, `${img}.rgb`));
    expect(rgb.length).toBe(per);
    for (let j = 0; j < per; j++) x[i * per + j] = rgb[j] * scale + offset;
  });
  return x;
}

interface Comparison { maxDeviation: number; top1Misses: string[]; detail: string }

/** Compares per-image probability rows with the interpreter's uint8 outputs (probability = q/256). */
function compare(probs: ArrayLike<number>, model: string, variant: string, images: string[], lead: number): Comparison {
  let maxDeviation = 0;
  const top1Misses: string[] = [];
  const detail: string[] = [];
  images.forEach((img, i) => {
    const q = fs.readFileSync(ref('tflite-wasm', variant, model, `${img}.out`));
    expect(q.length).toBe(1001);
    const row = Array.from({ length: 1001 }, (_, c) => probs[i * 1001 + c]);
    let dev = 0;
    for (let c = 0; c < 1001; c++) dev = Math.max(dev, Math.abs(row[c] * 256 - q[c]));
    maxDeviation = Math.max(maxDeviation, dev);
    const sorted = [...q].sort((a, b) => b - a);
    const ours = argmax(row);
    const theirs = argmax(q);
    if (sorted[0] - sorted[1] >= lead && ours !== theirs) top1Misses.push(`${img}: ours ${ours}, interpreter ${theirs} (lead ${sorted[0] - sorted[1]}/256)`);
    detail.push(`${img} ${dev.toFixed(1)}`);
  });
  return { maxDeviation, top1Misses, detail: detail.join(', ') };
}

const act = (x: number, a: string): number => {
  switch (a) {
    case 'relu': return Math.max(0, x);
    case 'relu6': return Math.min(6, Math.max(0, x));
    case 'hswish': return x * Math.min(Math.max(x / 6 + 0.5, 0), 1);
    case 'hsigmoid': return Math.min(Math.max(x / 6 + 0.5, 0), 1);
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    default: return x;
  }
};

/**
 * Evaluates a graph in float64 the way the integer interpreter does: every clamped output is rounded to the
 * 256-level grid its clamp spans (a quantized tensor's range [scale*(qmin-zp), scale*(qmax-zp)] holds exactly
 * 256 levels for uint8 and int8), and the softmax output to the output tensor's 1/256 steps. Independent of
 * the kernels and backends: it reads only the graph's nodes.
 */
function evaluateQuantized(g: Graph, input: Float32Array): Float64Array {
  const values = new Map<string, Float64Array>([[g.input.name, Float64Array.from(input)]]);
  for (const n of g.nodes) {
    const [H, W, C] = g.shapes[n.inputs[0]];
    const [oH, oW, oC] = g.shapes[n.output];
    const x = values.get(n.inputs[0])!;
    let y: Float64Array = new Float64Array(oH * oW * oC);
    switch (n.op) {
      case 'conv2d':
      case 'dwconv': {
        // locals keep the hot loops monomorphic (graph nodes come in many shapes)
        const [kH, kW] = n.kernel;
        const [sH, sW] = n.stride;
        const [padT, padL] = n.pads;
        const w = n.weights;
        const bias = n.bias;
        const depthwise = n.op === 'dwconv';
        for (let oy = 0; oy < oH; oy++) for (let ox = 0; ox < oW; ox++) for (let co = 0; co < oC; co++) {
          let acc = bias[co];
          for (let ky = 0; ky < kH; ky++) {
            const iy = oy * sH - padT + ky;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < kW; kx++) {
              const ix = ox * sW - padL + kx;
              if (ix < 0 || ix >= W) continue;
              const xi = (iy * W + ix) * C;
              if (depthwise) acc += x[xi + co] * w[(ky * kW + kx) * C + co];
              else {
                const wi = ((co * kH + ky) * kW + kx) * C;
                for (let ci = 0; ci < C; ci++) acc += x[xi + ci] * w[wi + ci];
              }
            }
          }
          y[(oy * oW + ox) * oC + co] = act(acc, n.activation);
        }
        break;
      }
      case 'pwconv': {
        const w = n.weights;
        const bias = n.bias;
        for (let p = 0; p < H * W; p++) for (let co = 0; co < oC; co++) {
          let acc = bias[co];
          const xi = p * C;
          const wi = co * C;
          for (let ci = 0; ci < C; ci++) acc += x[xi + ci] * w[wi + ci];
          y[p * oC + co] = act(acc, n.activation);
        }
        break;
      }
      case 'add': {
        const b = values.get(n.inputs[1])!;
        for (let i = 0; i < y.length; i++) y[i] = act(x[i] + b[i], n.activation);
        break;
      }
      case 'scale': {
        const gate = values.get(n.inputs[1])!;
        for (let i = 0; i < y.length; i++) y[i] = x[i] * gate[i % C];
        break;
      }
      case 'gavgpool':
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let p = 0; p < H * W; p++) s += x[p * C + c];
          y[c] = s / (H * W);
        }
        break;
      case 'affine':
        for (let i = 0; i < y.length; i++) {
          const c = n.mul.length === 1 ? 0 : i % C;
          y[i] = act(x[i] * n.mul[c] + n.add[c], n.activation);
        }
        break;
      case 'softmax': {
        let max = -Infinity;
        for (const v of x) max = Math.max(max, v);
        let sum = 0;
        for (const v of x) sum += Math.exp(n.beta * (v - max));
        for (let i = 0; i < y.length; i++) y[i] = Math.min(255, Math.round((256 * Math.exp(n.beta * (x[i] - max))) / sum)) / 256;
        break;
      }
      case 'reshape':
        y = x;
        break;
    }
    if (n.clamp && n.op !== 'reshape') {
      const [lo, hi] = n.clamp;
      const step = (hi - lo) / 255;
      for (let i = 0; i < y.length; i++) y[i] = lo + Math.round((Math.min(hi, Math.max(lo, y[i])) - lo) / step) * step;
    }
    values.set(n.output, y);
  }
  return values.get(g.output)!;
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length) console.log(`max |ours - TFLite interpreter| in 1/256 steps:\n${summary.join('\n')}`);
});

describe.each(CASES)('$model vs the TFLite interpreter (tflite-wasm outputs)', (c) => {
  test.each(VARIANTS)(`%s: float graph on the fastest backend, within ${c.floatTolerance}/256, same top-1 where the lead is >= ${c.floatLead}/256`, async (variant) => {
    const g = graphOf(c.model);
    const backend = await fastestBackend();
    const images = backend === 'js' && g.input.shape[0] >= 192 ? HARD_IMAGES : ALL_IMAGES;
    const [probs] = await runGraph(g, inputs(g, c.model, variant, images), images.length, backend);
    const r = compare(probs, c.model, variant, images, c.floatLead);
    summary.push(`${c.model} ${variant} float (${backend}, ${images.length} images): ${r.maxDeviation.toFixed(2)}  [${r.detail}]`);
    expect(r.top1Misses).toEqual([]);
    expect(r.maxDeviation).toBeLessThanOrEqual(c.floatTolerance);
  });

  test.each(VARIANTS)(`%s: the imported graph with quantized rounding, within ${c.quantTolerance}/256, same top-1 where the lead is >= ${c.quantLead}/256`, (variant) => {
    const g = graphOf(c.model);
    const images = g.input.shape[0] > 128 ? HARD_IMAGES : ALL_IMAGES;
    const per = g.input.shape.reduce((a, b) => a * b, 1);
    const x = inputs(g, c.model, variant, images);
    const probs = new Float64Array(1001 * images.length);
    images.forEach((_, i) => probs.set(evaluateQuantized(g, x.subarray(i * per, (i + 1) * per)), i * 1001));
    const r = compare(probs, c.model, variant, images, c.quantLead);
    summary.push(`${c.model} ${variant} quantization-aware (${images.length} images): ${r.maxDeviation.toFixed(2)}  [${r.detail}]`);
    expect(r.top1Misses).toEqual([]);
    expect(r.maxDeviation).toBeLessThanOrEqual(c.quantTolerance);
  });
});
