// Backend choice: resolves 'auto' / 'wasm' / a specific name into a compiled Executable, falling back down
// the chain and keeping every failure reason for one aggregated message.
import { MobileNetError } from '../errors';
import type { Plan } from '../graph/plan';
import { compileFirst } from './chain';
import { getBackend } from './index';
import type { BackendName, CompileOptions, Executable } from './types';
import { BACKEND_NAMES } from './types';

/** What users may pass as `backend`. */
export type BackendChoice = 'auto' | 'wasm' | BackendName;
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', ...BACKEND_NAMES];

/** The candidate chain for a choice, best first. */
export function candidatesFor(choice: BackendChoice): BackendName[] {
  if (choice === 'auto') return [...BACKEND_NAMES];
  if (choice === 'wasm') return ['wasm-relaxed', 'wasm-simd'];
  return [choice];
}

export function checkBackendChoice(choice: unknown): BackendChoice {
  if (typeof choice === 'string' && (BACKEND_CHOICES as readonly string[]).includes(choice)) return choice as BackendChoice;
  throw new MobileNetError('E_ARG', `Expected backend to be one of ${BACKEND_CHOICES.join(', ')}, received ${JSON.stringify(choice)}. Pick one of those names.`);
}

/**
 * Compiles the plan on the first candidate that works, collecting why the others did not.
 * A forced single backend that fails is an error (no silent fallback to something the user did not ask for).
 */
export function compileWithFallback(plan: Plan, choice: BackendChoice, options: CompileOptions): Promise<{ exe: Executable; failures: string[] }> {
  return compileFirst(plan, candidatesFor(choice), getBackend, options, `for '${choice}'`);
}
