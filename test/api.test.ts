// The public API end to end on real files: load from every kind of source, classify the classic photos,
// concurrency, and every user-facing error as a MobileNetError with its code.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { load, backends, MobileNetError, type Model } from '../lib';
import { dataPath } from './helpers/data';
import { fastestBackend } from './helpers/run';

const V2 = dataPath('models', 'tflite', 'mobilenet_v2_1.0_224_quant.tflite');
const HUB = dataPath('models', 'tfjs', 'mobilenet_v1_0.25_224_graph_tfhub');
const classic = (name: string) => dataPath('images', 'classic', name);

async function expectError(p: Promise<unknown> | (() => unknown), code: string, pattern?: RegExp): Promise<MobileNetError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MobileNetError);
  expect((err as MobileNetError).code).toBe(code);
  if (pattern) expect((err as Error).message).toMatch(pattern);
  return err as MobileNetError;
}

describe('MobileNet V2 uint8 TFLite through classify', () => {
  let model: Model;
  beforeAll(async () => {
    model = await load(V2, { backend: await fastestBackend() });
  });
  afterAll(() => model.dispose());

  test('grace_hopper.bmp -> "military uniform" first', async () => {
    const [best] = await model.classify(classic('grace_hopper.bmp'), { topK: 5 });
    expect(best.label).toBe('military uniform');
    expect(best.index).toBe(653);
  });

  test('cat.bmp has "Egyptian cat" or "tiger cat" in its top 3', async () => {
    const top3 = (await model.classify(classic('cat.bmp'), { topK: 3 })).map((p) => p.label);
    expect(top3.some((l) => l === 'Egyptian cat' || l === 'tiger cat')).toBe(true);
  });

  test('hot_dog.jpg has "hotdog, hot dog, red hot" in its top 3', async () => {
    const top3 = (await model.classify(classic('hot_dog.jpg'), { topK: 3 })).map((p) => p.label);
    expect(top3).toContain('hotdog, hot dog, red hot');
  });

  test('the background class (index 0) never appears in top-k, probabilities descend', async () => {
    const preds = await model.classify(classic('parrot.jpg'), { topK: 1000 });
    expect(preds).toHaveLength(1000);
    expect(preds.every((p) => p.index !== 0)).toBe(true);
    for (let i = 1; i < preds.length; i++) expect(preds[i].probability).toBeLessThanOrEqual(preds[i - 1].probability);
  });

  test('embed returns the 1280 pooled features of V2 1.0', async () => {
    const v = await model.embed(classic('bird.bmp'));
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(1280);
    expect(model.info.embeddingSize).toBe(1280);
  });

  test('50 concurrent classify calls return exactly what 50 sequential calls return', async () => {
    const names = ['grace_hopper.bmp', 'cat.bmp', 'bird.bmp', 'dragonfly.bmp', 'hot_dog.jpg'];
    const images = Array.from({ length: 50 }, (_, i) => classic(names[i % names.length]));
    const sequential = [];
    for (const img of images) sequential.push(await model.classify(img, { topK: 5 }));
    const concurrent = await Promise.all(images.map((img) => model.classify(img, { topK: 5 })));
    expect(concurrent).toEqual(sequential);
  });

  test('classifyBatch equals one-by-one classify', async () => {
    const imgs = [classic('cat.bmp'), classic('bird.bmp'), classic('hot_dog.jpg')];
    const batch = await model.classifyBatch(imgs, { topK: 3 });
    for (let i = 0; i < imgs.length; i++) {
      const single = await model.classify(imgs[i], { topK: 3 });
      expect(batch[i].map((p) => p.index)).toEqual(single.map((p) => p.index));
      batch[i].forEach((p, k) => expect(p.probability).toBeCloseTo(single[k].probability, 5));
    }
  });

  test('infer rejects wrong shapes, wrong types and NaN with E_INPUT', async () => {
    await expectError(model.infer({ data: new Float32Array(10), shape: [1, 224, 224, 3] }), 'E_INPUT', /150528/);
    await expectError(model.infer({ data: new Float32Array(224 * 224 * 3), shape: [1, 200, 200, 3] }), 'E_INPUT', /\[N, 224, 224, 3\]/);
    await expectError(model.infer({ data: [1, 2, 3] as never, shape: [1, 1, 1, 3] }), 'E_INPUT');
    const nan = new Float32Array(224 * 224 * 3);
    nan[77] = NaN;
    await expectError(model.infer({ data: nan, shape: [1, 224, 224, 3] }), 'E_INPUT', /NaN/);
  });

  test('bad images and options are MobileNetErrors', async () => {
    await expectError(model.classify(classic('does_not_exist.jpg')), 'E_IO');
    await expectError(model.classify(Buffer.from('this is not an image at all')), 'E_IMAGE');
    const jpg = await fs.readFile(classic('hot_dog.jpg'));
    await expectError(model.classify(jpg.subarray(0, jpg.length >> 1)), 'E_IMAGE');
    await expectError(model.classify(classic('cat.bmp'), { topK: 0 }), 'E_ARG');
    await expectError(model.classifyBatch([]), 'E_ARG');
  });
});

