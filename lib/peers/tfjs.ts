// Peer runner: our graph as TensorFlow.js fused ops (the kernels a converted MobileNet GraphModel runs)
// on @tensorflow/tfjs-backend-wasm (XNNPACK compiled to WASM SIMD), NHWC as our own layout.
import * as path from 'path';
import type * as TF from '@tensorflow/tfjs-core';
import { MobileNetError } from '../errors';
import { samePads } from '../graph/builder';
import { fuseActivations } from '../graph/optimize';
import type { Activation, Graph, GraphNode } from '../graph/types';
import { checkPeerInput, checkThreads } from './check';
import { loadOptional } from './optional';
import type { PeerAvailability, PeerRunner, PreparedPeer } from './types';

type Tf = typeof TF;
interface TfWasmModule {
  setWasmPaths(prefix: string): void;
  getThreadsCount(): number;
}

export const TFJS_INSTALL = 'npm install --no-save @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0';
/** tfjs-backend-wasm's threaded build cannot start in Node (it needs blob: URL workers). */
const TFJS_MAX_THREADS = 1;

function loadTfjs(): { tf: Tf; wasm: TfWasmModule } | { reason: string } {
  const tf = loadOptional<Tf>('@tensorflow/tfjs-core', TFJS_INSTALL);
  if (!tf.module) return { reason: tf.reason };
  const wasm = loadOptional<TfWasmModule>('@tensorflow/tfjs-backend-wasm', TFJS_INSTALL);
  if (!wasm.module) return { reason: wasm.reason };
  return { tf: tf.module, wasm: wasm.module };
}

/**
 * Synchronous install check (tests use it to name the skip reason at collection time); whether the
 * wasm backend then starts is only known asynchronously, from `tfjsRunner().available()`.
 *
 * @example
 * if (!tfjsInstalled().ok) console.log(tfjsInstalled().reason);
 */
export function tfjsInstalled(): PeerAvailability {
  const loaded = loadTfjs();
  return 'reason' in loaded ? { ok: false, reason: loaded.reason } : { ok: true };
}

interface ReadyTfjs {
  tf: Tf;
  version: string;
}
let initialising: Promise<ReadyTfjs> | undefined;

/** Loads the packages and starts the wasm backend once per process; rejects with the reason. */
function initTfjs(): Promise<ReadyTfjs> {
  initialising ??= (async () => {
    const loaded = loadTfjs();
    if ('reason' in loaded) throw new MobileNetError('E_BACKEND', `Expected tfjs-backend-wasm to be available, but ${loaded.reason}.`);
    const { tf, wasm } = loaded;
    // In Node the emscripten loader reads the .wasm with fs from this prefix; point it at the package
    // itself so bundlers and jest's module registry cannot send it looking elsewhere.
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
    try {
      wasm.setWasmPaths(dist);
    } catch {
      // already initialised by an earlier caller in this process: its paths stand
    }
    let ok = false;
    try {
      ok = await tf.setBackend('wasm');
    } catch (e) {
      throw new MobileNetError('E_BACKEND', `Expected the tfjs wasm backend to initialise from ${dist}, but it failed: ${(e as Error).message}. Reinstall @tensorflow/tfjs-backend-wasm.`);
    }
    if (!ok) throw new MobileNetError('E_BACKEND', `Expected the tfjs wasm backend to initialise from ${dist}, but tf.setBackend('wasm') returned false. Reinstall @tensorflow/tfjs-backend-wasm.`);
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const coreVersion = require('@tensorflow/tfjs-core/package.json').version as string;
    const wasmVersion = require('@tensorflow/tfjs-backend-wasm/package.json').version as string;
    return { tf, version: `tfjs-core ${coreVersion} + tfjs-backend-wasm ${wasmVersion} (${simd ? 'simd' : 'no simd'}, ${wasm.getThreadsCount()} thread)` };
  })();
  // a failed start may be retried after the user installs the package
  initialising.catch(() => (initialising = undefined));
  return initialising;
}

const CLAMP_OF: Partial<Record<Activation, [number, number]>> = {
  none: [-Infinity, Infinity],
  relu: [0, Infinity],
  relu6: [0, 6],
};
type FusedActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid';
/** Largest finite float32: tfjs's clip wants finite bounds. */
const F32_MAX = 3.4028234663852886e38;

