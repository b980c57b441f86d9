// Model sources: resolves what load() accepts (bytes, arch spec, URL, path, registry name) into a Graph,
// in one place shared by load(), `mobilenet info` and `mobilenet bench` (peer rows need the graph).
import { promises as fs } from 'fs';
import { MobileNetError, describeValue } from './errors';
import type { Graph } from './graph/types';
import { importModel } from './importers';
import { buildArchitecture, type ArchitectureSpec } from './models';
import { resolveLimits, type Limits } from './limits';
import { isRegistryName, resolveRegistryModel, type ResolveOptions } from './registry';

/** Where a model comes from. */
export type ModelSource = string | Buffer | Uint8Array | ArrayBuffer | ArchitectureSpec;

/**
 * The graph behind a model source, plus labels a registry entry brings. Paths win over registry names,
 * so a local file called like a registry entry is still read from disk.
 *
 * @example
 * const { graph } = await resolveSource({ arch: 'mobilenet_v1', alpha: 0.25 });
 * const { graph: v3 } = await resolveSource('mobilenet_v3_small', { onProgress: (p) => console.log(p.received) });
 */
export async function resolveSource(source: ModelSource, options: ResolveOptions & { limits?: Limits } = {}): Promise<{ graph: Graph; labels?: string[] }> {
  const limits = options.limits ?? resolveLimits();
  if (source instanceof ArrayBuffer) return { graph: await importModel(new Uint8Array(source)) };
  if (source instanceof Uint8Array) return { graph: await importModel(source) };
  if (typeof source === 'object' && source !== null && 'arch' in source) return { graph: buildArchitecture(source) };
  if (typeof source === 'string' && source.length > 0) {
    if (/^https?:\/\//i.test(source)) return { graph: await importModel(source, undefined, limits) };
    const exists = await fs.stat(source).then(() => true, () => false);
    if (!exists && isRegistryName(source)) {
      const entry = await resolveRegistryModel(source, options);
      return { graph: await importModel(entry.path, undefined, limits), labels: entry.labels };
    }
    return { graph: await importModel(source, undefined, limits) };
  }
  throw new MobileNetError('E_ARG', `Expected a model path, URL, registry name, Buffer or {arch: ...} spec, received ${describeValue(source)}. See the README for examples.`);
}
