// Seeded random weights for the built-in architectures: a small deterministic PRNG (xoshiro128**),
// a weight source the builders draw from, and a data-dependent rescaling that keeps activations O(1).
import { planGraph } from '../graph/plan';
import type { Graph, GraphNode } from '../graph/types';
import { floatBits, Header, HEADER_WORDS, Param, STEP_WORDS } from '../kernels/contract';
import { epilogue, readStep, runStep } from '../kernels/reference';

/**
 * xoshiro128** (Blackman & Vigna) seeded through splitmix32: 32-bit state words only, so every
 * JS engine gives the same stream, and the same seed always gives the same weights.
 *
 * @example
 * const rng = new Prng(42);
 * const x = rng.uniform(-1, 1);
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let z = seed >>> 0;
    // splitmix32 spreads small consecutive seeds over the whole state so seeds 0, 1, 2 are unrelated
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x21f0aaad) >>> 0;
      t = Math.imul(t ^ (t >>> 15), 0x735a2d97) >>> 0;
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Fills `out` with uniform values in [lo, hi) and returns it. */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Where the builders get their weights from: seeded random, or zeros when only shapes matter. */
export interface WeightSource {
  /** Conv/FC weights with `count` values feeding outputs that each sum `fanIn` products. */
  weights(count: number, fanIn: number): Float32Array;
  /** A bias vector. */
  bias(count: number): Float32Array;
  /** Whether the weights are real random draws worth calibrating. */
  readonly random: boolean;
}

/**
 * He-uniform weights (variance 2/fanIn, He et al. arXiv 1502.01852) and small random biases. The exact
 * scale is then fixed by calibrateScales, so the bias range only sets how far from zero units start.
 *
 * @example
 * const w = randomWeights(1).weights(64 * 32, 32); // a [64][32] pwconv
 */
export function randomWeights(seed: number): WeightSource {
  const rng = new Prng(seed);
  return {
    random: true,
    weights(count, fanIn) {
      const limit = Math.sqrt(6 / fanIn);
      return rng.fillUniform(new Float32Array(count), -limit, limit);
    },
    bias(count) {
      return rng.fillUniform(new Float32Array(count), -0.1, 0.1);
    },
  };
}

/**
 * Zero weights: the graph's shapes without the cost of drawing millions of random numbers.
 *
 * @example
 * const { graph } = buildMobileNetV1(resolveSpec({ arch: 'mobilenet_v1' }), zeroWeights());
 */
export function zeroWeights(): WeightSource {
  return {
    random: false,
    weights: (count) => new Float32Array(count),
    bias: (count) => new Float32Array(count),
  };
}

/** Root-mean-square pre-activation each weighted layer is scaled to; the classifier gets `logitRms`. */
export interface CalibrationTargets {
  rms: number;
  logitRms: number;
  /** Name of the node whose output are the logits. */
  logits: string;
}

/**
 * Layer-sequential unit-variance rescaling (LSUV, Mishkin & Matas arXiv 1511.06422): runs `graph`
 * on a seeded uniform [-1,1] input with the reference kernels and, layer by layer, scales each conv's
 * weights and bias by one scalar so its pre-activation has the target RMS. The node arrays are scaled
 * in place, so every graph built from the same arrays (at any resolution) shares the result.
 * Analytic He init alone drifts through h-swish, squeeze-excite gates and residual sums; measuring
 * keeps every MobileNet variant O(1) with no NaN, overflow or denormal tail.
 *
 * @example
 * calibrateScales(graph, { rms: 1, logitRms: 4, logits: 'Logits' }, seed);
 */
