// Child process for test/browser.test.ts: classifies photos in Node on one backend and prints the top-5 as JSON.
// A separate process because Node 20 needs --experimental-wasm-relaxed-simd for wasm-relaxed, and that flag
// must not leak into the jest worker (test/wasm.test.ts checks relaxed modules are rejected without it).
// Usage: node [--experimental-wasm-relaxed-simd] --import tsx node-classify.ts <backend> <model> <jpeg> <bmp>
import { load } from '../../lib';
import { decodeImage } from '../../lib/image';

async function main(): Promise<void> {
  const [backend, model, jpeg, bmp] = process.argv.slice(2);
  const m = await load(model, { backend: backend as 'wasm-relaxed' });
  const photo = await decodeImage(jpeg);
  const raw = await m.classify({ data: photo.data, width: photo.width, height: photo.height, channels: 3 });
  process.stdout.write(JSON.stringify({ backend: m.backend.name, raw, bmp: await m.classify(bmp) }));
  m.dispose();
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
