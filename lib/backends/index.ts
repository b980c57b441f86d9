// Backend registry: every backend by name, loaded lazily so a missing addon or wasm build never breaks import.
import { MobileNetError } from '../errors';
import { jsBackend } from './js';
import type { Availability, Backend, BackendName } from './types';

const loaders: Record<BackendName, () => Backend> = {
  native: () => require('./native').nativeBackend,
  'wasm-relaxed': () => require('./wasm').wasmRelaxedBackend,
  'wasm-simd': () => require('./wasm').wasmSimdBackend,
  js: () => jsBackend,
};

const cache = new Map<BackendName, Backend>();

/** A backend whose module failed to load: it reports why and refuses to compile. */
function unavailable(name: BackendName, reason: string): Backend {
  return {
    name,
    async availability(): Promise<Availability> {
      return { name, available: false, reason };
    },
    async compile() {
      throw new MobileNetError('E_BACKEND', `Expected the ${name} backend to be available, but it is not: ${reason}. Use backend 'auto' or another backend.`);
    },
  };
}

/** The backend object for a name (never throws; an unloadable backend reports its reason). */
export function getBackend(name: BackendName): Backend {
  let b = cache.get(name);
  if (!b) {
    try {
      b = loaders[name]();
      if (!b) throw new Error('module did not export the backend');
    } catch (e) {
      b = unavailable(name, `its module failed to load (${(e as Error).message})`);
    }
    cache.set(name, b);
  }
  return b;
}

/** @internal Tests replace a backend (e.g. a native that fails) and restore it with `undefined`. */
export function overrideBackend(name: BackendName, backend: Backend | undefined): void {
  if (backend) cache.set(name, backend);
  else cache.delete(name);
}
