// Layer shapes as data, shared by the kernel test matrix and bench/: every distinct layer of V1 1.0,
// V2 1.0 and V3-Large/Small at 224 (read off the builders, never typed by hand) plus awkward edge shapes.
import { GraphBuilder, type Padding, resolvePads } from '../graph/builder';
import type { Activation, Graph, GraphNode } from '../graph/types';
import { buildArchitectureShapes } from './index';
import type { ArchName } from './common';
import { Prng } from './random';

export type LayerOp = 'conv2d' | 'dwconv' | 'pwconv' | 'add' | 'scale' | 'gavgpool' | 'softmax' | 'affine' | 'lookup';

/** One layer's geometry and epilogue. Per image; the batch is chosen by whoever runs it. */
export interface LayerShape {
  op: LayerOp;
  /** Input height and width. */
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  /** [1,1] and stride [1,1] for ops without a window. */
  kernel: [number, number];
  stride: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  activation: Activation;
  clamp?: [number, number];
  /** affine: constants of length 1 (broadcast) or Cin; lookup: the table length. */
  paramLen?: number;
  /** Where it occurs: "mobilenet_v2 block_3_expand", or "edge: ..." for synthetic cases. */
  sources: string[];
}

/** The architectures whose layers make up the model shape list, all at alpha 1.0 and 224x224. */
export const SHAPE_ARCHS: readonly ArchName[] = ['mobilenet_v1', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small'];

/**
 * Output height and width of a shape.
 *
 * @example
 * outputSize(edgeLayerShapes()[1]); // [4, 4]: 7x7 at stride 2, SAME
 */
export function outputSize(s: LayerShape): [number, number] {
  if (s.op === 'gavgpool') return [1, 1];
  const outH = Math.floor((s.H + s.pads[0] + s.pads[2] - s.kernel[0]) / s.stride[0]) + 1;
  const outW = Math.floor((s.W + s.pads[1] + s.pads[3] - s.kernel[1]) / s.stride[1]) + 1;
  return [outH, outW];
}

/**
 * Multiply-accumulates per image (the MAC convention of describeModel: weighted ops only).
 *
 * @example
 * const total = modelLayerShapes().reduce((s, l) => s + layerMacs(l), 0);
 */
export function layerMacs(s: LayerShape): number {
  const [oh, ow] = outputSize(s);
  if (s.op === 'conv2d') return oh * ow * s.Cout * s.kernel[0] * s.kernel[1] * s.Cin;
  if (s.op === 'dwconv') return oh * ow * s.Cout * s.kernel[0] * s.kernel[1];
  if (s.op === 'pwconv') return oh * ow * s.Cout * s.Cin;
  return 0;
}

/**
 * The full tuple, as printed in test names and bench rows.
 *
 * @example
 * describeLayerShape(s); // "dwconv H=112 W=112 Cin=32 Cout=32 k=3x3 s=1x1 pads=[1,1,1,1] act=relu6"
 */
export function describeLayerShape(s: LayerShape, withEpilogue = true): string {
  let text = `${s.op} H=${s.H} W=${s.W} Cin=${s.Cin} Cout=${s.Cout}`;
  if (s.op === 'conv2d' || s.op === 'dwconv') text += ` k=${s.kernel.join('x')} s=${s.stride.join('x')} pads=[${s.pads.join(',')}]`;
  if (s.op === 'affine' || s.op === 'lookup') text += ` paramLen=${s.paramLen}`;
  if (withEpilogue) {
    text += ` act=${s.activation}`;
    if (s.clamp) text += ` clamp=[${s.clamp.join(',')}]`;
  }
  return text;
}

/**
 * Identity of a shape: every field but `sources` (and optionally without the epilogue).
 *
 * @example
 * const geometries = new Set(allLayerShapes().map((s) => layerShapeKey(s, false)));
 */
export function layerShapeKey(s: LayerShape, withEpilogue = true): string {
  return describeLayerShape(s, withEpilogue);
}

function shapeOfNode(n: GraphNode, graph: Graph): Omit<LayerShape, 'sources'> | undefined {
  const [H, W, Cin] = graph.shapes[n.inputs[0]];
  const Cout = graph.shapes[n.output][2];
  const common = { H, W, Cin, Cout, kernel: [1, 1] as [number, number], stride: [1, 1] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number], activation: n.activation, ...(n.clamp ? { clamp: n.clamp } : {}) };
  switch (n.op) {
    case 'conv2d':
    case 'dwconv':
      return { ...common, op: n.op, kernel: [...n.kernel] as [number, number], stride: [...n.stride] as [number, number], pads: [...n.pads] as [number, number, number, number] };
    case 'affine':
      return { ...common, op: 'affine', paramLen: n.mul.length };
    case 'lookup':
      return { ...common, op: 'lookup', paramLen: n.table.length };
    case 'reshape':
      return undefined;
    default:
      return { ...common, op: n.op };
  }
}

