// The resource limits on what users hand the package (file sizes, download size and time, inference memory), in one table: the
// defaults, the environment variable and the load() option that raise each, and the E_LIMIT error naming them.
import { MobileNetError } from './errors';

/** Every limit, in bytes or milliseconds. */
export interface Limits {
  /** A model file (.tflite or model.json) read from disk. */
  modelBytes: number;
  /** One TF.js weight shard. */
  shardBytes: number;
  /** An image file read from disk (before decoding; decoded size has its own pixel limit). */
  imageBytes: number;
  /** A model, shard or label file fetched by URL. */
  downloadBytes: number;
  /** A URL fetch that receives nothing for this long is abandoned (connecting included). */
  downloadIdleMs: number;
  /** A URL fetch that takes longer than this in all is abandoned. */
  downloadTotalMs: number;
  /** The working memory of one inference (the plan's arena times the batch), checked before any backend allocates it. */
  arenaBytes: number;
}

const MIB = 1024 * 1024;

/** Default, environment variable and what to raise, per limit. */
export const LIMITS: Record<keyof Limits, { fallback: number; env: string; unit: 'bytes' | 'ms' }> = {
  modelBytes: { fallback: 256 * MIB, env: 'MOBILENET_MAX_MODEL_BYTES', unit: 'bytes' },
  shardBytes: { fallback: 64 * MIB, env: 'MOBILENET_MAX_SHARD_BYTES', unit: 'bytes' },
  imageBytes: { fallback: 128 * MIB, env: 'MOBILENET_MAX_IMAGE_BYTES', unit: 'bytes' },
  downloadBytes: { fallback: 256 * MIB, env: 'MOBILENET_MAX_DOWNLOAD_BYTES', unit: 'bytes' },
  downloadIdleMs: { fallback: 30000, env: 'MOBILENET_DOWNLOAD_TIMEOUT_MS', unit: 'ms' },
  downloadTotalMs: { fallback: 300000, env: 'MOBILENET_DOWNLOAD_TOTAL_TIMEOUT_MS', unit: 'ms' },
  arenaBytes: { fallback: 1024 * MIB, env: 'MOBILENET_MAX_ARENA_BYTES', unit: 'bytes' },
};

/**
 * The limits in force: an explicit value (load()'s `limits` option) over the environment variable over the default.
 *
 * @example
 * resolveLimits({ modelBytes: 512 * 1024 * 1024 }).shardBytes; // 67108864 unless MOBILENET_MAX_SHARD_BYTES says otherwise
 */
export function resolveLimits(given: Partial<Limits> = {}): Limits {
  const out = {} as Limits;
  for (const key of Object.keys(LIMITS) as (keyof Limits)[]) {
    const spec = LIMITS[key];
    const value = given[key];
    if (value !== undefined) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
        throw new MobileNetError('E_ARG', `Expected limits.${key} to be a positive integer (${spec.unit}), received ${JSON.stringify(value)}. Pass e.g. {limits: {${key}: ${spec.fallback}}}.`);
      }
      out[key] = value;
      continue;
    }
    // the browser bundle has no process: there only the option and the defaults apply
    const env = typeof process === 'undefined' ? undefined : process.env?.[spec.env];
    const parsed = env === undefined || env === '' ? NaN : Number(env);
    if (env !== undefined && env !== '' && !(Number.isSafeInteger(parsed) && parsed >= 1)) {
      throw new MobileNetError('E_ARG', `Expected ${spec.env} to be a positive integer (${spec.unit}), received ${JSON.stringify(env)}. Set it to e.g. ${spec.fallback}, or unset it.`);
    }
    out[key] = Number.isNaN(parsed) ? spec.fallback : parsed;
  }
  return out;
}

/**
 * The E_LIMIT error for `key`: what exceeded it, the limit in force, and the option and variable that raise it.
 *
 * @example
 * throw limitError('modelBytes', 'model.tflite is 300000000 bytes', limits.modelBytes);
 */
export function limitError(key: keyof Limits, received: string, limit: number): MobileNetError {
  const spec = LIMITS[key];
  return new MobileNetError(
    'E_LIMIT',
    `Expected at most ${limit} ${spec.unit} (limit ${key}), received ${received}. If this input is trusted, raise it with load(source, {limits: {${key}: N}}) or ${spec.env}=N.`,
    { limit: key, value: limit, env: spec.env },
  );
}
