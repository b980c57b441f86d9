// Browser entry (web pages, Electron renderers): load() a model from a URL, bytes or an {arch} spec and classify
// what a page holds, on the wasm backends (or js). Imports only modules free of Node built-ins; the bundle
// (scripts/build-browser.js) swaps lib/image/decode.ts for lib/browser/decode.ts.
import { MobileNetError, describeValue } from './errors';
import { jsBackend } from './backends/js';
import { setWasmLoader as useWasmLoader, wasmRelaxedBackend, wasmSimdBackend, type WasmBytesLoader, type WasmVariant } from './backends/wasm';
import type { Availability, Backend } from './backends/types';
import type { Graph } from './graph/types';
import type { ImageInput, PreprocessOptions } from './image/types';
import { shardUrl, type ModelBytes } from './importers/sniff';
import { compileModel, fallbackChain } from './load-core';
import { Model, type Prediction } from './model';
import { buildArchitecture, type ArchitectureSpec } from './models';
import type { BrowserImageInput } from './browser/decode';
import { fetchBytes } from './browser/fetch';
import { imagenetLabels } from './browser/imagenet';
import { checkLabelArray, parseLabelText } from './labels';

export { MobileNetError } from './errors';
export type { MobileNetErrorCode } from './errors';
export type { Prediction, Tensor, ModelInfo, BackendInfo } from './model';
export type { RawPixels, PreprocessOptions } from './image/types';
export type { ArchitectureSpec } from './models';
export type { Availability } from './backends/types';
export type { BrowserImageInput } from './browser/decode';
export type { WasmBytesLoader, WasmVariant } from './backends/wasm';
export { decodeImage } from './browser/decode';

/** The backends a browser can run: the two wasm builds and the reference kernels. */
export type BrowserBackendName = 'wasm-relaxed' | 'wasm-simd' | 'js';
/** 'auto' and 'wasm' try wasm-relaxed, then wasm-simd ('auto' then js), keeping every reason. */
export type BrowserBackendChoice = 'auto' | 'wasm' | BrowserBackendName;
const CHOICES: readonly BrowserBackendChoice[] = ['auto', 'wasm', 'wasm-relaxed', 'wasm-simd', 'js'];

/** A CSP refusal is the usual reason wasm cannot compile in a renderer; say how to allow it. */
function withCspHint(reason: string | undefined): string | undefined {
  return reason && /Content Security Policy/i.test(reason) && !/wasm-unsafe-eval/.test(reason)
    ? `${reason} Allow WebAssembly with 'wasm-unsafe-eval' in the page's script-src.`
    : reason;
}

/** A backend whose unavailability reason also says how to allow wasm under a CSP. */
function hinted(backend: Backend): Backend {
  return {
    ...backend,
    async availability() {
      const a = await backend.availability();
      return a.reason ? { ...a, reason: withCspHint(a.reason) } : a;
    },
  };
}

const BACKENDS: Record<BrowserBackendName, Backend> = {
  'wasm-relaxed': hinted(wasmRelaxedBackend),
  'wasm-simd': hinted(wasmSimdBackend),
  js: jsBackend,
};

/** A model URL (model.json or .tflite, relative to the page), .tflite bytes, a File/Blob, or an architecture spec. */
export type BrowserModelSource = string | URL | ArrayBuffer | Uint8Array | Blob | ArchitectureSpec;

export interface BrowserLoadOptions {
  /** 'auto' (default): wasm-relaxed, else wasm-simd, else js. */
  backend?: BrowserBackendChoice;
  /** Class labels, or the URL of a text file with one label per line. */
  labels?: string[] | string | URL;
  /** A preset name ('tflite', 'keras', 'tfhub', 'nsfwjs', 'torchvision') or options overriding the file's default. */
  preprocess?: string | Partial<PreprocessOptions>;
  /** Folder URL holding mobilenet-simd.wasm and mobilenet-relaxed.wasm; default: next to the bundle (or setWasmLoader's). */
  wasmUrl?: string | URL;
}

