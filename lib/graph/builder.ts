// GraphBuilder: the one place that creates graph nodes, infers and checks their shapes, and resolves
// TF SAME/VALID padding. Importers and the built-in architectures all build graphs through it.
import { MobileNetError } from '../errors';
import type {
  Activation,
  ConvNode,
  Graph,
  GraphMeta,
  GraphNode,
  Shape3,
} from './types';

/** Padding as files state it: TF 'same' / 'valid', or explicit [top, left, bottom, right]. */
export type Padding = 'same' | 'valid' | [number, number, number, number];

/** TF SAME padding along one axis: total = max((ceil(in/s)-1)*s + k - in, 0), extra at the end. */
export function samePads(inSize: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export function resolvePads(
  padding: Padding,
  inH: number,
  inW: number,
  kH: number,
  kW: number,
  sH: number,
  sW: number,
): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const [t, b] = samePads(inH, kH, sH);
    const [l, r] = samePads(inW, kW, sW);
    return [t, l, b, r];
  }
  return padding;
}

export interface ConvOptions {
  name: string;
  kernel: [number, number];
  stride: [number, number];
  padding: Padding;
  activation?: Activation;
  clamp?: [number, number];
}

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly shapes: Record<string, Shape3> = {};
  private counter = 0;

  constructor(
    readonly inputName: string,
    readonly inputShape: Shape3,
    /** Names the source (file) in error messages. */
    readonly where: string,
  ) {
    this.check(inputShape.every((d) => Number.isInteger(d) && d > 0), inputName, `a positive [H,W,C] input shape, received [${inputShape}]`);
    this.shapes[inputName] = [...inputShape] as Shape3;
  }

  shape(t: string): Shape3 {
    const s = this.shapes[t];
    if (!s) throw new MobileNetError('E_MODEL_FORMAT', `${this.where}: tensor "${t}" is used before it is produced. The file's graph is inconsistent; re-export the model.`);
    return s;
  }

  private fresh(base: string): string {
    let name = base;
    while (this.shapes[name]) name = `${base}#${++this.counter}`;
    return name;
  }

  private check(ok: boolean, node: string, what: string): void {
    if (!ok) throw new MobileNetError('E_MODEL_FORMAT', `${this.where}: node "${node}": expected ${what}. The file is malformed or not a MobileNet-style graph.`, { node });
  }

  private push(node: GraphNode, shape: Shape3): string {
    this.check(shape.every((d) => Number.isInteger(d) && d > 0), node.name, `a positive output shape, got [${shape}]`);
    node.output = this.fresh(node.output);
    this.shapes[node.output] = shape;
    this.nodes.push(node);
    return node.output;
  }

  /** Standard or depthwise convolution; weights must already be canonical and BN-folded. */
  conv(op: 'conv2d' | 'dwconv', input: string, weights: Float32Array, bias: Float32Array | undefined, o: ConvOptions): string {
    const [H, W, C] = this.shape(input);
    const [kH, kW] = o.kernel;
    const [sH, sW] = o.stride;
    this.check(kH > 0 && kW > 0 && sH > 0 && sW > 0, o.name, `positive kernel and stride, got kernel ${o.kernel} stride ${o.stride}`);
    const pads = resolvePads(o.padding, H, W, kH, kW, sH, sW);
    const outH = Math.floor((H + pads[0] + pads[2] - kH) / sH) + 1;
    const outW = Math.floor((W + pads[1] + pads[3] - kW) / sW) + 1;
    let cout: number;
    if (op === 'dwconv') {
      this.check(weights.length === kH * kW * C, o.name, `${kH}x${kW}x${C} depthwise weights, got ${weights.length} values`);
      cout = C;
    } else {
      this.check(weights.length % (kH * kW * C) === 0 && weights.length > 0, o.name, `[Cout][${kH}][${kW}][${C}] weights, got ${weights.length} values`);
      cout = weights.length / (kH * kW * C);
    }
    const b = bias ?? new Float32Array(cout);
    this.check(b.length === cout, o.name, `a bias of ${cout} values, got ${b.length}`);
    const node: ConvNode = {
      op, name: o.name, inputs: [input], output: o.name, weights, bias: b,
      kernel: [kH, kW], stride: [sH, sW], pads, activation: o.activation ?? 'none', clamp: o.clamp,
    };
    return this.push(node, [outH, outW, cout]);
  }

  /** 1x1 convolution or fully connected layer over the last dimension; weights [Cout][Cin]. */
  pwconv(input: string, weights: Float32Array, bias: Float32Array | undefined, o: { name: string; activation?: Activation; clamp?: [number, number] }): string {
    const [H, W, C] = this.shape(input);
    this.check(weights.length % C === 0 && weights.length > 0, o.name, `[Cout][${C}] weights, got ${weights.length} values`);
    const cout = weights.length / C;
    const b = bias ?? new Float32Array(cout);
    this.check(b.length === cout, o.name, `a bias of ${cout} values, got ${b.length}`);
    return this.push({ op: 'pwconv', name: o.name, inputs: [input], output: o.name, weights, bias: b, activation: o.activation ?? 'none', clamp: o.clamp }, [H, W, cout]);
  }

  add(a: string, b: string, o: { name: string; activation?: Activation; clamp?: [number, number] }): string {
    const sa = this.shape(a);
    const sb = this.shape(b);
    this.check(sa.join() === sb.join(), o.name, `two inputs of the same shape, got [${sa}] and [${sb}]`);
    return this.push({ op: 'add', name: o.name, inputs: [a, b], output: o.name, activation: o.activation ?? 'none', clamp: o.clamp }, [...sa] as Shape3);
  }

  /** x[H,W,C] * gate[1,1,C] (squeeze-and-excite). */
  scale(x: string, gate: string, o: { name: string; clamp?: [number, number] }): string {
    const sx = this.shape(x);
    const sg = this.shape(gate);
    this.check(sg[0] === 1 && sg[1] === 1 && sg[2] === sx[2], o.name, `a [1,1,${sx[2]}] gate for a [${sx}] tensor, got [${sg}]`);
    return this.push({ op: 'scale', name: o.name, inputs: [x, gate], output: o.name, activation: 'none', clamp: o.clamp }, [...sx] as Shape3);
  }

  gavgpool(input: string, o: { name: string; clamp?: [number, number] }): string {
    const [, , C] = this.shape(input);
    return this.push({ op: 'gavgpool', name: o.name, inputs: [input], output: o.name, activation: 'none', clamp: o.clamp }, [1, 1, C]);
  }

  softmax(input: string, o: { name: string; beta?: number }): string {
    return this.push({ op: 'softmax', name: o.name, inputs: [input], output: o.name, activation: 'none', beta: o.beta ?? 1 }, [...this.shape(input)] as Shape3);
  }

  /** Elementwise act(x * mul + add) then clamp; mul/add have length 1 or C. */
  affine(input: string, mul: Float32Array, add: Float32Array, o: { name: string; activation?: Activation; clamp?: [number, number] }): string {
    const s = this.shape(input);
    const okLen = (v: Float32Array) => v.length === 1 || v.length === s[2];
    this.check(okLen(mul) && okLen(add) && mul.length === add.length, o.name, `elementwise constants of length 1 or ${s[2]}, got ${mul.length} and ${add.length}`);
    return this.push({ op: 'affine', name: o.name, inputs: [input], output: o.name, mul, add, activation: o.activation ?? 'none', clamp: o.clamp }, [...s] as Shape3);
  }

  /**
   * Elementwise table lookup: y = table[i], i = nearest(x * index.mul + index.add) clamped to [0, table.length-1].
   * For inputs on a quantization grid scale*(q - zp) this is an exact per-value function (index.mul = 1/scale).
   */
  lookup(input: string, table: Float32Array, index: { mul: number; add: number }, o: { name: string; clamp?: [number, number] }): string {
    const s = this.shape(input);
    this.check(table.length >= 1 && table.length <= 65536, o.name, `a table of 1 to 65536 values, got ${table.length}`);
    this.check(Number.isFinite(index.mul) && Number.isFinite(index.add), o.name, `a finite index map, got x * ${index.mul} + ${index.add}`);
    return this.push({ op: 'lookup', name: o.name, inputs: [input], output: o.name, table, indexMul: index.mul, indexAdd: index.add, activation: 'none', clamp: o.clamp }, [...s] as Shape3);
  }

  /** Activation (and/or clamp) alone: an affine with identity constants. */
  activate(input: string, activation: Activation, o: { name: string; clamp?: [number, number] }): string {
    return this.affine(input, Float32Array.of(1), Float32Array.of(0), { name: o.name, activation, clamp: o.clamp });
  }

  /** Same memory, new [H,W,C] labelling; element counts must match. */
  reshape(input: string, shape: Shape3, o: { name: string }): string {
    const s = this.shape(input);
    this.check(s[0] * s[1] * s[2] === shape[0] * shape[1] * shape[2], o.name, `a reshape that keeps ${s[0] * s[1] * s[2]} elements, got [${shape}]`);
    return this.push({ op: 'reshape', name: o.name, inputs: [input], output: o.name, activation: 'none' }, [...shape] as Shape3);
  }

  finish(output: string, meta: GraphMeta, embedding?: string): Graph {
    this.shape(output);
    if (embedding !== undefined) this.shape(embedding);
    return {
      input: { name: this.inputName, shape: [...this.inputShape] as Shape3 },
      nodes: this.nodes,
      output,
      embedding,
      shapes: this.shapes,
      meta,
    };
  }
}
