// TFLite importer: the real files' structure, metadata and labels; hand-built flatbuffers checked against
// TF.js; and damaged files (empty, truncated, random, bit-flipped) that must only ever raise MobileNetError.
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MobileNetError } from '../lib/errors';
import { FlatBuffer } from '../lib/importers/flatbuffers';
import { importTflite } from '../lib/importers/tflite';
import type { Graph } from '../lib/graph/types';
import { dataPath } from './helpers/data';
import { argmax, availableBackends, relError, runGraph } from './helpers/run';

const MODELS = [
  'mobilenet_v1_0.25_128_quant',
  'mobilenet_v1_0.5_160_quant',
  'mobilenet_v1_0.75_192_quant',
  'mobilenet_v2_1.0_224_quant',
  'tf2_mobilenet_v2_1.0_224_ptq',
  'mobilenet_v3_small_1.0_224_uint8',
];
const readModel = (m: string) => new Uint8Array(fs.readFileSync(dataPath('models', 'tflite', `${m}.tflite`)));

// ---- a tiny forward FlatBuffer writer, enough to hand-build TFLite models for tests ----------------

type Scalar = { kind: 'u8' | 'i8' | 'i32' | 'u32' | 'f32'; value: number };
type Vec = { vec: 'i32' | 'f32' | 'u8' | 'i64'; values: ArrayLike<number> };
type Obj = Table | Vec | { tables: Table[] } | { str: string };
type Table = { fields: (Scalar | Obj | undefined)[] };
const u8 = (value: number): Scalar => ({ kind: 'u8', value });
const i32 = (value: number): Scalar => ({ kind: 'i32', value });
const u32 = (value: number): Scalar => ({ kind: 'u32', value });
const f32 = (value: number): Scalar => ({ kind: 'f32', value });
const table = (...fields: (Scalar | Obj | undefined)[]): Table => ({ fields });

function serialize(root: Table, identifier: string): Uint8Array {
  const out: number[] = [];
  const view = () => new DataView(new Uint8Array(out).buffer);
  const put = (pos: number, bytes: number[]) => bytes.forEach((b, i) => { out[pos + i] = b; });
  const le32 = (v: number) => { const d = new DataView(new ArrayBuffer(4)); d.setUint32(0, v >>> 0, true); return [...new Uint8Array(d.buffer)]; };
  const scalarBytes = (s: Scalar) => {
    const d = new DataView(new ArrayBuffer(4));
    if (s.kind === 'f32') d.setFloat32(0, s.value, true); else d.setUint32(0, s.value >>> 0, true);
    return [...new Uint8Array(d.buffer)];
  };
  const align = (n: number) => { while (out.length % n) out.push(0); };
  const isScalar = (f: Scalar | Obj): f is Scalar => 'kind' in f;
  // writes obj, returns its position (the table's start, or the vector/string length word)
  const write = (obj: Obj): number => {
    if ('fields' in obj) {
      align(4);
      const vt = out.length;
      const n = obj.fields.length;
      const vtSize = 4 + 2 * n + ((2 * n) % 4 === 0 ? 0 : 2);
      for (let i = 0; i < vtSize; i++) out.push(0);
      const start = out.length;
      out.push(...le32(start - vt));
      const patches: [number, Obj][] = [];
      const offsets: number[] = [];
      obj.fields.forEach((f) => {
        if (!f) { offsets.push(0); return; }
        offsets.push(out.length - start);
        if (isScalar(f)) out.push(...scalarBytes(f));
        else { patches.push([out.length, f]); out.push(0, 0, 0, 0); }
      });
      const d = new DataView(new ArrayBuffer(vtSize));
      d.setUint16(0, vtSize, true);
      d.setUint16(2, out.length - start, true);
      offsets.forEach((o, i) => d.setUint16(4 + 2 * i, o, true));
      put(vt, [...new Uint8Array(d.buffer)]);
      for (const [pos, child] of patches) { const at = write(child); put(pos, le32(at - pos)); }
      return start;
    }
    align(8);
    if ('str' in obj) {
      const bytes = [...Buffer.from(obj.str, 'utf8')];
      const at = out.length;
      out.push(...le32(bytes.length), ...bytes, 0);
      return at;
    }
    if ('tables' in obj) {
      const at = out.length;
      out.push(...le32(obj.tables.length));
      const slots = obj.tables.map(() => { const p = out.length; out.push(0, 0, 0, 0); return p; });
      obj.tables.forEach((t, i) => { const p = write(t); put(slots[i], le32(p - slots[i])); });
      return at;
    }
    const size = obj.vec === 'u8' ? 1 : obj.vec === 'i64' ? 8 : 4;
    if (size === 8) out.push(0, 0, 0, 0); // so the elements after the length word are 8-aligned
    const at = out.length;
    out.push(...le32(obj.values.length));
    const d = new DataView(new ArrayBuffer(obj.values.length * size));
    Array.from(obj.values).forEach((v, i) => {
      if (obj.vec === 'f32') d.setFloat32(4 * i, v, true);
      else if (obj.vec === 'i32') d.setInt32(4 * i, v, true);
      else if (obj.vec === 'i64') d.setBigInt64(8 * i, BigInt(v), true);
      else d.setUint8(i, v);
    });
    out.push(...new Uint8Array(d.buffer));
    return at;
  };
  out.push(0, 0, 0, 0, ...[...identifier].map((c) => c.charCodeAt(0)));
  const rootPos = write(root);
  put(0, le32(rootPos));
  void view;
  return new Uint8Array(out);
}

