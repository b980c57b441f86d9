// TF.js reference runner in a worker thread: jest's vm sandbox makes TF.js's cpu kernels about 5x slower,
// so the real-model conformance tests load and run TF.js here, in a plain Node context.
// Protocol: workerData = { model: {json, files: Map<path, Uint8Array>}, kind: 'layers' | 'graph', outputs };
// for 'layers', outputs names extra layers to return after the model output; for 'graph', the node names.
// Each message { id, batch: Float32Array, shape } is answered with { id, outputs: Float32Array[], ms } or { id, error }.
/* global require, performance */
const { parentPort, workerData } = require('worker_threads');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');
const tfc = require('@tensorflow/tfjs-converter');

/** The custom IOHandler: serves the model.json and its shard bytes (read from the local files by the test). */
function memoryIOHandler(model) {
  return {
    load: async () => {
      const specs = [];
      const parts = [];
      for (const group of model.json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) parts.push(model.files.get(p));
      }
      const data = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
      let off = 0;
      for (const part of parts) {
        data.set(part, off);
        off += part.length;
      }
      return { modelTopology: model.json.modelTopology, format: model.json.format, weightSpecs: specs, weightData: data.buffer };
    },
  };
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  tf.backend().firstUse = false; // skip the "install tfjs-node" banner
  const { model, kind, outputs } = workerData;
  let run;
  if (kind === 'layers') {
    const m = await tfl.loadLayersModel(memoryIOHandler(model));
    const probe = tfl.model({ inputs: m.inputs, outputs: [m.outputs[0], ...outputs.map((name) => m.getLayer(name).output)] });
    run = (x) => probe.predict(x);
  } else {
    const m = await tfc.loadGraphModel(memoryIOHandler(model));
    run = (x) => m.execute(x, outputs);
  }
  parentPort.on('message', async ({ id, batch, shape }) => {
    try {
      const t0 = performance.now();
      const x = tf.tensor4d(batch, shape);
      const ys = run(x);
      const list = Array.isArray(ys) ? ys : [ys];
      const out = [];
      for (const y of list) out.push(new Float32Array(await y.data()));
      tf.dispose([x, ...list]);
      parentPort.postMessage({ id, outputs: out, ms: performance.now() - t0 }, out.map((o) => o.buffer));
    } catch (e) {
      parentPort.postMessage({ id, error: String(e && e.stack ? e.stack : e) });
    }
  });
  parentPort.postMessage({ id: 0, ready: true });
}

main().catch((e) => parentPort.postMessage({ id: 0, error: String(e && e.stack ? e.stack : e) }));
