// TF.js test utilities: the independent reference (tfjs-core + cpu backend + layers + converter) loading
// local model folders through a custom IOHandler (no network), in-memory saves, and photo tensors.
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { dataPath } from './data';

export { tf, tfl, tfc };

/** Selects TF.js's pure-JS CPU backend (tfjs-node is not used). */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  // the cpu backend's one-time "install tfjs-node" banner is noise in test logs
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
}

/** An in-memory TF.js model folder: the parsed model.json plus its shard files by relative path. */
export interface MemoryModel {
  json: Record<string, any>;
  files: Map<string, Uint8Array>;
}

/** Reads a model folder from disk: model.json and every shard it lists, names verbatim. */
export async function readModelDir(dir: string): Promise<MemoryModel> {
  const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
  const files = new Map<string, Uint8Array>();
  for (const group of json.weightsManifest) {
    for (const p of group.paths) files.set(p, new Uint8Array(await fs.readFile(path.join(dir, p))));
  }
  return { json, files };
}

/** A shard reader over a MemoryModel, failing like a missing file would. */
export function shardReader(model: MemoryModel): (p: string) => Promise<Uint8Array> {
  return async (p: string) => {
    const bytes = model.files.get(p);
    if (!bytes) throw new Error(`ENOENT: no such file "${p}"`);
    return bytes;
  };
}

/** A custom IOHandler serving a MemoryModel to tf.loadLayersModel / tfc.loadGraphModel. */
export function memoryIOHandler(model: MemoryModel): tf.io.IOHandler {
  return {
    load: async () => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const parts: Uint8Array[] = [];
      for (const group of model.json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) parts.push(model.files.get(p)!);
      }
      const total = parts.reduce((a, b) => a + b.length, 0);
      const data = new Uint8Array(total);
      let off = 0;
      for (const part of parts) {
        data.set(part, off);
        off += part.length;
      }
      return {
        modelTopology: model.json.modelTopology,
        format: model.json.format,
        generatedBy: model.json.generatedBy,
        convertedBy: model.json.convertedBy,
        weightSpecs: specs,
        weightData: data.buffer,
      };
    },
  };
}

/**
 * Saves a tfjs-layers model in memory in the layers format, splitting the weight bytes into `shards`
 * files (like the converter's 4 MB shards) so the importer's shard concatenation is exercised.
 */
export async function saveLayersModel(model: tfl.LayersModel, shards = 1): Promise<MemoryModel> {
  let saved: MemoryModel | undefined;
  await model.save(tf.io.withSaveHandler(async (a: tf.io.ModelArtifacts) => {
    const buffer = Array.isArray(a.weightData) ? tf.io.concatenateArrayBuffers(a.weightData) : a.weightData!;
    const bytes = new Uint8Array(buffer);
    const files = new Map<string, Uint8Array>();
    const paths: string[] = [];
    const step = Math.ceil(bytes.length / shards);
    for (let i = 0; i < shards; i++) {
      const name = `group1-shard${i + 1}of${shards}.bin`;
      paths.push(name);
      files.set(name, bytes.slice(i * step, Math.min(bytes.length, (i + 1) * step)));
    }
    saved = {
      json: { format: 'layers-model', generatedBy: a.generatedBy, convertedBy: a.convertedBy ?? null, modelTopology: a.modelTopology, weightsManifest: [{ paths, weights: a.weightSpecs }] },
      files,
    };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved!;
}

/**
 * TF.js running a model in a worker thread (see tfjs-reference-worker.js for why). `outputs` are extra
 * layer names (layers format, returned after the model output) or the node names to fetch (graph format).
 */
export class TfReference {
  /** Milliseconds the worker spent computing, summed over run() calls. */
  busyMs = 0;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void }>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { id: number; outputs?: Float32Array[]; error?: string; ms?: number }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.busyMs += m.ms ?? 0;
      if (m.error !== undefined) p.reject(new Error(`TF.js worker: ${m.error}`));
      else p.resolve(m.outputs ?? []);
    });
    worker.on('error', (e) => this.pending.forEach((p) => p.reject(e)));
  }

  static async start(model: MemoryModel, kind: 'layers' | 'graph', outputs: string[]): Promise<TfReference> {
    const worker = new Worker(path.join(__dirname, 'tfjs-reference-worker.js'), { workerData: { model, kind, outputs } });
    const ref = new TfReference(worker);
    await new Promise<Float32Array[]>((resolve, reject) => ref.pending.set(0, { resolve, reject }));
    return ref;
  }

  run(batch: Float32Array, shape: [number, number, number, number]): Promise<Float32Array[]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch, shape });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Photo files from the ImageNet samples: `count` spread evenly over the sorted list (deterministic). */
export async function samplePhotos(count: number, offset = 0): Promise<string[]> {
  const dir = dataPath('images', 'imagenet_samples');
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.JPEG')).sort();
  const step = files.length / count;
  return Array.from({ length: count }, (_, i) => path.join(dir, files[(Math.floor(i * step) + offset) % files.length]));
}

