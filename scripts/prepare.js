#!/usr/bin/env node
// npm's `prepare` hook: `npm ci` / `npm install` in a clone (and `npm pack`) build everything the package needs
// with `npm run build`. Everything the build prints goes to stderr, so `npm pack --json` stays parseable JSON.
// A cross build whose toolchain is missing is skipped by that step itself (scripts/build-arm64.js says so).
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const npm = process.env.npm_execpath;
const [cmd, args] = npm ? [process.execPath, [npm, 'run', 'build']] : ['npm', ['run', 'build']];
const t0 = Date.now();
const r = spawnSync(cmd, args, { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 2, 2] });
if (r.error) {
  console.error(`prepare: could not run npm run build (${r.error.message})`);
  process.exit(1);
}
if (r.status !== 0) {
  console.error(`prepare: npm run build failed (exit ${r.status}); fix the error above, then run \`npm run build\``);
  process.exit(r.status ?? 1);
}
console.error(`prepare: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
