// The model registry: short names for public MobileNet files, each pinned to a commit URL and a sha256,
// downloaded once into a cache (or fetched from $MOBILENET_MODEL_MIRROR) and verified before use. The default
// model ships inside the package (models/), so it never needs the network.
import { promises as fs } from 'fs';
import * as path from 'path';
import { cacheDir } from './cache';
import { MobileNetError } from './errors';
import { hashFile, isHttpUrl, toFilePath, transferVerified, TransferError } from './download';
import { parseLabelText } from './labels';

/** One file the registry can fetch. */
export interface RegistryFile {
  /** Path under a mirror and under the cache folder; for GitHub sources, `owner/repo/commit/path`. */
  relativePath: string;
  sha256: string;
  bytes: number;
}

/** One registry model, as `registryEntries()` lists it. */
export interface RegistryEntry {
  name: string;
  /** Other names that resolve to this entry (e.g. 'mobilenet_v2' for the default V2). */
  aliases: string[];
  description: string;
  /** The public download URL of the original file. */
  url: string;
  model: RegistryFile;
  /** Where labels come from: embedded in the model file, or a separate file with its own URL. */
  labels: 'embedded' | (RegistryFile & { url: string });
  license: string;
  /** The copy inside the package, for the model that ships with it (no download, no cache). */
  bundledPath?: string;
}

/** How far a registry download has come; `load()` passes it to its `onProgress` option. */
export interface DownloadProgress {
  /** The file being fetched, e.g. 'mobilenet_v3_small_1.0_224.uint8.tflite'. */
  file: string;
  received: number;
  total: number;
}

export interface ResolveOptions {
  /** Called as bytes of a download arrive; never called for a cache hit or the bundled default. */
  onProgress?: (progress: DownloadProgress) => void;
}

/** The model `load()` and the CLI use when none is named. */
export const DEFAULT_MODEL = 'mobilenet_v2';

/** Original files live at raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>; tests point this elsewhere. */
const PUBLIC_ORIGIN = 'https://raw.githubusercontent.com';
const CORAL = 'google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41';
const KEN_UNGER = 'ken-unger/tflite/4f1b3949b40c55c493d774a30b796c3751367eee';

// Hashes and sizes are the ones MANIFEST.md records for the byte-identical copies in the data kit.
const CORAL_LABELS: RegistryFile = {
  relativePath: `${CORAL}/imagenet_labels.txt`,
  sha256: 'b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1',
  bytes: 21686,
};

interface EntrySpec {
  name: string;
  aliases: string[];
  description: string;
  model: RegistryFile;
  labels: 'embedded' | RegistryFile;
  license: string;
  /** Path under the package root of the byte-identical copy the package ships (see NOTICE). */
  bundled?: string;
}

/** The package root: lib/ (source) and dist/ (compiled) both sit one level below it. */
const PACKAGE_ROOT = path.resolve(__dirname, '..');

const CORAL_LICENSE = 'Apache-2.0 (google-coral/test_data; TF-slim MobileNet weights by Google)';

const ENTRIES: readonly EntrySpec[] = [
  {
    name: 'mobilenet_v1_0.25_128',
    aliases: ['mobilenet_v1_0.25_128_quant'],
    description: 'MobileNet V1, alpha 0.25, 128x128, uint8 TFLite (TF1 quantization-aware training), 1001 classes',
    model: { relativePath: `${CORAL}/mobilenet_v1_0.25_128_quant.tflite`, sha256: 'cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785', bytes: 525598 },
    labels: 'embedded',
    license: CORAL_LICENSE,
  },
  {
    name: 'mobilenet_v1_0.5_160',
    aliases: ['mobilenet_v1_0.5_160_quant'],
    description: 'MobileNet V1, alpha 0.5, 160x160, uint8 TFLite (TF1 quantization-aware training), 1001 classes',
    model: { relativePath: `${CORAL}/mobilenet_v1_0.5_160_quant.tflite`, sha256: '3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43', bytes: 1392846 },
    labels: 'embedded',
    license: CORAL_LICENSE,
  },
  {
    name: 'mobilenet_v1_0.75_192',
    aliases: ['mobilenet_v1_0.75_192_quant'],
    description: 'MobileNet V1, alpha 0.75, 192x192, uint8 TFLite (TF1 quantization-aware training), 1001 classes',
    model: { relativePath: `${CORAL}/mobilenet_v1_0.75_192_quant.tflite`, sha256: '41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a', bytes: 2652542 },
    labels: 'embedded',
    license: CORAL_LICENSE,
  },
  {
    name: 'mobilenet_v2_1.0_224',
    aliases: [DEFAULT_MODEL, 'mobilenet_v2_1.0_224_quant'],
    description: 'MobileNet V2, alpha 1.0, 224x224, uint8 TFLite (TF1 quantization-aware training), 1001 classes; the default model',
    model: { relativePath: `${CORAL}/mobilenet_v2_1.0_224_quant.tflite`, sha256: '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776', bytes: 3610798 },
    labels: 'embedded',
    license: CORAL_LICENSE,
    bundled: 'models/mobilenet_v2_1.0_224_quant.tflite',
  },
  {
    name: 'mobilenet_v2_int8',
    aliases: ['tf2_mobilenet_v2_1.0_224_ptq'],
    description: 'MobileNet V2, alpha 1.0, 224x224, TF2 post-training int8 TFLite (per-channel weights, uint8 I/O), 1001 classes',
    model: { relativePath: `${CORAL}/tf2_mobilenet_v2_1.0_224_ptq.tflite`, sha256: '5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c', bytes: 4070174 },
    labels: 'embedded',
    license: CORAL_LICENSE,
  },
  {
    name: 'mobilenet_v3_small',
    aliases: ['mobilenet_v3_small_1.0_224'],
    description: 'MobileNet V3-Small, multiplier 1.0, 224x224, uint8 TFLite (TF-slim 8-bit training), 1001 classes; labels from the coral list',
    model: {
      relativePath: `${KEN_UNGER}/tflite_model/image_classification/mobilenet_v3/mobilenet_v3_small_1.0_224.uint8.tflite`,
      sha256: 'da341cf06fa50127a72dcbeb140ee5ee98013630aa044260a4c3d45c43fc89ce',
      bytes: 2621808,
    },
    labels: CORAL_LABELS,
    license: 'Apache-2.0 (TF model garden MobileNetV3 checkpoints by Google; hosted in ken-unger/tflite)',
  },
];