/** Decodes and resizes (stretch, no crop) each photo ONCE to size x size RGB bytes with sharp. */
export async function decodePhotos(files: string[], size: number): Promise<Uint8Array[]> {
  return Promise.all(files.map(async (f) => {
    const { data, info } = await sharp(f).rotate().toColourspace('srgb').removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${f}: expected 3 channels after decoding, got ${info.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  }));
}

/** Stacks RGB byte images into one NHWC float batch: real = pixel * scale + offset. */
export function toBatch(images: Uint8Array[], range: { scale: number; offset: number }): Float32Array {
  const per = images[0].length;
  const out = new Float32Array(per * images.length);
  images.forEach((img, n) => {
    for (let i = 0; i < per; i++) out[n * per + i] = img[i] * range.scale + range.offset;
  });
  return out;
}

/** Runs a TF.js layers model and returns [output, embedding-layer output] as flat arrays. */
export async function runTfLayers(model: tfl.LayersModel, embeddingLayer: string | undefined, batch: Float32Array, shape: [number, number, number, number]): Promise<Float32Array[]> {
  const probe = embeddingLayer
    ? tfl.model({ inputs: model.inputs, outputs: [model.outputs[0], model.getLayer(embeddingLayer).output as tfl.SymbolicTensor] })
    : model;
  const x = tf.tensor4d(batch, shape);
  try {
    const ys = probe.predict(x) as tf.Tensor | tf.Tensor[];
    const list = Array.isArray(ys) ? ys : [ys];
    const out = await Promise.all(list.map(async (y) => new Float32Array(await y.data())));
    list.forEach((y) => y.dispose());
    return out;
  } finally {
    x.dispose();
  }
}

/** Runs a TF.js graph model for the named output nodes; returns flat arrays in the same order. */
export async function runTfGraph(model: tfc.GraphModel, outputs: string[], batch: Float32Array, shape: [number, number, number, number]): Promise<Float32Array[]> {
  const x = tf.tensor4d(batch, shape);
  try {
    const ys = model.execute(x, outputs) as tf.Tensor | tf.Tensor[];
    const list = Array.isArray(ys) ? ys : [ys];
    const out = await Promise.all(list.map(async (y) => new Float32Array(await y.data())));
    list.forEach((y) => y.dispose());
    return out;
  } finally {
    x.dispose();
  }
}

/** Deterministic PRNG (mulberry32) so a printed seed reproduces a random model exactly. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a random Keras MobileNet looks like; printed in test names. */
export interface RandomNetConfig {
  arch: 'v1' | 'v2';
  alpha: number;
  resolution: number;
  /** stride-2 convs: TF 'same', or Keras 2.2.4's ZeroPadding2D + 'valid' */
  stride2: 'same' | 'zeropad';
  /** relu6 as Activation('relu6') or as a ReLU(max_value=6) layer */
  relu6: 'activation' | 'layer';
  classes: number;
  /** weight shards the saved model is split into */
  shards: number;
}

/** Draws a random config from a seed: alpha, resolution 32-96 (odd sizes too), padding style, relu form. */
export function randomNetConfig(arch: 'v1' | 'v2', seed: number): RandomNetConfig {
  const r = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  return {
    arch,
    alpha: pick(arch === 'v1' ? [0.25, 0.5, 0.75, 1] : [0.35, 0.5, 0.75, 1]),
    resolution: 32 + Math.floor(r() * 65),
    stride2: pick(['same', 'zeropad'] as const),
    relu6: pick(['activation', 'layer'] as const),
    classes: 5 + Math.floor(r() * 20),
    shards: 1 + Math.floor(r() * 3),
  };
}

const makeDivisible = (v: number, d = 8): number => {
  const n = Math.max(d, Math.floor((v + d / 2) / d) * d);
  return n < 0.9 * v ? n + d : n;
};

/**
 * Builds a Keras-applications-style MobileNet V1 or V2 with tfjs-layers (functional API, BN unfolded),
 * then overwrites every weight from the seeded PRNG: kernels scaled by fan-in, random BN statistics,
 * and some BN layers with center/scale disabled.
 */
export function buildRandomKerasMobileNet(cfg: RandomNetConfig, seed: number): tfl.LayersModel {
  const r = mulberry32(seed ^ 0x9e3779b9);
  const L = tfl.layers;
  const input = tfl.input({ shape: [cfg.resolution, cfg.resolution, 3] });
  let x: tfl.SymbolicTensor = input;
  const apply = (layer: tfl.layers.Layer, t: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(t) as tfl.SymbolicTensor;
  const bn = (t: tfl.SymbolicTensor) => apply(L.batchNormalization({ epsilon: 1e-3, center: r() > 0.15, scale: r() > 0.15 }), t);
  const relu6 = (t: tfl.SymbolicTensor) => apply(cfg.relu6 === 'layer' ? L.reLU({ maxValue: 6 }) : L.activation({ activation: 'relu6' }), t);
  /** Keras correct_pad for a 3x3 stride-2 conv: (0,1) on even sizes, (1,1) on odd ones. */
  const strided = (t: tfl.SymbolicTensor, make: (padding: 'same' | 'valid') => tfl.layers.Layer) => {
    if (cfg.stride2 === 'same') return apply(make('same'), t);
    const [h, w] = t.shape.slice(1, 3) as number[];
    const padded = apply(L.zeroPadding2d({ padding: [[1 - (h % 2 === 0 ? 1 : 0), 1], [1 - (w % 2 === 0 ? 1 : 0), 1]] }), t);
    return apply(make('valid'), padded);
  };
  const conv = (t: tfl.SymbolicTensor, filters: number, k: number, stride: number) =>
    stride === 2 ? strided(t, (padding) => L.conv2d({ filters, kernelSize: k, strides: 2, padding, useBias: false, kernelInitializer: 'zeros' }))
      : apply(L.conv2d({ filters, kernelSize: k, strides: 1, padding: 'same', useBias: false, kernelInitializer: 'zeros' }), t);
  const dw = (t: tfl.SymbolicTensor, stride: number) =>
    stride === 2 ? strided(t, (padding) => L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding, useBias: false, depthwiseInitializer: 'zeros' }))
      : apply(L.depthwiseConv2d({ kernelSize: 3, strides: 1, padding: 'same', useBias: false, depthwiseInitializer: 'zeros' }), t);

  if (cfg.arch === 'v1') {
    x = relu6(bn(conv(x, Math.floor(32 * cfg.alpha), 3, 2)));
    const blocks: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]];
    for (const [f, s] of blocks) {
      x = relu6(bn(dw(x, s)));
      x = relu6(bn(conv(x, Math.floor(f * cfg.alpha), 1, 1)));
    }
    const c = x.shape[3] as number;
    x = apply(L.globalAveragePooling2d({}), x);
    x = apply(L.reshape({ targetShape: [1, 1, c] }), x);
    x = apply(L.dropout({ rate: 1e-3 }), x);
    x = apply(L.conv2d({ filters: cfg.classes, kernelSize: 1, padding: 'same', kernelInitializer: 'zeros' }), x);
    x = apply(L.activation({ activation: 'softmax' }), x);
    x = apply(L.reshape({ targetShape: [cfg.classes] }), x);
  } else {
    x = relu6(bn(conv(x, makeDivisible(32 * cfg.alpha), 3, 2)));
    const blocks: [number, number, number][] = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6], [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
      [96, 1, 6], [96, 1, 6], [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
    for (const [f, s, e] of blocks) {
      const cin = x.shape[3] as number;
      const out = makeDivisible(Math.floor(f * cfg.alpha));
      let y = x;
      if (e !== 1) y = relu6(bn(conv(y, cin * e, 1, 1)));
      y = relu6(bn(dw(y, s)));
      y = bn(conv(y, out, 1, 1));
      x = cin === out && s === 1 ? apply(L.add(), [x, y]) : y;
    }
    x = relu6(bn(conv(x, cfg.alpha > 1 ? makeDivisible(1280 * cfg.alpha) : 1280, 1, 1)));
    x = apply(L.globalAveragePooling2d({}), x);
    x = apply(L.dense({ units: cfg.classes, activation: 'softmax', kernelInitializer: 'zeros' }), x);
  }
  const model = tfl.model({ inputs: input, outputs: x });
  const u = (lo: number, hi: number) => lo + (hi - lo) * r();
  for (const layer of model.layers) {
    const specs = layer.getWeights();
    if (specs.length === 0) continue;
    const cls = layer.getClassName();
    const fresh = layer.weights.map((w, i) => {
      const shape = specs[i].shape;
      const n = specs[i].size;
      const values = new Float32Array(n);
      const kind = w.name.split('/').pop()!;
      if (cls === 'BatchNormalization') {
        const [lo, hi] = kind.startsWith('gamma') ? [0.5, 1.5] : kind.startsWith('moving_variance') ? [0.3, 1.5] : [-0.3, 0.3];
        for (let k = 0; k < n; k++) values[k] = u(lo, hi);
      } else if (shape.length > 1) {
        const fanIn = cls === 'DepthwiseConv2D' ? shape[0]! * shape[1]! : n / shape[shape.length - 1]!;
        const a = Math.sqrt(3 / fanIn); // unit-variance outputs: keeps float32 rounding in TF.js small over 50+ layers
        for (let k = 0; k < n; k++) values[k] = u(-a, a);
      } else {
        for (let k = 0; k < n; k++) values[k] = u(-0.1, 0.1);
      }
      return tf.tensor(values, shape);
    });
    layer.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
  return model;
}