interface TensorSpec { name: string; shape: number[]; type?: number; data?: Float32Array | Uint8Array | Int32Array }
interface OpSpec { code: number; inputs: number[]; outputs: number[]; options?: Table }

/** Builds a float32 TFLite model: tensors (constants carry data), operators, one input and one output. */
function buildModel(tensors: TensorSpec[], ops: OpSpec[], input: number, output: number): Uint8Array {
  const codes = [...new Set(ops.map((o) => o.code))];
  const buffers: Table[] = [table()];
  const tensorTables = tensors.map((t) => {
    let buffer = 0;
    if (t.data) {
      buffers.push(table({ vec: 'u8', values: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) }));
      buffer = buffers.length - 1;
    }
    return table({ vec: 'i32', values: t.shape }, u8(t.type ?? 0), u32(buffer), { str: t.name });
  });
  const operators = ops.map((o) => table(
    u32(codes.indexOf(o.code)), { vec: 'i32', values: o.inputs }, { vec: 'i32', values: o.outputs }, o.options ? u8(1) : undefined, o.options,
  ));
  const subgraph = table({ tables: tensorTables }, { vec: 'i32', values: [input] }, { vec: 'i32', values: [output] }, { tables: operators }, { str: 'main' });
  const opcodes = codes.map((c) => table(u8(Math.min(c, 127)), undefined, i32(1), i32(c)));
  return serialize(table(u32(3), { tables: opcodes }, { tables: [subgraph] }, { str: 'hand-built' }, { tables: buffers }), 'TFL3');
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randn = (rand: () => number, n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);

/** Loads damaged bytes: the only acceptable outcomes are a typed MobileNetError or a graph that plans and runs. */
async function expectTypedFailureOrWorkingGraph(bytes: Uint8Array, where: string): Promise<'error' | 'loaded'> {
  let graph: Graph;
  try {
    graph = importTflite(bytes, where);
  } catch (e) {
    expect(e).toBeInstanceOf(MobileNetError);
    const err = e as MobileNetError;
    expect(['E_MODEL_FORMAT', 'E_UNSUPPORTED_OP']).toContain(err.code);
    expect(err.message).toContain(where);
    // a reader bug would surface through the importer's last-resort wrapper
    expect(err.message).not.toContain('internal error');
    return 'error';
  }
  const [H, W, C] = graph.input.shape;
  const [y] = await runGraph(graph, new Float32Array(H * W * C).fill(0.25), 1, 'js');
  expect(y.length).toBe(graph.shapes[graph.output].reduce((a, b) => a * b, 1));
  return 'loaded';
}

