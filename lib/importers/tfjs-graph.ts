// TF.js graph-format importer: a converted TensorFlow GraphDef (TF-Hub MobileNets) lowered node by node,
// walking from the output to the Placeholder, with constants taken from the decoded weights.
import type { Graph, Shape3 } from '../graph/types';
import type { TfjsTensor } from './tfjs-weights';
import { Lowering, show, type ConstValue, type TensorValue, type Value } from './tfjs-lower';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Data inputs each op needs (fused ops add their fused arguments on top). */
const MIN_INPUTS: Record<string, number> = {
  Placeholder: 0, Const: 0, Conv2D: 2, _FusedConv2D: 2, DepthwiseConv2dNative: 2, FusedDepthwiseConv2dNative: 2, MatMul: 2, _FusedMatMul: 2,
  BiasAdd: 2, FusedBatchNorm: 5, FusedBatchNormV3: 5, Add: 2, AddV2: 2, Mul: 2, Sub: 2, RealDiv: 2, Mean: 2, Reshape: 2, Pad: 2, PadV2: 3,
};
/** Arguments each fused op consumes after the conv/matmul inputs. */
const FUSED_ARGS: Record<string, number> = { BiasAdd: 1, FusedBatchNorm: 4, FusedBatchNormV3: 4 };

interface TfNode {
  name: string;
  op: string;
  inputs: string[];
  attr: Json;
}

/** Identity-like ops at inference time. */
const PASSTHROUGH = new Set(['Identity', 'StopGradient', 'Snapshot', 'PreventGradient']);

const decodeBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/**
 * Lowers a parsed graph-format model.json (weights already decoded) to a Graph.
 *
 * @example
 * const graph = importGraphModel(json, await readTfjsWeights(json.weightsManifest, read, where), where);
 */
