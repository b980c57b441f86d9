// Format sniffing for model bytes, shared by Node's reader (importers/index.ts) and the load core: a TFLite
// flatbuffer or a TF.js model.json (whose shards come through a reader the caller supplies). No Node built-ins.
import { MobileNetError } from '../errors';
import type { Graph } from '../graph/types';
import { importTflite } from './tflite';
import { importTfjs } from './tfjs';

/** Model bytes and where they came from; `readSibling` fetches a TF.js weight shard named relative to them. */
export interface ModelBytes {
  bytes: Uint8Array;
  /** The path or URL shown in messages, e.g. '/models/v2.tflite' or 'the model buffer'. */
  where: string;
  /** Reads a file next to the model (TF.js shards); absent for bare bytes, which then cannot be TF.js. */
  readSibling?: (relative: string) => Promise<Uint8Array>;
}

/** "TFL3" at byte 4: the TFLite flatbuffer identifier. */
function isTflite(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33;
}

/** The first byte that is not whitespace or a UTF-8 byte-order mark: '{' starts a model.json. */
function firstSignificantByte(bytes: Uint8Array): number | undefined {
  return bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0xef && b !== 0xbb && b !== 0xbf);
}

/**
 * Imports model bytes by sniffing their format: a TFLite flatbuffer, or a TF.js model.json whose shards come
 * through `readSibling`.
 *
 * @example
 * const graph = await importBytes({ bytes, where: 'v2.tflite' });
 * const tfjs = await importBytes({ bytes: json, where: 'm/model.json', readSibling: (rel) => readFile(`m/${rel}`) });
 */
export async function importBytes({ bytes, where, readSibling }: ModelBytes): Promise<Graph> {
  if (bytes.length === 0) throw new MobileNetError('E_MODEL_FORMAT', `Expected a model file, received an empty file at ${where}. Re-download the model.`, { file: where });
  if (isTflite(bytes)) return importTflite(bytes, where);
  const json = firstSignificantByte(bytes) === 0x7b /* { */ || where.endsWith('.json');
  if (json && !readSibling) {
    throw new MobileNetError('E_ARG', 'Expected a .tflite buffer, received a JSON buffer (a TF.js model.json). TF.js models need their weight shards: pass the path or URL of model.json instead.');
  }
  if (json && readSibling) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new MobileNetError('E_MODEL_FORMAT', `Expected ${where} to be a TF.js model.json (JSON), but it does not parse (${(e as Error).message}). Pass the model.json of a TF.js layers or graph model, or a .tflite file.`, { file: where });
    }
    return importTfjs(parsed, readSibling, where);
  }
  throw new MobileNetError('E_MODEL_FORMAT', `Expected ${where} to be a TFLite flatbuffer ("TFL3" at byte 4) or a TF.js model.json, received ${bytes.length} bytes of neither. Check that it is a MobileNet model.`, { file: where });
}

/**
 * The URL of a TF.js weight shard named in the model.json at `base`: relative to it and on its origin, never
 * another host (a model file must not make the loader fetch what the caller did not name).
 *
 * @example
 * shardUrl('https://cdn.example/m/model.json', 'group1-shard1of1.bin'); // 'https://cdn.example/m/group1-shard1of1.bin'
 */
export function shardUrl(base: string, rel: string): string {
  const origin = new URL(base).origin;
  let url: URL | undefined;
  try {
    url = new URL(rel, base);
  } catch {
    url = undefined;
  }
  if (!url || url.origin !== origin) {
    throw new MobileNetError('E_MODEL_FORMAT', `Expected the weight shard ${JSON.stringify(rel)} of ${base} to lie on the model's origin ${origin}, received ${url ? `a URL on ${url.origin}` : 'no valid URL'}. Keep the shards next to model.json and name them relative to it.`, { file: base, shard: rel });
  }
  return url.href;
}

