// Drives the browser bundle for test/browser.test.ts: reads /cases.json, classifies each input on each backend,
// and POSTs {ok} or {error} to /result (the test waits for that POST instead of scraping the page).
/* global window, document, navigator, fetch, performance, Image, ImageData, createImageBitmap */
import * as mobilenet from '/bundle/mobilenet-simd.js';

const post = (body) => fetch('/result', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const describe = (e) => ({ code: e && e.code, message: String((e && e.message) || e), stack: e && e.stack });
window.addEventListener('error', (e) => post({ error: describe(e.error || e.message) }));
window.addEventListener('unhandledrejection', (e) => post({ error: describe(e.reason) }));

const bytesOf = async (url) => {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
};
const top = (predictions) => predictions.map((p) => ({ index: p.index, label: p.label, probability: p.probability }));

/** Every input kind the browser build takes, made from the same photo where the test can check pixels exactly. */
async function inputsFor(image) {
  const rgb = new Uint8Array(await bytesOf(image.rgb));
  const { width, height } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
    rgba[4 * i + 3] = 255;
  }
  const element = new Image();
  element.src = image.jpeg;
  await element.decode();
  return {
    raw: { data: rgb, width, height, channels: 3 },
    imageData: new ImageData(rgba, width, height),
    bitmap: await createImageBitmap(new ImageData(rgba, width, height)),
    bmp: await bytesOf(image.bmp),
    bmpUrl: image.bmp,
    jpegElement: element,
  };
}

async function main() {
  const cases = await (await fetch('/cases.json')).json();
  const report = { userAgent: navigator.userAgent, backends: await mobilenet.backends(), runs: [] };
  for (const run of cases.runs) {
    const loaderCalls = [];
    if (run.customLoader) {
      // What an Electron renderer on file:// does: hand over the .wasm bytes itself (here fetched, there via IPC).
      mobilenet.setWasmLoader(async (variant) => {
        loaderCalls.push(variant);
        return bytesOf(`/bundle/mobilenet-${variant}.wasm`);
      });
    }
    const source = run.modelAsBytes ? await bytesOf(run.model) : run.model;
    const started = performance.now();
    const model = await mobilenet.load(source, { backend: run.backend });
    const loadMs = performance.now() - started;
    const inputs = await inputsFor(cases.image);
    const results = {};
    for (const kind of run.inputs) results[kind] = top(await model.classify(inputs[kind], { topK: 5 }));
    const batch = await model.classifyBatch([inputs.raw, inputs.imageData], { topK: 5 });
    results.batch = batch.map(top);
    const t0 = performance.now();
    await model.classify(inputs.raw);
    const classifyMs = performance.now() - t0;
    report.runs.push({ name: run.name, loaderCalls, backend: model.backend.name, isa: model.backend.isa, notes: model.backend.notes, loadMs, classifyMs, results });
    model.dispose();
  }
  // Errors keep their code across the bundle: a forced native backend is an argument error here.
  report.errors = {};
  for (const [name, attempt] of Object.entries({
    native: () => mobilenet.load(cases.runs[0].model, { backend: 'native' }),
    missingModel: () => mobilenet.load('/data/models/none.tflite'),
    badImage: async () => (await mobilenet.load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 96, seed: 1 }, { backend: 'wasm-simd' })).classify(new Uint8Array([1, 2, 3, 4])),
  })) {
    report.errors[name] = await attempt().then(() => ({ code: 'none' }), describe);
  }
  return report;
}

main().then(
  (report) => {
    document.getElementById('log').textContent = 'done';
    return post({ ok: report });
  },
  (e) => post({ error: describe(e) }),
);
