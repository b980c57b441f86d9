// The one cache folder everything persistent goes to: downloaded registry models (lib/registry.ts) and the
// remembered backend choices of 'auto' (lib/backends/auto.ts).
import * as os from 'os';
import * as path from 'path';

/**
 * The cache folder: $MOBILENET_CACHE_DIR, else $XDG_CACHE_HOME/mobilenet-simd, else ~/.cache/mobilenet-simd.
 *
 * @example
 * console.log(cacheDir()); // /home/me/.cache/mobilenet-simd
 */
export function cacheDir(): string {
  if (process.env.MOBILENET_CACHE_DIR) return path.resolve(process.env.MOBILENET_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mobilenet-simd');
}