const FILE_OF: Record<WasmVariant, string> = { simd: 'mobilenet-simd.wasm', relaxed: 'mobilenet-relaxed.wasm' };
let wasmBase: string | undefined;
/** The folder the current loader fetches from, or 'custom' after setWasmLoader (then only wasmUrl replaces it). */
let loaderSource: string | undefined;

/**
 * Sets the folder URL the .wasm files are fetched from (the bundle sets it to its own folder).
 *
 * @example
 * setWasmUrl('/static/mobilenet/'); // serves /static/mobilenet/mobilenet-simd.wasm
 */
export function setWasmUrl(url: string | URL): void {
  wasmBase = new URL(String(url), pageUrl()).href;
  if (loaderSource !== 'custom') loaderSource = undefined;
}

/**
 * Supplies the .wasm bytes yourself, e.g. over Electron IPC when the page is a file:// URL that `fetch` cannot read.
 * The variant is 'simd' (mobilenet-simd.wasm) or 'relaxed' (mobilenet-relaxed.wasm).
 *
 * @example
 * setWasmLoader(async (variant) => new Uint8Array(await window.electronApi.readWasm(`mobilenet-${variant}.wasm`)));
 */
export function setWasmLoader(loader: WasmBytesLoader): void {
  if (typeof loader !== 'function') throw new MobileNetError('E_ARG', `Expected a function (variant) => Promise<Uint8Array>, received ${describeValue(loader)}. Pass an async function returning the .wasm bytes.`);
  loaderSource = 'custom';
  useWasmLoader(async (variant) => {
    const bytes: unknown = await loader(variant);
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    throw new Error(`the loader given to setWasmLoader returned ${describeValue(bytes)} for ${FILE_OF[variant]}, not a Uint8Array or ArrayBuffer`);
  });
}

function pageUrl(): string | undefined {
  return typeof location === 'object' && location ? location.href : undefined;
}