/** Where original files are downloaded from; MOBILENET_REGISTRY_ORIGIN exists so tests never reach the internet. */
function origin(): string {
  return (process.env.MOBILENET_REGISTRY_ORIGIN || PUBLIC_ORIGIN).replace(/\/+$/, '');
}

function originalUrl(file: RegistryFile): string {
  return `${origin()}/${file.relativePath}`;
}

function findEntry(name: string): EntrySpec | undefined {
  const key = name.trim().toLowerCase();
  return ENTRIES.find((e) => e.name === key || e.aliases.includes(key));
}

/**
 * Whether `name` is a registry model name or alias (case-insensitive).
 *
 * @example
 * isRegistryName('mobilenet_v2'); // true
 * isRegistryName('./model.tflite'); // false
 */
export function isRegistryName(name: string): boolean {
  return typeof name === 'string' && findEntry(name) !== undefined;
}

/**
 * Every registry model with its aliases, original URL, sha256 and label source.
 *
 * @example
 * for (const e of registryEntries()) console.log(e.name, e.aliases.join(', '), e.url);
 */
export function registryEntries(): RegistryEntry[] {
  return ENTRIES.map((e) => ({
    name: e.name,
    aliases: [...e.aliases],
    description: e.description,
    url: originalUrl(e.model),
    model: { ...e.model },
    labels: e.labels === 'embedded' ? 'embedded' : { ...e.labels, url: originalUrl(e.labels) },
    license: e.license,
    ...(e.bundled ? { bundledPath: path.join(PACKAGE_ROOT, e.bundled) } : {}),
  }));
}

/** Where a registry file lives in the cache: the same relative path as under a mirror, so a cache can serve as one. */
function cachePath(file: RegistryFile): string {
  return path.join(cacheDir(), ...file.relativePath.split('/'));
}

/** The mirror location of a file: base URL (http, https, file://) or folder, joined with the relative path. */
function mirrorSource(mirror: string, file: RegistryFile): string {
  if (isHttpUrl(mirror)) return `${mirror.replace(/\/+$/, '')}/${file.relativePath.split('/').map(encodeURIComponent).join('/')}`;
  return path.join(toFilePath(mirror), ...file.relativePath.split('/'));
}

/** $MOBILENET_MODEL_MIRROR, checked: a scheme we cannot fetch would otherwise read as a strange folder name. */
function mirrorSetting(): string | undefined {
  const mirror = process.env.MOBILENET_MODEL_MIRROR?.trim();
  if (!mirror) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(mirror) && !/^(https?|file):\/\//i.test(mirror)) {
    throw new MobileNetError(
      'E_ARG',
      `Expected MOBILENET_MODEL_MIRROR to be an http://, https:// or file:// URL or a folder path, received ${JSON.stringify(mirror)}. Set it to e.g. https://models.example.com/mobilenet or /srv/mobilenet-mirror.`,
    );
  }
  return mirror;
}

// Cached files already hashed by this process (path -> "size:mtime"): a second load pays one stat, not a hash.
const verified = new Map<string, string>();
// One transfer per destination at a time, so concurrent loads of one model share a single download.
const inFlight = new Map<string, Promise<void>>();

async function cachedCopyIsGood(dest: string, file: RegistryFile): Promise<boolean> {
  const stat = await fs.stat(dest).catch(() => undefined);
  if (!stat || !stat.isFile()) return false;
  const stamp = `${stat.size}:${stat.mtimeMs}`;
  if (stat.size === file.bytes && verified.get(dest) === stamp) return true;
  if (stat.size === file.bytes && (await hashFile(dest)).sha256 === file.sha256) {
    verified.set(dest, stamp);
    return true;
  }
  // A truncated or altered cache file is worth one fresh download, never a silent wrong model.
  verified.delete(dest);
  await fs.rm(dest, { force: true });
  return false;
}

