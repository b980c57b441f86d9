#!/usr/bin/env node
// node-gyp build of the native addon (binding.gyp) against the headers of the running Node, so nothing
// is downloaded: `npm run build:native:gyp`. Output: build/Release/mobilenet_simd.node.
// `configure build`, never `rebuild`: rebuild's clean step would delete all of build/ (cmake-js, wasm).
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const nodedir = path.resolve(process.execPath, '..', '..');
if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`Expected Node's headers at ${path.join(nodedir, 'include', 'node')}, found none. Use \`npm run build:native\` (cmake-js with node-api-headers) instead.`);
  process.exit(1);
}
function findGyp() {
  const candidates = [
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  if (process.env.npm_config_node_gyp) candidates.unshift(process.env.npm_config_node_gyp);
  return candidates.find((c) => fs.existsSync(c));
}
const gyp = findGyp();
if (!gyp) {
  console.error('Expected node-gyp (bundled with npm), found none. Use `npm run build:native` (cmake-js) instead.');
  process.exit(1);
}
execFileSync(process.execPath, [gyp, 'configure', 'build', `--nodedir=${nodedir}`, '-j', '2'], { cwd: root, stdio: 'inherit' });
