// TF.js importer tests: weight decoding vs tf.io.decodeWeights, format variants (old/new layers files,
// Sequential, graph ops the TF-Hub file lacks) vs TF.js, and every user-triggerable error with its code.
import * as path from 'path';
import { MobileNetError } from '../lib/errors';
import type { Graph } from '../lib/graph/types';
import { importTfjs } from '../lib/importers/tfjs';
import { readTfjsWeights } from '../lib/importers/tfjs-weights';
import { dataPath } from './helpers/data';
import { argmax, relError, runGraph } from './helpers/run';
import {
  memoryIOHandler, mulberry32, readModelDir, runTfGraph, runTfLayers, saveLayersModel, shardReader, tf, tfc, tfl,
  useCpuBackend, type MemoryModel,
} from './helpers/tfjs';

const V1_LAYERS = dataPath('models', 'tfjs', 'mobilenet_v1_0.25_224_layers');
const HUB_GRAPH = dataPath('models', 'tfjs', 'mobilenet_v1_0.25_224_graph_tfhub');
const WHERE = 'test/model.json';

beforeAll(useCpuBackend);

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Imports and expects a MobileNetError with `code` whose message names the file and each of `mentions`. */
async function expectError(run: Promise<unknown>, code: string, ...mentions: string[]): Promise<MobileNetError> {
  const err = await run.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MobileNetError);
  const e = err as MobileNetError;
  expect(e.code).toBe(code);
  for (const m of [WHERE, ...mentions]) expect(e.message).toContain(m);
  return e;
}

/** Seeded random floats in [lo, hi). */
function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Runs our import on the js backend and TF.js's layers model on the same input; compares within 1e-4. */
async function expectSameAsTfLayers(saved: MemoryModel, model: tfl.LayersModel, shape: [number, number, number, number], seed: number): Promise<void> {
  const graph = await importTfjs(saved.json, shardReader(saved), WHERE);
  const input = randomFloats(shape.reduce((a, b) => a * b, 1), seed);
  const [ref] = await runTfLayers(model, undefined, input, shape);
  const [ours] = await runGraph(graph, input, shape[0], 'js');
  const per = ref.length / shape[0];
  for (let n = 0; n < shape[0]; n++) {
    const a = ours.subarray(n * per, (n + 1) * per);
    const b = ref.subarray(n * per, (n + 1) * per);
    expect(relError(a, b)).toBeLessThanOrEqual(1e-4);
    expect(argmax(a)).toBe(argmax(b));
  }
}

/** Runs our imported graph (js backend) and TF.js's graph model on the same [0, 1) input; compares output and embedding within 1e-4. */
async function expectSameAsTfGraph(model: MemoryModel, graph: Graph, outputs: [string, string], shape: [number, number, number, number], seed: number): Promise<void> {
  const input = randomFloats(shape.reduce((a, b) => a * b, 1), seed, 0, 1);
  const tfModel = await tfc.loadGraphModel(memoryIOHandler(model));
  const [ref, refEmb] = await runTfGraph(tfModel, outputs, input, shape);
  const [ours, emb] = await runGraph(graph, input, shape[0], 'js');
  expect(relError(ours, ref)).toBeLessThanOrEqual(1e-4);
  expect(relError(emb, refEmb)).toBeLessThanOrEqual(1e-4);
}

