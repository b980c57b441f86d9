#!/usr/bin/env bash
# Package hygiene: packs the built package and checks the tarball with publint (package.json against what it
# ships) and @arethetypeswrong/cli (types resolve for require and import, and for the browser entry).
# `npm run check:package`; CI runs it after the build. Prints the tarball's size.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# --ignore-scripts: the tree is built already; `prepare` would only rebuild it
npm pack --json --ignore-scripts --pack-destination "$out" > "$out/pack.json"
tgz="$out/$(node -p "require('$out/pack.json')[0].filename")"
node -e "const p = require('$out/pack.json')[0]; console.log('tarball: ' + p.filename + ', ' + (p.size / 1048576).toFixed(1) + ' MiB packed, ' + (p.unpackedSize / 1048576).toFixed(1) + ' MiB unpacked, ' + p.files.length + ' files')"
npx publint --strict "$tgz"
# The browser entry is ESM only by design (a bundle for pages and renderers): require() of it is not offered.
npx attw "$tgz" --ignore-rules cjs-resolves-to-esm
