// Public API (the Node entry): load a MobileNet from a file, URL, buffer, registry name or architecture spec, then
// classify, embed or infer. Supplies only Node's I/O (fs, the registry) and its backend chain to the load core
// (load-core.ts); never knows which backend runs or which file format was read.
import { MobileNetError, describeValue } from './errors';
import { getBackend } from './backends';
import { BACKEND_NAMES, type Availability, type BackendName } from './backends/types';
import { candidatesFor, checkBackendChoice, type BackendChoice } from './backends/select';
import { compileAuto } from './backends/auto';
import type { PreprocessOptions } from './image/types';
import { compileModel, fallbackChain, type CompileStrategy } from './load-core';
import { Model } from './model';
import { readRegularFile } from './files';
import { checkLabelArray, parseLabelText } from './labels';
import { resolveLimits, type Limits } from './limits';
import { DEFAULT_MODEL, imagenetLabels, type DownloadProgress } from './registry';
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
export type { DownloadProgress } from './registry';
export type { LabelSource } from './model';
export type { Limits } from './limits';

export interface LoadOptions {
  /** 'auto' (default, or $MOBILENET_BACKEND), 'native', 'wasm', 'wasm-relaxed', 'wasm-simd' or 'js'. */
  backend?: BackendChoice;
  /** Intra-op threads (native); default: the machine's available parallelism. */
  threads?: number;
  /** Class labels, or the path of a text file with one label per line. */
  labels?: string[] | string;
  /** A preset name ('tflite', 'keras', 'tfhub', 'nsfwjs', 'torchvision') or options overriding the file's default. */
  preprocess?: string | Partial<PreprocessOptions>;
  /** Called as a registry download progresses (`mobilenet` draws its bar with it); silent by default. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Raises or lowers the resource limits for this load (file and download sizes and times, inference memory); see the README. */
  limits?: Partial<Limits>;
}

async function readLabels(labels: string[] | string, limits: Limits): Promise<string[]> {
  if (Array.isArray(labels)) return checkLabelArray(labels);
  if (typeof labels !== 'string' || labels.length === 0) throw new MobileNetError('E_ARG', `Expected labels to be an array of strings or the path of a text file, received ${describeValue(labels)}. Pass e.g. 'labels.txt'.`);
  // a label file belongs to its model: the model file's size limit bounds it too
  return parseLabelText(new TextDecoder().decode(await readRegularFile(labels, 'the label file', 'modelBytes', limits)));
}

/**
 * Loads a MobileNet and compiles it on the best backend (or the one you ask for).
 *
 * @example
 * const model = await load();                                     // the default model, shipped in the package
 * const v3 = await load('mobilenet_v3_small');                    // registry name (downloads once, verified)
 * const local = await load('models/mobilenet_v2_1.0_224_quant.tflite', { backend: 'native' });
 * const random = await load({ arch: 'mobilenet_v3_small', resolution: 160, seed: 1 });
 * console.log((await local.classify('cat.jpg'))[0].label);
 */
export async function load(source?: ModelSource, options: LoadOptions = {}): Promise<Model> {
  if (typeof options !== 'object' || options === null) throw new MobileNetError('E_ARG', `Expected options to be an object, received ${describeValue(options)}. Pass e.g. {backend: 'auto'}.`);
  const choice = checkBackendChoice(options.backend ?? process.env.MOBILENET_BACKEND ?? 'auto');
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 256)) {
    throw new MobileNetError('E_ARG', `Expected threads to be an integer from 1 to 256, received ${describeValue(options.threads)}. Omit it to use every core.`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new MobileNetError('E_ARG', `Expected onProgress to be a function ({file, received, total}) => void, received ${describeValue(options.onProgress)}. Pass a function or omit it.`);
  }
  const limits = resolveLimits(options.limits);
  const { graph, labels: registryLabels } = await resolveSource(source ?? DEFAULT_MODEL, { onProgress: options.onProgress, limits });
  const labels = options.labels !== undefined ? await readLabels(options.labels, limits) : undefined;
  return compileModel(graph, {
    labels,
    sourceLabels: registryLabels,
    imagenetLabels,
    preprocess: options.preprocess,
    compile: compileStrategy(choice, options.threads),
    limits,
    create: (...made) => new Model(...made),
  });
}

/** Node's backend chain: 'auto' times the candidates that could win; any other choice falls back in order. */
function compileStrategy(choice: BackendChoice, threads: number | undefined): CompileStrategy {
  if (choice !== 'auto') return fallbackChain(candidatesFor(choice), getBackend, { threads }, `for '${choice}'`);
  return async (plan) => {
    const { exe, decision } = await compileAuto(plan, { threads });
    const timed = Object.entries(decision.timings).map(([n, ms]) => `${n}: ${ms!.toFixed(2)} ms`);
    const summary = decision.fromCache ? `auto: ${decision.chosen} (remembered for this model, machine and runtime)` : `auto: ${decision.chosen}${timed.length ? ` (timed ${timed.join(', ')})` : ''}`;
    return { exe, notes: [summary, ...decision.skipped] };
  };
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
