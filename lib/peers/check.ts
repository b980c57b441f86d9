// Argument checks shared by the peer runners, with the house error format.
import { describeValue, fail } from '../errors';
import type { Shape3 } from '../graph/types';

/**
 * Validates a thread count for a peer that can use at most `max` threads; returns it.
 *
 * @example
 * checkThreads(2, 1, 'tfjs-wasm'); // throws MobileNetError E_BACKEND explaining the blob: worker limit
 */
export function checkThreads(threads: unknown, max: number, peer: string): number {
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
    fail('E_ARG', 'threads to be a positive integer', describeValue(threads), 'Pass e.g. {threads: 1}.');
  }
  if (threads > max) {
    fail('E_BACKEND', `at most ${max} thread(s) for ${peer} under Node`, `${threads}`,
      peer === 'tfjs-wasm'
        ? "tfjs-backend-wasm's threaded build starts its workers from blob: URLs, which Node's Worker rejects; bench it with threads 1."
        : `Use threads 1 to ${max}.`);
  }
  return threads;
}

/**
 * Validates an NHWC batch against the graph's per-image input shape.
 *
 * @example
 * checkPeerInput(new Float32Array(2 * 224 * 224 * 3), 2, [224, 224, 3]); // ok
 */
export function checkPeerInput(input: unknown, batch: unknown, shape: Shape3): void {
  if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1) {
    fail('E_ARG', 'batch to be a positive integer', describeValue(batch), 'Pass the number of images in the input, e.g. 1.');
  }
  const perImage = shape[0] * shape[1] * shape[2];
  if (!(input instanceof Float32Array) || input.length !== batch * perImage) {
    fail('E_INPUT', `a Float32Array of ${batch} x ${shape.join('x')} = ${batch * perImage} values (NHWC)`, describeValue(input), 'Pass batch images in NHWC order, already normalised for the model.');
  }
}
