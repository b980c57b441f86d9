// Peer runtimes for `mobilenet bench`: the same graph and weights on onnxruntime-node and
// tfjs-backend-wasm, both optional packages that report why they are missing instead of failing.
import { ortRunner } from './ort';
import { tfjsRunner } from './tfjs';
import type { PeerRunner } from './types';

export { exportOnnx, type OnnxModel } from './onnx';
export { ORT_INSTALL } from './ort';
export { TFJS_INSTALL } from './tfjs';
export type { PeerAvailability, PeerName, PeerRunner, PreparedPeer } from './types';

/**
 * Every peer this package knows, installed or not; ask each `available()` before `prepare()`.
 *
 * @example
 * for (const peer of peerRunners()) {
 *   const { ok, reason } = await peer.available();
 *   if (!ok) { console.log(`${peer.name}: ${reason}`); continue; }
 *   const session = await peer.prepare(graph, { threads: 1 });
 *   await session.run(input, 1);
 *   session.dispose();
 * }
 */
export function peerRunners(): PeerRunner[] {
  return [ortRunner(), tfjsRunner()];
}