describe('weights manifest decoding vs tf.io.decodeWeights', () => {
  test('float32, int32, bool, uint8/uint16 affine-quantized and float16 across two groups of split, unaligned shards (seed 5)', async () => {
    const r = mulberry32(5);
    const specs = [
      { name: 'q8', shape: [3, 5], dtype: 'float32', quantization: { dtype: 'uint8', min: -0.75, scale: 0.0123 } },
      { name: 'f32', shape: [7, 3], dtype: 'float32' },
      { name: 'q16', shape: [11], dtype: 'float32', quantization: { dtype: 'uint16', min: 2.5, scale: 1.5e-4 } },
      { name: 'h16', shape: [2, 9], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'i32', shape: [4], dtype: 'int32' },
      { name: 'flag', shape: [3], dtype: 'bool' },
    ];
    const bytes: number[] = [];
    const push = (b: Uint8Array) => bytes.push(...b);
    push(Uint8Array.from({ length: 15 }, () => Math.floor(r() * 256)));
    push(new Uint8Array(randomFloats(21, 6).buffer));
    push(new Uint8Array(Uint16Array.from({ length: 11 }, () => Math.floor(r() * 65536)).buffer));
    // half floats incl. subnormal, infinity and negative zero bit patterns
    push(new Uint8Array(Uint16Array.from([0x0001, 0x03ff, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0x8000, 0x3555, ...Array.from({ length: 10 }, () => Math.floor(r() * 0x7c00))]).buffer));
    push(new Uint8Array(Int32Array.from([-7, 0, 123456, 2 ** 31 - 1]).buffer));
    push(Uint8Array.from([1, 0, 1]));
    const all = Uint8Array.from(bytes);
    // group 1: q8 + f32 (f32 starts at byte 15: unaligned) split into 3 shards; group 2: the rest, 1 shard
    const cut = 15 + 84;
    const files = new Map<string, Uint8Array>([
      ['a-shard1of3', all.slice(0, 10)], ['a-shard2of3', all.slice(10, 50)], ['a-shard3of3', all.slice(50, cut)], ['b.bin', all.slice(cut)],
    ]);
    const manifest = [{ paths: ['a-shard1of3', 'a-shard2of3', 'a-shard3of3'], weights: specs.slice(0, 2) }, { paths: ['b.bin'], weights: specs.slice(2) }];
    const requested: string[] = [];
    const ours = await readTfjsWeights(manifest, async (p) => { requested.push(p); return files.get(p)!; }, WHERE);
    expect(requested).toEqual(['a-shard1of3', 'a-shard2of3', 'a-shard3of3', 'b.bin']);
    const theirs = tf.io.decodeWeights(all.buffer, specs as tf.io.WeightsManifestEntry[]);
    for (const s of specs) {
      const t = ours.get(s.name)!;
      expect(t.shape).toEqual(s.shape);
      expect(Array.from(t.values)).toEqual(Array.from(theirs[s.name].dataSync()));
    }
  });

  test('the real nsfwjs uint8 manifest decodes exactly like TF.js', async () => {
    const model = await readModelDir(dataPath('models', 'tfjs', 'nsfwjs_mobilenet_v2_uint8'));
    const ours = await readTfjsWeights(model.json.weightsManifest, shardReader(model), WHERE);
    const theirs = tf.io.decodeWeights(model.files.get('group1-shard1of1')!.slice().buffer, model.json.weightsManifest[0].weights);
    expect(ours.size).toBe(266);
    let mismatches = 0;
    for (const [name, t] of ours) {
      const ref = theirs[name].dataSync();
      expect(t.values.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) if (t.values[i] !== ref[i]) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('layers-format variants vs TF.js', () => {
  test('old-style file (no format key, modelTopology.model_config, one group per layer, no .bin) gives the same graph as the current format', async () => {
    const inp = tfl.input({ shape: [9, 9, 3] });
    let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(inp) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({}).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.activation({ activation: 'relu6' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: inp, outputs: x });
    const saved = await saveLayersModel(model);
    await expectSameAsTfLayers(saved, model, [2, 9, 9, 3], 31);
    // rewrite as a 2018 converter would have: one weight group per tensor, shard names without extension
    const old: MemoryModel = { json: { modelTopology: { keras_version: '2.1.4', backend: 'tensorflow', model_config: saved.json.modelTopology }, weightsManifest: [] }, files: new Map() };
    const bytes = saved.files.get('group1-shard1of1.bin')!;
    let off = 0;
    saved.json.weightsManifest[0].weights.forEach((w: { shape: number[] }, i: number) => {
      const size = 4 * w.shape.reduce((a, b) => a * b, 1);
      old.json.weightsManifest.push({ paths: [`group${i + 1}-shard1of1`], weights: [w] });
      old.files.set(`group${i + 1}-shard1of1`, bytes.slice(off, off + size));
      off += size;
    });
    const a = await importTfjs(saved.json, shardReader(saved), WHERE);
    const b = await importTfjs(old.json, shardReader(old), WHERE);
    const input = randomFloats(9 * 9 * 3, 32);
    expect(Array.from((await runGraph(b, input, 1))[0])).toEqual(Array.from((await runGraph(a, input, 1))[0]));
  });

  test('Sequential topology with no InputLayer (seed 41, input [2,12,12,3])', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu' }),
        tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.batchNormalization({ center: false }),
        tfl.layers.reLU({ maxValue: 6 }),
        tfl.layers.flatten({}),
        tfl.layers.dropout({ rate: 0.5 }),
        tfl.layers.dense({ units: 7 }),
        tfl.layers.softmax({}),
      ],
    });
    const saved = await saveLayersModel(model, 2);
    const graph = await importTfjs(saved.json, shardReader(saved), WHERE);
    expect(graph.meta.outputKind).toBe('probabilities');
    expect(graph.embedding).toBeUndefined();
    await expectSameAsTfLayers(saved, model, [2, 12, 12, 3], 41);
  });

  test('ZeroPadding2D before a SAME conv, SeparableConv2D, whole-input AveragePooling2D, Rescaling, Add, hard_sigmoid (seed 51, input [3,10,10,3])', async () => {
    const inp = tfl.input({ shape: [10, 10, 3] });
    const ap = (l: tfl.layers.Layer, t: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => l.apply(t) as tfl.SymbolicTensor;
    let x = ap(tfl.layers.rescaling({ scale: 1 / 255, offset: -0.5 }), inp);
    x = ap(tfl.layers.zeroPadding2d({ padding: [[2, 1], [0, 3]] }), x);
    x = ap(tfl.layers.conv2d({ filters: 5, kernelSize: [3, 2], strides: [2, 1], padding: 'same', biasInitializer: 'randomNormal' }), x);
    const y = ap(tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', biasInitializer: 'randomNormal' }), x);
    x = ap(tfl.layers.add({}), [x, y]);
    x = ap(tfl.layers.activation({ activation: 'hardSigmoid' }), x);
    const [h, w] = x.shape.slice(1, 3) as number[];
    x = ap(tfl.layers.averagePooling2d({ poolSize: [h, w], padding: 'valid' }), x);
    x = ap(tfl.layers.flatten({}), x);
    x = ap(tfl.layers.dense({ units: 4, biasInitializer: 'randomNormal' }), x);
    const model = tfl.model({ inputs: inp, outputs: x });
    const saved = await saveLayersModel(model);
    const graph = await importTfjs(saved.json, shardReader(saved), WHERE);
    expect(graph.meta.inputRange).toEqual({ scale: 1, offset: 0 });
    expect(graph.meta.outputKind).toBe('logits');
    const input = randomFloats(3 * 10 * 10 * 3, 51, 0, 255);
    const [ref] = await runTfLayers(model, undefined, input, [3, 10, 10, 3]);
    const [ours] = await runGraph(graph, input, 3, 'js');
    expect(relError(ours, ref)).toBeLessThanOrEqual(1e-4);
  });

  test('nested models (transfer learning): Sequential[Functional base, pooling, Sequential head] and Functional[base] (seed 81, input [2,14,14,3])', async () => {
    const inp = tfl.input({ shape: [14, 14, 3] });
    let b = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(inp) as tfl.SymbolicTensor;
    b = tfl.layers.batchNormalization({}).apply(b) as tfl.SymbolicTensor;
    b = tfl.layers.reLU({ maxValue: 6 }).apply(b) as tfl.SymbolicTensor;
    b = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(b) as tfl.SymbolicTensor;
    const base = tfl.model({ inputs: inp, outputs: b, name: 'mobilenet_0.50_224' });
    const head = tfl.sequential({ name: 'head', layers: [tfl.layers.dense({ inputShape: [8], units: 6, activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
    const outer = tfl.sequential({ layers: [base, tfl.layers.globalAveragePooling2d({}), head] });
    const saved = await saveLayersModel(outer);
    const graph = await importTfjs(saved.json, shardReader(saved), WHERE);
    expect(graph.meta.inputRange).toEqual({ scale: 1 / 127.5, offset: -1 });
    expect(graph.embedding).toBeDefined();
    await expectSameAsTfLayers(saved, outer, [2, 14, 14, 3], 81);

    const outerInput = tfl.input({ shape: [14, 14, 3] });
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(base.apply(outerInput) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    const functional = tfl.model({ inputs: outerInput, outputs: tfl.layers.dense({ units: 4 }).apply(pooled) as tfl.SymbolicTensor });
    const saved2 = await saveLayersModel(functional);
    await expectSameAsTfLayers(saved2, functional, [2, 14, 14, 3], 82);
  });

  test('input range and output meta from the real files', async () => {
    for (const [dir, range, kind, bg] of [
      ['mobilenet_v1_0.25_224_layers', { scale: 1 / 127.5, offset: -1 }, 'probabilities', false],
      ['mobilenet_v1_0.25_224_graph_tfhub', { scale: 1 / 255, offset: 0 }, 'logits', true],
      ['nsfwjs_mobilenet_v2_uint8', { scale: 1 / 255, offset: 0 }, 'probabilities', false],
    ] as const) {
      const model = await readModelDir(dataPath('models', 'tfjs', dir));
      const graph = await importTfjs(model.json, shardReader(model), dir);
      expect([dir, graph.meta.inputRange, graph.meta.outputKind, graph.meta.backgroundClass]).toEqual([dir, range, kind, bg]);
      expect(graph.embedding && graph.shapes[graph.embedding][0] * graph.shapes[graph.embedding][1]).toBe(1);
    }
  });
});

/** A hand-written TF GraphDef (as the TF.js converter writes it) with ops the TF-Hub file does not use. */
function syntheticGraphModel(seed: number, head: 'mean-matmul' | 'avgpool-conv'): MemoryModel {
  const r = mulberry32(seed);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const chunks: Uint8Array[] = [];
  const nodes: Record<string, unknown>[] = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '11' }, { size: '11' }, { size: '3' }] } } } },
  ];
  const constant = (name: string, shape: number[], values?: number[], dtype = 'float32') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from({ length: n }, () => r() * 2 - 1);
    chunks.push(new Uint8Array((dtype === 'int32' ? Int32Array.from(v) : Float32Array.from(v)).buffer));
    weights.push({ name, shape, dtype });
    nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } } });
  };
  const op = (name: string, type: string, input: string[], attr: Record<string, unknown> = {}) => nodes.push({ name, op: type, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
  const nhwc = { data_format: { s: b64('NHWC') } };
  const strides = (s: number) => ({ strides: { list: { i: ['1', String(s), String(s), '1'] } } });
  constant('sub_y', [], [0.5]);
  op('sub', 'Sub', ['x', 'sub_y']);
  constant('pads', [4, 2], [0, 0, 1, 2, 2, 1, 0, 0], 'int32');
  op('pad', 'Pad', ['sub', 'pads']);
  constant('w0', [3, 3, 3, 6]);
  op('conv0', 'Conv2D', ['pad', 'w0'], { ...nhwc, ...strides(2), padding: { s: b64('VALID') }, dilations: { list: { i: ['1', '1', '1', '1'] } } });
  for (const p of ['scale', 'offset', 'mean']) constant(`bn_${p}`, [6]);
  constant('bn_variance', [6], Array.from({ length: 6 }, () => 0.5 + r()));
  op('bn', 'FusedBatchNormV3', ['conv0', 'bn_scale', 'bn_offset', 'bn_mean', 'bn_variance'], { ...nhwc, epsilon: { f: 0.001 }, is_training: { b: false } });
  op('relu', 'Relu', ['bn']);
  constant('dw', [3, 3, 6, 1]);
  constant('dw_b', [6]);
  op('dwconv', 'FusedDepthwiseConv2dNative', ['relu', 'dw', 'dw_b'], { ...nhwc, ...strides(1), padding: { s: b64('SAME') }, num_args: { i: '1' }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } } });
  constant('w1', [1, 1, 6, 6]);
  constant('b1', [6]);
  op('pw', '_FusedConv2D', ['dwconv', 'w1', 'b1'], { ...nhwc, ...strides(1), padding: { s: b64('EXPLICIT') }, explicit_paddings: { list: { i: ['0', '0', '0', '0', '0', '0', '0', '0'] } }, num_args: { i: '1' }, fused_ops: { list: { s: [b64('BiasAdd')] } } });
  op('res', 'AddV2', ['pw', 'dwconv']);
  constant('mul_y', [6]);
  op('mul', 'Mul', ['res', 'mul_y']);
  if (head === 'mean-matmul') {
    constant('axes', [2], [1, 2], 'int32');
    op('mean', 'Mean', ['mul', 'axes'], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } });
    constant('fc_w', [6, 5]);
    constant('fc_b', [5]);
    op('fc', '_FusedMatMul', ['mean', 'fc_w', 'fc_b'], { transpose_a: { b: false }, transpose_b: { b: false }, num_args: { i: '1' }, fused_ops: { list: { s: [b64('BiasAdd')] } } });
    constant('shape', [2], [-1, 5], 'int32');
    op('reshape', 'Reshape', ['fc', 'shape']);
    op('probs', 'Softmax', ['reshape']);
  } else {
    // 11 -> pad to 14 -> 3x3 stride 2 VALID -> 6x6
    op('relu6', 'Relu6', ['mul']);
    op('pool', 'AvgPool', ['relu6'], { ...nhwc, ksize: { list: { i: ['1', '6', '6', '1'] } }, ...strides(6), padding: { s: b64('VALID') } });
    op('identity', 'Identity', ['pool']);
    constant('w2', [1, 1, 6, 5]);
    op('logits', 'Conv2D', ['identity', 'w2'], { ...nhwc, ...strides(1), padding: { s: b64('SAME') }, dilations: { list: { i: ['1', '1', '1', '1'] } } });
    constant('b2', [5]);
    op('biased', 'BiasAdd', ['logits', 'b2'], nhwc);
    constant('one', [], [1]);
    op('shifted', 'Add', ['one', 'biased']);
    op('squeeze', 'Squeeze', ['shifted'], { squeeze_dims: { list: { i: ['1', '2'] } } });
  }
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) { data.set(c, off); off += c.length; }
  return {
    json: { format: 'graph-model', generatedBy: 'test', convertedBy: 'hand-written', modelTopology: { node: nodes, library: {}, versions: {} }, weightsManifest: [{ paths: ['weights.bin'], weights }] },
    files: new Map([['weights.bin', data]]),
  };
}

