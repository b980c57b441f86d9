// ImageNet sample evaluation shared by `npm run eval` and the accuracy tests: which models, which
// preprocessing, what the independent references measured, and the top-1/top-5 loop itself.
import { promises as fs } from 'fs';
import * as path from 'path';
import { load, type LoadOptions } from '../lib';
import { decodeImage } from '../lib/image';
import type { RgbImage } from '../lib/image/types';

export interface SamplePhoto {
  file: string;
  index1000: number;
  index1001: number;
}

export async function readGroundTruth(dataDir: string): Promise<SamplePhoto[]> {
  const text = await fs.readFile(path.join(dataDir, 'images', 'imagenet_samples', 'ground_truth.tsv'), 'utf8');
  return text.trim().split('\n').slice(1).map((line) => {
    const cols = line.split('\t');
    return { file: path.join(dataDir, 'images', 'imagenet_samples', cols[0]), index1000: Number(cols[3]), index1001: Number(cols[4]) };
  });
}

/** The TFLite interpreter's top-1 per photo (central 87.5% crop + legacy bilinear), from tflite-reference. */
export async function readInterpreterTop1(dataDir: string, model: string): Promise<Map<string, number>> {
  const file = path.join(dataDir, 'tflite-reference', 'samples-tflite-wasm-crop', `${model}.n500.tsv`);
  const out = new Map<string, number>();
  for (const line of (await fs.readFile(file, 'utf8')).trim().split('\n')) {
    const cols = line.split('\t');
    out.set(cols[0], Number(cols[2].split(' ')[0].split(':')[0]));
  }
  return out;
}

/** Decodes every photo once, so several models can be evaluated without decoding again. */
export async function decodeAll(photos: SamplePhoto[]): Promise<Map<string, RgbImage>> {
  const out = new Map<string, RgbImage>();
  for (const p of photos) out.set(p.file, await decodeImage(p.file));
  return out;
}

export interface EvalModel {
  /** Short name for tables. */
  name: string;
  /** Path relative to the data dir. */
  file: string;
  /** 'tflite' models are compared with the TFLite interpreter's own answers on the same photos. */
  tflite?: string;
  /** A preprocessing override, when the row measures a non-default preset. */
  preprocess?: LoadOptions['preprocess'];
  /** A published or independently measured top-1 on these 500 photos, with where it comes from. */
  reference?: { top1: number; source: string };
}

export const EVAL_MODELS: EvalModel[] = [
  { name: 'keras v1 0.25 (tfjs layers)', file: 'models/tfjs/mobilenet_v1_0.25_224_layers', reference: { top1: 0.544, source: 'TF.js 4.22, whole photo (MANIFEST §4)' } },
  { name: 'keras v1 0.75 (tfjs layers)', file: 'models/tfjs/mobilenet_v1_0.75_224_layers', reference: { top1: 0.832, source: 'TF.js 4.22, whole photo (MANIFEST §4)' } },
  { name: 'tf-hub v1 0.25 (tfjs graph)', file: 'models/tfjs/mobilenet_v1_0.25_224_graph_tfhub', reference: { top1: 0.524, source: 'TF.js 4.22, whole photo (MANIFEST §4)' } },
  { name: 'tflite v1 0.25/128 uint8', file: 'models/tflite/mobilenet_v1_0.25_128_quant.tflite', tflite: 'mobilenet_v1_0.25_128_quant' },
  { name: 'tflite v1 0.5/160 uint8', file: 'models/tflite/mobilenet_v1_0.5_160_quant.tflite', tflite: 'mobilenet_v1_0.5_160_quant' },
  { name: 'tflite v1 0.75/192 uint8', file: 'models/tflite/mobilenet_v1_0.75_192_quant.tflite', tflite: 'mobilenet_v1_0.75_192_quant' },
  { name: 'tflite v2 1.0/224 uint8', file: 'models/tflite/mobilenet_v2_1.0_224_quant.tflite', tflite: 'mobilenet_v2_1.0_224_quant' },
  { name: 'tflite v2 1.0/224 int8 (tf2 ptq)', file: 'models/tflite/tf2_mobilenet_v2_1.0_224_ptq.tflite', tflite: 'tf2_mobilenet_v2_1.0_224_ptq' },
  { name: 'tflite v3-small 1.0/224 uint8', file: 'models/tflite/mobilenet_v3_small_1.0_224_uint8.tflite', tflite: 'mobilenet_v3_small_1.0_224_uint8' },
];

export interface EvalResult {
  model: string;
  backend: string;
  photos: number;
  top1: number;
  top5: number;
  /** Our top-1 class per photo file (the model's own index). */
  predictions: Map<string, number>;
}

/**
 * Classifies photos in batches and counts top-1/top-5 hits against ground truth
 * (idx1001 for background models, idx1000 otherwise).
 */
export async function evaluate(dataDir: string, m: EvalModel, photos: SamplePhoto[], options: LoadOptions = {}, batch = 8, decoded?: Map<string, RgbImage>): Promise<EvalResult> {
  const model = await load(path.join(dataDir, m.file), { ...options, preprocess: m.preprocess ?? options.preprocess });
  try {
    let top1 = 0;
    let top5 = 0;
    const predictions = new Map<string, number>();
    for (let i = 0; i < photos.length; i += batch) {
      const chunk = photos.slice(i, i + batch);
      const results = await model.classifyBatch(chunk.map((p) => decoded?.get(p.file) ?? p.file), { topK: 5 });
      results.forEach((preds, k) => {
        const p = chunk[k];
        const truth = model.info.backgroundClass ? p.index1001 : p.index1000;
        predictions.set(path.basename(p.file), preds[0].index);
        if (preds[0].index === truth) top1++;
        if (preds.some((q) => q.index === truth)) top5++;
      });
    }
    return { model: m.name, backend: model.backend.name, photos: photos.length, top1: top1 / photos.length, top5: top5 / photos.length, predictions };
  } finally {
    model.dispose();
  }
}
