// ONNX export of our Graph (NHWC in, NHWC out; NCHW inside as ONNX convolutions require), so a peer
// runtime such as onnxruntime-node can run the very same weights. Written with our own protobuf writer.
import { fail } from '../errors';
import type { Activation, Graph, GraphNode, Shape3 } from '../graph/types';
import { ProtoWriter } from './protobuf';

/** ONNX TensorProto.DataType values used here. */
const DT_FLOAT = 1;
const DT_INT64 = 7;
/** AttributeProto.AttributeType values used here. */
const AT_FLOAT = 1;
const AT_INT = 2;
const AT_INTS = 7;
/** IR version 7 (ONNX 1.8/1.9) is the oldest that carries opsets 13 and 14. */
const IR_VERSION = 7;

/** Name of the exported model's input (NHWC float32, batch dimension "N") and output (NHWC). */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

export interface OnnxModel {
  /** Serialised ModelProto. */
  bytes: Uint8Array;
  /** Default-domain opset: 13, or 14 when the graph needs HardSwish. */
  opset: number;
  /** Per-image input and output shapes [H, W, C] (NHWC, as the graph). */
  inputShape: Shape3;
  outputShape: Shape3;
}

type Attr = { name: string } & ({ f: number } | { i: number } | { ints: number[] });

const CLAMP_OF: Partial<Record<Activation, [number, number]>> = {
  none: [-Infinity, Infinity],
  relu: [0, Infinity],
  relu6: [0, 6],
};

/** Collects nodes and initializers while the graph is walked. */
class OnnxGraphWriter {
  readonly nodes: ProtoWriter[] = [];
  readonly initializers: ProtoWriter[] = [];
  private counter = 0;
  private scalars = new Map<number, string>();

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  node(opType: string, inputs: string[], name: string, attrs: Attr[] = [], output = this.fresh(opType.toLowerCase())): string {
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    w.string(2, output);
    w.string(3, name);
    w.string(4, opType);
    for (const a of attrs) {
      const aw = new ProtoWriter().string(1, a.name);
      if ('f' in a) aw.float(2, a.f).varint(20, AT_FLOAT);
      else if ('i' in a) aw.varint(3, a.i).varint(20, AT_INT);
      else aw.packedVarints(8, a.ints).varint(20, AT_INTS);
      w.message(5, aw);
    }
    this.nodes.push(w);
    return output;
  }

  floatTensor(hint: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(hint);
    const w = new ProtoWriter().packedVarints(1, dims).varint(2, DT_FLOAT).string(8, name);
    // raw_data is little-endian; copy so a subarray view never drags its whole buffer along
    w.bytes(9, new Uint8Array(Float32Array.from(data).buffer));
    this.initializers.push(w);
    return name;
  }

  int64Tensor(hint: string, values: number[]): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    const w = new ProtoWriter().packedVarints(1, [values.length]).varint(2, DT_INT64).string(8, name);
    w.bytes(9, new Uint8Array(data.buffer));
    this.initializers.push(w);
    return name;
  }

  /** A shared scalar float initializer (Clip bounds, softmax beta). */
  scalar(value: number): string {
    let name = this.scalars.get(value);
    if (!name) {
      name = this.floatTensor('scalar', [], Float32Array.of(value));
      this.scalars.set(value, name);
    }
    return name;
  }

  /** Activation then clamp, as the kernel contract's epilogue. Returns the final tensor name. */
  epilogue(x: string, activation: Activation, clamp: [number, number] | undefined, name: string): string {
    let lo = -Infinity;
    let hi = Infinity;
    const asClamp = CLAMP_OF[activation];
    if (asClamp) {
      [lo, hi] = asClamp;
    } else if (activation === 'hswish') {
      x = this.node('HardSwish', [x], `${name}/hswish`);
    } else if (activation === 'hsigmoid') {
      // h-sigmoid = clamp(x/6 + 1/2, 0, 1) (arXiv 1905.02244); ONNX's default alpha is 0.2, so set both
      x = this.node('HardSigmoid', [x], `${name}/hsigmoid`, [{ name: 'alpha', f: 1 / 6 }, { name: 'beta', f: 0.5 }]);
    } else if (activation === 'sigmoid') {
      x = this.node('Sigmoid', [x], `${name}/sigmoid`);
    }
    if (clamp) {
      lo = Math.max(lo, clamp[0]);
      hi = Math.min(hi, clamp[1]);
    }
    if (lo === -Infinity && hi === Infinity) return x;
    // Clip with constant bounds is what onnxruntime fuses into the preceding Conv (relu, relu6, clamp)
    const inputs = [x, lo === -Infinity ? '' : this.scalar(lo)];
    if (hi !== Infinity) inputs.push(this.scalar(hi));
    return this.node('Clip', inputs, `${name}/clip`);
  }
}

