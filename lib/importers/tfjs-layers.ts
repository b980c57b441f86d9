// TF.js layers-format importer: Keras Sequential/Functional topologies (old per-layer manifests and
// `format: layers-model`) walked topologically and lowered layer by layer onto the canonical graph.
import type { Graph, Shape3 } from '../graph/types';
import type { TfjsTensor } from './tfjs-weights';
import { Lowering, show, type TensorValue, type Value } from './tfjs-lower';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface LayerSpec {
  name: string;
  className: string;
  config: Json;
  /** names of the layers whose (single) output this layer consumes, in argument order */
  inbound: string[];
}

/** Layers that are the identity at inference time. */
const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization', 'Masking']);

/**
 * Keras applications' MobileNets are named like "mobilenet_0.25_224" / "mobilenetv2_1.00_224" and were
 * trained on 'tf'-mode inputs in [-1, 1] (keras preprocess_input), which is what the TF.js ports expect.
 */
const KERAS_APPLICATION_NAME = /^mobilenet(v[23])?(_[a-z]+)?_\d+(\.\d+)?_\d+$/i;

/** Reads `inbound_nodes` of one functional layer: one call only, single-output layers. */
function inboundOf(layer: Json, name: string, low: (node: string, expected: string, received: string) => Error, unsupported: (node: string, what: string) => Error): string[] {
  const nodes = layer.inbound_nodes;
  if (nodes === undefined || (Array.isArray(nodes) && nodes.length === 0)) return [];
  if (!Array.isArray(nodes)) throw low(name, 'inbound_nodes to be a list', typeof nodes);
  if (nodes.length > 1) throw unsupported(name, `the layer is called ${nodes.length} times (shared layers are not supported)`);
  const call = nodes[0];
  if (!Array.isArray(call)) throw low(name, 'inbound_nodes[0] to be a list of [layer, node, tensor, kwargs]', show(call, 80));
  return call.map((ref) => {
    if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw low(name, 'inbound references like ["layer", 0, 0, {}]', show(ref, 80));
    // shared layers are rejected above, so the node index can only mean the producer's one call in this
    // file (saved models may keep the index of a call made elsewhere); a tensor index > 0 is a 2nd output
    if ((ref[2] ?? 0) !== 0) throw unsupported(name, `it reads output ${ref[2]} of layer "${ref[0]}" (only single-output layers are supported)`);
    return ref[0];
  });
}

function pair(v: unknown, fallback?: [number, number]): [number, number] | undefined {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  if (v === undefined || v === null) return fallback;
  return undefined;
}

/**
 * Lowers a parsed layers-format model.json (weights already decoded) to a Graph.
 *
 * @example
 * const graph = importLayers(json, await readTfjsWeights(json.weightsManifest, read, where), where);
 */
