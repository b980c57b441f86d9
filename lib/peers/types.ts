// The peer-runner contract: another runtime (onnxruntime-node, tfjs-backend-wasm) running one of our
// graphs, so `mobilenet bench` can put the same weights on a peer next to our own backends.
import type { Graph } from '../graph/types';

export type PeerName = 'onnxruntime-node' | 'tfjs-wasm';

/** Whether a peer can run here, and if not, why and how to fix it. */
export interface PeerAvailability {
  ok: boolean;
  reason?: string;
}

/** A graph prepared on a peer runtime: weights uploaded, session built, ready to time. */
export interface PreparedPeer {
  /** NHWC float32 input of `batch` images in, the graph's main output (NHWC) out. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  dispose(): void;
  /** Peer package versions and mode, e.g. "onnxruntime-node 1.30.0". */
  version: string;
}

export interface PeerRunner {
  name: PeerName;
  available(): Promise<PeerAvailability>;
  /** Threads the peer can use in Node; prepare() rejects more (tfjs-wasm's threaded build needs blob: workers). */
  maxThreads: number;
  prepare(graph: Graph, options: { threads: number }): Promise<PreparedPeer>;
}