function valueInfo(name: string, shape: Shape3): ProtoWriter {
  const dims = new ProtoWriter();
  dims.message(1, new ProtoWriter().string(2, 'N'));
  for (const d of shape) dims.message(1, new ProtoWriter().varint(1, d));
  const tensorType = new ProtoWriter().varint(1, DT_FLOAT).message(2, dims);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Canonical conv2d weights [Cout][KH][KW][Cin] -> ONNX [Cout][Cin][KH][KW]. */
function conv2dWeightsToOihw(w: Float32Array, cout: number, kh: number, kw: number, cin: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < cout; o++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < cin; i++) out[((o * cin + i) * kh + y) * kw + x] = w[((o * kh + y) * kw + x) * cin + i];
  return out;
}

/** Canonical dwconv weights [KH][KW][C] -> ONNX grouped [C][1][KH][KW]. */
function dwconvWeightsToOihw(w: Float32Array, kh: number, kw: number, c: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let ch = 0; ch < c; ch++) out[(ch * kh + y) * kw + x] = w[(y * kw + x) * c + ch];
  return out;
}

function perChannel(v: Float32Array, c: number): number[] {
  return v.length === 1 ? [] : [1, c, 1, 1];
}

/**
 * Exports a graph as an ONNX model (opset 13, or 14 when it uses h-swish). The model takes and
 * returns NHWC float32 tensors with a free batch dimension "N", like our backends; inside, it
 * transposes to NCHW once, runs Conv (group = C for dwconv), Clip / HardSwish / HardSigmoid / Sigmoid,
 * Add, GlobalAveragePool, Mul (squeeze-excite scale), Softmax (axis 1), and transposes back.
 * Throws MobileNetError('E_UNSUPPORTED_OP') for an op outside that list.
 *
 * @example
 * const { bytes } = exportOnnx(buildArchitecture({ arch: 'mobilenet_v2' }));
 * fs.writeFileSync('mobilenet_v2.onnx', bytes);
 */
export function exportOnnx(graph: Graph): OnnxModel {
  const g = new OnnxGraphWriter();
  const needsHardSwish = graph.nodes.some((n) => n.activation === 'hswish');
  const opset = needsHardSwish ? 14 : 13;
  const onnxName = new Map<string, string>();
  const nchw = (t: string): string => {
    const name = onnxName.get(t);
    if (name === undefined) fail('E_UNSUPPORTED_OP', `tensor "${t}" to be produced before it is used`, 'a graph out of topological order', 'Build graphs with GraphBuilder.');
    return name;
  };
  onnxName.set(graph.input.name, g.node('Transpose', [ONNX_INPUT], 'input/to_nchw', [{ name: 'perm', ints: [0, 3, 1, 2] }]));

  for (const n of graph.nodes) {
    onnxName.set(n.output, exportNode(g, graph, n, nchw));
  }
  g.node('Transpose', [nchw(graph.output)], 'output/to_nhwc', [{ name: 'perm', ints: [0, 2, 3, 1] }], ONNX_OUTPUT);

  const graphProto = new ProtoWriter();
  for (const n of g.nodes) graphProto.message(1, n);
  graphProto.string(2, graph.meta.name || 'mobilenet');
  for (const t of g.initializers) graphProto.message(5, t);
  const outputShape = graph.shapes[graph.output];
  graphProto.message(11, valueInfo(ONNX_INPUT, graph.input.shape));
  graphProto.message(12, valueInfo(ONNX_OUTPUT, outputShape));

  const model = new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, 'mobilenet-simd')
    .string(3, '0')
    .message(7, graphProto)
    .message(8, new ProtoWriter().string(1, '').varint(2, opset));
  return { bytes: model.finish(), opset, inputShape: [...graph.input.shape] as Shape3, outputShape: [...outputShape] as Shape3 };
}