let modelShapesCache: LayerShape[] | undefined;

/**
 * Every distinct layer shape of MobileNet V1 1.0, V2 1.0, V3-Large 1.0 and V3-Small 1.0 at 224x224
 * (1000 classes), in first-seen order, each with the layers it occurs in.
 *
 * @example
 * const dw = modelLayerShapes().filter((s) => s.op === 'dwconv');
 */
export function modelLayerShapes(): LayerShape[] {
  if (!modelShapesCache) {
    const byKey = new Map<string, LayerShape>();
    for (const arch of SHAPE_ARCHS) {
      const graph = buildArchitectureShapes({ arch, alpha: 1, resolution: 224 });
      for (const n of graph.nodes) {
        const shape = shapeOfNode(n, graph);
        if (!shape) continue;
        const key = layerShapeKey({ ...shape, sources: [] });
        const seen = byKey.get(key);
        if (seen) seen.sources.push(`${arch} ${n.name}`);
        else byKey.set(key, { ...shape, sources: [`${arch} ${n.name}`] });
      }
    }
    modelShapesCache = [...byKey.values()];
  }
  return modelShapesCache.map((s) => ({ ...s, sources: [...s.sources] }));
}

function conv(op: 'conv2d' | 'dwconv', H: number, W: number, Cin: number, Cout: number, k: number, stride: number, padding: Padding, why: string): LayerShape {
  return { op, H, W, Cin, Cout: op === 'dwconv' ? Cin : Cout, kernel: [k, k], stride: [stride, stride], pads: resolvePads(padding, H, W, k, k, stride, stride), activation: 'none', sources: [`edge: ${why}`] };
}
function simple(op: LayerOp, H: number, W: number, C: number, why: string, extra: Partial<LayerShape> = {}): LayerShape {
  return { op, H, W, Cin: C, Cout: C, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], activation: 'none', sources: [`edge: ${why}`], ...extra };
}

/**
 * Synthetic shapes where kernels break: C=1, C around 16 and 32 (SIMD widths), H=W=1, odd sizes at
 * stride 2, 5x5 windows at borders and larger than the image, explicit and VALID padding.
 *
 * @example
 * for (const s of edgeLayerShapes()) console.log(describeLayerShape(s));
 */
