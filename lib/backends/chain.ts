// The fallback chain shared by Node's load() (backends/select.ts) and the browser entry: compile on the first
// candidate that is available and compiles, keeping every other candidate's reason. Imports no backend
// module itself (the caller passes them), so the browser bundle can use it without the native loader.
import { MobileNetError } from '../errors';
import type { Plan } from '../graph/plan';
import type { Backend, CompileOptions, Executable } from './types';

/**
 * Compiles the plan on one backend if it is available: the executable, or why not as "name: reason".
 *
 * @example
 * const r = await tryCompile('wasm-simd', wasmSimdBackend, plan, {});
 * if (typeof r === 'string') console.log(r); // e.g. "wasm-simd: this engine has no WebAssembly SIMD"
 */
export async function tryCompile(name: string, backend: Backend, plan: Plan, options: CompileOptions): Promise<Executable | string> {
  const avail = await backend.availability();
  if (!avail.available) return `${name}: ${avail.reason ?? 'unavailable'}`;
  try {
    return await backend.compile(plan, options);
  } catch (e) {
    return `${name}: ${(e as Error).message}`;
  }
}

/**
 * Tries `names` in order; `wanted` names the request in the error ("for 'auto'", "among wasm-simd, js").
 * Throws E_BACKEND with every reason when no candidate works.
 *
 * @example
 * const { exe, failures } = await compileFirst(plan, ['wasm-simd', 'js'], (n) => table[n], {}, 'among wasm-simd, js');
 */
export async function compileFirst<Name extends string>(
  plan: Plan,
  names: readonly Name[],
  backendOf: (name: Name) => Backend,
  options: CompileOptions,
  wanted: string,
): Promise<{ exe: Executable; failures: string[] }> {
  const failures: string[] = [];
  for (const name of names) {
    const result = await tryCompile(name, backendOf(name), plan, options);
    if (typeof result !== 'string') return { exe: result, failures };
    failures.push(result);
  }
  throw new MobileNetError('E_BACKEND', `Expected a usable backend ${wanted}, but every candidate failed:\n  - ${failures.join('\n  - ')}\nUse backend 'js' (always available), or fix the first reason above.`, { failures });
}