/** Points the wasm backend at fetched files, once per distinct folder (a new folder recompiles the modules). */
function useWasmFrom(wasmUrl: string | URL | undefined): void {
  if (wasmUrl === undefined && loaderSource === 'custom') return;
  const resolved = wasmUrl !== undefined ? new URL(String(wasmUrl), pageUrl()).href : wasmBase ?? pageUrl();
  if (resolved === undefined) return; // not a page: keep whatever loader is set (e.g. Node's file loader)
  if (resolved === loaderSource) return;
  loaderSource = resolved;
  useWasmLoader(async (variant) => {
    const url = new URL(FILE_OF[variant], resolved).href;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url} gave HTTP ${res.status}; serve the .wasm files from build/browser/ there, pass {wasmUrl}, or call setWasmLoader`);
    return new Uint8Array(await res.arrayBuffer());
  });
}

/** A browser source as the load core takes it: bytes (with a shard reader for a model.json URL) or a built graph. */
async function resolveSource(source: BrowserModelSource): Promise<ModelBytes | Graph> {
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), where: 'the model buffer' };
  if (source instanceof Uint8Array) return { bytes: source, where: 'the model buffer' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) return { bytes: new Uint8Array(await source.arrayBuffer()), where: (source as File).name || 'the model Blob' };
  if (typeof source === 'object' && source !== null && 'arch' in source) return buildArchitecture(source);
  if ((typeof source === 'string' && source.length > 0) || source instanceof URL) {
    const url = new URL(String(source), pageUrl()).href;
    const bytes = await fetchBytes(url, 'the model');
    return { bytes, where: url, readSibling: (rel) => fetchBytes(shardUrl(url, rel), 'the weight shard') };
  }
  throw new MobileNetError('E_ARG', `Expected a model URL, an ArrayBuffer/Uint8Array of a .tflite file, a Blob, or an {arch: ...} spec, received ${describeValue(source)}. Pass e.g. 'models/mobilenet_v2_1.0_224_quant.tflite'.`);
}

async function readLabels(labels: string[] | string | URL): Promise<string[]> {
  if (Array.isArray(labels)) return checkLabelArray(labels);
  if (typeof labels !== 'string' && !(labels instanceof URL)) throw new MobileNetError('E_ARG', `Expected labels to be an array of strings or the URL of a text file, received ${describeValue(labels)}. Pass e.g. 'labels.txt'.`);
  return parseLabelText(new TextDecoder().decode(await fetchBytes(new URL(String(labels), pageUrl()).href, 'the label file')));
}

function candidatesFor(choice: unknown): BrowserBackendName[] {
  if (choice === 'auto') return ['wasm-relaxed', 'wasm-simd', 'js'];
  if (choice === 'wasm') return ['wasm-relaxed', 'wasm-simd'];
  if (typeof choice === 'string' && (CHOICES as readonly string[]).includes(choice)) return [choice as BrowserBackendName];
  const native = choice === 'native' ? ' The native addon cannot load in a browser or renderer.' : '';
  throw new MobileNetError('E_ARG', `Expected backend to be one of ${CHOICES.join(', ')}, received ${JSON.stringify(choice)}.${native} Pick one of those names.`);
}

/** A loaded model in the browser: the Node Model, taking what a page holds as images. */
export class BrowserModel extends Model {
  /**
   * Classifies one image (URL, bytes, ImageData, raw pixels, Blob, <img>, ImageBitmap or canvas).
   *
   * @example
   * const [best] = await model.classify(document.querySelector('img')!, { topK: 3 });
   */
  override classify(image: BrowserImageInput, options?: { topK?: number }): Promise<Prediction[]> {
    return super.classify(image as ImageInput, options);
  }

  /**
   * Classifies several images in one inference call (one batch).
   *
   * @example
   * const results = await model.classifyBatch([imageData, bitmap], { topK: 1 });
   */
  override classifyBatch(images: BrowserImageInput[], options?: { topK?: number }): Promise<Prediction[][]> {
    return super.classifyBatch(images as ImageInput[], options);
  }

  /**
   * The globally pooled features that feed the classifier.
   *
   * @example
   * const vector = await model.embed(canvas);
   */
  override embed(image: BrowserImageInput): Promise<Float32Array> {
    return super.embed(image as ImageInput);
  }
}

/**
 * Loads a MobileNet in a web page or an Electron renderer and compiles it on wasm-relaxed, wasm-simd or js.
 *
 * @example
 * const model = await load('models/mobilenet_v2_1.0_224_quant.tflite');
 * const [best] = await model.classify(document.querySelector('img')!);
 * console.log(best.label, best.probability, model.backend.name); // e.g. 'tabby', 0.61, 'wasm-relaxed'
 */
export async function load(source: BrowserModelSource, options: BrowserLoadOptions = {}): Promise<BrowserModel> {
  if (typeof options !== 'object' || options === null) throw new MobileNetError('E_ARG', `Expected options to be an object, received ${describeValue(options)}. Pass e.g. {backend: 'auto'}.`);
  const candidates = candidatesFor(options.backend ?? 'auto');
  if (options.wasmUrl !== undefined && typeof options.wasmUrl !== 'string' && !(options.wasmUrl instanceof URL)) {
    throw new MobileNetError('E_ARG', `Expected wasmUrl to be a folder URL, received ${describeValue(options.wasmUrl)}. Pass e.g. '/static/mobilenet/'.`);
  }
  useWasmFrom(options.wasmUrl);
  const resolved = await resolveSource(source);
  const labels = options.labels !== undefined ? await readLabels(options.labels) : undefined;
  return compileModel(resolved, {
    labels,
    imagenetLabels,
    preprocess: options.preprocess,
    compile: fallbackChain(candidates, (name) => BACKENDS[name], {}, `among ${candidates.join(', ')}`),
    create: (...made) => new BrowserModel(...made),
  });
}

/**
 * The browser backends with whether each can run here and, if not, why.
 *
 * @example
 * for (const b of await backends()) console.log(b.name, b.available ? 'ok' : b.reason);
 */
export async function backends(options: { wasmUrl?: string | URL } = {}): Promise<Availability[]> {
  useWasmFrom(options.wasmUrl);
  return Promise.all((Object.keys(BACKENDS) as BrowserBackendName[]).map((n) => BACKENDS[n].availability()));
}