describe('TFLite importer on the real files', () => {
  const labelsFile = fs.readFileSync(dataPath('labels', 'imagenet_labels_1001_with_background.txt'), 'utf8').split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);

  // input quantization as stated in MANIFEST §1.1: real = (p - zp) * scale
  const expectedInput: Record<string, [number, number]> = {
    'mobilenet_v1_0.25_128_quant': [1 / 128, 128],
    'mobilenet_v1_0.5_160_quant': [1 / 128, 128],
    'mobilenet_v1_0.75_192_quant': [1 / 128, 128],
    'mobilenet_v2_1.0_224_quant': [1 / 128, 128],
    'tf2_mobilenet_v2_1.0_224_ptq': [1 / 127.5, 127],
    'mobilenet_v3_small_1.0_224_uint8': [1 / 127, 128],
  };
  const resolution: Record<string, number> = {
    'mobilenet_v1_0.25_128_quant': 128, 'mobilenet_v1_0.5_160_quant': 160, 'mobilenet_v1_0.75_192_quant': 192,
    'mobilenet_v2_1.0_224_quant': 224, 'tf2_mobilenet_v2_1.0_224_ptq': 224, 'mobilenet_v3_small_1.0_224_uint8': 224,
  };

  test.each(MODELS)('%s: shapes, metadata, embedding and labels', (m) => {
    const g = importTflite(readModel(m), `${m}.tflite`);
    const r = resolution[m];
    expect(g.input.shape).toEqual([r, r, 3]);
    expect(g.shapes[g.output]).toEqual([1, 1, 1001]);
    expect(g.meta.format).toBe('tflite');
    expect(g.meta.outputKind).toBe('probabilities');
    expect(g.meta.backgroundClass).toBe(true);
    const [scale, zp] = expectedInput[m];
    expect(g.meta.inputRange!.scale).toBeCloseTo(scale, 6);
    expect(g.meta.inputRange!.offset).toBeCloseTo(-zp * scale, 6);
    // the embedding is a globally pooled vector on the path to the output
    expect(g.embedding).toBeDefined();
    const emb = g.shapes[g.embedding!];
    expect(emb[0] * emb[1]).toBe(1);
    // the pool itself, or (rounding emulated) the affine steps that put its mean back on the grid
    const producer = (t: string) => g.nodes.find((n) => n.output === t)!;
    let node = producer(g.embedding!);
    while (node.op === 'affine') node = producer(node.inputs[0]);
    expect(node.op).toBe('gavgpool');
    const plain = importTflite(readModel(m), `${m}.tflite`, { rounding: false });
    expect(plain.nodes.find((n) => n.output === plain.embedding)!.op).toBe('gavgpool');
    if (m.startsWith('mobilenet_v3')) {
      expect(g.meta.labels).toBeUndefined();
    } else {
      expect(g.meta.labels).toHaveLength(1001);
      expect(g.meta.labels![0]).toBe('background');
      expect(g.meta.labels).toEqual(labelsFile);
    }
  });

  test('op structure follows the files (MANIFEST §1.1 op counts)', () => {
    const histogram = (m: string) => {
      const h: Record<string, number> = {};
      for (const n of importTflite(readModel(m), m).nodes) h[n.op] = (h[n.op] ?? 0) + 1;
      return h;
    };
    // V2: CONV_2D 36 (1 stem + 35 pointwise), DEPTHWISE 17, ADD 10, one pool, softmax
    expect(histogram('mobilenet_v2_1.0_224_quant')).toMatchObject({ conv2d: 1, pwconv: 35, dwconv: 17, add: 10, gavgpool: 1, softmax: 1 });
    // V3-Small: MUL 18 = 9 squeeze-excite gates (scale) + 9 hard-sigmoid x1/6 (affine); 11 pools incl. SE;
    // the interpreter's integer kernels as tables (lookup): HARD_SWISH 19, plus the 6 residual ADDs of two tensors
    const v3 = histogram('mobilenet_v3_small_1.0_224_uint8');
    expect(v3).toMatchObject({ conv2d: 1, pwconv: 42, dwconv: 11, gavgpool: 11, scale: 9, lookup: 25 });
  });

  test('default graphs round to the quantized grid (input pixels and 1/256 probabilities), embed in real units; { rounding: false } adds no nodes', async () => {
    const m = 'mobilenet_v1_0.25_128_quant';
    const g = importTflite(readModel(m), m);
    const plain = importTflite(readModel(m), m, { rounding: false });
    expect(plain.nodes.some((n) => n.op === 'affine')).toBe(false);
    expect(g.nodes.length).toBeGreaterThan(plain.nodes.length);
    const rgb = fs.readFileSync(dataPath('tflite-reference', 'armnn', 'crop-legacy', m, 'bird.bmp.rgb'));
    const { scale, offset } = g.meta.inputRange!;
    const x = Float32Array.from(rgb, (p) => p * scale + offset);
    // a third of a pixel level off the integer grid: the integer interpreter would see the same uint8 input
    const nudged = Float32Array.from(rgb, (p) => Math.min(p + 0.3, 255) * scale + offset);
    const [y, embedding] = await runGraph(g, x, 1, 'js');
    const [yNudged] = await runGraph(g, nudged, 1, 'js');
    const [yPlain, embeddingPlain] = await runGraph(plain, x, 1, 'js');
    expect(Array.from(yNudged)).toEqual(Array.from(y));
    // the embedding is the pooled features in real units (measured 0.07 from the plain graph's), not the mean of
    // integer levels inside the emulated pool (1/scale, about 43 times larger)
    expect(relError(embedding, embeddingPlain)).toBeLessThan(0.25);
    const offGrid = (v: Float32Array) => Math.max(...Array.from(v, (p) => Math.abs(p * 256 - Math.round(p * 256))));
    expect(offGrid(y)).toBeLessThan(1e-4);
    expect(offGrid(yPlain)).toBeGreaterThan(0.01);
    expect(argmax(y)).toBe(argmax(yPlain));
  });

  test('the rounding steps survive every available backend (each must store every op output as float32)', async () => {
    const m = 'mobilenet_v1_0.25_128_quant';
    const g = importTflite(readModel(m), m);
    const rgb = fs.readFileSync(dataPath('tflite-reference', 'armnn', 'crop-legacy', m, 'bird.bmp.rgb'));
    const ref = fs.readFileSync(dataPath('tflite-reference', 'tflite-wasm', 'crop-legacy', m, 'bird.bmp.out'));
    const x = Float32Array.from(rgb, (p) => p * g.meta.inputRange!.scale + g.meta.inputRange!.offset);
    const backends = await availableBackends();
    for (const backend of backends) {
      const [y] = await runGraph(g, x, 1, backend);
      const offGrid = Math.max(...Array.from(y, (p) => Math.abs(p * 256 - Math.round(p * 256))));
      const deviation = Math.max(...Array.from(y, (p, c) => Math.abs(p * 256 - ref[c])));
      expect({ backend, onGrid: offGrid < 1e-3, withinTolerance: deviation <= 16 }).toEqual({ backend, onGrid: true, withinTolerance: true });
    }
  });

  test('V3-Small: the ReLUs exist only as quantized ranges, and the clamps carry them', async () => {
    const m = 'mobilenet_v3_small_1.0_224_uint8';
    const g = importTflite(readModel(m), m);
    // in the plain float graph the ReLU is the conv's output clamp; the default graph clamps the rounded levels
    const plain = importTflite(readModel(m), m, { rounding: false });
    const reluNodes = plain.nodes.filter((n) => /Relu$/.test(n.name));
    expect(reluNodes.length).toBeGreaterThan(5);
    for (const n of reluNodes) {
      expect(n.activation).toBe('none');
      expect(n.clamp![0]).toBe(0);
    }
    // one real input tensor: with the clamps the interpreter's top-1 is reproduced; without them it is not
    const rgb = fs.readFileSync(dataPath('tflite-reference', 'armnn', 'crop-legacy', m, 'grace_hopper.bmp.rgb'));
    const ref = fs.readFileSync(dataPath('tflite-reference', 'tflite-wasm', 'crop-legacy', m, 'grace_hopper.bmp.out'));
    const x = Float32Array.from(rgb, (p) => p * g.meta.inputRange!.scale + g.meta.inputRange!.offset);
    const [withClamps] = await runGraph(g, x, 1, 'js');
    const stripped: Graph = { ...g, nodes: g.nodes.map((n) => ({ ...n, clamp: undefined })) };
    const [withoutClamps] = await runGraph(stripped, x, 1, 'js');
    expect(argmax(withClamps)).toBe(argmax(ref));
    expect(argmax(withoutClamps)).not.toBe(argmax(ref));
  });
});