describe('graph-format ops vs TF.js', () => {
  test('Pad+VALID Conv2D, FusedBatchNormV3, FusedDepthwiseConv2dNative, EXPLICIT _FusedConv2D, AddV2, Mul, Mean, _FusedMatMul, Reshape, Softmax (seed 61, input [3,11,11,3])', async () => {
    const model = syntheticGraphModel(61, 'mean-matmul');
    const graph = await importTfjs(model.json, shardReader(model), WHERE);
    expect(graph.meta.format).toBe('tfjs-graph');
    expect(graph.meta.outputKind).toBe('probabilities');
    expect(graph.embedding).toBe('mean');
    await expectSameAsTfGraph(model, graph, ['probs', 'mean'], [3, 11, 11, 3], 62);
  });

  test('global AvgPool, Relu6, Identity, Conv2D + BiasAdd, Add of a constant, Squeeze (seed 63, input [2,11,11,3])', async () => {
    const model = syntheticGraphModel(63, 'avgpool-conv');
    const graph = await importTfjs(model.json, shardReader(model), WHERE);
    expect(graph.meta.outputKind).toBe('logits');
    expect(graph.embedding).toBe('pool');
    await expectSameAsTfGraph(model, graph, ['squeeze', 'pool'], [2, 11, 11, 3], 64);
  });
});

