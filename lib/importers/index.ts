// Node's model reader: a path, directory, URL or bytes to a Graph, reading files with fs (the sniffing is sniff.ts's).
import { promises as fs } from 'fs';
import * as path from 'path';
import { MobileNetError } from '../errors';
import type { Graph } from '../graph/types';
import { importBytes } from './sniff';

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

/** Resolves a path/URL relative to the directory (or URL folder) holding model.json. */
function sibling(base: string, rel: string): string {
  if (/^https?:\/\//i.test(base)) return new URL(rel, base).toString();
  return path.join(path.dirname(base), rel);
}

/**
 * Imports a model from a local path (file or directory holding model.json), an http(s) URL, or bytes; the
 * format sniffing itself is the load core's (lib/load-core.ts importBytes), shared with the browser entry.
 * TF.js models given as bytes cannot reach their weight shards, so they need a path or URL.
 *
 * @example
 * const graph = await importModel('models/mobilenet_v1_0.25_224_layers'); // folder holding model.json
 */
export async function importModel(source: string | Uint8Array, where?: string): Promise<Graph> {
  if (typeof source !== 'string') return importBytes({ bytes: source, where: where ?? 'the model buffer' });
  let location = source;
  if (!/^https?:\/\//i.test(location)) {
    const stat = await fs.stat(location).catch(() => undefined);
    if (!stat) throw new MobileNetError('E_IO', `Expected a model file, directory, URL or registry name, received ${JSON.stringify(source)}, which does not exist. Check the path.`, { path: source });
    if (stat.isDirectory()) location = path.join(location, 'model.json');
  }
  const bytes = await readBytes(location);
  return importBytes({ bytes, where: location, readSibling: (rel) => readBytes(sibling(location, rel)) });
}