/** Emits one graph node; returns the ONNX name of its (NCHW) output. */
function exportNode(g: OnnxGraphWriter, graph: Graph, n: GraphNode, nchw: (t: string) => string): string {
  const inShape = graph.shapes[n.inputs[0]];
  const outShape = graph.shapes[n.output];
  const x = nchw(n.inputs[0]);
  switch (n.op) {
    case 'conv2d':
    case 'dwconv': {
      const [kh, kw] = n.kernel;
      const cin = inShape[2];
      const cout = outShape[2];
      const dw = n.op === 'dwconv';
      const w = dw ? g.floatTensor('w', [cout, 1, kh, kw], dwconvWeightsToOihw(n.weights, kh, kw, cin)) : g.floatTensor('w', [cout, cin, kh, kw], conv2dWeightsToOihw(n.weights, cout, kh, kw, cin));
      const b = g.floatTensor('b', [cout], n.bias);
      const y = g.node('Conv', [x, w, b], n.name, [
        { name: 'kernel_shape', ints: [kh, kw] },
        { name: 'strides', ints: [...n.stride] },
        // ours: top, left, bottom, right = ONNX's [x1_begin, x2_begin, x1_end, x2_end]
        { name: 'pads', ints: [...n.pads] },
        { name: 'dilations', ints: [1, 1] },
        { name: 'group', i: dw ? cin : 1 },
      ]);
      return g.epilogue(y, n.activation, n.clamp, n.name);
    }
    case 'pwconv': {
      const cin = inShape[2];
      const cout = outShape[2];
      const w = g.floatTensor('w', [cout, cin, 1, 1], n.weights);
      const b = g.floatTensor('b', [cout], n.bias);
      const y = g.node('Conv', [x, w, b], n.name, [{ name: 'kernel_shape', ints: [1, 1] }]);
      return g.epilogue(y, n.activation, n.clamp, n.name);
    }
    case 'add':
      return g.epilogue(g.node('Add', [x, nchw(n.inputs[1])], n.name), n.activation, n.clamp, n.name);
    case 'scale':
      // gate is [N,C,1,1]: ONNX broadcasting does the per-channel multiply
      return g.epilogue(g.node('Mul', [x, nchw(n.inputs[1])], n.name), n.activation, n.clamp, n.name);
    case 'gavgpool':
      return g.epilogue(g.node('GlobalAveragePool', [x], n.name), n.activation, n.clamp, n.name);
    case 'softmax': {
      const scaled = n.beta === 1 ? x : g.node('Mul', [x, g.scalar(n.beta)], `${n.name}/beta`);
      return g.epilogue(g.node('Softmax', [scaled], n.name, [{ name: 'axis', i: 1 }]), n.activation, n.clamp, n.name);
    }
    case 'affine': {
      const c = inShape[2];
      const identity = n.mul.length === 1 && n.mul[0] === 1 && n.add[0] === 0;
      let y = x;
      if (!identity) {
        y = g.node('Mul', [y, g.floatTensor('mul', perChannel(n.mul, c), n.mul)], `${n.name}/mul`);
        y = g.node('Add', [y, g.floatTensor('add', perChannel(n.add, c), n.add)], `${n.name}/add`);
      }
      return g.epilogue(y, n.activation, n.clamp, n.name);
    }
    case 'reshape': {
      const [h, w, c] = outShape;
      if (inShape[0] * inShape[1] === 1 && h * w === 1) {
        return g.node('Reshape', [x, g.int64Tensor('shape', [0, c, 1, 1])], n.name);
      }
      // a reshape relabels NHWC memory, so it must happen in NHWC order
      const nhwc = g.node('Transpose', [x], `${n.name}/to_nhwc`, [{ name: 'perm', ints: [0, 2, 3, 1] }]);
      const r = g.node('Reshape', [nhwc, g.int64Tensor('shape', [0, h, w, c])], n.name);
      return g.node('Transpose', [r], `${n.name}/to_nchw`, [{ name: 'perm', ints: [0, 3, 1, 2] }]);
    }
    default: {
      const op = (n as { op: string }).op;
      return fail('E_UNSUPPORTED_OP', 'one of conv2d, dwconv, pwconv, add, gavgpool, scale, softmax, affine, reshape', `op "${op}" in node "${(n as GraphNode).name}"`, 'This op has no ONNX export yet; run the model on our own backends.');
    }
  }
}
