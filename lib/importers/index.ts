// Importer entry: turns a model source (path, directory, URL, bytes) into a Graph by sniffing its format.
import { promises as fs } from 'fs';
import * as path from 'path';
import { MobileNetError, describeValue } from '../errors';
import type { Graph } from '../graph/types';
import { importTflite } from './tflite';
import { importTfjs } from './tfjs';

/** Reads bytes from a local path or an http(s) URL, with MobileNetError on failure. */
export async function readBytes(location: string): Promise<Uint8Array> {
  if (/^https?:\/\//i.test(location)) {
    let res: Response;
    try {
      res = await fetch(location);
    } catch (e) {
      throw new MobileNetError('E_IO', `Expected to download ${location}, but the request failed (${(e as Error).message}). Check the URL and your network, or download the file and pass its path.`);
    }
    if (!res.ok) throw new MobileNetError('E_IO', `Expected HTTP 200 for ${location}, received ${res.status} ${res.statusText}. Check the URL.`);
    return new Uint8Array(await res.arrayBuffer());
  }
  try {
    return new Uint8Array(await fs.readFile(location));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'a directory' : err.message;
    throw new MobileNetError('E_IO', `Expected a readable file at ${location}, received ${what}. Check the path.`, { path: location });
  }
}

function isTflite(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33; // "TFL3"
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new MobileNetError('E_MODEL_FORMAT', `Expected ${where} to be a TF.js model.json (JSON), but it does not parse (${(e as Error).message}). Pass the model.json of a TF.js layers or graph model, or a .tflite file.`, { file: where });
  }
}

/** Resolves a path/URL relative to the directory (or URL folder) holding model.json. */
function sibling(base: string, rel: string): string {
  if (/^https?:\/\//i.test(base)) return new URL(rel, base).toString();
  return path.join(path.dirname(base), rel);
}

/**
 * Imports a model from a local path (file or directory holding model.json), an http(s) URL, or bytes.
 * TF.js models given as bytes cannot reach their weight shards, so they need a path or URL.
 */
export async function importModel(source: string | Uint8Array, where?: string): Promise<Graph> {
  if (typeof source !== 'string') {
    const name = where ?? 'the model buffer';
    if (isTflite(source)) return importTflite(source, name);
    if (source.length > 0 && source[0] === 0x7b /* { */) {
      throw new MobileNetError('E_ARG', `Expected a .tflite buffer, received a JSON buffer (a TF.js model.json). TF.js models need their weight shards: pass the path or URL of model.json instead.`);
    }
    throw new MobileNetError('E_MODEL_FORMAT', `Expected a model file (TFLite flatbuffer with "TFL3" at byte 4, or a TF.js model.json), received ${describeValue(source)} that is neither. Check that the file is a MobileNet model.`);
  }
  let location = source;
  if (!/^https?:\/\//i.test(location)) {
    const stat = await fs.stat(location).catch(() => undefined);
    if (!stat) throw new MobileNetError('E_IO', `Expected a model file, directory, URL or registry name, received ${JSON.stringify(source)}, which does not exist. Check the path.`, { path: source });
    if (stat.isDirectory()) location = path.join(location, 'model.json');
  }
  const bytes = await readBytes(location);
  if (bytes.length === 0) throw new MobileNetError('E_MODEL_FORMAT', `Expected a model file, received an empty file at ${location}. Re-download the model.`, { file: location });
  if (isTflite(bytes)) return importTflite(bytes, location);
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0xef && b !== 0xbb && b !== 0xbf);
  if (first === 0x7b || location.endsWith('.json')) {
    const json = parseJson(bytes, location);
    return importTfjs(json, (rel) => readBytes(sibling(location, rel)), location);
  }
  throw new MobileNetError('E_MODEL_FORMAT', `Expected ${location} to be a TFLite flatbuffer ("TFL3" at byte 4) or a TF.js model.json, received ${bytes.length} bytes of neither. Check that the file is a MobileNet model.`, { file: location });
}