describe('bad TF.js inputs are MobileNetErrors with a code, naming the file and the layer/node', () => {
  let layers: MemoryModel;
  let graphModel: MemoryModel;
  beforeAll(async () => {
    layers = await readModelDir(V1_LAYERS);
    graphModel = await readModelDir(HUB_GRAPH);
  });
  const importOf = (m: MemoryModel, json = m.json, files = m.files) => importTfjs(json, shardReader({ json, files }), WHERE);
  const layerList = (json: MemoryModel['json']) => json.modelTopology.model_config.config.layers as { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown[] }[];

  test.each([
    ['null', null], ['a string (unparsed JSON text)', '{"modelTopology":'], ['an array', [1, 2]], ['a number', 42],
    ['no modelTopology', { weightsManifest: [] }], ['modelTopology a string', { modelTopology: 'x', weightsManifest: [] }],
    ['a topology that is neither layers nor graph', { modelTopology: { foo: 1 }, weightsManifest: [] }],
  ])('model.json that is %s: E_MODEL_FORMAT', async (_label, json) => {
    await expectError(importTfjs(json, async () => new Uint8Array(0), WHERE), 'E_MODEL_FORMAT');
  });

  test('unknown format string: E_UNSUPPORTED_OP', async () => {
    await expectError(importTfjs({ format: 'saved-model', modelTopology: { node: [] }, weightsManifest: [] }, async () => new Uint8Array(0), WHERE), 'E_UNSUPPORTED_OP', 'saved-model');
  });

  test('missing or malformed weightsManifest: E_MODEL_FORMAT', async () => {
    const json = clone(layers.json);
    delete json.weightsManifest;
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'weightsManifest');
    json.weightsManifest = [{ paths: 'group1-shard1of1', weights: [] }];
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'paths');
    json.weightsManifest = [{ paths: ['group1-shard1of1'], weights: [{ name: 'conv1/kernel', shape: [3, 'x'], dtype: 'float32' }] }];
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'conv1/kernel');
  });

  test('unsupported weight dtype: E_UNSUPPORTED_OP', async () => {
    const json = clone(layers.json);
    json.weightsManifest[0].weights[0].dtype = 'complex64';
    await expectError(importOf(layers, json), 'E_UNSUPPORTED_OP', 'conv1/kernel', 'complex64');
  });

  test('missing shard: E_IO naming the shard', async () => {
    const files = new Map(layers.files);
    files.delete('group7-shard1of1');
    await expectError(importOf(layers, layers.json, files), 'E_IO', 'group7-shard1of1');
  });

  test('short shard and long shard: E_MODEL_FORMAT with the byte counts', async () => {
    const files = new Map(layers.files);
    files.set('group3-shard1of1', layers.files.get('group3-shard1of1')!.slice(0, -1));
    const e = await expectError(importOf(layers, layers.json, files), 'E_MODEL_FORMAT', 'group3-shard1of1', 'short');
    expect(e.message).toMatch(/\d+ bytes/);
    const g = new Map(graphModel.files);
    const bin = graphModel.files.get('group1-shard1of1.bin')!;
    g.set('group1-shard1of1.bin', Uint8Array.from([...bin, 0, 0, 0, 0]));
    await expectError(importOf(graphModel, graphModel.json, g), 'E_MODEL_FORMAT', 'group1-shard1of1.bin', `${bin.length + 4} bytes`);
  });

  test('unsupported layer type: E_UNSUPPORTED_OP naming the layer', async () => {
    const json = clone(layers.json);
    layerList(json).find((l) => l.name === 'conv_dw_3')!.class_name = 'LSTM';
    await expectError(importOf(layers, json), 'E_UNSUPPORTED_OP', 'conv_dw_3', 'LSTM');
  });

  test.each([
    ['depth_multiplier 2', 'conv_dw_2', 'DepthwiseConv2D', { depth_multiplier: 2 }],
    ['dilation_rate 2', 'conv_pw_2', 'Conv2D', { dilation_rate: [2, 2] }],
    ['channels_first', 'conv1', 'Conv2D', { data_format: 'channels_first' }],
    ['a leaky ReLU via Activation', 'conv1_relu', 'Activation', { activation: 'elu' }],
    ['a partial AveragePooling2D', 'global_average_pooling2d_1', 'AveragePooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'valid' }],
  ])('bad layer attribute (%s): E_UNSUPPORTED_OP naming the layer', async (_label, name, cls, patch) => {
    const json = clone(layers.json);
    const layer = layerList(json).find((l) => l.name === name)!;
    layer.class_name = cls;
    Object.assign(layer.config, patch);
    await expectError(importOf(layers, json), 'E_UNSUPPORTED_OP', name);
  });

  test('malformed layers topology: E_MODEL_FORMAT naming the layer', async () => {
    let json = clone(layers.json);
    layerList(json).find((l) => l.name === 'conv_pw_4')!.inbound_nodes = [[['no_such_layer', 0, 0, {}]]];
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'conv_pw_4', 'no_such_layer');
    json = clone(layers.json);
    json.weightsManifest.find((g: { weights: { name: string }[] }) => g.weights[0].name === 'conv_pw_5/kernel').weights[0].name = 'renamed/kernel';
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'conv_pw_5');
    json = clone(layers.json);
    // same byte count, wrong layout: the kernel does not fit the layer
    const spec = json.weightsManifest.find((g: { weights: { name: string }[] }) => g.weights[0].name === 'conv1/kernel').weights[0];
    spec.shape = [3, 3, 8, 3];
    await expectError(importOf(layers, json), 'E_MODEL_FORMAT', 'conv1', '[3,3,3,8]');
    json = clone(layers.json);
    layerList(json)[0].config.batch_input_shape = [null, null, null, 3];
    await expectError(importOf(layers, json), 'E_UNSUPPORTED_OP', 'input_1');
  });

  test('unsupported graph op and bad graph attributes: E_UNSUPPORTED_OP / E_MODEL_FORMAT naming the node', async () => {
    const nodeNamed = (json: MemoryModel['json'], suffix: string) => (json.modelTopology.node as { name: string; op: string; attr: Record<string, any>; input?: string[] }[]).find((n) => n.name.endsWith(suffix))!;
    let json = clone(graphModel.json);
    nodeNamed(json, 'Conv2d_3_depthwise/Relu6').op = 'Elu';
    await expectError(importOf(graphModel, json), 'E_UNSUPPORTED_OP', 'Conv2d_3_depthwise/Relu6', 'Elu');
    json = clone(graphModel.json);
    nodeNamed(json, 'Conv2d_2_depthwise/depthwise').attr.data_format = { s: Buffer.from('NCHW').toString('base64') };
    await expectError(importOf(graphModel, json), 'E_UNSUPPORTED_OP', 'Conv2d_2_depthwise/depthwise', 'NCHW');
    json = clone(graphModel.json);
    nodeNamed(json, 'Conv2d_4_pointwise/Relu6').attr.strides = { list: { i: ['2', '1', '1', '1'] } };
    await expectError(importOf(graphModel, json), 'E_MODEL_FORMAT', 'Conv2d_4_pointwise/Relu6', 'strides');
    json = clone(graphModel.json);
    nodeNamed(json, 'Conv2d_0/Relu6').attr.fused_ops = { list: { s: ['Qmlhc0FkZA==', Buffer.from('LeakyRelu').toString('base64')] } };
    await expectError(importOf(graphModel, json), 'E_UNSUPPORTED_OP', 'Conv2d_0/Relu6', 'LeakyRelu');
    json = clone(graphModel.json);
    nodeNamed(json, 'global_pool').op = 'Max';
    await expectError(importOf(graphModel, json), 'E_UNSUPPORTED_OP', 'global_pool', 'Max');
    json = clone(graphModel.json);
    nodeNamed(json, 'Conv2d_5_pointwise/Relu6').input = ['module_apply_default/does/not/exist'];
    await expectError(importOf(graphModel, json), 'E_MODEL_FORMAT', 'does/not/exist');
  });

  test.each([[V1_LAYERS, 71], [HUB_GRAPH, 72]])('20 random mutations of %s (seed %d): a Graph or a MobileNetError, never a crash', async (dir, seed) => {
    const model = dir === V1_LAYERS ? layers : graphModel;
    const r = mulberry32(seed);
    const replacements: unknown[] = [null, undefined, 'x', -1, 0, 1.5, 7, [], [null], {}, [[1]], true];
    for (let i = 0; i < 20; i++) {
      const json = clone(model.json);
      // every key path in the file, then one of them deleted or replaced by a value of the wrong kind
      const paths: (string | number)[][] = [];
      const walk = (o: unknown, p: (string | number)[]) => {
        if (o && typeof o === 'object') for (const k of Object.keys(o)) { paths.push([...p, k]); walk((o as Record<string, unknown>)[k], [...p, k]); }
      };
      walk(json, []);
      const at = paths[Math.floor(r() * paths.length)];
      const parent = at.slice(0, -1).reduce<any>((o, k) => o[k], json);
      const key = at[at.length - 1];
      if (r() < 0.3) delete parent[key];
      else parent[key] = replacements[Math.floor(r() * replacements.length)];
      const outcome = await importTfjs(json, shardReader(model), WHERE).then(() => 'graph', (e: unknown) => (e instanceof MobileNetError ? 'MobileNetError' : `crash at ${at.join('.')}: ${(e as Error).stack}`));
      expect(['graph', 'MobileNetError']).toContain(outcome);
    }
  });

  test('the shard reader is called with the manifest paths verbatim (old names have no .bin)', async () => {
    const asked: string[] = [];
    await importTfjs(layers.json, async (p) => { asked.push(p); return layers.files.get(p)!; }, path.join(V1_LAYERS, 'model.json'));
    expect(asked).toEqual(layers.json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths));
    expect(asked).toContain('group55-shard1of1');
  });
});