export function edgeLayerShapes(): LayerShape[] {
  const out: LayerShape[] = [
    conv('conv2d', 1, 1, 3, 16, 3, 1, 'same', '1x1 image, 3x3 window'),
    conv('conv2d', 7, 7, 3, 16, 3, 2, 'same', 'odd size at stride 2'),
    conv('conv2d', 8, 8, 3, 17, 3, 2, 'same', 'even size at stride 2, Cout=17'),
    conv('conv2d', 9, 9, 1, 8, 3, 2, 'same', 'C=1 input'),
    conv('conv2d', 6, 5, 4, 15, 3, 1, 'same', 'H != W, Cout=15'),
    conv('conv2d', 6, 6, 3, 8, 5, 1, 'same', '5x5 window at borders'),
    conv('conv2d', 7, 7, 5, 33, 5, 2, 'same', '5x5 at stride 2 on odd size'),
    conv('conv2d', 8, 8, 3, 16, 3, 2, [1, 1, 1, 1], 'explicit symmetric pads at stride 2'),
    conv('conv2d', 9, 9, 3, 16, 3, 2, 'valid', 'VALID padding'),
    conv('conv2d', 7, 7, 17, 9, 1, 2, 'same', 'strided 1x1 conv2d'),
  ];
  for (const C of [1, 15, 16, 17, 31, 32, 33]) {
    out.push(conv('dwconv', 5, 5, C, C, 3, 1, 'same', `C=${C} around vector widths`));
    out.push(conv('dwconv', 7, 7, C, C, 3, 2, 'same', `C=${C}, odd size at stride 2`));
  }
  out.push(
    conv('dwconv', 3, 3, 17, 17, 5, 1, 'same', '5x5 window on a 3x3 image'),
    conv('dwconv', 7, 7, 33, 33, 5, 2, 'same', '5x5 at stride 2 on odd size'),
    conv('dwconv', 6, 6, 16, 16, 5, 1, 'same', '5x5 window at borders'),
    conv('dwconv', 8, 8, 15, 15, 5, 2, 'same', '5x5 at stride 2 on even size'),
    conv('dwconv', 1, 1, 8, 8, 5, 1, 'same', '5x5 window on a 1x1 image'),
    conv('dwconv', 1, 1, 32, 32, 3, 1, 'same', '1x1 image'),
    conv('dwconv', 2, 2, 24, 24, 3, 2, 'same', '2x2 image at stride 2'),
    conv('dwconv', 4, 7, 24, 24, 3, 1, 'same', 'H != W'),
    conv('dwconv', 8, 8, 40, 40, 3, 2, [1, 1, 1, 1], 'explicit symmetric pads at stride 2'),
    conv('dwconv', 5, 5, 20, 20, 3, 1, 'valid', 'VALID padding'),
  );
  const pw = (H: number, W: number, Cin: number, Cout: number, why: string): LayerShape =>
    ({ ...simple('pwconv', H, W, Cin, why), Cout });
  for (const [Cin, Cout] of [[1, 1], [1, 16], [15, 17], [16, 16], [17, 15], [31, 33], [33, 31], [32, 32], [3, 64]]) {
    out.push(pw(3, 3, Cin, Cout, `Cin=${Cin} Cout=${Cout} around vector widths`));
  }
  out.push(
    pw(1, 1, 64, 17, '1x1 image'),
    pw(3, 5, 24, 40, 'odd pixel count'),
    pw(7, 1, 48, 33, 'a column'),
    pw(1, 1, 1280, 1001, 'fully connected with 1001 classes'),
  );
  for (const C of [1, 15, 16, 17, 33]) {
    out.push(simple('add', C === 33 ? 7 : 3, C === 33 ? 7 : 5, C, `add C=${C}`));
    out.push(simple('scale', C === 1 ? 1 : 3, C === 1 ? 1 : 3, C, `scale C=${C}`));
    out.push(simple('gavgpool', C === 1 ? 7 : 3, C === 1 ? 7 : 5, C, `gavgpool C=${C}`));
    out.push(simple('affine', 3, 3, C, `affine C=${C}, broadcast constant`, { paramLen: 1 }));
    out.push(simple('affine', 3, 3, C, `affine C=${C}, per-channel constants`, { paramLen: C }));
  }
  out.push(
    simple('add', 1, 1, 1, 'add 1x1x1'),
    simple('gavgpool', 1, 1, 17, 'gavgpool of a 1x1 image'),
    simple('softmax', 1, 1, 1, 'softmax over one class'),
    simple('softmax', 1, 1, 2, 'softmax over two classes'),
    simple('softmax', 1, 1, 17, 'softmax C=17'),
    simple('softmax', 1, 1, 1001, 'softmax with background class'),
    simple('softmax', 2, 3, 10, 'softmax at several pixels'),
    simple('affine', 1, 1, 1, 'affine on one value', { paramLen: 1 }),
    simple('lookup', 3, 5, 17, 'lookup in a 256-entry table (a quantized h-swish)', { paramLen: 256 }),
    simple('lookup', 7, 7, 33, 'lookup C=33 in a 256-entry table', { paramLen: 256 }),
    simple('lookup', 1, 1, 1, 'lookup of one value in a one-entry table', { paramLen: 1 }),
    simple('lookup', 2, 3, 16, 'lookup in a 5-entry table (most indices clamped)', { paramLen: 5 }),
  );
  return out;
}

/**
 * modelLayerShapes() followed by edgeLayerShapes().
 *
 * @example
 * for (const s of allLayerShapes()) bench(buildLayerGraph(cutSpatially(s, 1e6), 1));
 */
export function allLayerShapes(): LayerShape[] {
  return [...modelLayerShapes(), ...edgeLayerShapes()];
}

/**
 * The same layer on a smaller image, for tests and benches that cannot afford full size: channels,
 * kernel, stride and the SAME/explicit padding pattern are kept (the input side keeps its parity, so
 * stride-2 SAME pads stay asymmetric where they were), only H and W shrink until the layer costs at
 * most `maxMacs` (or the smallest such image if even that is larger).
 *
 * @example
 * const small = cutSpatially(modelLayerShapes()[1], 200_000);
 */
export function cutSpatially(s: LayerShape, maxMacs: number): LayerShape {
  const weighted = s.op === 'conv2d' || s.op === 'dwconv' || s.op === 'pwconv';
  const cost = (side: [number, number]) => (weighted ? layerMacs(withSide(s, side)) : side[0] * side[1] * s.Cin);
  if (cost([s.H, s.W]) <= maxMacs) return s;
  if (s.op === 'pwconv') {
    // a GEMM over pixels: any pixel count works; keep it odd so tile remainders are exercised
    let pixels = Math.max(1, Math.min(s.H * s.W, Math.floor(maxMacs / (s.Cin * s.Cout))));
    if (pixels > 1 && pixels % 2 === 0) pixels--;
    return { ...s, H: 1, W: pixels };
  }
  const minSide = (len: number, k: number, st: number) => Math.min(len, Math.max(k + st, 3));
  let H = minSide(s.H, s.kernel[0], s.stride[0]);
  let W = minSide(s.W, s.kernel[1], s.stride[1]);
  if (H % 2 !== s.H % 2) H++;
  if (W % 2 !== s.W % 2) W++;
  // grow both sides by 2 (parity kept) while the budget allows
  while (H + 2 <= s.H && W + 2 <= s.W && cost([H + 2, W + 2]) <= maxMacs) {
    H += 2;
    W += 2;
  }
  return withSide(s, [Math.min(H, s.H), Math.min(W, s.W)]);
}

