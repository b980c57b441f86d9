// TF.js conformance: our TF.js importers + the reference backend against TF.js itself (tfjs-core cpu,
// tfjs-layers, tfjs-converter) on the real models and photos, and on random Keras MobileNets built here.
import * as path from 'path';
import { importTfjs } from '../lib/importers/tfjs';
import { fuseActivations } from '../lib/graph/optimize';
import type { Graph } from '../lib/graph/types';
import { dataPath } from './helpers/data';
import { argmax, availableBackends, relError, runGraph } from './helpers/run';

/** Every available SIMD backend (native, and wasm-relaxed / wasm-simd as this engine allows). */
const simdBackends = async () => (await availableBackends()).filter((b) => b !== 'js');
import {
  buildRandomKerasMobileNet, decodePhotos, mulberry32, randomNetConfig, readModelDir, runTfLayers, samplePhotos,
  saveLayersModel, shardReader, TfReference, toBatch, useCpuBackend, type MemoryModel,
} from './helpers/tfjs';

const TOLERANCE = 1e-4;
const SIZE = 224;
const timings: string[] = [];
/** CPU milliseconds of this process (wall time means little on a shared 2-core machine). */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** 18 photos spread over the sample set, plus a greyscale one and the one with an apostrophe: 20. */
async function photoFiles(): Promise<string[]> {
  const dir = dataPath('images', 'imagenet_samples');
  const special = ['n02676566_acoustic_guitar.JPEG', "n12057211_yellow_lady's_slipper.JPEG"].map((f) => path.join(dir, f));
  const spread = (await samplePhotos(20, 7)).filter((f) => !special.includes(f));
  const files = [...spread.slice(0, 18), ...special];
  if (files.length !== 20) throw new Error(`expected 20 photos, found ${files.length}`);
  return files;
}

let photos: Uint8Array[] = [];
let photoNames: string[] = [];

beforeAll(async () => {
  await useCpuBackend();
  const files = await photoFiles();
  photoNames = files.map((f) => path.basename(f));
  // decoded and resized ONCE; every model gets the same pixels, and ours and TF.js the same floats
  photos = await decodePhotos(files, SIZE);
});

afterAll(() => {
  console.log(`TF.js conformance timings (2 shared cores):\n  ${timings.join('\n  ')}`);
});

/** Per-image normwise relative error and top-1 of our output vs TF.js over a batch; returns the worst error. */
function compare(ours: Float32Array, ref: Float32Array, batch: number, label: string, checkTop1: boolean): number {
  expect(ours.length).toBe(ref.length);
  const per = ref.length / batch;
  let worst = 0;
  for (let n = 0; n < batch; n++) {
    const a = ours.subarray(n * per, (n + 1) * per);
    const b = ref.subarray(n * per, (n + 1) * per);
    const err = relError(a, b);
    if (!(err <= TOLERANCE)) throw new Error(`${label} image ${n}: normwise relative error ${err.toExponential(3)} > ${TOLERANCE}`);
    worst = Math.max(worst, err);
    if (checkTop1) expect(`${label} image ${n} top-1 ${argmax(a)}`).toBe(`${label} image ${n} top-1 ${argmax(b)}`);
  }
  return worst;
}

interface RealCase {
  dir: string;
  /** photo batches fed in turn; their sizes sum to the 20 photos */
  batches: number[];
  expectMeta: Partial<Graph['meta']>;
}

const REAL: RealCase[] = [
  { dir: 'mobilenet_v1_0.25_224_layers', batches: [1, 19], expectMeta: { format: 'tfjs-layers', outputKind: 'probabilities', backgroundClass: false, inputRange: { scale: 1 / 127.5, offset: -1 } } },
  { dir: 'mobilenet_v1_0.25_224_graph_tfhub', batches: [1, 19], expectMeta: { format: 'tfjs-graph', outputKind: 'logits', backgroundClass: true, inputRange: { scale: 1 / 255, offset: 0 } } },
  { dir: 'mobilenet_v1_0.75_224_layers', batches: [1, 9, 10], expectMeta: { format: 'tfjs-layers', outputKind: 'probabilities', backgroundClass: false, inputRange: { scale: 1 / 127.5, offset: -1 } } },
  { dir: 'nsfwjs_mobilenet_v2_uint8', batches: [1, 9, 10], expectMeta: { format: 'tfjs-layers', outputKind: 'probabilities', backgroundClass: false, inputRange: { scale: 1 / 255, offset: 0 } } },
];

