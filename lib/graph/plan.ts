// Memory plan and program encoding: assigns every tensor an arena offset by liveness (buffers reused,
// reshapes aliased), then writes the int32 program + float32 constants every backend executes.
import {
  Act,
  ARENA_ALIGN_FLOATS,
  CONSTANT_ALIGN_FLOATS,
  floatBits,
  Header,
  HEADER_WORDS,
  MAX_OUTPUTS,
  Op,
  type OpName,
  Param,
  PROGRAM_MAGIC,
  PROGRAM_VERSION,
  STEP_WORDS,
} from '../kernels/contract';
import { MobileNetError } from '../errors';
import type { Activation, Graph, GraphNode, Shape3 } from './types';

export interface PlanStep {
  name: string;
  op: OpName;
  /** Multiply-accumulates per image (0 for data movement ops). */
  macs: number;
  outShape: Shape3;
}

export interface PlanTensor {
  name: string;
  offset: number;
  shape: Shape3;
}

/** What a backend compiles: a self-contained program plus its constants. */
export interface Plan {
  program: Int32Array;
  constants: Float32Array;
  arenaFloatsPerImage: number;
  input: PlanTensor;
  /** outputs[0] is the main output; outputs[1], if present, the embedding. */
  outputs: PlanTensor[];
  steps: PlanStep[];
}

const size = (s: Shape3) => s[0] * s[1] * s[2];
const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Kernel epilogue code plus the clamp that lowers none/relu/relu6 and any explicit output clamp. */
export function lowerActivation(act: Activation, clamp?: [number, number]): { act: number; min: number; max: number } {
  let min = -Infinity;
  let max = Infinity;
  let code: number = Act.none;
  if (act === 'relu') min = 0;
  else if (act === 'relu6') { min = 0; max = 6; }
  else if (act !== 'none') code = Act[act];
  if (clamp) { min = Math.max(min, clamp[0]); max = Math.min(max, clamp[1]); }
  return { act: code, min, max };
}

export function nodeMacs(node: GraphNode, shapes: Record<string, Shape3>): number {
  const out = shapes[node.output];
  const inp = shapes[node.inputs[0]];
  switch (node.op) {
    case 'conv2d': return size(out) * node.kernel[0] * node.kernel[1] * inp[2];
    case 'dwconv': return size(out) * node.kernel[0] * node.kernel[1];
    case 'pwconv': return size(out) * inp[2];
    default: return 0;
  }
}

/**
 * Plans a graph: liveness-based first-fit arena (per image), aliases for reshapes, then encodes.
 *
 * @example
 * const plan = planGraph(buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 128 }));
 */
