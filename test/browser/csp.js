// For test/browser/csp.html: reports backends() and what load() picks when the CSP forbids compiling wasm.
/* global fetch */
import * as mobilenet from '/bundle/mobilenet-simd.js';

const post = (body) => fetch('/result', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function main() {
  const backends = await mobilenet.backends();
  const model = await mobilenet.load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 3 });
  const forced = await mobilenet.load({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 32, seed: 3 }, { backend: 'wasm' }).then(
    () => ({ code: 'none', message: '' }),
    (e) => ({ code: e.code, message: e.message }),
  );
  return { backends, auto: { backend: model.backend.name, notes: model.backend.notes }, forced };
}

main().then(
  (report) => post({ ok: report }),
  (e) => post({ error: { code: e.code, message: String(e.message || e), stack: e.stack } }),
);
