// Child process for test/arm64.test.ts, run by an arm64 Node under qemu-user: loads the compiled package (dist/)
// on the native backend, which must come from prebuilds/linux-arm64, and prints the top-5 of one photo as JSON.
// Plain JavaScript: tsx's esbuild binary is x64-only. Usage: node classify.js <dist/index.js> <model> <image>
/* global process, require */
'use strict';

async function main() {
  const [entry, model, image] = process.argv.slice(2);
  const { load, backends } = require(entry);
  const native = (await backends()).find((b) => b.name === 'native');
  const m = await load(model, { backend: 'native', threads: 1 });
  const predictions = await m.classify(image, { topK: 5 });
  process.stdout.write(JSON.stringify({ arch: process.arch, binary: native.detail && native.detail.binary, backend: m.backend, predictions }));
  m.dispose();
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e.message}\n`);
  process.exit(1);
});