export function planGraph(graph: Graph): Plan {
  const { nodes, shapes } = graph;
  // alias root of every tensor: reshape outputs share their input's memory
  const root = new Map<string, string>();
  const rootOf = (t: string): string => root.get(t) ?? t;
  for (const n of nodes) if (n.op === 'reshape') root.set(n.output, rootOf(n.inputs[0]));

  // last step index at which each root buffer is read; outputs live to the end
  const lastUse = new Map<string, number>();
  nodes.forEach((n, i) => { for (const t of n.inputs) lastUse.set(rootOf(t), i); });
  const pinned = [graph.output, graph.embedding].filter((t): t is string => !!t).map(rootOf);
  for (const t of pinned) lastUse.set(t, Infinity);

  const offsets = new Map<string, number>();
  interface Block { offset: number; size: number; until: number }
  const live: Block[] = [];
  let arena = 0;
  const allocate = (t: string, floats: number, step: number) => {
    // drop blocks whose tensor is dead before this step
    for (let i = live.length - 1; i >= 0; i--) if (live[i].until < step) live.splice(i, 1);
    live.sort((a, b) => a.offset - b.offset);
    const need = align(floats, ARENA_ALIGN_FLOATS);
    let cursor = 0;
    for (const b of live) {
      if (b.offset - cursor >= need) break;
      cursor = Math.max(cursor, b.offset + align(b.size, ARENA_ALIGN_FLOATS));
    }
    offsets.set(t, cursor);
    live.push({ offset: cursor, size: floats, until: lastUse.get(t) ?? step });
    arena = Math.max(arena, cursor + need);
  };
  allocate(graph.input.name, size(graph.input.shape), -1);
  nodes.forEach((n, i) => {
    if (n.op === 'reshape') return;
    // the output must not overlap any input still being read by this step: inputs are live until >= i
    allocate(n.output, size(shapes[n.output]), i);
  });
  const offsetOf = (t: string): number => {
    const o = offsets.get(rootOf(t));
    if (o === undefined) throw new MobileNetError('E_MODEL_FORMAT', `Internal plan error: tensor "${t}" has no buffer. Please report this model.`);
    return o;
  };

  // constants
  const constParts: Float32Array[] = [];
  let constLen = 0;
  const addConst = (v: Float32Array): number => {
    const off = constLen;
    constParts.push(v);
    constLen = align(constLen + v.length, CONSTANT_ALIGN_FLOATS);
    return off;
  };

  const computeNodes = nodes.filter((n) => n.op !== 'reshape');
  const outputs: PlanTensor[] = pinned.map((t, k) => ({
    name: k === 0 ? graph.output : graph.embedding!,
    offset: offsetOf(t),
    shape: shapes[k === 0 ? graph.output : graph.embedding!],
  }));
  if (outputs.length > MAX_OUTPUTS) throw new MobileNetError('E_UNSUPPORTED_OP', `Expected at most ${MAX_OUTPUTS} outputs.`);

  const program = new Int32Array(HEADER_WORDS + STEP_WORDS * computeNodes.length);
  program[Header.magic] = PROGRAM_MAGIC;
  program[Header.version] = PROGRAM_VERSION;
  program[Header.stepCount] = computeNodes.length;
  program[Header.arenaFloatsPerImage] = arena;
  program[Header.inputOffset] = offsetOf(graph.input.name);
  program[Header.inputFloatsPerImage] = size(graph.input.shape);
  program[Header.outputCount] = outputs.length;
  outputs.forEach((o, k) => {
    program[Header.outputs + 2 * k] = o.offset;
    program[Header.outputs + 2 * k + 1] = size(o.shape);
  });

  const steps: PlanStep[] = [];
  computeNodes.forEach((n, i) => {
    const p = HEADER_WORDS + i * STEP_WORDS;
    const inS = shapes[n.inputs[0]];
    const outS = shapes[n.output];
    const op = n.op as OpName;
    const lowered = lowerActivation(n.activation, n.clamp);
    program[p + Param.op] = Op[op];
    program[p + Param.act] = lowered.act;
    program[p + Param.in0] = offsetOf(n.inputs[0]);
    program[p + Param.in1] = n.inputs.length > 1 ? offsetOf(n.inputs[1]) : -1;
    program[p + Param.out] = offsetOf(n.output);
    program[p + Param.inH] = inS[0];
    program[p + Param.inW] = inS[1];
    program[p + Param.inC] = inS[2];
    program[p + Param.outH] = outS[0];
    program[p + Param.outW] = outS[1];
    program[p + Param.outC] = outS[2];
    program[p + Param.kH] = 1;
    program[p + Param.kW] = 1;
    program[p + Param.strideH] = 1;
    program[p + Param.strideW] = 1;
    program[p + Param.weights] = -1;
    program[p + Param.bias] = -1;
    program[p + Param.min] = floatBits(lowered.min);
    program[p + Param.max] = floatBits(lowered.max);
    program[p + Param.beta] = floatBits(1);
    if (n.op === 'conv2d' || n.op === 'dwconv') {
      program[p + Param.kH] = n.kernel[0];
      program[p + Param.kW] = n.kernel[1];
      program[p + Param.strideH] = n.stride[0];
      program[p + Param.strideW] = n.stride[1];
      program[p + Param.padTop] = n.pads[0];
      program[p + Param.padLeft] = n.pads[1];
    }
    if (n.op === 'conv2d' || n.op === 'dwconv' || n.op === 'pwconv') {
      program[p + Param.weights] = addConst(n.weights);
      program[p + Param.bias] = addConst(n.bias);
    } else if (n.op === 'affine') {
      program[p + Param.weights] = addConst(n.mul);
      program[p + Param.bias] = addConst(n.add);
      program[p + Param.paramLen] = n.mul.length;
    } else if (n.op === 'lookup') {
      program[p + Param.weights] = addConst(n.table);
      program[p + Param.bias] = addConst(Float32Array.of(n.indexMul, n.indexAdd));
      program[p + Param.paramLen] = n.table.length;
    } else if (n.op === 'softmax') {
      program[p + Param.beta] = floatBits(n.beta);
    }
    steps.push({ name: n.name, op, macs: nodeMacs(n, shapes), outShape: outS });
  });

  const constants = new Float32Array(Math.max(constLen, 1));
  let off = 0;
  for (const part of constParts) {
    constants.set(part, off);
    off = align(off + part.length, CONSTANT_ALIGN_FLOATS);
  }
  return {
    program,
    constants,
    arenaFloatsPerImage: arena,
    input: { name: graph.input.name, offset: offsetOf(graph.input.name), shape: graph.input.shape },
    outputs,
    steps,
  };
}
