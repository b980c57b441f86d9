#!/usr/bin/env node
// Bundles the browser entry (lib/browser.ts) with esbuild into build/browser/mobilenet-simd.js (ESM) and copies
// the two .wasm builds next to it. Fails if anything on the bundle path still reaches Node (fs, sharp, ...).
'use strict';
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'build', 'browser');
const wasmDir = path.join(root, 'build', 'wasm');
const WASM_FILES = ['mobilenet-simd.wasm', 'mobilenet-relaxed.wasm'];

const NODE_BUILTINS = /^(node:)?(fs|path|os|crypto|zlib|child_process|worker_threads|url|util|stream)$/;
const decodeNode = path.join(root, 'lib', 'image', 'decode.ts');
const decodeBrowser = path.join(root, 'lib', 'browser', 'decode.ts');
const shims = path.join(root, 'lib', 'browser', 'node-shims.ts');
/** Modules that must never be bundled: they need Node at import time or pick backends we cannot run. */
const FORBIDDEN = ['lib/image/decode.ts', 'lib/importers/index.ts', 'lib/cache.ts', 'lib/files.ts', 'lib/source.ts', 'lib/backends/auto.ts', 'lib/backends/native.ts', 'lib/backends/index.ts', 'lib/index.ts', 'lib/registry.ts'];

/** Swaps lib/image/decode.ts (sharp, fs) for the canvas decoder and Node built-ins for lib/browser/node-shims.ts. */
const browserSeams = {
  name: 'mobilenet-browser-seams',
  setup(build) {
    build.onResolve({ filter: NODE_BUILTINS }, () => ({ path: shims }));
    build.onResolve({ filter: /^\.\/decode$/ }, (args) => (path.join(args.resolveDir, 'decode.ts') === decodeNode ? { path: decodeBrowser } : undefined));
    build.onResolve({ filter: /^sharp$/ }, (args) => ({ errors: [{ text: `sharp is imported by ${args.importer}, which must stay out of the browser bundle` }] }));
  },
};

async function main() {
  for (const f of WASM_FILES) {
    if (!fs.existsSync(path.join(wasmDir, f))) throw new Error(`build/wasm/${f} is missing: run \`npm run build:wasm\` first`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build({
    // The entry sets the .wasm folder from import.meta.url, which lib/ (compiled as CommonJS) cannot say itself.
    stdin: {
      // and hands the bundle the ImageNet names the package ships (inlined as text).
      contents: [
        "import { setWasmUrl } from './lib/browser';",
        "import { useImagenetText } from './lib/browser/imagenet';",
        "import imagenet from './models/imagenet_labels_1001.txt';",
        "setWasmUrl(new URL('./', import.meta.url));",
        'useImagenetText(imagenet);',
        "export * from './lib/browser';",
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'browser-entry.ts',
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome114', 'firefox120', 'safari17'],
    outfile: path.join(outDir, 'mobilenet-simd.js'),
    sourcemap: true,
    minify: true,
    keepNames: true, // error messages and stacks name classes and functions
    metafile: true,
    inject: [shims],
    loader: { '.txt': 'text' },
    plugins: [browserSeams],
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const leaked = inputs.filter((i) => FORBIDDEN.includes(i) || i.includes('node_modules'));
  if (leaked.length) throw new Error(`the browser bundle pulled in Node-only modules: ${leaked.join(', ')}`);
  for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmDir, f), path.join(outDir, f));
  // The bundle is ESM in a CommonJS package: its folder says so, and its types are lib/browser.ts's (dist/browser.d.ts).
  fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'mobilenet-simd.d.ts'), "// Types of the browser bundle: lib/browser.ts's public API.\nexport * from '../../dist/browser.js';\n");
  const bytes = fs.statSync(path.join(outDir, 'mobilenet-simd.js')).size;
  console.error(`build/browser/mobilenet-simd.js: ${(bytes / 1024).toFixed(0)} KiB from ${inputs.length} modules, plus ${WASM_FILES.join(', ')}`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
