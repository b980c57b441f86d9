// Test helpers: run a graph on a named backend, and list the backends this machine can run.
import { getBackend } from '../../lib/backends';
import type { BackendName } from '../../lib/backends/types';
import { BACKEND_NAMES } from '../../lib/backends/types';
import { fuseActivations } from '../../lib/graph/optimize';
import { planGraph } from '../../lib/graph/plan';
import type { Graph } from '../../lib/graph/types';

/** Plans and runs a graph once; returns [mainOutput, embedding?]. */
export async function runGraph(graph: Graph, input: Float32Array, batch: number, backend: BackendName = 'js', options: { isa?: string; threads?: number } = {}): Promise<Float32Array[]> {
  const exe = await getBackend(backend).compile(planGraph(fuseActivations(graph)), options);
  try {
    return await exe.run(input, batch);
  } finally {
    exe.dispose();
  }
}

/** Backends available on this machine, fastest first (native, wasm-relaxed, wasm-simd, js). */
export async function availableBackends(): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const name of BACKEND_NAMES) if ((await getBackend(name).availability()).available) out.push(name);
  return out;
}

/** The fastest available backend (for tests on many real photos that are not about a specific backend). */
export async function fastestBackend(): Promise<BackendName> {
  return (await availableBackends())[0];
}

/** Normwise relative error: max|a-b| / max|b|. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

export function argmax(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (a[i] > a[best]) best = i;
  return best;
}
