// The backend-agnostic graph: a topologically ordered op list over named NHWC tensors (shapes per image).
import type { OpName } from '../kernels/contract';

/** Per-image tensor shape [H, W, C]; the batch dimension is implicit. */
export type Shape3 = [number, number, number];

/** Graph-level activation; backends lower none/relu/relu6 into the output clamp. */
export type Activation = 'none' | 'relu' | 'relu6' | 'hswish' | 'hsigmoid' | 'sigmoid';

interface NodeCommon {
  /** Name from the source file (kept for errors and profiles). */
  name: string;
  inputs: string[];
  output: string;
  activation: Activation;
  /** Extra output clamp [min, max], e.g. the range a quantized output tensor can represent. */
  clamp?: [number, number];
}

export interface ConvNode extends NodeCommon {
  op: 'conv2d' | 'dwconv';
  /** conv2d: [Cout][KH][KW][Cin]; dwconv: [KH][KW][C] */
  weights: Float32Array;
  bias: Float32Array;
  kernel: [number, number];
  stride: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
}
export interface PwconvNode extends NodeCommon {
  op: 'pwconv';
  /** [Cout][Cin] */
  weights: Float32Array;
  bias: Float32Array;
}
export interface AffineNode extends NodeCommon {
  op: 'affine';
  /** length 1 (broadcast) or C */
  mul: Float32Array;
  add: Float32Array;
}
/** y = table[nearest(x * indexMul + indexAdd)] (clamped to the table): a function tabulated on a quantization grid. */
export interface LookupNode extends NodeCommon {
  op: 'lookup';
  table: Float32Array;
  indexMul: number;
  indexAdd: number;
}
export interface SoftmaxNode extends NodeCommon {
  op: 'softmax';
  beta: number;
}
export interface SimpleNode extends NodeCommon {
  op: 'add' | 'gavgpool' | 'scale';
}
/** A pure relabelling of the same memory (NHWC order is unchanged); the planner aliases it. */
export interface ReshapeNode extends NodeCommon {
  op: 'reshape';
}

export type GraphNode = ConvNode | PwconvNode | AffineNode | LookupNode | SoftmaxNode | SimpleNode | ReshapeNode;
export type GraphOp = OpName | 'reshape';

/** What kind of numbers the main output holds. */
export type OutputKind = 'probabilities' | 'logits';

export interface GraphMeta {
  /** 'tflite' | 'tfjs-layers' | 'tfjs-graph' | 'builtin' */
  format: string;
  /** Human name, e.g. the file name or "mobilenet_v2 alpha 1 @224". */
  name: string;
  outputKind: OutputKind;
  /** True when output 0 is "background" (1001-class TF-slim/TFLite/TF-Hub files). */
  backgroundClass: boolean;
  /** Labels embedded in the file, if any. */
  labels?: string[];
  /** How raw [0,255] RGB maps to the model's input (from the file where it says so). */
  inputRange?: { scale: number; offset: number };
  /** Free-form provenance facts for `info` (architecture, quantization, ...). */
  notes?: Record<string, string | number>;
}

export interface Graph {
  input: { name: string; shape: Shape3 };
  nodes: GraphNode[];
  /** The main output (probabilities or logits). */
  output: string;
  /** The globally pooled features that feed the classifier, if found. */
  embedding?: string;
  shapes: Record<string, Shape3>;
  meta: GraphMeta;
}