function withSide(s: LayerShape, [H, W]: [number, number]): LayerShape {
  if (H === s.H && W === s.W) return s;
  // recompute SAME-style pads for the new size only when the original pads were SAME
  let pads = s.pads;
  if (s.op === 'conv2d' || s.op === 'dwconv') {
    const same = resolvePads('same', s.H, s.W, s.kernel[0], s.kernel[1], s.stride[0], s.stride[1]);
    if (same.join() === s.pads.join()) pads = resolvePads('same', H, W, s.kernel[0], s.kernel[1], s.stride[0], s.stride[1]);
  }
  return { ...s, H, W, pads };
}

/**
 * A graph around one layer with seeded random weights, ready for planGraph/runGraph. Ops with two
 * inputs get their second operand from the same input: add(x, affine(x)) and scale(x, gavgpool(x)).
 * Weights are scaled so pre-activations have an RMS near 3 for inputs in [-1, 1], which exercises
 * the ReLU6 ceiling and both h-swish knees.
 *
 * @example
 * const graph = buildLayerGraph(edgeLayerShapes()[0], 1234);
 */
export function buildLayerGraph(s: LayerShape, seed: number): Graph {
  const rng = new Prng(seed);
  const g = new GraphBuilder('x', [s.H, s.W, s.Cin], `layer ${describeLayerShape(s)}`);
  const epi = { activation: s.activation, clamp: s.clamp };
  const fill = (n: number, limit: number) => rng.fillUniform(new Float32Array(n), -limit, limit);
  let y: string;
  switch (s.op) {
    case 'conv2d':
    case 'dwconv': {
      const taps = s.kernel[0] * s.kernel[1] * (s.op === 'conv2d' ? s.Cin : 1);
      const count = s.op === 'conv2d' ? s.Cout * taps : taps * s.Cin;
      y = g.conv(s.op, 'x', fill(count, 9 / Math.sqrt(taps)), fill(s.Cout, 1), { name: s.op, kernel: s.kernel, stride: s.stride, padding: s.pads, ...epi });
      break;
    }
    case 'pwconv':
      y = g.pwconv('x', fill(s.Cout * s.Cin, 9 / Math.sqrt(s.Cin)), fill(s.Cout, 1), { name: 'pwconv', ...epi });
      break;
    case 'add': {
      const other = g.affine('x', fill(s.Cin, 3), fill(s.Cin, 1), { name: 'operand' });
      y = g.add('x', other, { name: 'add', ...epi });
      break;
    }
    case 'scale': {
      const gate = g.gavgpool('x', { name: 'gate' });
      y = g.scale('x', gate, { name: 'scale', clamp: s.clamp });
      break;
    }
    case 'gavgpool':
      y = g.gavgpool('x', { name: 'gavgpool', clamp: s.clamp });
      break;
    case 'softmax':
      y = g.softmax('x', { name: 'softmax', beta: 1 });
      break;
    case 'affine': {
      const len = s.paramLen ?? 1;
      y = g.affine('x', fill(len, 3), fill(len, 2), { name: 'affine', ...epi });
      break;
    }
    case 'lookup': {
      // inputs in [-1.25, 1.25] spread over the table and past both ends (the index clamps there); a power-of-two
      // index scale keeps x * mul exact, so FMA and separate multiply-add give the same index on every backend
      const len = s.paramLen ?? 256;
      y = g.lookup('x', fill(len, 4), { mul: 2 ** Math.round(Math.log2(len * 0.6)), add: (len - 1) / 2 }, { name: 'lookup', ...epi });
      break;
    }
  }
  return g.finish(y, { format: 'builtin', name: describeLayerShape(s), outputKind: 'logits', backgroundClass: false });
}

/**
 * A seeded input for a layer graph: `batch` images of H x W x Cin, uniform in [-range, range]
 * (softmax inputs span a wider range so the exponentials differ by many orders of magnitude).
 *
 * @example
 * const x = layerInput(shape, 1234, 2);
 */
export function layerInput(s: LayerShape, seed: number, batch = 1): Float32Array {
  const range = s.op === 'softmax' ? 12 : s.op === 'affine' || s.op === 'add' ? 4 : s.op === 'lookup' ? 1.25 : 1;
  return new Prng(seed ^ 0x9e3779b9).fillUniform(new Float32Array(batch * s.H * s.W * s.Cin), -range, range);
}
