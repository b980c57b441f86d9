// Shared lowering for both TF.js importers: values (runtime tensors, constants, zero-padded views) on top
// of GraphBuilder, explicit padding folded into the next conv, and a final pass that folds batch norms and
// per-channel affines into the conv that produces them, then fills in the embedding and the output meta.
import { MobileNetError } from '../errors';
import { GraphBuilder, type Padding, samePads } from '../graph/builder';
import { type BatchNorm, foldBatchNorm } from '../graph/fold';
import type { Activation, AffineNode, ConvNode, Graph, GraphMeta, GraphNode, PwconvNode, Shape3 } from '../graph/types';

/** A runtime tensor in the builder; `rank` is the source framework's rank (4 = NHWC, 2 = NC, ...). */
export interface TensorValue { kind: 'tensor'; name: string; rank: number }
/** A zero-padded view of a runtime tensor that only a following convolution may consume. */
export interface PaddedValue { kind: 'padded'; name: string; pads: [number, number, number, number]; rank: 4; by: string }
/** A constant from the weights. */
export interface ConstValue { kind: 'const'; values: Float32Array | Int32Array; shape: number[] }
export type Value = TensorValue | PaddedValue | ConstValue;

/**
 * A short JSON rendering of any value for the importers' error messages (undefined included).
 *
 * @example
 * show([1, 2, 3]); // '[1,2,3]'
 * show(undefined); // 'undefined'
 */
export function show(v: unknown, max = 80): string {
  return (JSON.stringify(v) ?? String(v)).slice(0, max);
}

/** Activation names as Keras configs and TF op names spell them. */
const ACTIVATIONS: Record<string, Activation | 'softmax' | 'hard_sigmoid' | undefined> = {
  linear: 'none', none: 'none', relu: 'relu', relu6: 'relu6', sigmoid: 'sigmoid', softmax: 'softmax',
  hard_sigmoid: 'hard_sigmoid', hardsigmoid: 'hard_sigmoid',
};

/**
 * Wraps GraphBuilder with the value kinds and the error wording both TF.js importers share.
 *
 * @example
 * const lower = new Lowering('input_1', [224, 224, 3], 'model.json', 'layer');
 * const x = lower.pad({ kind: 'tensor', name: 'input_1', rank: 4 }, [0, 0, 1, 1], 'Conv1_pad');
 * const y = lower.conv('conv2d', x, weights, undefined, { name: 'Conv1', kernel: [3, 3], stride: [2, 2], padding: 'valid' });
 * const graph = lower.finish(y, { format: 'tfjs-layers', name: 'demo' }, 'Conv1');
 */
export class Lowering {
  readonly builder: GraphBuilder;
  /** BN parameters of the affine nodes that came from a batch norm, so folding can use foldBatchNorm. */
  private readonly bnOf = new Map<string, BatchNorm>();

  constructor(
    inputName: string,
    inputShape: Shape3,
    readonly where: string,
    /** 'layer' or 'node': how error messages name the unit of the source file. */
    readonly unit: string,
  ) {
    this.builder = new GraphBuilder(inputName, inputShape, where);
  }

  /** E_UNSUPPORTED_OP naming the file and the layer/node. */
  unsupported(node: string, what: string, todo = 'Convert the model with only MobileNet-style ops, or file an issue with the model attached.'): MobileNetError {
    return new MobileNetError('E_UNSUPPORTED_OP', `${this.where}: ${this.unit} "${node}": ${what}. ${todo}`, { file: this.where, node });
  }

  /** E_MODEL_FORMAT naming the file and the layer/node. */
  malformed(node: string, expected: string, received: string): MobileNetError {
    return new MobileNetError(
      'E_MODEL_FORMAT',
      `${this.where}: ${this.unit} "${node}": expected ${expected}, received ${received}. The model file is malformed; re-export it.`,
      { file: this.where, node },
    );
  }

  /** The runtime tensor behind a value; a constant or a dangling padded view is an error here. */
  tensor(v: Value, node: string): TensorValue {
    if (v.kind === 'tensor') return v;
    if (v.kind === 'padded') throw this.unsupported(node, `explicit zero padding (from "${v.by}") feeds this ${this.unit}; padding is supported only directly before a convolution`);
    throw this.unsupported(node, 'a constant is used where a computed tensor is expected (constant folding is not supported)');
  }

  shape(v: TensorValue): Shape3 {
    return this.builder.shape(v.name);
  }

  /** Zero padding [top, left, bottom, right] that the next convolution absorbs. */
  pad(x: Value, pads: [number, number, number, number], node: string): PaddedValue {
    if (!pads.every((p) => Number.isInteger(p) && p >= 0)) throw this.malformed(node, 'non-negative integer paddings', `[${pads}]`);
    if (x.kind === 'padded') return { ...x, pads: x.pads.map((p, i) => p + pads[i]) as PaddedValue['pads'], by: node };
    const t = this.tensor(x, node);
    if (t.rank !== 4) throw this.unsupported(node, `spatial padding of a rank-${t.rank} tensor`);
    return { kind: 'padded', name: t.name, pads, rank: 4, by: node };
  }

