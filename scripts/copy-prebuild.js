#!/usr/bin/env node
// Places the built addon under prebuilds/<platform>-<arch>/mobilenet_simd.node, where the loader looks
// first (and which package.json "files" ships): `npm run build:prebuilds` after `npm run build:native`.
// (Not named `prebuild`: npm would also run that as the automatic pre-hook of `npm run build`.)
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const name = 'mobilenet_simd.node';
const sources = [path.join(root, 'build', 'native', 'Release', name), path.join(root, 'build', 'Release', name)];
const from = process.argv[2] ? path.resolve(process.argv[2]) : sources.find((s) => fs.existsSync(s));
if (!from || !fs.existsSync(from)) {
  // not fatal: a build without C++ still leaves a working package (wasm, js)
  console.warn(`copy-prebuild: no built addon at ${sources.join(' or ')}; nothing copied. Run \`npm run build:native\` first.`);
  process.exit(0);
}
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
const to = path.join(dir, name);
// copy then rename: a process that has the old binary mapped keeps its inode; overwriting in place would change
// the code under it (a running test suite or app crashed in a finalizer when the file was rebuilt under it)
const tmp = `${to}.${process.pid}.tmp`;
fs.copyFileSync(from, tmp);
fs.renameSync(tmp, to);
// a binary that cannot load here must not be shipped as this platform's prebuild
try {
  const addon = require(to);
  const best = addon.cpu().best;
  console.error(`copy-prebuild: ${path.relative(root, from)} -> ${path.relative(root, to)} (loads; best ISA here: ${best})`);
} catch (e) {
  fs.rmSync(to);
  console.error(`The copied binary does not load: ${e.message}`);
  process.exit(1);
}