describe('real TF.js models: ours (js backend) vs TF.js on 20 photos at 224x224', () => {
  for (const c of REAL) {
    test(`${c.dir}: batches [${c.batches.join(', ')}] of [N,224,224,3], output and embedding within ${TOLERANCE}, same top-1`, async () => {
      const dir = dataPath('models', 'tfjs', c.dir);
      const model = await readModelDir(dir);
      let t0 = Date.now();
      const graph = await importTfjs(model.json, shardReader(model), path.join(dir, 'model.json'));
      const importMs = Date.now() - t0;
      expect(graph.meta).toMatchObject(c.expectMeta);
      expect(graph.input.shape).toEqual([SIZE, SIZE, 3]);

      // TF.js's pooled features: the global pooling layer (layers) or Mean node (graph), found from the file
      let ref: TfReference;
      if (graph.meta.format === 'tfjs-layers') {
        const layers = model.json.modelTopology.model_config.config.layers as { name: string; class_name: string }[];
        const pool = layers.find((l) => ['GlobalAveragePooling2D', 'AveragePooling2D'].includes(l.class_name))!;
        expect(graph.embedding).toBe(pool.name);
        ref = await TfReference.start(model, 'layers', [pool.name]);
      } else {
        const nodes = model.json.modelTopology.node as { name: string; op: string; input?: string[] }[];
        const mean = nodes.find((n) => n.op === 'Mean')!;
        const consumed = new Set(nodes.flatMap((n) => n.input ?? []));
        const sink = nodes.find((n) => n.op !== 'Const' && !consumed.has(n.name))!;
        expect(graph.embedding).toBe(mean.name);
        ref = await TfReference.start(model, 'graph', [sink.name, mean.name]);
      }

      let oursMs = 0;
      const simdWorst = new Map<string, number>();
      let worst = 0;
      let worstEmb = 0;
      const c0 = cpuMs();
      let start = 0;
      try {
        for (const n of c.batches) {
          const imgs = photos.slice(start, start + n);
          const label = `${c.dir} N=${n} photos ${photoNames.slice(start, start + n).join(',').slice(0, 80)}`;
          const batch = toBatch(imgs, graph.meta.inputRange!);
          // TF.js computes in its worker thread while we compute here: the same floats, two cores
          const pendingRef = ref.run(batch, [n, SIZE, SIZE, 3]);
          t0 = Date.now();
          const [out, emb] = await runGraph(graph, batch, n, 'js');
          oursMs += Date.now() - t0;
          const [refOut, refEmb] = await pendingRef;
          worst = Math.max(worst, compare(out, refOut, n, label, true));
          worstEmb = Math.max(worstEmb, compare(emb, refEmb, n, `${label} embedding`, false));
          // the SIMD backends against TF.js itself too, not only against our reference
          for (const b of await simdBackends()) {
            const [o, e] = await runGraph(graph, batch, n, b);
            const w = compare(o, refOut, n, `${label} [${b}]`, true);
            const we = compare(e, refEmb, n, `${label} [${b}] embedding`, false);
            simdWorst.set(b, Math.max(simdWorst.get(b) ?? 0, w, we));
          }
          start += n;
        }
      } finally {
        await ref.close();
      }
      expect(start).toBe(20);
      timings.push(`${c.dir}: import ${importMs} ms; 20 photos: ours (js backend) ${oursMs} ms, TF.js cpu backend (worker) ${Math.round(ref.busyMs)} ms, process cpu ${Math.round(cpuMs() - c0)} ms; worst error ${worst.toExponential(2)}, embedding ${worstEmb.toExponential(2)}; ${[...simdWorst].map(([b, w]) => `${b} worst ${w.toExponential(2)}`).join(', ')}`);
    }, 600_000);
  }
});

const RANDOM_SEEDS: { arch: 'v1' | 'v2'; seed: number }[] = [
  { arch: 'v1', seed: 11 }, { arch: 'v1', seed: 12 }, { arch: 'v1', seed: 13 },
  { arch: 'v2', seed: 21 }, { arch: 'v2', seed: 22 }, { arch: 'v2', seed: 23 },
];

describe('random Keras MobileNets built with tfjs-layers, saved in the layers format, imported by us', () => {
  for (const { arch, seed } of RANDOM_SEEDS) {
    const cfg = randomNetConfig(arch, seed);
    const N = 2;
    test(`seed=${seed} ${JSON.stringify(cfg)} input [${N},${cfg.resolution},${cfg.resolution},3]`, async () => {
      const t0 = Date.now();
      const c0 = cpuMs();
      const model = buildRandomKerasMobileNet(cfg, seed);
      const saved: MemoryModel = await saveLayersModel(model, cfg.shards);
      expect(saved.files.size).toBe(cfg.shards);
      const graph = await importTfjs(saved.json, shardReader(saved), `random-${arch}-${seed}/model.json`);
      expect(graph.meta.format).toBe('tfjs-layers');
      expect(graph.meta.outputKind).toBe('probabilities');
      // BN folded into the convs and relu6 into their epilogues: no affine is left, one conv per Keras conv
      const fused = fuseActivations(graph);
      expect(fused.nodes.filter((n) => n.op === 'affine')).toHaveLength(0);
      expect(fused.nodes.filter((n) => ['conv2d', 'dwconv', 'pwconv'].includes(n.op)).length)
        .toBe(model.layers.filter((l) => ['Conv2D', 'DepthwiseConv2D', 'Dense'].includes(l.getClassName())).length);

      const rand = mulberry32(seed * 7919);
      const input = Float32Array.from({ length: N * cfg.resolution * cfg.resolution * 3 }, () => rand() * 2 - 1);
      const pool = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D')!;
      const [refOut, refEmb] = await runTfLayers(model, pool.name, input, [N, cfg.resolution, cfg.resolution, 3]);
      const [out, emb] = await runGraph(graph, input, N, 'js');
      const label = `seed=${seed} ${arch}`;
      const worst = compare(out, refOut, N, label, true);
      const worstEmb = compare(emb, refEmb, N, `${label} embedding`, false);
      for (const b of await simdBackends()) {
        const [o, e] = await runGraph(graph, input, N, b);
        compare(o, refOut, N, `${label} [${b}]`, true);
        compare(e, refEmb, N, `${label} [${b}] embedding`, false);
      }
      timings.push(`random ${arch} seed=${seed} alpha=${cfg.alpha} res=${cfg.resolution}: error ${worst.toExponential(2)}, embedding ${worstEmb.toExponential(2)}; ${Date.now() - t0} ms wall / ${Math.round(cpuMs() - c0)} ms cpu (build, save, import, both runs)`);
      model.dispose();
    }, 300_000);
  }
});