function downloadFailure(entryName: string, file: RegistryFile, dest: string, source: string, mirror: string | undefined, err: TransferError): MobileNetError {
  const fileName = path.posix.basename(file.relativePath);
  const what = `${fileName} for ${entryName} (${file.bytes} bytes, sha256 ${file.sha256})`;
  const url = originalUrl(file);
  let received: string;
  if (err.kind === 'mismatch') received = `${err.message} from ${source}; the partial file was deleted`;
  else if (err.kind === 'missing') received = `${err.message} for ${source}`;
  else received = `a failed transfer from ${source}: ${err.message}`;
  const manual = `download ${url}, check its sha256 is ${file.sha256} and save it as ${dest}`;
  const todo = mirror
    ? `Put the file at ${mirrorSource(mirror, file)} on the mirror (MOBILENET_MODEL_MIRROR=${mirror} + ${file.relativePath}), or unset MOBILENET_MODEL_MIRROR, or ${manual}.`
    : `To fix it, ${manual}; or set MOBILENET_MODEL_MIRROR to a base URL or folder holding ${file.relativePath}.`;
  return new MobileNetError('E_DOWNLOAD', `Expected ${what}, received ${received}. ${todo.charAt(0).toUpperCase()}${todo.slice(1)}`, {
    name: entryName,
    url,
    source,
    mirror,
    sha256: file.sha256,
    bytes: file.bytes,
    cachePath: dest,
    relativePath: file.relativePath,
    reason: err.kind,
  });
}

async function fetchToCache(entryName: string, file: RegistryFile, options: ResolveOptions): Promise<string> {
  const dest = cachePath(file);
  const pending = inFlight.get(dest);
  if (pending) {
    await pending;
    return dest;
  }
  const work = (async () => {
    if (await cachedCopyIsGood(dest, file)) return;
    const mirror = mirrorSetting();
    const source = mirror ? mirrorSource(mirror, file) : originalUrl(file);
    const name = path.posix.basename(file.relativePath);
    const report = options.onProgress;
    try {
      await transferVerified(source, dest, file, report ? { onProgress: (received, total) => report({ file: name, received, total }) } : {});
    } catch (e) {
      if (e instanceof TransferError) throw downloadFailure(entryName, file, dest, source, mirror, e);
      throw e;
    }
    const stat = await fs.stat(dest);
    verified.set(dest, `${stat.size}:${stat.mtimeMs}`);
  })();
  inFlight.set(dest, work);
  try {
    await work;
  } finally {
    inFlight.delete(dest);
  }
  return dest;
}

/** The package's own copy of a model, when it ships one and the file is whole (a trimmed install falls back to the download). */
async function bundledCopy(entry: EntrySpec): Promise<string | undefined> {
  if (!entry.bundled) return undefined;
  const file = path.join(PACKAGE_ROOT, entry.bundled);
  const stat = await fs.stat(file).catch(() => undefined);
  return stat && stat.isFile() && stat.size === entry.model.bytes ? file : undefined;
}

/**
 * Makes a registry model available locally (the copy the package ships, a cache hit, a mirror or a download,
 * always sha256-verified) and returns its path, plus its labels when they come from a separate file. Fails with
 * E_DOWNLOAD saying which file to get, its hash and where to put it.
 *
 * @example
 * const { path, labels } = await resolveRegistryModel('mobilenet_v3_small', { onProgress: (p) => console.log(p.received) });
 */
export async function resolveRegistryModel(name: string, options: ResolveOptions = {}): Promise<{ path: string; labels?: string[] }> {
  const entry = typeof name === 'string' ? findEntry(name) : undefined;
  if (!entry) {
    const names = ENTRIES.flatMap((e) => [e.name, ...e.aliases]).join(', ');
    throw new MobileNetError('E_ARG', `Expected a registry model name (${names}), received ${JSON.stringify(name)}. Use one of those names, or pass a file path or URL.`);
  }
  const modelPath = (await bundledCopy(entry)) ?? (await fetchToCache(entry.name, entry.model, options));
  if (entry.labels === 'embedded') return { path: modelPath };
  const labelPath = await fetchToCache(entry.name, entry.labels, options);
  return { path: modelPath, labels: parseLabelText(await fs.readFile(labelPath, 'utf8')) };
}

/**
 * The ImageNet class names the package ships (models/, see NOTICE): 1001 with "background" first, or the 1000
 * without it, for models that carry no labels of their own.
 *
 * @example
 * (await imagenetLabels(1001))[653]; // 'military uniform'
 */
export async function imagenetLabels(classes: 1000 | 1001): Promise<string[]> {
  const file = path.join(PACKAGE_ROOT, 'models', `imagenet_labels_${classes}.txt`);
  try {
    return parseLabelText(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new MobileNetError('E_IO', `Expected the ImageNet label list the package ships at ${file}, received ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Reinstall mobilenet-simd, or pass {labels}.`, { path: file });
  }
}

