// TF.js test utilities: the independent reference (tfjs-core + cpu backend + layers + converter) loading
// local model folders through a custom IOHandler (no network), in-memory saves, and photo tensors.
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
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