  /**
   * conv2d or dwconv with canonical weights; absorbs a padded input, and lowers a 1x1 stride-1 unpadded
   * conv2d to pwconv (the GEMM path every backend optimises).
   */
  conv(op: 'conv2d' | 'dwconv', x: Value, weights: Float32Array, bias: Float32Array | undefined, o: { name: string; kernel: [number, number]; stride: [number, number]; padding: Padding }): TensorValue {
    let input: string;
    let padding: Padding = o.padding;
    if (x.kind === 'padded') {
      input = x.name;
      const [H, W] = this.builder.shape(x.name);
      const [t, l, b, r] = x.pads;
      if (padding === 'valid') padding = [t, l, b, r];
      else if (padding === 'same') {
        const [st, sb] = samePads(H + t + b, o.kernel[0], o.stride[0]);
        const [sl, sr] = samePads(W + l + r, o.kernel[1], o.stride[1]);
        padding = [t + st, l + sl, b + sb, r + sr];
      } else padding = [t + padding[0], l + padding[1], b + padding[2], r + padding[3]];
    } else {
      const t = this.tensor(x, o.name);
      if (t.rank !== 4) throw this.unsupported(o.name, `a convolution over a rank-${t.rank} tensor (expected NHWC)`);
      input = t.name;
    }
    const unpadded = padding === 'valid' || (padding === 'same' && o.kernel[0] === 1 && o.kernel[1] === 1) || (Array.isArray(padding) && padding.every((p) => p === 0));
    if (op === 'conv2d' && o.kernel[0] === 1 && o.kernel[1] === 1 && o.stride[0] === 1 && o.stride[1] === 1 && unpadded) {
      return { kind: 'tensor', name: this.builder.pwconv(input, weights, bias, { name: o.name }), rank: 4 };
    }
    return { kind: 'tensor', name: this.builder.conv(op, input, weights, bias, { name: o.name, kernel: o.kernel, stride: o.stride, padding }), rank: 4 };
  }

  /** Fully connected / 1x1 layer over the last dimension; weights [Cout][Cin]. */
  dense(x: Value, weights: Float32Array, bias: Float32Array | undefined, name: string): TensorValue {
    const t = this.tensor(x, name);
    return { kind: 'tensor', name: this.builder.pwconv(t.name, weights, bias, { name }), rank: t.rank };
  }

  /** Inference batch norm as an affine; the final pass folds it into its conv with foldBatchNorm. */
  batchNorm(x: Value, bn: BatchNorm, name: string): TensorValue {
    const t = this.tensor(x, name);
    const C = bn.mean.length;
    const mul = new Float32Array(C);
    const add = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const s = (bn.gamma ? bn.gamma[c] : 1) / Math.sqrt(bn.variance[c] + bn.epsilon);
      mul[c] = s;
      add[c] = (bn.beta ? bn.beta[c] : 0) - bn.mean[c] * s;
    }
    const out = this.affine(t, mul, add, name);
    this.bnOf.set(out.name, bn);
    return out;
  }

  affine(x: Value, mul: Float32Array, add: Float32Array, name: string, activation: Activation = 'none', clamp?: [number, number]): TensorValue {
    const t = this.tensor(x, name);
    return { kind: 'tensor', name: this.builder.affine(t.name, mul, add, { name, activation, clamp }), rank: t.rank };
  }

  /** Applies a named activation (Keras config or TF op spelling); unknown names are E_UNSUPPORTED_OP. */
  activation(x: Value, kind: string, name: string): TensorValue {
    const t = this.tensor(x, name);
    const act = ACTIVATIONS[kind.toLowerCase()];
    if (act === undefined) throw this.unsupported(name, `activation "${kind}" is not supported (supported: linear, relu, relu6, sigmoid, hard_sigmoid, softmax)`);
    if (act === 'none') return t;
    if (act === 'softmax') return { kind: 'tensor', name: this.builder.softmax(t.name, { name }), rank: t.rank };
    // Keras hard_sigmoid: clamp(0.2 x + 0.5, 0, 1) (not the x/6 + 1/2 of MobileNetV3's h-sigmoid)
    if (act === 'hard_sigmoid') return this.affine(t, Float32Array.of(0.2), Float32Array.of(0.5), name, 'none', [0, 1]);
    return { kind: 'tensor', name: this.builder.activate(t.name, act, { name }), rank: t.rank };
  }

  add(a: Value, b: Value, name: string): TensorValue {
    const ta = this.tensor(a, name);
    const tb = this.tensor(b, name);
    return { kind: 'tensor', name: this.builder.add(ta.name, tb.name, { name }), rank: Math.max(ta.rank, tb.rank) };
  }

  gavgpool(x: Value, name: string, rank: number): TensorValue {
    const t = this.tensor(x, name);
    if (t.rank !== 4) throw this.unsupported(name, `global pooling over a rank-${t.rank} tensor`);
    return { kind: 'tensor', name: this.builder.gavgpool(t.name, { name }), rank };
  }

  softmax(x: Value, name: string): TensorValue {
    const t = this.tensor(x, name);
    return { kind: 'tensor', name: this.builder.softmax(t.name, { name }), rank: t.rank };
  }

  reshape(x: Value, shape: Shape3, rank: number, name: string): TensorValue {
    const t = this.tensor(x, name);
    const s = this.shape(t);
    if (s.join() === shape.join()) return { ...t, rank };
    return { kind: 'tensor', name: this.builder.reshape(t.name, shape, { name }), rank };
  }

  /**
   * Finishes the graph: folds BN/affines into convs, picks the embedding (the last global pool) and
   * fills outputKind and backgroundClass from the output node.
   */
  finish(output: Value, meta: Omit<GraphMeta, 'outputKind' | 'backgroundClass'>, outputNode: string): Graph {
    const out = this.tensor(output, outputNode);
    const graph = foldAffines(this.builder.finish(out.name, { ...meta, outputKind: 'logits', backgroundClass: false }), this.bnOf);
    const pools = graph.nodes.filter((n) => n.op === 'gavgpool');
    if (pools.length > 0) graph.embedding = pools[pools.length - 1].output;
    const producer = new Map(graph.nodes.map((n) => [n.output, n] as const));
    let last = producer.get(graph.output);
    while (last?.op === 'reshape') last = producer.get(last.inputs[0]);
    const outShape = graph.shapes[graph.output];
    graph.meta.outputKind = last?.op === 'softmax' ? 'probabilities' : 'logits';
    graph.meta.backgroundClass = outShape[0] * outShape[1] * outShape[2] === 1001;
    return graph;
  }
}

