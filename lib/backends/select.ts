// Backend choice: what users may pass as `backend`, and the candidate chain each choice stands for (the chain
// itself runs in load-core.ts fallbackChain, or backends/auto.ts for 'auto').
import { MobileNetError } from '../errors';
import type { BackendName } from './types';
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
