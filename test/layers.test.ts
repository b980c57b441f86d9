// Checks on the sources: imports run downward only. No module under lib/ outside
// lib/cli/ imports from lib/cli/ (the library never draws on a terminal), and the load core with everything it
// imports stays free of Node built-ins and of Node-only modules, so the browser bundle shares it; and every environment variable read is documented.
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './helpers/data';

const LIB = path.join(REPO_ROOT, 'lib');
const NODE_BUILTIN = /^(node:)?(fs|path|os|crypto|zlib|child_process|worker_threads|url|util|stream|http|https|net)$/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Module specifiers a file imports statically, re-exports or require()s. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g), ...text.matchAll(/require\('([^']+)'\)/g), ...text.matchAll(/import\('([^']+)'\)/g)];
  return found.map((m) => m[1]);
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
}

test('no module under lib/ outside lib/cli/ imports from lib/cli/', () => {
  const cli = path.join(LIB, 'cli') + path.sep;
  const upward = sources(LIB)
    .filter((f) => !f.startsWith(cli))
    .flatMap((f) => imports(f).map((spec) => [f, resolveLocal(f, spec)] as const))
    .filter(([, target]) => target?.startsWith(cli))
    .map(([f, target]) => `${path.relative(REPO_ROOT, f)} -> ${path.relative(REPO_ROOT, target!)}`);
  expect(upward).toEqual([]);
});

test('the load core and the browser entry reach no Node built-in and no Node-only module', () => {
  const nodeOnly = ['lib/index.ts', 'lib/source.ts', 'lib/registry.ts', 'lib/cache.ts', 'lib/files.ts', 'lib/download.ts', 'lib/importers/index.ts', 'lib/backends/native.ts', 'lib/backends/auto.ts'].map((f) => path.join(REPO_ROOT, f));
  // lib/image/decode.ts is Node's decoder; the bundle swaps it for lib/browser/decode.ts (scripts/build-browser.js)
  const swapped = path.join(LIB, 'image', 'decode.ts');
  // built-ins a shared module may name because lib/browser/node-shims.ts stands in for them in the bundle
  const shimmed: Record<string, string> = { 'lib/importers/zip.ts': 'zlib', 'lib/backends/wasm.ts': 'fs path' };
  for (const entry of ['load-core.ts', 'browser.ts']) {
    const seen = new Set<string>();
    const reached: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file) || file === swapped) return;
      seen.add(file);
      for (const spec of imports(file)) {
        const shim = shimmed[path.relative(REPO_ROOT, file)]?.split(' ').includes(spec.replace(/^node:/, ''));
        if ((NODE_BUILTIN.test(spec) && !shim) || spec === 'sharp') reached.push(`${path.relative(REPO_ROOT, file)} imports ${spec}`);
        const local = resolveLocal(file, spec);
        if (local && nodeOnly.includes(local)) reached.push(`${path.relative(REPO_ROOT, file)} imports ${path.relative(REPO_ROOT, local)}`);
        if (local) visit(local);
      }
    };
    visit(path.join(LIB, entry));
    expect({ entry, reached }).toEqual({ entry, reached: [] });
    expect(seen.size).toBeGreaterThan(10); // the walk really followed the imports
  }
});

test('every environment variable the library reads is in the README table', () => {
  // process.env.X, and MOBILENET_* names in strings (variables read through a table, e.g. lib/limits.ts)
  const read = new Set(sources(LIB).flatMap((f) => {
    const text = fs.readFileSync(f, 'utf8');
    return [...text.matchAll(/process\.env\??\.([A-Z][A-Z0-9_]+)/g), ...text.matchAll(/'(MOBILENET_[A-Z0-9_]+)'/g)].map((m) => m[1]);
  }));
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  // the first cell of the environment table's rows: one or more `NAME`s
  const documented = new Set([...readme.matchAll(/^\| ((?:`[A-Z][A-Z0-9_]+`(?:, )?)+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Z0-9_]+)`/g)].map((n) => n[1])));
  expect(read.size).toBeGreaterThan(5);
  expect([...read].filter((v) => !documented.has(v))).toEqual([]);
});