/** Expands a length-1 or length-C constant to C values (float64 for exact composition). */
function perChannel(v: Float32Array, C: number): Float64Array {
  const out = new Float64Array(C);
  for (let c = 0; c < C; c++) out[c] = v.length === 1 ? v[0] : v[c];
  return out;
}

/**
 * Folds every affine (batch norm, BiasAdd, x*c+d) into the conv/pwconv/dwconv or affine that produces
 * its input, when that producer has no activation yet and nothing else reads its output. The producer
 * takes over the affine's output name and activation, so nothing downstream needs renaming.
 *
 * @example
 * const folded = foldAffines(builder.finish(out, meta), new Map([['conv1_bn', { mean, variance, epsilon: 1e-3 }]]));
 */
export function foldAffines(graph: Graph, bnOf: Map<string, BatchNorm>): Graph {
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const t of n.inputs) uses.set(t, (uses.get(t) ?? 0) + 1);
  for (const t of [graph.output, graph.embedding]) if (t) uses.set(t, (uses.get(t) ?? 0) + 1);
  const producer = new Map<string, GraphNode>();
  const shapes = { ...graph.shapes };
  const nodes: GraphNode[] = [];
  for (const orig of graph.nodes) {
    const node = { ...orig } as GraphNode;
    const src = node.op === 'affine' ? producer.get(node.inputs[0]) : undefined;
    if (node.op === 'affine' && src && uses.get(src.output) === 1 && src.activation === 'none' && src.clamp === undefined &&
        (src.op === 'conv2d' || src.op === 'dwconv' || src.op === 'pwconv' || src.op === 'affine')) {
      const C = shapes[src.output][2];
      const mul = perChannel(node.mul, C);
      const add = perChannel(node.add, C);
      if (src.op === 'affine') {
        const m0 = perChannel(src.mul, C);
        const a0 = perChannel(src.add, C);
        const same = src.mul.length === 1 && node.mul.length === 1 && src.add.length === 1 && node.add.length === 1;
        const n = same ? 1 : C;
        (src as AffineNode).mul = Float32Array.from({ length: n }, (_, c) => m0[c] * mul[c]);
        (src as AffineNode).add = Float32Array.from({ length: n }, (_, c) => a0[c] * mul[c] + add[c]);
      } else {
        const conv = src as ConvNode | PwconvNode;
        const axis = src.op === 'dwconv' ? 'last' : 'first';
        const bn = bnOf.get(node.output);
        if (bn && node.mul.length === C) {
          Object.assign(conv, foldBatchNorm(conv.weights, conv.bias, bn, axis));
        } else {
          const w = new Float32Array(conv.weights.length);
          const per = conv.weights.length / C;
          for (let i = 0; i < w.length; i++) w[i] = conv.weights[i] * mul[axis === 'first' ? Math.floor(i / per) : i % C];
          conv.weights = w;
          conv.bias = Float32Array.from({ length: C }, (_, c) => conv.bias[c] * mul[c] + add[c]);
        }
      }
      delete shapes[src.output];
      producer.delete(src.output);
      src.output = node.output;
      src.activation = node.activation;
      src.clamp = node.clamp;
      producer.set(src.output, src);
      continue;
    }
    producer.set(node.output, node);
    nodes.push(node);
  }
  return { ...graph, nodes, shapes };
}