export function importGraphModel(json: Json, weights: Map<string, TfjsTensor>, where: string): Graph {
  const topology = json.modelTopology as Json;
  const probe = new Lowering('input', [1, 1, 1], where, 'node');
  if (!Array.isArray(topology.node)) throw probe.malformed('(graph)', 'modelTopology.node to be a list of nodes', typeof topology.node);
  const nodes = new Map<string, TfNode>();
  const order: string[] = [];
  topology.node.forEach((raw: unknown, i: number) => {
    if (!isObject(raw) || typeof raw.name !== 'string' || typeof raw.op !== 'string') throw probe.malformed(`node[${i}]`, 'a node with string name and op', show(raw, 80));
    const inputs = raw.input === undefined ? [] : raw.input;
    if (!Array.isArray(inputs) || !inputs.every((s) => typeof s === 'string')) throw probe.malformed(raw.name, 'input to be a list of names', show(inputs, 80));
    if (nodes.has(raw.name)) throw probe.malformed(raw.name, 'unique node names', 'a duplicate');
    // control dependencies ("^name") do not carry data
    nodes.set(raw.name, { name: raw.name, op: raw.op, inputs: (inputs as string[]).filter((s) => !s.startsWith('^')), attr: isObject(raw.attr) ? raw.attr : {} });
    order.push(raw.name);
  });

  const ref = (s: string, node: string): string => {
    const m = /^(.*?)(?::(\d+))?$/.exec(s)!;
    if (m[2] !== undefined && m[2] !== '0') throw probe.unsupported(node, `it reads output ${m[2]} of "${m[1]}" (only first outputs are supported)`);
    return m[1];
  };

  // Input: exactly one float Placeholder with a fixed [N, H, W, C] shape.
  const placeholders = order.filter((n) => nodes.get(n)!.op === 'Placeholder');
  if (placeholders.length !== 1) throw probe.unsupported('(graph)', `the graph has ${placeholders.length} Placeholder inputs; expected one image input`);
  const inputName = placeholders[0];
  const dimList = ((nodes.get(inputName)!.attr.shape as Json)?.shape as Json)?.dim;
  const dims = Array.isArray(dimList) ? dimList.map((d) => (isObject(d) ? Number(d.size) : NaN)) : undefined;
  const dtype = (nodes.get(inputName)!.attr.dtype as Json | undefined)?.type;
  if (dtype !== undefined && dtype !== 'DT_FLOAT') throw probe.unsupported(inputName, `a ${show(dtype)} input (expected DT_FLOAT images)`);
  if (!dims || dims.length !== 4 || dims.slice(1).some((d) => !Number.isInteger(d) || d <= 0)) {
    throw probe.unsupported(inputName, `input shape ${JSON.stringify(dims)}; a fixed [N, H, W, C] image input is needed`, 'Convert the model with a fixed input size (e.g. 224x224x3).');
  }
  const lower = new Lowering(inputName, dims.slice(1) as Shape3, where, 'node');

  // Output: the signature's first output, else the one data node nobody consumes.
  const consumed = new Set<string>();
  for (const n of nodes.values()) for (const i of n.inputs) consumed.add(ref(i, n.name));
  let outputName: string | undefined;
  const signature = json.signature as Json | undefined;
  if (isObject(signature) && isObject(signature.outputs)) {
    const first = Object.values(signature.outputs)[0];
    if (isObject(first) && typeof first.name === 'string') outputName = ref(first.name, '(signature)');
  }
  if (!outputName) {
    const sinks = order.filter((n) => !consumed.has(n) && !['Const', 'NoOp', 'Placeholder'].includes(nodes.get(n)!.op));
    if (sinks.length === 0) throw lower.malformed('(graph)', 'an output node', 'none');
    outputName = sinks[sinks.length - 1];
  }
  if (!nodes.has(outputName)) throw lower.malformed('(signature)', `an output node named "${outputName}"`, 'no such node');

  // Topological order from the output (iterative DFS: graphs can be deep).
  const topo: TfNode[] = [];
  const state = new Map<string, number>();
  const stack: [string, number][] = [[outputName, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const node = nodes.get(top[0]);
    if (!node) throw lower.malformed(stack.length > 1 ? stack[stack.length - 2][0] : '(graph)', `an input node named "${top[0]}"`, 'no such node');
    if (top[1] === 0) {
      if (state.get(node.name) === 2) { stack.pop(); continue; }
      if (state.get(node.name) === 1) throw lower.malformed(node.name, 'an acyclic graph', 'a cycle');
      state.set(node.name, 1);
    }
    if (top[1] < node.inputs.length) {
      const next = ref(node.inputs[top[1]++], node.name);
      if (state.get(next) !== 2) {
        if (state.get(next) === 1) throw lower.malformed(next, 'an acyclic graph', 'a cycle');
        stack.push([next, 0]);
      }
      continue;
    }
    state.set(node.name, 2);
    topo.push(node);
    stack.pop();
  }

  // Attribute readers (TF AttrValue JSON: strings are base64, ints are decimal strings).
  const attrOf = (n: TfNode, key: string): Json | undefined => (isObject(n.attr[key]) ? (n.attr[key] as Json) : undefined);
  const str = (n: TfNode, key: string): string | undefined => {
    const a = attrOf(n, key);
    return typeof a?.s === 'string' ? decodeBase64(a.s) : undefined;
  };
  const ints = (n: TfNode, key: string): number[] | undefined => {
    const list = attrOf(n, key)?.list as Json | undefined;
    if (!list) return undefined;
    return Array.isArray(list.i) ? list.i.map(Number) : [];
  };
  const strs = (n: TfNode, key: string): string[] => {
    const list = attrOf(n, key)?.list as Json | undefined;
    return list && Array.isArray(list.s) ? list.s.map((s) => decodeBase64(String(s))) : [];
  };
  const bool = (n: TfNode, key: string): boolean => attrOf(n, key)?.b === true;
  const float = (n: TfNode, key: string, fallback: number): number => {
    const f = attrOf(n, key)?.f;
    return typeof f === 'number' ? f : typeof f === 'string' ? Number(f) : fallback;
  };

  const values = new Map<string, Value>();
  const constOf = (v: Value, n: TfNode, what: string): ConstValue => {
    if (v.kind !== 'const') throw lower.unsupported(n.name, `${n.op} with a computed ${what} (expected a constant)`);
    return v;
  };
  const checkLayout = (n: TfNode) => {
    const fmt = str(n, 'data_format');
    if (fmt !== undefined && fmt !== 'NHWC') throw lower.unsupported(n.name, `data_format ${fmt} (only NHWC is supported)`);
    const dil = ints(n, 'dilations');
    if (dil && dil.length > 0 && dil.some((d) => d !== 1)) throw lower.unsupported(n.name, `dilations [${dil}] (only 1 is supported)`);
  };
  const convGeometry = (n: TfNode): { stride: [number, number]; padding: 'same' | 'valid' | [number, number, number, number] } => {
    checkLayout(n);
    const s = ints(n, 'strides') ?? [1, 1, 1, 1];
    if (s.length !== 4 || s[0] !== 1 || s[3] !== 1) throw lower.malformed(n.name, 'strides [1, sh, sw, 1]', `[${s}]`);
    const p = str(n, 'padding');
    if (p === 'SAME') return { stride: [s[1], s[2]], padding: 'same' };
    if (p === 'VALID') return { stride: [s[1], s[2]], padding: 'valid' };
    if (p === 'EXPLICIT') {
      const e = ints(n, 'explicit_paddings') ?? [];
      if (e.length !== 8) throw lower.malformed(n.name, '8 explicit_paddings', `[${e}]`);
      return { stride: [s[1], s[2]], padding: [e[2], e[4], e[3], e[5]] };
    }
    throw lower.malformed(n.name, 'padding SAME, VALID or EXPLICIT', JSON.stringify(p));
  };
  /** A per-channel or broadcast constant as a flat vector (length 1 or C). */
  const vector = (c: ConstValue, C: number, n: TfNode): Float32Array => {
    const len = c.values.length;
    const lead = c.shape.slice(0, -1).every((d) => d === 1);
    if (len === 1) return Float32Array.from(c.values);
    if (lead && len === C) return Float32Array.from(c.values);
    throw lower.unsupported(n.name, `${n.op} with a constant of shape [${c.shape}] on ${C} channels (only scalars and per-channel vectors are supported)`);
  };
  const fill = (v: Float32Array, len: number): Float32Array => (v.length === len ? v : new Float32Array(len).fill(v[0]));

  /** The epilogue of a fused conv / matmul: BiasAdd or FusedBatchNorm, then one activation. */
  const fusedTail = (n: TfNode, conv: (bias: Float32Array | undefined) => TensorValue, C: number, args: Value[]): TensorValue => {
    const ops = strs(n, 'fused_ops');
    let i = 0;
    let out: TensorValue;
    if (ops[0] === 'BiasAdd') {
      out = conv(vector(constOf(args[0], n, 'bias'), C, n));
      i = 1;
    } else if (ops[0] === 'FusedBatchNorm' || ops[0] === 'FusedBatchNormV3') {
      const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => fill(vector(constOf(args[k], n, 'batch norm parameter'), C, n), C));
      out = lower.batchNorm(conv(undefined), { gamma: scale, beta: offset, mean, variance, epsilon: float(n, 'epsilon', 1e-3) }, `${n.name}/batchnorm`);
      i = 1;
    } else out = conv(undefined);
    for (; i < ops.length; i++) {
      const act = ops[i];
      if (act !== 'Relu' && act !== 'Relu6' && act !== 'Sigmoid') throw lower.unsupported(n.name, `fused op ${act} (supported: BiasAdd, FusedBatchNorm, Relu, Relu6, Sigmoid)`);
      out = lower.activation(out, act, `${n.name}/${act}`);
    }
    return out;
  };

  let inputRescaled = '';
  for (const n of topo) {
    const args = n.inputs.map((i) => values.get(ref(i, n.name))!);
    const needed = (MIN_INPUTS[n.op] ?? 1) + (n.op.includes('Fused') && !n.op.includes('BatchNorm') ? FUSED_ARGS[strs(n, 'fused_ops')[0]] ?? 0 : 0);
    if (args.length < needed) throw lower.malformed(n.name, `${needed} inputs for ${n.op}`, `${args.length}`);
    const x = args[0];
    let out: Value;
    switch (n.op) {
      case 'Placeholder':
        out = { kind: 'tensor', name: inputName, rank: 4 };
        break;
      case 'Const': {
        const w = weights.get(n.name);
        if (!w) throw lower.malformed(n.name, `the value of Const "${n.name}" in weightsManifest`, 'no such weight');
        out = { kind: 'const', values: w.values, shape: w.shape };
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        const depthwise = n.op.includes('Depthwise');
        const geo = convGeometry(n);
        const filter = constOf(args[1], n, 'filter');
        if (filter.shape.length !== 4) throw lower.malformed(n.name, 'a 4-D filter [KH, KW, Cin, Cout]', `[${filter.shape}]`);
        const [KH, KW, Cin, Cout] = filter.shape;
        const src = x.kind === 'padded' ? x.name : lower.tensor(x, n.name).name;
        const C = lower.builder.shape(src)[2];
        if (Cin !== C) throw lower.malformed(n.name, `a filter over ${C} input channels`, `[${filter.shape}]`);
        let weightsC: Float32Array;
        let outC: number;
        if (depthwise) {
          if (Cout !== 1) throw lower.unsupported(n.name, `depth multiplier ${Cout} (only 1 is supported)`);
          weightsC = filter.values as Float32Array; // [KH][KW][C][1] is canonical [KH][KW][C]
          outC = C;
        } else {
          // TF HWIO [KH][KW][Cin][Cout] -> canonical [Cout][KH][KW][Cin]
          weightsC = new Float32Array(filter.values.length);
          const taps = KH * KW;
          for (let t = 0; t < taps; t++) for (let ci = 0; ci < Cin; ci++) for (let co = 0; co < Cout; co++) {
            weightsC[(co * taps + t) * Cin + ci] = filter.values[(t * Cin + ci) * Cout + co];
          }
          outC = Cout;
        }
        const conv = (bias: Float32Array | undefined) => lower.conv(depthwise ? 'dwconv' : 'conv2d', x, weightsC, bias && fill(bias, outC), { name: n.name, kernel: [KH, KW], stride: geo.stride, padding: geo.padding });
        out = n.op.startsWith('Fused') || n.op.startsWith('_Fused') ? fusedTail(n, conv, outC, args.slice(2)) : conv(undefined);
        break;
      }
      case 'MatMul':
      case '_FusedMatMul': {
        if (bool(n, 'transpose_a')) throw lower.unsupported(n.name, 'MatMul with transpose_a');
        const t = lower.tensor(x, n.name);
        const w = constOf(args[1], n, 'weight matrix');
        const cin = lower.shape(t)[2];
        const tb = bool(n, 'transpose_b');
        if (w.shape.length !== 2 || w.shape[tb ? 1 : 0] !== cin) throw lower.malformed(n.name, `a [${cin}, Cout] weight matrix`, `[${w.shape}]`);
        const cout = w.shape[tb ? 0 : 1];
        const wt = tb ? Float32Array.from(w.values) : new Float32Array(w.values.length);
        if (!tb) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) wt[co * cin + ci] = w.values[ci * cout + co];
        const dense = (bias: Float32Array | undefined) => lower.dense(t, wt, bias && fill(bias, cout), n.name);
        out = n.op === '_FusedMatMul' ? fusedTail(n, dense, cout, args.slice(2)) : dense(undefined);
        break;
      }
      case 'BiasAdd': {
        checkLayout(n);
        const t = lower.tensor(x, n.name);
        const C = lower.shape(t)[2];
        out = lower.affine(t, new Float32Array(C).fill(1), fill(vector(constOf(args[1], n, 'bias'), C, n), C), n.name);
        break;
      }
      case 'FusedBatchNorm':
      case 'FusedBatchNormV3': {
        checkLayout(n);
        const t = lower.tensor(x, n.name);
        const C = lower.shape(t)[2];
        const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => fill(vector(constOf(args[k], n, 'batch norm parameter'), C, n), C));
        out = lower.batchNorm(t, { gamma: scale, beta: offset, mean, variance, epsilon: float(n, 'epsilon', 1e-3) }, n.name);
        break;
      }
      case 'Add':
      case 'AddV2':
      case 'Mul':
      case 'Sub':
      case 'RealDiv': {
        const [a, b] = args;
        if (a.kind !== 'const' && b.kind !== 'const') {
          if (n.op === 'Add' || n.op === 'AddV2') out = lower.add(a, b, n.name);
          else if (n.op === 'Mul') {
            const [ta, tb] = [lower.tensor(a, n.name), lower.tensor(b, n.name)];
            const [sa, sb] = [lower.shape(ta), lower.shape(tb)];
            const gate = (g: Shape3, s: Shape3) => g[0] === 1 && g[1] === 1 && g[2] === s[2] && (s[0] !== 1 || s[1] !== 1);
            if (gate(sb, sa)) out = { kind: 'tensor', name: lower.builder.scale(ta.name, tb.name, { name: n.name }), rank: ta.rank };
            else if (gate(sa, sb)) out = { kind: 'tensor', name: lower.builder.scale(tb.name, ta.name, { name: n.name }), rank: tb.rank };
            else throw lower.unsupported(n.name, `Mul of [${sa}] by [${sb}] (only a [1,1,C] channel gate is supported)`);
          } else throw lower.unsupported(n.name, `${n.op} of two computed tensors`);
          break;
        }
        if (a.kind === 'const' && b.kind === 'const') throw lower.unsupported(n.name, `${n.op} of two constants (constant folding is not supported)`);
        const constFirst = a.kind === 'const';
        const t = lower.tensor(constFirst ? b : a, n.name);
        const C = lower.shape(t)[2];
        const c = vector(constFirst ? a as ConstValue : b as ConstValue, C, n);
        const ones = new Float32Array(c.length).fill(1);
        const zeros = new Float32Array(c.length);
        if (n.op === 'Mul') out = lower.affine(t, c, zeros, n.name);
        else if (n.op === 'Add' || n.op === 'AddV2') out = lower.affine(t, ones, c, n.name);
        else if (n.op === 'Sub') out = constFirst ? lower.affine(t, ones.fill(-1), c, n.name) : lower.affine(t, ones, c.map((v) => -v), n.name);
        else if (!constFirst) out = lower.affine(t, c.map((v) => 1 / v), zeros, n.name);
        else throw lower.unsupported(n.name, 'division of a constant by a tensor');
        if (t.name === inputName) inputRescaled = n.op;
        break;
      }
      case 'Relu':
      case 'Relu6':
      case 'Sigmoid':
        out = lower.activation(x, n.op, n.name);
        break;
      case 'Softmax':
        out = lower.softmax(x, n.name);
        break;
      case 'Mean': {
        const t = lower.tensor(x, n.name);
        const axes = Array.from(constOf(args[1], n, 'axes').values, (a) => (a < 0 ? a + t.rank : a)).sort();
        if (t.rank !== 4 || axes.join() !== '1,2') throw lower.unsupported(n.name, `Mean over axes [${axes}] of a rank-${t.rank} tensor (only the global spatial mean over [1, 2] is supported)`);
        out = lower.gavgpool(t, n.name, bool(n, 'keep_dims') || bool(n, 'keepDims') ? 4 : 2);
        break;
      }
      case 'AvgPool': {
        checkLayout(n);
        const t = lower.tensor(x, n.name);
        const [H, W] = lower.shape(t);
        const k = ints(n, 'ksize') ?? [];
        const geo = convGeometry(n);
        if (k.length !== 4 || k[1] !== H || k[2] !== W || geo.padding !== 'valid' && geo.padding !== 'same') {
          throw lower.unsupported(n.name, `AvgPool of size [${k}] over a ${H}x${W} input (only a pool covering the whole input is supported)`);
        }
        out = lower.gavgpool(t, n.name, 4);
        break;
      }
      case 'Squeeze': {
        const t = lower.tensor(x, n.name);
        const s = lower.shape(t);
        const full = t.rank === 4 ? [0, ...s] : [0, ...s.slice(3 - (t.rank - 1))];
        let axes = ints(n, 'squeeze_dims') ?? ints(n, 'axis') ?? [];
        axes = axes.map((a) => (a < 0 ? a + t.rank : a));
        if (axes.length === 0) axes = full.map((d, i) => (i > 0 && d === 1 ? i : -1)).filter((i) => i > 0);
        if (axes.some((a) => a <= 0 || a >= t.rank || full[a] !== 1)) throw lower.unsupported(n.name, `Squeeze of axes [${axes}] on a [N,${s}] tensor`);
        const kept = full.filter((_, i) => i > 0 && !axes.includes(i));
        out = lower.reshape(t, [1, 1, 1, ...kept].slice(-3) as Shape3, kept.length + 1, n.name);
        break;
      }
      case 'Reshape': {
        const t = lower.tensor(x, n.name);
        const s = lower.shape(t);
        const target = Array.from(constOf(args[1], n, 'shape').values);
        const rest = target.slice(1);
        const total = s[0] * s[1] * s[2];
        if (rest.length < 1 || rest.length > 3 || rest.filter((d) => d === -1).length > 1 || rest.some((d) => d === 0 || d < -1)) {
          throw lower.unsupported(n.name, `Reshape to [${target}] (expected [N, up to 3 dims])`);
        }
        const known = rest.reduce((a, d) => (d === -1 ? a : a * d), 1);
        const dimsOut = rest.map((d) => (d === -1 ? total / known : d));
        out = lower.reshape(t, [1, 1, 1, ...dimsOut].slice(-3) as Shape3, target.length, n.name);
        break;
      }
      case 'Pad':
      case 'PadV2': {
        const p = Array.from(constOf(args[1], n, 'paddings').values);
        if (n.op === 'PadV2' && Array.from(constOf(args[2], n, 'constant value').values).some((v) => v !== 0)) throw lower.unsupported(n.name, 'padding with a non-zero value');
        if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) throw lower.unsupported(n.name, `Pad with paddings [${p}] (only spatial padding of an NHWC tensor is supported)`);
        out = lower.pad(x, [p[2], p[4], p[3], p[5]], n.name);
        break;
      }
      default:
        if (PASSTHROUGH.has(n.op)) {
          out = x;
          break;
        }
        throw lower.unsupported(n.name, `op ${n.op} is not supported`);
    }
    values.set(n.name, out);
  }

  // Input range rule: TF-Hub image modules (what the TF.js converter turns into graph models) take RGB in
  // [0, 1] and rescale inside the graph if they need to (e.g. x*2-1), so graph models get [0, 1].
  return lower.finish(values.get(outputName)!, {
    format: 'tfjs-graph',
    name: where,
    inputRange: { scale: 1 / 255, offset: 0 },
    notes: {
      nodes: topo.length,
      ...(inputRescaled ? { inputRescaledInGraph: inputRescaled } : {}),
      ...(typeof json.convertedBy === 'string' ? { convertedBy: json.convertedBy } : {}),
    },
  }, outputName);
}
