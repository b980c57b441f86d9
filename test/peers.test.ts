/**
 * Peer runners: onnxruntime-node (via our ONNX export) and tfjs-backend-wasm (via fused ops) must
 * compute what our reference backend computes on the same weights; a missing peer is a named skip.
 * (onnxruntime-node builds its output tensors from main-realm typed arrays, hence the environment.)
 * @jest-environment <rootDir>/test/helpers/node-realm-environment.ts
 */
import { GraphBuilder } from '../lib/graph/builder';
import type { Graph } from '../lib/graph/types';
import { buildArchitecture } from '../lib/models';
import { exportOnnx, peerRunners, type PeerName, type PeerRunner } from '../lib/peers';
import { loadOptional } from '../lib/peers/optional';
import { ortInstalled } from '../lib/peers/ort';
import { tfjsInstalled } from '../lib/peers/tfjs';
import { relError, runGraph } from './helpers/run';

/** Decided at collection time so a missing peer shows up as a skip whose name carries the reason. */
const INSTALLED: Record<PeerName, { ok: boolean; reason?: string }> = {
  'onnxruntime-node': ortInstalled(),
  'tfjs-wasm': tfjsInstalled(),
};
const TOLERANCE = 1e-4;

/** Deterministic pseudo-random values in [-scale, scale) (xorshift32). */
function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

/**
 * Every op and epilogue the exporters map, at awkward sizes: odd H/W, asymmetric explicit pads
 * (tfjs needs tf.pad for dwconv), 5x5 stride 2 VALID, clamps, h-swish/h-sigmoid/sigmoid, a per-channel
 * affine, a spatial reshape, squeeze-excite scale, softmax with beta.
 */
function edgeGraph(seed: number): Graph {
  let k = seed;
  const w = (n: number, fanIn: number) => seeded(n, ++k, Math.sqrt(3 / fanIn));
  const b = new GraphBuilder('image', [11, 13, 5], 'edge graph');
  let x = b.conv('conv2d', 'image', w(8 * 3 * 3 * 5, 45), w(8, 4), { name: 'stem', kernel: [3, 3], stride: [2, 2], padding: [0, 1, 2, 1], activation: 'relu', clamp: [-1, 2.5] });
  const skip = x;
  x = b.conv('dwconv', x, w(3 * 3 * 8, 9), w(8, 4), { name: 'dw_explicit', kernel: [3, 3], stride: [1, 1], padding: [2, 0, 0, 2], activation: 'hswish' });
  x = b.affine(x, w(8, 1), w(8, 4), { name: 'affine', activation: 'relu6' });
  x = b.add(x, skip, { name: 'residual', clamp: [-Infinity, 3] });
  x = b.conv('dwconv', x, w(5 * 5 * 8, 25), w(8, 4), { name: 'dw5_valid', kernel: [5, 5], stride: [1, 1], padding: 'valid', activation: 'sigmoid' });
  x = b.pwconv(x, w(12 * 8, 8), w(12, 4), { name: 'expand', activation: 'hswish', clamp: [-0.2, Infinity] });
  const [h, wd, c] = b.shape(x);
  x = b.reshape(x, [wd, h, c], { name: 'relabel' });
  const pooled = b.gavgpool(x, { name: 'pool' });
  const gate = b.pwconv(b.pwconv(pooled, w(4 * 12, 12), w(4, 4), { name: 'se_reduce', activation: 'relu' }), w(12 * 4, 4), w(12, 4), { name: 'se_gate', activation: 'hsigmoid' });
  x = b.scale(x, gate, { name: 'se_scale' });
  x = b.conv('dwconv', x, w(3 * 3 * 12, 9), w(12, 4), { name: 'dw_same_s2', kernel: [3, 3], stride: [2, 2], padding: 'same', activation: 'relu6' });
  const feat = b.gavgpool(x, { name: 'features' });
  const flat = b.reshape(feat, [1, 1, 12], { name: 'flatten' });
  const logits = b.pwconv(flat, w(7 * 12, 12), w(7, 4), { name: 'logits' });
  const probs = b.softmax(logits, { name: 'probs', beta: 0.5 });
  return b.finish(probs, { format: 'test', name: `edge graph seed ${seed}`, outputKind: 'probabilities', backgroundClass: false }, feat);
}

interface Case {
  label: string;
  batch: number;
  /** Per-image input shape, for the test name. */
  shape: [number, number, number];
  graph: () => Graph;
}
const CASES: Case[] = [
  { label: 'mobilenet_v1 alpha 0.25 @64 seed 11', batch: 2, shape: [64, 64, 3], graph: () => buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed: 11 }) },
  { label: 'mobilenet_v3_small alpha 1 @64 seed 12', batch: 1, shape: [64, 64, 3], graph: () => buildArchitecture({ arch: 'mobilenet_v3_small', alpha: 1, resolution: 64, seed: 12 }) },
  { label: 'edge graph (every op and epilogue) seed 13', batch: 3, shape: [11, 13, 5], graph: () => edgeGraph(13) },
];