/** Splits our epilogue into what a tfjs fused op does itself and what must follow it. */
function splitEpilogue(tf: Tf, activation: Activation, clamp: [number, number] | undefined): { fused: FusedActivation; after: (t: TF.Tensor) => TF.Tensor } {
  let lo = -Infinity;
  let hi = Infinity;
  let fused: FusedActivation = 'linear';
  let nonlinear: ((t: TF.Tensor) => TF.Tensor) | undefined;
  const asClamp = CLAMP_OF[activation];
  if (asClamp) [lo, hi] = asClamp;
  // h-swish x*relu6(x+3)/6 and h-sigmoid relu6(x+3)/6 (arXiv 1905.02244) have no fused form in tfjs
  else if (activation === 'hswish') nonlinear = (t) => tf.mul(t, tf.mul(tf.relu6(tf.add(t, 3)), 1 / 6));
  else if (activation === 'hsigmoid') nonlinear = (t) => tf.mul(tf.relu6(tf.add(t, 3)), 1 / 6);
  else if (activation === 'sigmoid') fused = 'sigmoid';
  if (clamp) {
    lo = Math.max(lo, clamp[0]);
    hi = Math.min(hi, clamp[1]);
  }
  if (!nonlinear && fused === 'linear') {
    if (lo === 0 && hi === Infinity) return { fused: 'relu', after: (t) => t };
    if (lo === 0 && hi === 6) return { fused: 'relu6', after: (t) => t };
  }
  const clip = lo === -Infinity && hi === Infinity ? undefined : (t: TF.Tensor) => tf.clipByValue(t, Math.max(lo, -F32_MAX), Math.min(hi, F32_MAX));
  return {
    fused,
    after: (t) => {
      let y = nonlinear ? nonlinear(t) : t;
      if (clip) y = clip(y);
      return y;
    },
  };
}

/** Applies a whole epilogue with unfused ops (add, affine, softmax, ...). */
function applyEpilogue(tf: Tf, t: TF.Tensor, activation: Activation, clamp: [number, number] | undefined): TF.Tensor {
  const { fused, after } = splitEpilogue(tf, activation, clamp);
  const y = fused === 'relu' ? tf.relu(t) : fused === 'relu6' ? tf.relu6(t) : fused === 'sigmoid' ? tf.sigmoid(t) : t;
  return after(y);
}

type Step = (env: Map<string, TF.Tensor>) => TF.Tensor;

/** Turns one graph node into a closure over its (already uploaded) weights. */
function compileNode(tf: Tf, graph: Graph, n: GraphNode, keep: TF.Tensor[]): Step {
  const inShape = graph.shapes[n.inputs[0]];
  const outShape = graph.shapes[n.output];
  const hold = <T extends TF.Tensor>(t: T): T => (keep.push(t), t);
  const inp = (env: Map<string, TF.Tensor>, i = 0) => env.get(n.inputs[i]) as TF.Tensor4D;
  switch (n.op) {
    case 'conv2d':
    case 'dwconv': {
      const [kh, kw] = n.kernel;
      const [sh, sw] = n.stride;
      const [top, left, bottom, right] = n.pads;
      const cin = inShape[2];
      const cout = outShape[2];
      const [st, sb] = samePads(inShape[0], kh, sh);
      const [sl, sr] = samePads(inShape[1], kw, sw);
      const isSame = top === st && bottom === sb && left === sl && right === sr;
      const isValid = top === 0 && bottom === 0 && left === 0 && right === 0;
      // fused depthwise takes only same/valid; other pads become an explicit tf.pad in front
      const prePad = !isSame && !isValid;
      const pad = isSame ? 'same' : 'valid';
      const padding: [number, number][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
      const { fused, after } = splitEpilogue(tf, n.activation, n.clamp);
      const bias = hold(tf.tensor1d(n.bias));
      if (n.op === 'dwconv') {
        const filter = hold(tf.tensor4d(n.weights, [kh, kw, cin, 1]));
        return (env) => {
          const x = prePad ? tf.pad(inp(env), padding) : inp(env);
          return after(tf.fused.depthwiseConv2d({ x, filter, strides: [sh, sw], pad, bias, activation: fused }));
        };
      }
      const hwio = new Float32Array(n.weights.length);
      for (let o = 0; o < cout; o++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let i = 0; i < cin; i++) hwio[((y * kw + x) * cin + i) * cout + o] = n.weights[((o * kh + y) * kw + x) * cin + i];
      const filter = hold(tf.tensor4d(hwio, [kh, kw, cin, cout]));
      return (env) => {
        const x = prePad ? tf.pad(inp(env), padding) : inp(env);
        return after(tf.fused.conv2d({ x, filter, strides: [sh, sw], pad, bias, activation: fused }));
      };
    }
    case 'pwconv': {
      const cin = inShape[2];
      const cout = outShape[2];
      const { fused, after } = splitEpilogue(tf, n.activation, n.clamp);
      const bias = hold(tf.tensor1d(n.bias));
      const io = new Float32Array(n.weights.length);
      for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) io[i * cout + o] = n.weights[o * cin + i];
      if (inShape[0] * inShape[1] === 1) {
        // a classifier on pooled features is a fully connected layer. Weights go in as [Cin][Cout]:
        // tfjs-backend-wasm 4.22's fused matMul with transposeB gives wrong rows past the first at batch > 1
        const b = hold(tf.tensor2d(io, [cin, cout]));
        return (env) => {
          const x = inp(env);
          const a = tf.reshape(x, [x.shape[0], cin]) as TF.Tensor2D;
          return tf.reshape(after(tf.fused.matMul({ a, b, bias, activation: fused })), [x.shape[0], 1, 1, cout]);
        };
      }
      const filter = hold(tf.tensor4d(io, [1, 1, cin, cout]));
      return (env) => after(tf.fused.conv2d({ x: inp(env), filter, strides: 1, pad: 'valid', bias, activation: fused }));
    }
    case 'add':
      return (env) => applyEpilogue(tf, tf.add(inp(env, 0), inp(env, 1)), n.activation, n.clamp);
    case 'scale':
      return (env) => applyEpilogue(tf, tf.mul(inp(env, 0), inp(env, 1)), n.activation, n.clamp);
    case 'gavgpool':
      return (env) => applyEpilogue(tf, tf.mean(inp(env), [1, 2], true), n.activation, n.clamp);
    case 'softmax':
      return (env) => {
        const x = inp(env);
        return applyEpilogue(tf, tf.softmax(n.beta === 1 ? x : tf.mul(x, n.beta)), n.activation, n.clamp);
      };
    case 'affine': {
      const mul = hold(tf.tensor1d(n.mul));
      const add = hold(tf.tensor1d(n.add));
      const identity = n.mul.length === 1 && n.mul[0] === 1 && n.add[0] === 0;
      return (env) => applyEpilogue(tf, identity ? inp(env) : tf.add(tf.mul(inp(env), mul), add), n.activation, n.clamp);
    }
    case 'reshape':
      return (env) => {
        const x = inp(env);
        return tf.reshape(x, [x.shape[0], ...outShape]);
      };
    default: {
      const node = n as { op: string; name: string };
      throw new MobileNetError('E_UNSUPPORTED_OP', `Expected one of conv2d, dwconv, pwconv, add, gavgpool, scale, softmax, affine, reshape, received op "${node.op}" in node "${node.name}". This op has no tfjs mapping; run the model on our own backends.`);
    }
  }
}