describe('TFLite importer on hand-built flatbuffers', () => {
  const SAME = 0;
  const VALID = 1;
  const RELU6 = 3;

  test('float32 CONV_2D(3x3/2 SAME, RELU6) -> DEPTHWISE(3x3) -> ADD const -> MEAN -> FULLY_CONNECTED -> SOFTMAX matches TF.js (seed 7, input [1,9,7,3])', async () => {
    const rand = seeded(7);
    const [H, W, C, K] = [9, 7, 3, 5];
    const convW = randn(rand, K * 3 * 3 * C, 0.5);
    const convB = randn(rand, K, 0.1);
    const dwW = randn(rand, 3 * 3 * K, 0.5);
    const dwB = randn(rand, K, 0.1);
    const addC = randn(rand, K, 0.3);
    const fcW = randn(rand, 4 * K, 0.5);
    const fcB = randn(rand, 4, 0.1);
    const oh = Math.ceil(H / 2);
    const ow = Math.ceil(W / 2);
    const tensors: TensorSpec[] = [
      { name: 'input', shape: [1, H, W, C] },
      { name: 'conv/w', shape: [K, 3, 3, C], data: convW },
      { name: 'conv/b', shape: [K], data: convB },
      { name: 'conv', shape: [1, oh, ow, K] },
      { name: 'dw/w', shape: [1, 3, 3, K], data: dwW },
      { name: 'dw/b', shape: [K], data: dwB },
      { name: 'dw', shape: [1, oh - 2, ow - 2, K] },
      { name: 'add/c', shape: [K], data: addC },
      { name: 'add', shape: [1, oh - 2, ow - 2, K] },
      { name: 'mean/axes', shape: [2], type: 2, data: Int32Array.of(1, 2) },
      { name: 'mean', shape: [1, K] },
      { name: 'fc/w', shape: [4, K], data: fcW },
      { name: 'fc/b', shape: [4], data: fcB },
      { name: 'fc', shape: [1, 4] },
      { name: 'softmax', shape: [1, 4] },
    ];
    const ops: OpSpec[] = [
      { code: 3, inputs: [0, 1, 2], outputs: [3], options: table(u8(SAME), i32(2), i32(2), u8(RELU6), i32(1), i32(1)) },
      { code: 4, inputs: [3, 4, 5], outputs: [6], options: table(u8(VALID), i32(1), i32(1), i32(1), u8(0), i32(1), i32(1)) },
      { code: 0, inputs: [6, 7], outputs: [8], options: table(u8(0)) },
      { code: 40, inputs: [8, 9], outputs: [10], options: table(u8(0)) },
      { code: 9, inputs: [10, 11, 12], outputs: [13], options: table(u8(0)) },
      { code: 25, inputs: [13], outputs: [14], options: table(f32(1)) },
    ];
    const g = importTflite(buildModel(tensors, ops, 0, 14), 'hand.tflite');
    expect(g.meta.outputKind).toBe('probabilities');
    expect(g.meta.inputRange).toBeUndefined();
    expect(g.shapes[g.embedding!]).toEqual([1, 1, K]);
    const x = randn(rand, H * W * C, 1);
    const [y, emb] = await runGraph(g, x, 1, 'js');

    const expected = tf.tidy(() => {
      const xt = tf.tensor4d(x, [1, H, W, C]);
      const cw = tf.transpose(tf.tensor4d(convW, [K, 3, 3, C]), [1, 2, 3, 0]);
      const conv = tf.clipByValue(tf.add(tf.conv2d(xt, cw as tf.Tensor4D, 2, 'same'), convB), 0, 6);
      const dw = tf.add(tf.depthwiseConv2d(conv as tf.Tensor4D, tf.tensor4d(dwW, [3, 3, K, 1]), 1, 'valid'), dwB);
      const pooled = tf.mean(tf.add(dw, addC), [1, 2]);
      const logits = tf.add(tf.matMul(pooled as tf.Tensor2D, tf.tensor2d(fcW, [4, K]), false, true), fcB);
      return [tf.softmax(logits).dataSync(), pooled.dataSync()];
    });
    for (let i = 0; i < 4; i++) expect(y[i]).toBeCloseTo(expected[0][i], 5);
    for (let i = 0; i < K; i++) expect(emb[i]).toBeCloseTo(expected[1][i], 5);
  });

  test('float16 weights behind DEQUANTIZE fold to the same graph output as float32 weights (seed 5, input [1,6,6,2])', async () => {
    const rand = seeded(5);
    // half bit patterns with their exact values
    const halves: [number, number][] = [[0x3c00, 1], [0xbc00, -1], [0x3800, 0.5], [0xb800, -0.5], [0x3400, 0.25], [0x0000, 0], [0x4000, 2], [0x3a00, 0.75]];
    const picks = Array.from({ length: 4 * 3 * 3 * 2 }, () => halves[Math.floor(rand() * halves.length)]);
    const w16 = Uint16Array.from(picks, (p) => p[0]);
    const w32 = Float32Array.from(picks, (p) => p[1]);
    const bias = randn(rand, 4, 0.1);
    const opts = () => table(u8(SAME), i32(1), i32(1), u8(0), i32(1), i32(1));
    const half = buildModel(
      [{ name: 'input', shape: [1, 6, 6, 2] }, { name: 'w16', shape: [4, 3, 3, 2], type: 1, data: new Uint8Array(w16.buffer) }, { name: 'w', shape: [4, 3, 3, 2] }, { name: 'b', shape: [4], data: bias }, { name: 'conv', shape: [1, 6, 6, 4] }],
      [{ code: 6, inputs: [1], outputs: [2] }, { code: 3, inputs: [0, 2, 3], outputs: [4], options: opts() }], 0, 4);
    const full = buildModel(
      [{ name: 'input', shape: [1, 6, 6, 2] }, { name: 'w', shape: [4, 3, 3, 2], data: w32 }, { name: 'b', shape: [4], data: bias }, { name: 'conv', shape: [1, 6, 6, 4] }],
      [{ code: 3, inputs: [0, 1, 2], outputs: [3], options: opts() }], 0, 3);
    const x = randn(rand, 6 * 6 * 2, 1);
    const [a] = await runGraph(importTflite(half, 'half.tflite'), x, 1, 'js');
    const [b] = await runGraph(importTflite(full, 'full.tflite'), x, 1, 'js');
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.some((v) => v !== 0)).toBe(true);
  });

  const tiny = (code: number, options?: Table, extra: TensorSpec[] = [], inputs = [0], outShape = [1, 4, 4, 3]) =>
    buildModel([{ name: 'input', shape: [1, 4, 4, 3] }, { name: 'out', shape: outShape }, ...extra], [{ code, inputs, outputs: [1], options }], 0, 1);

  test('an unsupported op (TANH) gives E_UNSUPPORTED_OP naming the op, the node and the file', () => {
    expect(() => importTflite(tiny(28), 'tanh.tflite')).toThrow(expect.objectContaining({
      code: 'E_UNSUPPORTED_OP', message: expect.stringMatching(/tanh\.tflite.*operator #0 TANH \("out"\)/),
    }));
  });

  test('an op code above 127 (builtin_code field) is resolved and reported by name or number', () => {
    expect(() => importTflite(tiny(150), 'new-op.tflite')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('builtin op 150') }));
  });

  test('options outside the contract: depth multiplier 2, dilation 2, non-global pool, tensor x tensor MUL', () => {
    const dw2 = buildModel(
      [{ name: 'input', shape: [1, 4, 4, 3] }, { name: 'w', shape: [1, 3, 3, 6], data: new Float32Array(54) }, { name: 'out', shape: [1, 4, 4, 6] }],
      [{ code: 4, inputs: [0, 1, -1], outputs: [2], options: table(u8(SAME), i32(1), i32(1), i32(2), u8(0), i32(1), i32(1)) }], 0, 2);
    expect(() => importTflite(dw2, 'dw2.tflite')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('depth multiplier 1') }));
    const dilated = buildModel(
      [{ name: 'input', shape: [1, 4, 4, 3] }, { name: 'w', shape: [2, 3, 3, 3], data: new Float32Array(54) }, { name: 'out', shape: [1, 4, 4, 2] }],
      [{ code: 3, inputs: [0, 1, -1], outputs: [2], options: table(u8(SAME), i32(1), i32(1), u8(0), i32(2), i32(2)) }], 0, 2);
    expect(() => importTflite(dilated, 'dilated.tflite')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('dilation 1') }));
    const pool = tiny(1, table(u8(VALID), i32(2), i32(2), i32(2), i32(2), u8(0)), [], [0], [1, 2, 2, 3]);
    expect(() => importTflite(pool, 'pool.tflite')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('global average pool') }));
    const mul = tiny(18, table(u8(0)), [], [0, 0]);
    expect(() => importTflite(mul, 'mul.tflite')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('MUL') }));
  });

  test('graph damage: out-of-range tensor index, a cycle, a dangling output, a wrong declared shape', () => {
    expect(() => importTflite(tiny(19, undefined, [], [7]), 'index.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('below 2') }));
    // op 0 reads t2, which only op 1 writes (from t1): a cycle in file order
    const cyclic = buildModel(
      [{ name: 'input', shape: [1, 4, 4, 3] }, { name: 'a', shape: [1, 4, 4, 3] }, { name: 'b', shape: [1, 4, 4, 3] }],
      [{ code: 19, inputs: [2], outputs: [1] }, { code: 19, inputs: [1], outputs: [2] }], 0, 2);
    expect(() => importTflite(cyclic, 'cyclic.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('cyclic or dangling') }));
    const dangling = buildModel([{ name: 'input', shape: [1, 4, 4, 3] }, { name: 'a', shape: [1, 4, 4, 3] }, { name: 'never', shape: [1, 4, 4, 3] }], [{ code: 19, inputs: [0], outputs: [1] }], 0, 2);
    expect(() => importTflite(dangling, 'dangling.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('dangling') }));
    expect(() => importTflite(tiny(19, undefined, [], [0], [1, 4, 4, 5]), 'shape.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('declared output shape') }));
    const huge = buildModel([{ name: 'input', shape: [1, 65536, 65536, 3] }, { name: 'a', shape: [1, 65536, 65536, 3] }], [{ code: 19, inputs: [0], outputs: [1] }], 0, 1);
    expect(() => importTflite(huge, 'huge.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('[1,65536,65536,3]') }));
  });
});

describe('TFLite importer on damaged files', () => {
  const m = 'mobilenet_v1_0.25_128_quant';
  const good = readModel(m);

  test('zero bytes, a short file and a wrong identifier give E_MODEL_FORMAT', () => {
    for (const [bytes, what] of [[new Uint8Array(0), '0 bytes'], [good.subarray(0, 5), '5 bytes'], [Uint8Array.from(good).fill(0x41, 4, 8), 'identifier']] as const) {
      expect(() => importTflite(bytes, 'bad.tflite')).toThrow(expect.objectContaining({ code: 'E_MODEL_FORMAT', message: expect.stringContaining(what) }));
    }
  });

  const cuts = [8, 64, 600, 4096, 100_000, 480_000, 490_000, 503_000, 503_800, 520_000, good.length - 1];
  test.each(cuts)(`${m} truncated to %i bytes gives MobileNetError`, async (cut) => {
    expect(await expectTypedFailureOrWorkingGraph(good.subarray(0, cut), `cut-${cut}.tflite`)).toBe('error');
  });

  test.each([1, 2, 3])('random bytes (seed %i, 4096 bytes, with and without the TFL3 identifier) give MobileNetError', async (seed) => {
    const rand = seeded(seed);
    const bytes = Uint8Array.from({ length: 4096 }, () => Math.floor(rand() * 256));
    expect(await expectTypedFailureOrWorkingGraph(bytes, `random-${seed}.tflite`)).toBe('error');
    bytes.set([0x54, 0x46, 0x4c, 0x33], 4);
    bytes.set([16, 0, 0, 0], 0);
    expect(await expectTypedFailureOrWorkingGraph(bytes, `random-tfl3-${seed}.tflite`)).toBe('error');
  });

  // weights dominate the file, so flips aimed at the structure (bytes outside every buffer) exercise the reader
  const fb = new FlatBuffer(good);
  const dataRanges = fb.tableVector(fb.root(), 4).map((b) => fb.bytesField(b, 0)).filter((d): d is Uint8Array => !!d && d.length > 0).map((d) => [d.byteOffset, d.byteOffset + d.length]);
  const structural: number[] = [];
  for (let p = 0; p < good.length; p++) if (!dataRanges.some(([a, b]) => p >= a && p < b)) structural.push(p);

  test.each([11, 12, 13, 14, 15, 16, 17, 18])(`${m} with 8 structural bits flipped (seed %i) loads or fails with MobileNetError`, async (seed) => {
    const rand = seeded(seed);
    const bytes = Uint8Array.from(good);
    const flipped: string[] = [];
    for (let i = 0; i < 8; i++) {
      const pos = structural[Math.floor(rand() * structural.length)];
      const bit = Math.floor(rand() * 8);
      bytes[pos] ^= 1 << bit;
      flipped.push(`${pos}.${bit}`);
    }
    await expectTypedFailureOrWorkingGraph(bytes, `flip-${seed}-${flipped.join('_')}.tflite`);
  });

  test.each([21, 22, 23])(`${m} with 64 bits flipped anywhere (seed %i) loads or fails with MobileNetError`, async (seed) => {
    const rand = seeded(seed);
    const bytes = Uint8Array.from(good);
    for (let i = 0; i < 64; i++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
    await expectTypedFailureOrWorkingGraph(bytes, `flip-anywhere-${seed}.tflite`);
  });
});
