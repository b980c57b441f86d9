// Peer runner: our graph exported to ONNX and run by onnxruntime-node (CPU execution provider, MLAS),
// an optional package loaded only when asked for.
import { describeValue, fail, MobileNetError } from '../errors';
import { fuseActivations } from '../graph/optimize';
import type { Graph } from '../graph/types';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from './onnx';
import { loadOptional } from './optional';
import { checkPeerInput, checkThreads } from './check';
import type { PeerAvailability, PeerRunner, PreparedPeer } from './types';

/** The parts of onnxruntime-node's API used here (the package is optional, so no type import). */
interface OrtTensor {
  data: unknown;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
}

/** Its postinstall only fetches optional GPU files from outside npm; the CPU build ships in the package. */
export const ORT_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.30.0';

function loadOrt() {
  return loadOptional<OrtModule>('onnxruntime-node', ORT_INSTALL);
}

/**
 * Synchronous install check (tests use it to name the skip reason at collection time).
 *
 * @example
 * const { ok, reason } = ortInstalled(); // { ok: false, reason: 'onnxruntime-node is not installed; ...' }
 */
export function ortInstalled(): PeerAvailability {
  const ort = loadOrt();
  return ort.module ? { ok: true } : { ok: false, reason: ort.reason };
}

function ortVersion(): string {
  try {
    return require('onnxruntime-node/package.json').version as string;
  } catch {
    return 'unknown';
  }
}

/**
 * onnxruntime-node as a peer: exports the graph to ONNX once, builds a session with every graph
 * optimisation on (Conv+Clip fusion, NCHWc layout) and `intraOpNumThreads = threads`.
 *
 * @example
 * const peer = ortRunner();
 * if ((await peer.available()).ok) {
 *   const session = await peer.prepare(graph, { threads: 1 });
 *   const probabilities = await session.run(nhwcImage, 1);
 *   session.dispose();
 * }
 */
export function ortRunner(): PeerRunner {
  return {
    name: 'onnxruntime-node',
    maxThreads: Infinity,
    async available() {
      return ortInstalled();
    },
    async prepare(graph: Graph, options: { threads: number }): Promise<PreparedPeer> {
      const ort = loadOrt();
      if (!ort.module) throw new MobileNetError('E_BACKEND', `Expected onnxruntime-node to be installed, but ${ort.reason}.`);
      const threads = checkThreads(options?.threads, Infinity, 'onnxruntime-node');
      const model = exportOnnx(fuseActivations(graph));
      let session: OrtSession;
      try {
        session = await ort.module.InferenceSession.create(model.bytes, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
        });
      } catch (e) {
        return fail('E_BACKEND', `onnxruntime-node to accept the exported ONNX model (opset ${model.opset})`, `the error "${(e as Error).message}"`, 'Report this with the model; our own backends still run it.');
      }
      const Tensor = ort.module.Tensor;
      const [H, W, C] = model.inputShape;
      let disposed = false;
      return {
        version: `onnxruntime-node ${ortVersion()} (cpu, opset ${model.opset})`,
        async run(input: Float32Array, batch: number): Promise<Float32Array> {
          if (disposed) throw new MobileNetError('E_DISPOSED', 'Expected a live onnxruntime-node session, received one after dispose(). Prepare the graph again.');
          checkPeerInput(input, batch, model.inputShape);
          const out = await session.run({ [ONNX_INPUT]: new Tensor('float32', input, [batch, H, W, C]) });
          const data = out[ONNX_OUTPUT]?.data;
          if (!(data instanceof Float32Array)) return fail('E_BACKEND', 'a float32 output from onnxruntime-node', describeValue(data), 'Report this; our own backends still run the model.');
          return data;
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          void session.release();
        },
      };
    },
  };
}
