// TF.js weights: validates a weightsManifest, reads each group's shards verbatim, checks their byte counts
// and decodes every entry (float32, int32, quantized uint8/uint16 affine, float16) to float32 or int32.
import { MobileNetError, describeValue } from '../errors';
import { halfToFloat } from './float16';

/** One decoded weight: float32 for real-valued tensors, int32 for integer constants (axes, shapes). */
export interface TfjsTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

/** Reads one path listed in weightsManifest[].paths, relative to model.json. */
export type ShardReader = (relativePath: string) => Promise<Uint8Array>;

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function formatError(where: string, expected: string, received: string, details?: Record<string, unknown>): MobileNetError {
  return new MobileNetError(
    'E_MODEL_FORMAT',
    `${where}: expected ${expected}, received ${received}. The model.json is malformed or was cut short; re-export or re-download the model.`,
    { file: where, ...details },
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one manifest entry's keys and returns it typed. */
function checkSpec(raw: unknown, where: string, group: number, index: number): WeightSpec {
  const at = `weightsManifest[${group}].weights[${index}]`;
  if (!isObject(raw)) throw formatError(where, `${at} to be an object`, describeValue(raw));
  const { name, shape, dtype, quantization } = raw;
  if (typeof name !== 'string') throw formatError(where, `${at}.name to be a string`, describeValue(name));
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw formatError(where, `${at}.shape ("${name}") to be a list of non-negative integers`, describeValue(shape), { weight: name });
  }
  if (typeof dtype !== 'string') throw formatError(where, `${at}.dtype ("${name}") to be a string`, describeValue(dtype), { weight: name });
  const spec: WeightSpec = { name, shape: shape as number[], dtype };
  if (quantization !== undefined) {
    if (!isObject(quantization) || typeof quantization.dtype !== 'string') {
      throw formatError(where, `${at}.quantization ("${name}") to be {dtype, min, scale}`, describeValue(quantization), { weight: name });
    }
    const q = quantization as { dtype: string; min?: unknown; scale?: unknown };
    if ((q.dtype === 'uint8' || q.dtype === 'uint16') && (typeof q.min !== 'number' || typeof q.scale !== 'number' || !Number.isFinite(q.min) || !Number.isFinite(q.scale))) {
      throw formatError(where, `numeric min and scale in the ${q.dtype} quantization of "${name}"`, `min ${describeValue(q.min)}, scale ${describeValue(q.scale)}`, { weight: name });
    }
    spec.quantization = { dtype: q.dtype, min: q.min as number | undefined, scale: q.scale as number | undefined };
  }
  const stored = spec.quantization?.dtype ?? dtype;
  if (STORED_BYTES[stored] === undefined || (spec.quantization && !['uint8', 'uint16', 'float16'].includes(stored))) {
    throw new MobileNetError(
      'E_UNSUPPORTED_OP',
      `${where}: weight "${name}" is stored as ${JSON.stringify(stored)}; expected float32, int32, bool, or quantized uint8/uint16/float16. Re-convert the model without this weight type.`,
      { file: where, weight: name },
    );
  }
  return spec;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

const elementCount = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);


function decode(spec: WeightSpec, bytes: Uint8Array): TfjsTensor {
  const n = elementCount(spec.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const integer = spec.dtype === 'int32' || spec.dtype === 'bool';
  const out = integer ? new Int32Array(n) : new Float32Array(n);
  const q = spec.quantization;
  if (q?.dtype === 'uint8' || q?.dtype === 'uint16') {
    // TF.js affine quantization: w = q * scale + min (per tensor); integer originals are rounded back.
    const scale = q.scale!;
    const min = q.min!;
    for (let i = 0; i < n; i++) {
      const v = (q.dtype === 'uint8' ? bytes[i] : view.getUint16(2 * i, true)) * scale + min;
      out[i] = integer ? Math.round(v) : v;
    }
  } else if (q?.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  } else if (spec.dtype === 'float32' || spec.dtype === 'int32') {
    if (LITTLE_ENDIAN) {
      // one copy; the slice makes the bytes 4-aligned whatever the shard's offset
      const src = bytes.slice(0, 4 * n);
      out.set(integer ? new Int32Array(src.buffer, 0, n) : new Float32Array(src.buffer, 0, n));
    } else if (integer) {
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
    } else {
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
  }
  return { name: spec.name, shape: spec.shape, dtype: integer ? 'int32' : 'float32', values: out };
}

async function readGroup(paths: string[], readShard: ShardReader, where: string, group: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const p of paths) {
    let bytes: Uint8Array;
    try {
      bytes = await readShard(p);
    } catch (e) {
      // a limit or a refused shard path says precisely what to do already; only a bare failure gets context
      if (e instanceof MobileNetError && e.code !== 'E_IO') throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new MobileNetError(
        'E_IO',
        `${where}: expected to read weight shard "${p}" (weightsManifest[${group}]), but reading it failed: ${reason} Keep every shard listed in model.json beside it, with its name unchanged.`,
        { file: where, shard: p },
      );
    }
    if (!(bytes instanceof Uint8Array)) {
      throw new MobileNetError('E_IO', `${where}: expected the bytes of weight shard "${p}", received ${describeValue(bytes)}. The shard reader must return a Uint8Array.`, { file: where, shard: p });
    }
    parts.push(bytes);
  }
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((a, b) => a + b.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const part of parts) {
    all.set(part, off);
    off += part.length;
  }
  return all;
}

/**
 * Reads and decodes every weight of a TF.js weightsManifest. Each group's shards are concatenated in the
 * listed order and must hold exactly the bytes its entries need (shape x stored dtype).
 *
 * @example
 * const weights = await readTfjsWeights(json.weightsManifest, (p) => fs.promises.readFile(path.join(dir, p)), 'model.json');
 * weights.get('conv1/kernel')?.shape; // [3, 3, 3, 8]
 */
export async function readTfjsWeights(manifest: unknown, readShard: ShardReader, where: string): Promise<Map<string, TfjsTensor>> {
  if (!Array.isArray(manifest)) throw formatError(where, 'weightsManifest to be a list of {paths, weights} groups', describeValue(manifest));
  const out = new Map<string, TfjsTensor>();
  for (let g = 0; g < manifest.length; g++) {
    const group = manifest[g];
    if (!isObject(group)) throw formatError(where, `weightsManifest[${g}] to be an object`, describeValue(group));
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.length > 0)) {
      throw formatError(where, `weightsManifest[${g}].paths to be a list of shard file names`, describeValue(paths));
    }
    if (!Array.isArray(weights)) throw formatError(where, `weightsManifest[${g}].weights to be a list`, describeValue(weights));
    const specs = weights.map((w, i) => checkSpec(w, where, g, i));
    const sizes = specs.map((s) => elementCount(s.shape) * STORED_BYTES[s.quantization?.dtype ?? s.dtype]);
    const need = sizes.reduce((a, b) => a + b, 0);
    const bytes = await readGroup(paths as string[], readShard, where, g);
    if (bytes.length !== need) {
      throw formatError(
        where,
        `the shards of weightsManifest[${g}] (${(paths as string[]).join(', ')}) to hold ${need} bytes (the sum of shape x dtype of its ${specs.length} weights)`,
        `${bytes.length} bytes (${bytes.length < need ? 'a short or truncated shard' : 'more than the manifest describes'})`,
        { shards: paths },
      );
    }
    let off = 0;
    specs.forEach((spec, i) => {
      out.set(spec.name, decode(spec, bytes.subarray(off, off + sizes[i])));
      off += sizes[i];
    });
  }
  return out;
}