export function calibrateScales(graph: Graph, targets: CalibrationTargets, seed: number, batch = 2): void {
  const plan = planGraph(graph);
  const { program, constants } = plan;
  const arena = new Float32Array(program[Header.arenaFloatsPerImage] * batch);
  const inputFloats = program[Header.inputFloatsPerImage] * batch;
  new Prng(seed ^ 0x5eed).fillUniform(arena.subarray(program[Header.inputOffset] * batch, program[Header.inputOffset] * batch + inputFloats), -1, 1);
  const computeNodes = graph.nodes.filter((n) => n.op !== 'reshape');
  computeNodes.forEach((node, i) => {
    if (!isWeighted(node)) {
      runStep(program, i, batch, arena, constants);
      return;
    }
    const step = readStep(program, i);
    // measure the raw pre-activation: run the step with its epilogue switched off
    const p = HEADER_WORDS + i * STEP_WORDS;
    const saved = [program[p + Param.act], program[p + Param.min], program[p + Param.max]];
    program[p + Param.act] = 0;
    program[p + Param.min] = floatBits(-Infinity);
    program[p + Param.max] = floatBits(Infinity);
    runStep(program, i, batch, arena, constants);
    program[p + Param.act] = saved[0];
    program[p + Param.min] = saved[1];
    program[p + Param.max] = saved[2];

    const len = step.outH * step.outW * step.outC * batch;
    const out = arena.subarray(step.out * batch, step.out * batch + len);
    let rms: number;
    let borderFix: Float64Array | undefined;
    if (node.op === 'pwconv') {
      let sumSq = 0;
      for (let k = 0; k < len; k++) sumSq += out[k] * out[k];
      rms = Math.sqrt(sumSq / len);
    } else {
      // A small calibration image leaves a KxK kernel hanging over the zero padding almost everywhere
      // (a 5x5 depthwise on a 3x3 map sees 9 of 25 taps), so measuring would overscale it for full
      // size. Instead predict the interior second moment per channel, sum_k w^2 * E[x_c^2] + b^2, and
      // also lift each channel of this output to it so the layers after see full-size statistics.
      const inLen = step.inH * step.inW * step.inC * batch;
      const predicted = interiorMoments(node, channelSecondMoments(arena.subarray(step.in0 * batch, step.in0 * batch + inLen), step.inC));
      const measured = channelSecondMoments(out, step.outC);
      rms = Math.sqrt(predicted.reduce((a, v) => a + v, 0) / predicted.length);
      borderFix = predicted.map((v, c) => (measured[c] > 0 ? Math.sqrt(v / measured[c]) : 1));
    }
    const target = node.name === targets.logits ? targets.logitRms : targets.rms;
    const factor = rms > 0 && Number.isFinite(rms) ? target / rms : 1;
    for (let k = 0; k < node.weights.length; k++) node.weights[k] *= factor;
    for (let k = 0; k < node.bias.length; k++) node.bias[k] *= factor;
    // the rescaled output is the old pre-activation times the factor; apply the epilogue once
    const C = step.outC;
    for (let k = 0; k < len; k++) out[k] = epilogue(out[k] * factor * (borderFix ? borderFix[k % C] : 1), step.act, step.min, step.max);
  });
}

function isWeighted(n: GraphNode): n is Extract<GraphNode, { op: 'conv2d' | 'dwconv' | 'pwconv' }> {
  return n.op === 'conv2d' || n.op === 'dwconv' || n.op === 'pwconv';
}

/** Mean of x^2 per channel of an NHWC tensor. */
function channelSecondMoments(x: Float32Array, C: number): Float64Array {
  const m = new Float64Array(C);
  for (let i = 0; i < x.length; i++) m[i % C] += x[i] * x[i];
  const pixels = x.length / C;
  for (let c = 0; c < C; c++) m[c] /= pixels;
  return m;
}

/** Per output channel E[y^2] of a spatial conv at a pixel whose taps all fall inside the image, inputs independent. */
function interiorMoments(node: Extract<GraphNode, { op: 'conv2d' | 'dwconv' | 'pwconv' }>, inMoments: Float64Array): Float64Array {
  const C = inMoments.length;
  const w = node.weights;
  const cout = node.bias.length;
  const out = new Float64Array(cout);
  // conv2d [Cout][KH][KW][Cin] and dwconv [KH][KW][C] both keep the input channel innermost
  if (node.op === 'dwconv') {
    for (let i = 0; i < w.length; i++) out[i % C] += w[i] * w[i] * inMoments[i % C];
  } else {
    const per = w.length / cout;
    for (let co = 0; co < cout; co++) for (let i = 0; i < per; i++) out[co] += w[co * per + i] ** 2 * inMoments[i % C];
  }
  for (let co = 0; co < cout; co++) out[co] += node.bias[co] * node.bias[co];
  return out;
}
