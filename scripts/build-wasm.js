#!/usr/bin/env node
// Builds the two wasm modules from the one AssemblyScript source in assembly/: simd128 and relaxed-simd.
// Output: build/wasm/mobilenet-simd.wasm and build/wasm/mobilenet-relaxed.wasm (git-ignored).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'build', 'wasm');
const asc = require.resolve('assemblyscript/bin/asc.js');

/** Feature level -> extra asc flags. ASC_FEATURE_RELAXED_SIMD follows --enable relaxed-simd. */
const VARIANTS = {
  simd: [],
  relaxed: ['--enable', 'relaxed-simd'],
};

fs.mkdirSync(outDir, { recursive: true });
for (const [name, flags] of Object.entries(VARIANTS)) {
  const out = path.join(outDir, `mobilenet-${name}.wasm`);
  const args = [
    asc, 'assembly/index.ts',
    '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
    // v128 only crosses function boundaries inside the module, never the host boundary.
    '--disableWarning', '112',
    '--enable', 'simd', ...flags,
    '-o', out,
  ];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-wasm: asc failed for the ${name} build (exit ${r.status}).`);
    process.exit(1);
  }
  console.log(`build-wasm: ${path.relative(root, out)} (${fs.statSync(out).size} bytes)`);
}