export function importLayers(json: Json, weights: Map<string, TfjsTensor>, where: string): Graph {
  let topology = json.modelTopology as Json;
  if (isObject(topology.model_config)) topology = topology.model_config;
  const errLow = new Lowering('input', [1, 1, 1], where, 'layer');
  const className = topology.class_name;
  const config = topology.config;
  if (typeof className !== 'string' || (!isObject(config) && !Array.isArray(config))) {
    throw errLow.malformed('(model)', 'modelTopology (or modelTopology.model_config) to be {class_name, config}', `class_name ${JSON.stringify(className)}`);
  }

  // Collect the layers and their wiring; nested models (a base model inside a Sequential, as transfer
  // learning and Teachable Machine write them) are flattened, their names aliased to their output layer.
  const layers: LayerSpec[] = [];
  const alias = new Map<string, string>();
  let input: { name: string; config: Json } | undefined;
  const specOf = (raw: unknown, i: number, at: string): { name: string; className: string; config: Json; raw: Json } => {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) throw errLow.malformed(`${at}layers[${i}]`, '{class_name, config}', show(raw, 80));
    const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
    if (typeof name !== 'string') throw errLow.malformed(`${at}layers[${i}]`, 'a layer name', show(name));
    return { name, className: raw.class_name, config: raw.config, raw };
  };
  const setInput = (name: string, config: Json) => {
    if (input) throw errLow.unsupported(name, `a second model input (the first is "${input.name}"); expected one image input`);
    input = { name, config };
  };
  const NESTED = new Set(['Sequential', 'Model', 'Functional']);
  const modelNames: string[] = [];
  /** Adds one (possibly nested) model's layers; `outer` are the tensors feeding a nested model. Returns its output. */
  const collect = (cls: string, cfg: unknown, at: string, outer: string[] | undefined, depth: number): string => {
    if (depth > 8) throw errLow.unsupported(at, 'models nested more than 8 deep');
    if (isObject(cfg) && typeof cfg.name === 'string') modelNames.push(cfg.name);
    const rawLayers = Array.isArray(cfg) ? cfg : isObject(cfg) ? cfg.layers : undefined;
    if (!Array.isArray(rawLayers) || rawLayers.length === 0) throw errLow.malformed(at, 'a non-empty config.layers list', show(rawLayers, 60));
    if (cls === 'Sequential') {
      let prev = outer?.[0];
      rawLayers.forEach((raw, i) => {
        const s = specOf(raw, i, at === '(model)' ? '' : `${at}/`);
        if (s.className === 'InputLayer') {
          if (prev === undefined) { setInput(s.name, s.config); prev = s.name; } else alias.set(s.name, prev);
          return;
        }
        if (NESTED.has(s.className)) {
          alias.set(s.name, collect(s.className, s.config, s.name, prev === undefined ? undefined : [prev], depth + 1));
          prev = s.name;
          return;
        }
        if (prev === undefined) {
          // no InputLayer: the first layer carries batch_input_shape (TF.js names the input "<layer>_input")
          prev = `${s.name}_input`;
          setInput(prev, s.config);
        }
        layers.push({ name: s.name, className: s.className, config: s.config, inbound: [prev] });
        prev = s.name;
      });
      return prev!;
    }
    if (cls !== 'Model' && cls !== 'Functional') throw errLow.unsupported(at, `model class "${cls}" is not supported (expected Sequential, Model or Functional)`);
    const c = cfg as Json;
    const ref = (list: unknown, what: string): string[] => {
      if (!Array.isArray(list) || list.length === 0) throw errLow.malformed(at, `config.${what} to be a list of ["layer", 0, 0]`, show(list, 60));
      const refs = typeof list[0] === 'string' ? [list] : list;
      return refs.map((r) => {
        if (!Array.isArray(r) || typeof r[0] !== 'string') throw errLow.malformed(at, `config.${what} entries like ["layer", 0, 0]`, show(r, 60));
        return r[0] as string;
      });
    };
    const inputs = ref(c.input_layers, 'input_layers');
    const outputs = ref(c.output_layers, 'output_layers');
    if (inputs.length !== 1 || (outer && outer.length !== 1)) throw errLow.unsupported(at, `the model has ${inputs.length} inputs; expected one image input`);
    if (outer) alias.set(inputs[0], outer[0]);
    rawLayers.forEach((raw, i) => {
      const s = specOf(raw, i, at === '(model)' ? '' : `${at}/`);
      if (s.className === 'InputLayer') {
        if (!outer && s.name === inputs[0]) setInput(s.name, s.config);
        return;
      }
      const inbound = inboundOf(s.raw, s.name, (n, e, r) => errLow.malformed(n, e, r), (n, w) => errLow.unsupported(n, w));
      if (NESTED.has(s.className)) {
        if (inbound.length !== 1) throw errLow.unsupported(s.name, `a nested model called on ${inbound.length} inputs`);
        alias.set(s.name, collect(s.className, s.config, s.name, inbound, depth + 1));
        return;
      }
      layers.push({ name: s.name, className: s.className, config: s.config, inbound });
    });
    return outputs[0];
  };
  const topOutput = collect(className, config, '(model)', undefined, 0);
  if (!input) throw errLow.malformed('(model)', 'an InputLayer or a first layer with batch_input_shape', 'none');
  const inputName: string = input.name;
  const inputConfig: Json = input.config;
  /** Follows nested-model and nested-input aliases to the layer that produces a tensor. */
  const resolve = (name: string): string => {
    for (let k = 0; k < 64 && alias.has(name) && alias.get(name) !== name; k++) name = alias.get(name)!;
    return name;
  };
  const outputName = resolve(topOutput);

  // Input shape: [null, H, W, C] (or [null, C] for a plain dense model).
  const bis = inputConfig.batch_input_shape ?? inputConfig.batchInputShape;
  if (!Array.isArray(bis) || bis.length < 2 || !bis.slice(1).every((d) => Number.isInteger(d) && d > 0)) {
    if (Array.isArray(bis) && bis.slice(1).some((d) => d === null || d === -1)) {
      throw errLow.unsupported(inputName, `the input shape ${JSON.stringify(bis)} has unknown dimensions; a fixed [H, W, C] input is needed`, 'Re-export the model with a fixed input size (e.g. 224x224x3).');
    }
    throw errLow.malformed(inputName, 'batch_input_shape like [null, H, W, C]', JSON.stringify(bis));
  }
  const dims = (bis as number[]).slice(1);
  if (dims.length !== 3 && dims.length !== 1) throw errLow.unsupported(inputName, `a rank-${dims.length + 1} input (expected [N, H, W, C])`);
  const inputShape: Shape3 = dims.length === 3 ? (dims as Shape3) : [1, 1, dims[0]];
  const lower = new Lowering(inputName, inputShape, where, 'layer');

  // Topological order by depth-first search from the output: only layers the output depends on.
  const byName = new Map<string, LayerSpec>();
  for (const l of layers) {
    if (byName.has(l.name)) throw lower.malformed(l.name, 'unique layer names', 'a duplicate');
    byName.set(l.name, l);
  }
  const order: LayerSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string) => {
    if (name === inputName) return;
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') throw lower.malformed(name, 'an acyclic layer graph', 'a cycle');
    const l = byName.get(name);
    if (!l) throw lower.malformed(from, `an inbound layer named "${name}"`, 'no such layer');
    state.set(name, 'visiting');
    if (l.inbound.length === 0) throw lower.malformed(name, 'inbound_nodes', 'none');
    for (const i of l.inbound) visit(resolve(i), name);
    state.set(name, 'done');
    order.push(l);
  };
  visit(outputName, '(model)');

  // Weights by "layer/param"; files from nested scopes or Python Keras may prefix a scope or add ":0".
  const byKey = new Map<string, TfjsTensor>();
  for (const [k, t] of weights) {
    const clean = k.replace(/:0$/, '');
    byKey.set(clean, t);
    const parts = clean.split('/');
    const short = parts.slice(-2).join('/');
    if (parts.length > 2 && !byKey.has(short)) byKey.set(short, t);
  }
  const param = (layer: string, p: string, shape: number[] | undefined): Float32Array => {
    const t = byKey.get(`${layer}/${p}`);
    if (!t) throw lower.malformed(layer, `a weight "${layer}/${p}" in weightsManifest`, 'none');
    if (t.dtype !== 'float32') throw lower.malformed(layer, `float32 weight "${layer}/${p}"`, t.dtype);
    if (shape && t.shape.join() !== shape.join()) throw lower.malformed(layer, `weight "${layer}/${p}" of shape [${shape}]`, `[${t.shape}]`);
    return t.values as Float32Array;
  };

  const values = new Map<string, Value>();
  values.set(inputName, { kind: 'tensor', name: inputName, rank: dims.length + 1 });
  let firstOp: string | undefined;
  for (const l of order) {
    const name = l.name;
    const c = l.config;
    const args = l.inbound.map((i) => values.get(resolve(i))!);
    const x = args[0];
    if (firstOp === undefined && l.className !== 'InputLayer') firstOp = l.className;
    const need = (ok: boolean, what: string, got: unknown) => {
      if (!ok) throw lower.unsupported(name, `${l.className} with ${what} (got ${JSON.stringify(got)})`);
    };
    const channelsLast = () => need(c.data_format === undefined || c.data_format === null || c.data_format === 'channels_last', 'data_format other than channels_last', c.data_format);
    const noDilation = () => need(pair(c.dilation_rate, [1, 1])?.join() === '1,1', 'dilation', c.dilation_rate);
    const padding = (): 'same' | 'valid' => {
      need(c.padding === 'same' || c.padding === 'valid', 'padding other than same/valid', c.padding);
      return c.padding as 'same' | 'valid';
    };
    const inC = () => lower.shape(lower.tensor(x.kind === 'padded' ? { kind: 'tensor', name: x.name, rank: 4 } : x, name))[2];
    let out: Value;
    switch (l.className) {
      case 'Conv2D': {
        channelsLast(); noDilation();
        need(c.groups === undefined || c.groups === 1, 'groups', c.groups);
        const k = pair(c.kernel_size);
        const s = pair(c.strides, [1, 1]);
        const filters = c.filters;
        if (!k || !s || typeof filters !== 'number') throw lower.malformed(name, 'kernel_size, strides and filters', JSON.stringify({ k: c.kernel_size, s: c.strides, filters }));
        const cin = inC();
        const kernel = param(name, 'kernel', [k[0], k[1], cin, filters]);
        // Keras HWIO [KH][KW][Cin][Cout] -> canonical [Cout][KH][KW][Cin]
        const w = new Float32Array(kernel.length);
        const taps = k[0] * k[1];
        for (let t = 0; t < taps; t++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < filters; co++) {
          w[(co * taps + t) * cin + ci] = kernel[(t * cin + ci) * filters + co];
        }
        const bias = c.use_bias === false ? undefined : param(name, 'bias', [filters]);
        out = lower.activation(lower.conv('conv2d', x, w, bias, { name, kernel: k, stride: s, padding: padding() }), String(c.activation ?? 'linear'), `${name}/activation`);
        break;
      }
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        channelsLast(); noDilation();
        need((c.depth_multiplier ?? 1) === 1, 'depth_multiplier', c.depth_multiplier);
        const k = pair(c.kernel_size);
        const s = pair(c.strides, [1, 1]);
        if (!k || !s) throw lower.malformed(name, 'kernel_size and strides', JSON.stringify({ k: c.kernel_size, s: c.strides }));
        const C = inC();
        // [KH][KW][C][1] is already canonical [KH][KW][C] in memory
        const dw = param(name, 'depthwise_kernel', [k[0], k[1], C, 1]);
        if (l.className === 'DepthwiseConv2D') {
          const bias = c.use_bias === false ? undefined : param(name, 'bias', [C]);
          out = lower.conv('dwconv', x, dw, bias, { name, kernel: k, stride: s, padding: padding() });
        } else {
          const filters = c.filters as number;
          const pw = param(name, 'pointwise_kernel', [1, 1, C, filters]);
          const wt = new Float32Array(pw.length);
          for (let ci = 0; ci < C; ci++) for (let co = 0; co < filters; co++) wt[co * C + ci] = pw[ci * filters + co];
          const bias = c.use_bias === false ? undefined : param(name, 'bias', [filters]);
          const mid = lower.conv('dwconv', x, dw, undefined, { name: `${name}/depthwise`, kernel: k, stride: s, padding: padding() });
          out = lower.dense(mid, wt, bias, name);
        }
        out = lower.activation(out, String(c.activation ?? 'linear'), `${name}/activation`);
        break;
      }
      case 'BatchNormalization': {
        const t = lower.tensor(x, name);
        const rank = t.rank;
        const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
        need(axis === -1 || axis === rank - 1, 'an axis other than the last (channels)', c.axis);
        const C = lower.shape(t)[2];
        const epsilon = typeof c.epsilon === 'number' ? c.epsilon : 1e-3;
        out = lower.batchNorm(t, {
          gamma: c.scale === false ? undefined : param(name, 'gamma', [C]),
          beta: c.center === false ? undefined : param(name, 'beta', [C]),
          mean: param(name, 'moving_mean', [C]),
          variance: param(name, 'moving_variance', [C]),
          epsilon,
        }, name);
        break;
      }
      case 'ReLU': {
        const slope = c.negative_slope ?? 0;
        const threshold = c.threshold ?? 0;
        need(slope === 0, 'a negative_slope (leaky ReLU)', slope);
        need(threshold === 0, 'a threshold', threshold);
        const max = c.max_value;
        if (max === null || max === undefined) out = lower.activation(x, 'relu', name);
        else if (max === 6) out = lower.activation(x, 'relu6', name);
        else if (typeof max === 'number' && max > 0) out = lower.affine(x, Float32Array.of(1), Float32Array.of(0), name, 'relu', [0, max]);
        else throw lower.malformed(name, 'a positive max_value', JSON.stringify(max));
        break;
      }
      case 'Activation':
        out = lower.activation(x, String(c.activation), name);
        break;
      case 'Softmax': {
        const t = lower.tensor(x, name);
        const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
        need(axis === -1 || axis === t.rank - 1, 'an axis other than the last', c.axis);
        out = lower.softmax(t, name);
        break;
      }
      case 'Add': {
        if (args.length < 2) throw lower.malformed(name, 'at least two inputs', String(args.length));
        out = args.slice(1).reduce<TensorValue>((acc, v, i) => lower.add(acc, v, i === args.length - 2 ? name : `${name}/${i}`), lower.tensor(args[0], name));
        break;
      }
      case 'Multiply': {
        need(args.length === 2, 'more than two inputs', args.length);
        const [a, b] = args.map((v) => lower.tensor(v, name));
        const [sa, sb] = [lower.shape(a), lower.shape(b)];
        const isGate = (g: Shape3, t: Shape3) => g[0] === 1 && g[1] === 1 && g[2] === t[2];
        if (isGate(sb, sa)) out = { kind: 'tensor', name: lower.builder.scale(a.name, b.name, { name }), rank: a.rank };
        else if (isGate(sa, sb)) out = { kind: 'tensor', name: lower.builder.scale(b.name, a.name, { name }), rank: b.rank };
        else throw lower.unsupported(name, `Multiply of [${sa}] by [${sb}] (only a [1,1,C] channel gate is supported)`);
        break;
      }
      case 'ZeroPadding2D': {
        channelsLast();
        const p = c.padding;
        let pads: [number, number, number, number] | undefined;
        if (typeof p === 'number') pads = [p, p, p, p];
        else if (Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number')) pads = [p[0], p[1], p[0], p[1]];
        else if (Array.isArray(p) && p.length === 2 && p.every((v) => Array.isArray(v) && v.length === 2)) pads = [p[0][0], p[1][0], p[0][1], p[1][1]];
        if (!pads) throw lower.malformed(name, 'padding as n, [h, w] or [[top, bottom], [left, right]]', JSON.stringify(p));
        out = lower.pad(x, pads, name);
        break;
      }
      case 'GlobalAveragePooling2D':
        channelsLast();
        out = lower.gavgpool(x, name, c.keepdims === true || c.keepDims === true ? 4 : 2);
        break;
      case 'AveragePooling2D': {
        channelsLast();
        const t = lower.tensor(x, name);
        const [H, W] = lower.shape(t);
        const pool = pair(c.pool_size, [2, 2])!;
        const s = pair(c.strides, pool)!;
        const pad = padding();
        const outH = pad === 'same' ? Math.ceil(H / s[0]) : Math.floor((H - pool[0]) / s[0]) + 1;
        const outW = pad === 'same' ? Math.ceil(W / s[1]) : Math.floor((W - pool[1]) / s[1]) + 1;
        // a pool is global when it yields one pixel whose window holds the whole (unpadded) input
        if (!(outH === 1 && outW === 1 && pool[0] >= H && pool[1] >= W && (pad === 'valid' ? pool[0] === H && pool[1] === W : true))) {
          throw lower.unsupported(name, `AveragePooling2D of size ${pool} stride ${s} over a ${H}x${W} input (only a pool covering the whole input is supported)`);
        }
        out = lower.gavgpool(t, name, 4);
        break;
      }
      case 'Reshape': {
        const t = lower.tensor(x, name);
        const s = lower.shape(t);
        const total = s[0] * s[1] * s[2];
        const target = c.target_shape;
        if (!Array.isArray(target) || target.length < 1 || target.length > 3 || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) || target.filter((d) => d === -1).length > 1) {
          throw lower.malformed(name, 'target_shape of 1 to 3 positive dims (at most one -1)', JSON.stringify(target));
        }
        const known = (target as number[]).reduce((a, d) => (d === -1 ? a : a * d), 1);
        const dimsOut = (target as number[]).map((d) => (d === -1 ? total / known : d));
        const shape = [1, 1, 1, ...dimsOut].slice(-3) as Shape3;
        out = lower.reshape(t, shape, target.length + 1, name);
        break;
      }
      case 'Flatten': {
        const t = lower.tensor(x, name);
        const s = lower.shape(t);
        out = lower.reshape(t, [1, 1, s[0] * s[1] * s[2]], 2, name);
        break;
      }
      case 'Dense': {
        const t = lower.tensor(x, name);
        const cin = lower.shape(t)[2];
        const units = c.units;
        if (typeof units !== 'number') throw lower.malformed(name, 'a numeric units', JSON.stringify(units));
        const kernel = param(name, 'kernel', [cin, units]);
        // Keras [Cin][Cout] -> canonical [Cout][Cin]
        const w = new Float32Array(kernel.length);
        for (let ci = 0; ci < cin; ci++) for (let co = 0; co < units; co++) w[co * cin + ci] = kernel[ci * units + co];
        const bias = c.use_bias === false ? undefined : param(name, 'bias', [units]);
        out = lower.activation(lower.dense(t, w, bias, name), String(c.activation ?? 'linear'), `${name}/activation`);
        break;
      }
      case 'Rescaling': {
        const scale = c.scale;
        const offset = c.offset ?? 0;
        if (typeof scale !== 'number' || typeof offset !== 'number') throw lower.malformed(name, 'numeric scale and offset', JSON.stringify({ scale, offset }));
        out = lower.affine(x, Float32Array.of(scale), Float32Array.of(offset), name);
        break;
      }
      default:
        if (IDENTITY_LAYERS.has(l.className)) {
          out = x;
          break;
        }
        throw lower.unsupported(name, `layer type ${l.className} is not supported`);
    }
    values.set(name, out);
  }

  // Input range rule: a leading Rescaling layer means raw [0,255] pixels; a Keras-applications MobileNet
  // (by its model name, or a nested base model's) means [-1,1]; any other layers model gets [0,1] (x/255,
  // the TF.js default for transfer-learned models such as nsfwjs).
  const modelName = modelNames[0] ?? '';
  const inputRange = firstOp === 'Rescaling' ? { scale: 1, offset: 0 }
    : modelNames.some((n) => KERAS_APPLICATION_NAME.test(n)) ? { scale: 1 / 127.5, offset: -1 }
      : { scale: 1 / 255, offset: 0 };
  const kerasVersion = (json.modelTopology as Json).keras_version;
  return lower.finish(values.get(outputName)!, {
    format: 'tfjs-layers',
    name: modelName || where,
    inputRange,
    notes: {
      topology: className,
      layers: order.length,
      ...(typeof kerasVersion === 'string' ? { kerasVersion } : {}),
    },
  }, outputName);
}
