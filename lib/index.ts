// Public API: load a MobileNet from a file, URL, buffer, registry name or architecture spec, then
// classify, embed or infer. Never knows which backend runs or which file format was read.
import { promises as fs } from 'fs';
import { MobileNetError, describeValue } from './errors';
import { getBackend } from './backends';
import { BACKEND_NAMES, type Availability, type BackendName } from './backends/types';
import { checkBackendChoice, compileWithFallback, type BackendChoice } from './backends/select';
import { compileAuto } from './backends/auto';
import { fuseActivations } from './graph/optimize';
import { planGraph } from './graph/plan';
import { presetFor } from './image';
import type { PreprocessOptions } from './image/types';
import { Model } from './model';
import { checkLabelArray, parseLabelText } from './labels';
import { resolveSource, type ModelSource } from './source';

export { MobileNetError } from './errors';
export type { MobileNetErrorCode } from './errors';
export { Model } from './model';
export type { Prediction, Tensor, ModelInfo, BackendInfo } from './model';
export type { ImageInput, RawPixels, PreprocessOptions } from './image/types';
export type { ArchitectureSpec } from './models';
export type { BackendName, Availability } from './backends/types';
export type { BackendChoice } from './backends/select';

export type { ModelSource } from './source';

export interface LoadOptions {
  /** 'auto' (default, or $MOBILENET_BACKEND), 'native', 'wasm', 'wasm-relaxed', 'wasm-simd' or 'js'. */
  backend?: BackendChoice;
  /** Intra-op threads (native); default: the machine's available parallelism. */
  threads?: number;
  /** Class labels, or the path of a text file with one label per line. */
  labels?: string[] | string;
  /** A preset name ('tflite', 'keras', 'tfhub', 'nsfwjs', 'torchvision') or options overriding the file's default. */
  preprocess?: string | Partial<PreprocessOptions>;
}

async function readLabels(labels: string[] | string): Promise<string[]> {
  if (Array.isArray(labels)) return checkLabelArray(labels);
  let text: string;
  try {
    text = await fs.readFile(labels, 'utf8');
  } catch {
    throw new MobileNetError('E_IO', `Expected a readable label file at ${labels}, received no such file. Check the path.`);
  }
  return parseLabelText(text);
}

/**
 * Loads a MobileNet and compiles it on the best backend (or the one you ask for).
 *
 * @example
 * const model = await load('mobilenet_v2');                       // registry name (downloads once, verified)
 * const local = await load('models/mobilenet_v2_1.0_224_quant.tflite', { backend: 'native' });
 * const random = await load({ arch: 'mobilenet_v3_small', resolution: 160, seed: 1 });
 * console.log((await local.classify('cat.jpg'))[0].label);
 */
export async function load(source: ModelSource, options: LoadOptions = {}): Promise<Model> {
  if (typeof options !== 'object' || options === null) throw new MobileNetError('E_ARG', `Expected options to be an object, received ${describeValue(options)}. Pass e.g. {backend: 'auto'}.`);
  const choice = checkBackendChoice(options.backend ?? process.env.MOBILENET_BACKEND ?? 'auto');
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 256)) {
    throw new MobileNetError('E_ARG', `Expected threads to be an integer from 1 to 256, received ${describeValue(options.threads)}. Omit it to use every core.`);
  }
  const { graph: raw, labels: registryLabels } = await resolveSource(source);
  const graph = fuseActivations(raw);
  const plan = planGraph(graph);
  const preprocess = presetFor(graph.meta, options.preprocess);
  const labels = options.labels !== undefined ? await readLabels(options.labels) : registryLabels ?? graph.meta.labels;
  let exe;
  let notes: string[];
  if (choice === 'auto') {
    const { exe: chosen, decision } = await compileAuto(plan, { threads: options.threads });
    exe = chosen;
    const timed = Object.entries(decision.timings).map(([n, ms]) => `${n}: ${ms!.toFixed(2)} ms`);
    notes = [
      decision.fromCache ? `auto: ${decision.chosen} (remembered for this model, machine and runtime)` : `auto: ${decision.chosen}${timed.length ? ` (timed ${timed.join(', ')})` : ''}`,
      ...decision.skipped,
    ];
  } else {
    const r = await compileWithFallback(plan, choice, { threads: options.threads });
    exe = r.exe;
    notes = r.failures;
  }
  try {
    return new Model(graph, plan, exe, preprocess, labels, notes);
  } catch (e) {
    exe.dispose();
    throw e;
  }
}

/**
 * Every backend with whether it can run here and, if not, why.
 *
 * @example
 * for (const b of await backends()) console.log(b.name, b.available ? 'ok' : b.reason);
 */
export async function backends(): Promise<Availability[]> {
  return Promise.all(BACKEND_NAMES.map((n: BackendName) => getBackend(n).availability()));
}