describe('load', () => {
  test('from a Buffer and an ArrayBuffer gives the same answer as from a path', async () => {
    const bytes = await fs.readFile(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'));
    const a = await load(bytes, { backend: 'js' });
    const b = await load(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), { backend: 'js' });
    const input = { data: new Float32Array(128 * 128 * 3).fill(0.25), shape: [1, 128, 128, 3] };
    expect(Array.from((await a.infer(input)).data)).toEqual(Array.from((await b.infer(input)).data));
    a.dispose();
    b.dispose();
  });

  test('TF-Hub logits become softmax probabilities; the background class is skipped', async () => {
    const model = await load(HUB, { backend: await fastestBackend() });
    expect(model.info.outputKind).toBe('logits');
    const preds = await model.classify(classic('parrot.jpg'), { topK: 1000 });
    const sum = preds.reduce((s, p) => s + p.probability, 0);
    expect(sum).toBeGreaterThan(0.95);
    expect(sum).toBeLessThanOrEqual(1.0001);
    expect(preds[0].index).toBe(89); // macaw in idx1001, as TF.js finds (MANIFEST §4)
    model.dispose();
  });

  test('an architecture spec builds a random-weight model', async () => {
    const model = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed: 3 }, { backend: 'js' });
    expect(model.info.inputShape).toEqual([64, 64, 3]);
    const out = await model.infer({ data: new Float32Array(64 * 64 * 3), shape: [1, 64, 64, 3] });
    expect(out.shape).toEqual([1, 1000]);
    model.dispose();
  });

  test('labels option: array and file; wrong count is E_ARG', async () => {
    const labels = Array.from({ length: 1001 }, (_, i) => `L${i}`);
    const m = await load(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'), { backend: 'js', labels });
    expect(m.labels![5]).toBe('L5');
    m.dispose();
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mbn-')), 'labels.txt');
    await fs.writeFile(file, labels.join('\n') + '\n');
    const m2 = await load(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'), { backend: 'js', labels: file });
    expect(m2.labels![1000]).toBe('L1000');
    m2.dispose();
    await expectError(load(dataPath('models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'), { backend: 'js', labels: ['a', 'b'] }), 'E_ARG', /1001 labels/);
  });

  test('bad sources and options are MobileNetErrors', async () => {
    await expectError(load('/nonexistent/model.tflite'), 'E_IO');
    await expectError(load(42 as never), 'E_ARG');
    await expectError(load(V2, { backend: 'gpu' as never }), 'E_ARG', /auto, wasm, native/);
    await expectError(load(V2, { threads: 0 }), 'E_ARG');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mbn-'));
    const empty = path.join(dir, 'empty.tflite');
    await fs.writeFile(empty, '');
    await expectError(load(empty), 'E_MODEL_FORMAT', /empty/);
    const text = path.join(dir, 'notes.txt');
    await fs.writeFile(text, 'hello world, not a model');
    await expectError(load(text), 'E_MODEL_FORMAT');
  });

  test('a disposed model rejects with E_DISPOSED', async () => {
    const m = await load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32 }, { backend: 'js' });
    m.dispose();
    await expectError(m.infer({ data: new Float32Array(32 * 32 * 3), shape: [1, 32, 32, 3] }), 'E_DISPOSED');
  });

  test('backends() lists every backend, js always available', async () => {
    const list = await backends();
    expect(list.map((b) => b.name)).toEqual(['native', 'wasm-relaxed', 'wasm-simd', 'js']);
    expect(list.find((b) => b.name === 'js')!.available).toBe(true);
    for (const b of list) if (!b.available) expect(b.reason).toMatch(/\w/);
  });
});