/**
 * tfjs-backend-wasm as a peer: the graph becomes tfjs fused ops (conv2d / depthwiseConv2d / matMul
 * with bias and activation), weights uploaded once; each run reads the result back (`await data()`),
 * as an application would. Single-threaded: the threaded build does not start under Node.
 *
 * @example
 * const peer = tfjsRunner();
 * if ((await peer.available()).ok) {
 *   const session = await peer.prepare(graph, { threads: 1 });
 *   const probabilities = await session.run(nhwcImage, 1);
 *   session.dispose();
 * }
 */
export function tfjsRunner(): PeerRunner {
  return {
    name: 'tfjs-wasm',
    maxThreads: TFJS_MAX_THREADS,
    async available() {
      const installed = tfjsInstalled();
      if (!installed.ok) return installed;
      try {
        await initTfjs();
        return { ok: true };
      } catch (e) {
        return { ok: false, reason: (e as Error).message };
      }
    },
    async prepare(graph: Graph, options: { threads: number }): Promise<PreparedPeer> {
      checkThreads(options?.threads, TFJS_MAX_THREADS, 'tfjs-wasm');
      const { tf, version } = await initTfjs();
      const g = fuseActivations(graph);
      const keep: TF.Tensor[] = [];
      let steps: { output: string; step: Step }[];
      try {
        steps = g.nodes.map((n) => ({ output: n.output, step: compileNode(tf, g, n, keep) }));
      } catch (e) {
        for (const t of keep) t.dispose();
        throw e;
      }
      const [H, W, C] = g.input.shape;
      let disposed = false;
      return {
        version,
        async run(input: Float32Array, batch: number): Promise<Float32Array> {
          if (disposed) throw new MobileNetError('E_DISPOSED', 'Expected a live tfjs-wasm session, received one after dispose(). Prepare the graph again.');
          checkPeerInput(input, batch, g.input.shape);
          // another tfjs user in this process may have switched the global backend
          if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
          const y = tf.tidy(() => {
            const env = new Map<string, TF.Tensor>([[g.input.name, tf.tensor4d(input, [batch, H, W, C])]]);
            for (const s of steps) env.set(s.output, s.step(env));
            return env.get(g.output) as TF.Tensor;
          });
          try {
            return (await y.data()) as Float32Array;
          } finally {
            y.dispose();
          }
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          for (const t of keep) t.dispose();
        },
      };
    },
  };
}
