// Node's model reader: a path, directory, URL or bytes to a Graph, reading files with fs and URLs with fetch, both
// bounded (lib/files.ts, lib/limits.ts); TF.js shards only from the model's own folder or origin. The sniffing is sniff.ts's.
import { promises as fs } from 'fs';
import * as path from 'path';
import { MobileNetError } from '../errors';
import { fetchBounded, readRegularFile } from '../files';
import type { Graph } from '../graph/types';
import { resolveLimits, type Limits } from '../limits';
import { importBytes, shardUrl } from './sniff';

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/**
 * Reads the model file (or a shard, `shard` true) at a local path or http(s) URL within its limit.
 *
 * @example
 * const bytes = await readBytes('model.tflite', resolveLimits());
 */
export async function readBytes(location: string, limits: Limits, shard = false): Promise<Uint8Array> {
  const what = shard ? 'the weight shard' : 'the model';
  if (isUrl(location)) return fetchBounded(location, what, 'downloadBytes', limits);
  return readRegularFile(location, `${what} file`, shard ? 'shardBytes' : 'modelBytes', limits);
}

/** Whether `inner` is `outer` or lies below it. */
function within(outer: string, inner: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Where a shard named in model.json lives: next to it, never outside its folder (lexically or through a symlink)
 * and never on another origin than the model URL's, so a model file cannot make the loader read or fetch what
 * the caller did not name.
 */
async function shardLocation(base: string, rel: string): Promise<string> {
  const refuse = (resolved: string, where: string) => {
    throw new MobileNetError('E_MODEL_FORMAT', `Expected the weight shard ${JSON.stringify(rel)} of ${base} to lie ${where}, received a path to ${resolved}. Keep the shards next to model.json and name them relative to it.`, { file: base, shard: rel });
  };
  if (isUrl(base)) return shardUrl(base, rel);
  const folder = path.dirname(path.resolve(base));
  const resolved = path.resolve(folder, rel);
  if (!within(folder, resolved)) refuse(resolved, `inside the model's folder ${folder}`);
  const real = await fs.realpath(resolved).catch(() => undefined);
  if (real !== undefined) {
    // symlinked shards may point where model.json itself really lives (e.g. a content-addressed cache of blobs)
    const homes = [await fs.realpath(folder), path.dirname(await fs.realpath(base))];
    if (!homes.some((home) => within(home, real))) refuse(real, `inside the model's folder ${folder} (it is a symlink out of it)`);
  }
  return resolved;
}

/**
 * Imports a model from a local path (file or directory holding model.json), an http(s) URL, or bytes; the
 * format sniffing itself is importBytes (sniff.ts), shared with the browser entry. TF.js models given as bytes
 * cannot reach their weight shards, so they need a path or URL.
 *
 * @example
 * const graph = await importModel('models/mobilenet_v1_0.25_224_layers'); // folder holding model.json
 */
export async function importModel(source: string | Uint8Array, where?: string, limits: Limits = resolveLimits()): Promise<Graph> {
  if (typeof source !== 'string') return importBytes({ bytes: source, where: where ?? 'the model buffer' });
  let location = source;
  if (!isUrl(location)) {
    const stat = await fs.stat(location).catch(() => undefined);
    if (!stat) throw new MobileNetError('E_IO', `Expected a model file, directory, URL or registry name, received ${JSON.stringify(source)}, which does not exist. Check the path.`, { path: source });
    if (stat.isDirectory()) location = path.join(location, 'model.json');
  }
  const bytes = await readBytes(location, limits);
  return importBytes({ bytes, where: location, readSibling: async (rel) => readBytes(await shardLocation(location, rel), limits, true) });
}
