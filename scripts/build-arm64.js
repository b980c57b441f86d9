#!/usr/bin/env node
// Cross-builds the addon for linux-arm64 (NEON + scalar kernels) with Debian's aarch64 toolchain into
// prebuilds/linux-arm64/mobilenet_simd.node, beside the linux-x64 one: `npm run build:native:arm64`.
// Without the toolchain (package g++-aarch64-linux-gnu) it says so and builds nothing, exit 0: a developer
// without it still gets a working x64 build; CI installs it and test/arm64.test.ts runs the result under qemu.
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cxx = process.env.MBN_AARCH64_CXX || 'aarch64-linux-gnu-g++';
const outDir = path.join(root, 'prebuilds', 'linux-arm64');
const out = path.join(outDir, 'mobilenet_simd.node');
const objDir = path.join(root, 'build', 'arm64');
// the same units as CMakeLists.txt's aarch64 branch: only neon.cpp is NEON code, and AArch64 always has NEON
const SOURCES = ['native/addon.cpp', 'native/cpu.cpp', 'native/executable.cpp', 'native/isa/scalar.cpp', 'native/isa/neon.cpp'];
const DEFINES = ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS', 'NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED', 'MBN_HAVE_NEON'];

function toolchainMissing() {
  try {
    execFileSync(cxx, ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch (e) {
    return e.code === 'ENOENT' ? `${cxx} is not installed (Debian: apt-get install g++-aarch64-linux-gnu)` : `${cxx} --version failed (${e.message})`;
  }
}

function compile(source) {
  const obj = path.join(objDir, source.replace(/[\\/]/g, '_').replace(/\.cpp$/, '.o'));
  const srcPath = path.join(root, source);
  // incremental: a unit is rebuilt when it or any native header is newer than its object
  const newest = Math.max(fs.statSync(srcPath).mtimeMs, ...headers().map((h) => fs.statSync(h).mtimeMs));
  if (fs.existsSync(obj) && fs.statSync(obj).mtimeMs > newest) return Promise.resolve(obj);
  const args = [
    '-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-pthread', '-Wall', '-Wextra',
    ...DEFINES.map((d) => `-D${d}`),
    `-I${require('node-api-headers').include_dir}`, `-I${require('node-addon-api').include_dir.replace(/"/g, '')}`,
    '-c', srcPath, '-o', obj,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(cxx, args, { stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(obj) : reject(new Error(`${cxx} failed on ${source} (exit ${code})`))));
  });
}

let headerList;
function headers() {
  if (!headerList) {
    headerList = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(h|inc)$/.test(e.name)) headerList.push(p);
      }
    };
    walk(path.join(root, 'native'));
  }
  return headerList;
}

async function main() {
  const missing = toolchainMissing();
  if (missing) {
    console.error(`build-arm64: skipped, ${missing}; the package then ships no linux-arm64 addon (arm64 hosts fall back to wasm).`);
    return;
  }
  fs.mkdirSync(objDir, { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });
  // at most as many compilers as cores: the two-core CI machine also runs other builds
  const jobs = Math.max(1, Math.min(SOURCES.length, os.availableParallelism?.() ?? 2));
  const queue = [...SOURCES];
  const objects = [];
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (queue.length) objects.push(await compile(queue.shift()));
  }));
  objects.sort();
  // libstdc++ and libgcc linked in: the binary then needs only glibc, whatever g++ the arm64 host has
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync(cxx, ['-shared', '-pthread', '-static-libstdc++', '-static-libgcc', '-Wl,-s', ...objects, '-o', tmp], { stdio: ['ignore', 2, 2] });
  fs.renameSync(tmp, out); // rename, not overwrite: a process that has the old file mapped keeps its inode
  console.error(`build-arm64: ${path.relative(root, out)} (${(fs.statSync(out).size / 1024).toFixed(0)} KiB, aarch64)`);
}

main().catch((e) => {
  console.error(`build-arm64: ${e.message}`);
  process.exit(1);
});