const RUNNERS: PeerRunner[] = peerRunners();

describe('peer runners match the js reference on the same weights', () => {
  for (const runner of RUNNERS) {
    const installed = INSTALLED[runner.name];
    if (!installed.ok) {
      test.skip(`${runner.name}: SKIPPED, not available: ${installed.reason}`, () => undefined);
      continue;
    }
    for (const c of CASES) {
      test(`${runner.name}: ${c.label}, input NHWC [${[c.batch, ...c.shape].join(',')}], normwise relative error <= ${TOLERANCE}`, async () => {
        expect(await runner.available()).toEqual({ ok: true });
        const graph = c.graph();
        expect(graph.input.shape).toEqual(c.shape);
        const [H, W, C] = c.shape;
        const input = seeded(c.batch * H * W * C, 99);
        const [expected] = await runGraph(graph, input, c.batch, 'js');
        const session = await runner.prepare(graph, { threads: 1 });
        try {
          const got = await session.run(input, c.batch);
          expect(got.length).toBe(expected.length);
          const err = relError(got, expected);
          if (!(err <= TOLERANCE)) throw new Error(`${runner.name} (${session.version}) on ${c.label}: normwise relative error ${err} > ${TOLERANCE}`);
          // a second run on the prepared session gives the same answer (no state leaks between runs)
          expect(relError(await session.run(input, c.batch), got)).toBe(0);
        } finally {
          session.dispose();
        }
      }, 60000);
    }

    test(`${runner.name}: argument errors are MobileNetErrors with stable codes`, async () => {
      const graph = edgeGraph(5);
      const session = await runner.prepare(graph, { threads: 1 });
      await expect(session.run(new Float32Array(10), 1)).rejects.toMatchObject({ name: 'MobileNetError', code: 'E_INPUT' });
      await expect(session.run(new Float32Array(11 * 13 * 5), 0)).rejects.toMatchObject({ code: 'E_ARG' });
      session.dispose();
      await expect(session.run(new Float32Array(11 * 13 * 5), 1)).rejects.toMatchObject({ code: 'E_DISPOSED' });
      await expect(runner.prepare(graph, { threads: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
      if (runner.maxThreads < 2) {
        await expect(runner.prepare(graph, { threads: 2 })).rejects.toMatchObject({ code: 'E_BACKEND', message: expect.stringContaining('blob:') });
      }
    }, 60000);
  }
});

describe('ONNX export and optional loading (no peer needed)', () => {
  test('opset 13 without h-swish (mobilenet_v1 alpha 0.25 @32 seed 1), 14 with it (mobilenet_v3_small alpha 0.35 @32 seed 1)', () => {
    const v1 = exportOnnx(buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 1 }));
    const v3 = exportOnnx(buildArchitecture({ arch: 'mobilenet_v3_small', alpha: 0.35, resolution: 32, seed: 1 }));
    expect([v1.opset, v3.opset]).toEqual([13, 14]);
    expect(v1.inputShape).toEqual([32, 32, 3]);
    expect(v1.outputShape).toEqual([1, 1, 1000]);
    // the weights dominate the file: every float32 parameter is in it exactly once as raw data
    const params = (g: Graph) => g.nodes.reduce((s, n) => s + ('weights' in n ? n.weights.length + n.bias.length : 0), 0);
    const v1Params = params(buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 1 }));
    expect(v1.bytes.length).toBeGreaterThan(4 * v1Params);
    expect(v1.bytes.length).toBeLessThan(4 * v1Params + 64 * 1024);
  });

  test('an op outside the mapping is E_UNSUPPORTED_OP naming the node', () => {
    const graph = edgeGraph(3);
    const bogus = { ...graph, nodes: [...graph.nodes, { ...graph.nodes[0], op: 'maxpool', name: 'pool9' } as unknown as Graph['nodes'][number]] };
    expect(() => exportOnnx(bogus)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_OP', message: expect.stringContaining('pool9') }));
  });

  test('a missing optional package gives a reason with the install command, not a throw', () => {
    const r = loadOptional('mobilenet-simd-no-such-peer-package', 'npm install --no-save mobilenet-simd-no-such-peer-package');
    expect(r.module).toBeUndefined();
    expect(r.reason).toBe('mobilenet-simd-no-such-peer-package is not installed; to benchmark it, run: npm install --no-save mobilenet-simd-no-such-peer-package');
  });

  test('peerRunners lists both peers with their Node thread limits', () => {
    expect(RUNNERS.map((r) => [r.name, r.maxThreads])).toEqual([['onnxruntime-node', Infinity], ['tfjs-wasm', 1]]);
  });
});
