// Install without a compiler: `npm pack` the built package, install the tarball offline into an empty project whose
// PATH holds only node, npm and sh, then prove native loads from the prebuilt binary and, once it is deleted,
// load() falls back to wasm while backends() says why native is unavailable. Also audits what the tarball ships.
//
// CI builds with `npm ci` (its prepare script runs `npm run build`) before the tests; `npm pack` here runs prepare again.
// sharp (our one dependency) and its platform packages install from the npm cache that `npm ci` filled; when that
// cache does not hold them (e.g. CI restored node_modules but not ~/.npm), the test packs them from the repo's
// node_modules instead and installs with an empty private cache. MOBILENET_INSTALL_TEST_CACHE=empty forces that path.
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DATA_DIR, REPO_ROOT } from './helpers/data';

const PLATFORM = `${process.platform}-${process.arch}`;
const BINARY = 'mobilenet_simd.node';
const PREBUILT = path.join('prebuilds', PLATFORM, BINARY);
const WASM_FILES = ['mobilenet-simd.wasm', 'mobilenet-relaxed.wasm'];
/** What the package ships from the data kit on purpose: the default model and the ImageNet label lists. */
const SHIPPED_DATA = ['models/mobilenet_v2_1.0_224_quant.tflite', 'models/imagenet_labels_1000.txt', 'models/imagenet_labels_1001.txt'];
/** Programs whose presence would let an install quietly compile something. */
const TOOLCHAIN = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'node-gyp', 'python3'];

const timings: string[] = [];
function timed<T>(label: string, fn: () => T): T {
  const t0 = performance.now();
  const result = fn();
  timings.push(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** Build outputs the tarball must carry, each with the command that makes it. */
function missingArtefacts(): string[] {
  const need: [string, string][] = [
    ['dist/index.js', 'npm run build'],
    ['dist/index.mjs', 'npm run build'],
    ['dist/index.d.ts', 'npm run build'],
    ...WASM_FILES.map((f): [string, string] => [`build/wasm/${f}`, 'npm run build:wasm']),
    [PREBUILT, 'npm run build:native && npm run build:prebuilds'],
  ];
  return need.filter(([file]) => !fs.existsSync(path.join(REPO_ROOT, file))).map(([file, cmd]) => `${file} (run \`${cmd}\`)`);
}

/** The real npm CLI script, found on this process's PATH (a symlink to it is all the bare PATH needs). */
function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (dir && fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error('npm was not found on PATH; the install test needs the npm that ships with Node');
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
}

function describeRun(what: string, r: SpawnSyncReturns<string>): string {
  return `${what} exited with ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** Packages the installed tarball needs from a registry (our dependencies and theirs), as found in node_modules. */
function dependencyClosure(): string[] {
  const seen = new Set<string>();
  const pending = Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).dependencies ?? {});
  while (pending.length) {
    const name = pending.pop()!;
    const manifest = path.join(REPO_ROOT, 'node_modules', name, 'package.json');
    if (seen.has(name) || !fs.existsSync(manifest)) continue;
    seen.add(name);
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    // optional dependencies count only when installed here: they are sharp's per-platform binaries
    pending.push(...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}));
  }
  return [...seen].sort();
}

/** Runs in the installed project: what a user of the package sees, as one JSON line. */
const PROBE = `// Written by test/install.test.ts: exercises the installed package the way a user would.
const m = require('mobilenet-simd');
const spec = { arch: 'mobilenet_v1', alpha: 0.25, resolution: 64 };
const mode = process.argv[2];

async function inferOnce(options) {
  const model = await m.load(spec, options);
  const data = new Float32Array(64 * 64 * 3).map((_, i) => ((i * 37) % 255) / 127.5 - 1);
  const out = await model.infer({ data, shape: [1, 64, 64, 3] });
  model.dispose();
  return { backend: model.backend, shape: out.shape, output: Array.from(out.data) };
}

(async () => {
  const report = { resolved: require.resolve('mobilenet-simd'), mode };
  report.backends = await m.backends();
  const esm = await import('mobilenet-simd');
  report.esm = { load: typeof esm.load, backends: typeof esm.backends, sameInstance: esm.load === m.load };
  report.auto = await inferOnce(undefined);
  if (mode === 'prebuilt') {
    report.native = await inferOnce({ backend: 'native' });
    report.reference = await inferOnce({ backend: 'js' });
  } else {
    try {
      await m.load(spec, { backend: 'native' });
      report.forcedNative = { ok: true };
    } catch (e) {
      report.forcedNative = { ok: false, code: e.code, message: e.message };
    }
  }
  process.stdout.write(JSON.stringify(report) + '\\n');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
`;

interface ProbeReport {
  resolved: string;
  esm: { load: string; backends: string; sameInstance: boolean };
  backends: { name: string; available: boolean; reason?: string; detail?: Record<string, unknown> }[];
  auto: { backend: { name: string; isa: string; notes: string[] }; shape: number[]; output: number[] };
  native?: ProbeReport['auto'];
  reference?: ProbeReport['auto'];
  forcedNative?: { ok: boolean; code?: string; message?: string };
}

const onWindows = process.platform === 'win32';
// Symlinked bare PATHs and /bin/sh are POSIX; Windows installs need their own probe (not written yet).
const describePosix = onWindows ? describe.skip : describe;

describePosix(`install without a compiler (${PLATFORM})`, () => {
  let work = '';
  let bareEnv: NodeJS.ProcessEnv = {};
  let project = '';
  let tarball = '';
  let shipped: string[] = [];
  let installedRoot = '';
  let installLog = '';

  beforeAll(() => {
    const missing = missingArtefacts();
    if (missing.length) {
      throw new Error(`Build artefacts missing, so the tarball would be incomplete: ${missing.join('; ')}. CI must build before testing.`);
    }
    const built = [path.join('build', 'native', 'Release', BINARY), path.join('build', 'Release', BINARY)].find((f) => fs.existsSync(path.join(REPO_ROOT, f)));
    if (built && !fs.readFileSync(path.join(REPO_ROOT, built)).equals(fs.readFileSync(path.join(REPO_ROOT, PREBUILT)))) {
      console.warn(`${PREBUILT} differs from ${built}: the tarball ships the older copy unless you run \`npm run build:prebuilds\``);
    }
    const npm = npmCli();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'mbn-install-'));
    const bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(npm, path.join(bin, 'npm'));
    // npm runs lifecycle scripts through sh; a shell is not a compiler
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
    bareEnv = { HOME: process.env.HOME ?? os.homedir(), PATH: bin };
    if (process.env.npm_config_cache) bareEnv.npm_config_cache = process.env.npm_config_cache;

    const pack = timed('npm pack', () => run(process.execPath, [npm, 'pack', '--json', '--pack-destination', work], REPO_ROOT, process.env));
    if (pack.status !== 0) throw new Error(describeRun('npm pack', pack));
    // prepare (npm run build) runs here too and must print only to stderr: stdout is exactly the JSON
    const packed = JSON.parse(pack.stdout)[0] as { filename: string; files: { path: string }[]; size: number };
    tarball = path.join(work, packed.filename);
    shipped = packed.files.map((f) => f.path);
    console.log(`tarball ${packed.filename}: ${shipped.length} files, ${(packed.size / 1024).toFixed(0)} KiB`);

    project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'install-probe', version: '1.0.0', private: true }));
    const installArgs = [npm, 'install', '--offline', '--no-audit', '--no-fund'];
    let install: SpawnSyncReturns<string> | undefined;
    if (process.env.MOBILENET_INSTALL_TEST_CACHE !== 'empty') {
      install = timed('npm install --offline (npm cache)', () => run('node', [...installArgs, tarball], project, bareEnv));
      installLog = 'dependencies from the npm cache';
    }
    if (!install || (install.status !== 0 && /ENOTCACHED/.test(install.stderr))) {
      // The cache lacks sharp: hand npm our dependencies as local tarballs packed from node_modules instead.
      const deps = path.join(work, 'deps');
      fs.mkdirSync(deps);
      const names = dependencyClosure();
      const packDeps = timed('npm pack dependencies', () => run(process.execPath, [npm, 'pack', '--json', '--pack-destination', deps, ...names.map((n) => `./node_modules/${n}`)], REPO_ROOT, process.env));
      if (packDeps.status !== 0) throw new Error(describeRun('npm pack of the dependencies', packDeps));
      const depTarballs = (JSON.parse(packDeps.stdout.slice(packDeps.stdout.indexOf('['))) as { filename: string }[]).map((p) => path.join(deps, p.filename));
      const emptyCache = path.join(work, 'empty-npm-cache');
      install = timed('npm install --offline (empty cache, local dependency tarballs)', () =>
        run('node', [...installArgs, '--cache', emptyCache, tarball, ...depTarballs], project, { ...bareEnv, npm_config_cache: emptyCache }),
      );
      installLog = `empty npm cache; dependencies packed from node_modules: ${names.join(', ')}`;
    }
    if (install.status !== 0) throw new Error(describeRun('npm install of the tarball', install));
    installedRoot = path.join(project, 'node_modules', 'mobilenet-simd');
    console.log(`installed with ${installLog}`);
  }, 90_000);

  afterAll(() => {
    console.log(`install test timings:\n  ${timings.join('\n  ')}`);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function probe(mode: 'prebuilt' | 'removed'): ProbeReport {
    fs.writeFileSync(path.join(project, 'probe.js'), PROBE);
    // a fresh auto-choice cache per run, so the second run decides again instead of remembering the first
    const env = { ...bareEnv, MOBILENET_CACHE_DIR: path.join(work, `choice-cache-${mode}`) };
    const r = timed(`probe (${mode})`, () => run('node', ['probe.js', mode], project, env));
    if (r.status !== 0) throw new Error(describeRun(`the probe script (${mode})`, r));
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as ProbeReport;
  }

  test('the bare PATH has node and npm but no compiler, cmake or make', () => {
    const r = run('sh', ['-c', `for t in ${TOOLCHAIN.join(' ')}; do command -v "$t"; done; command -v node; command -v npm`], work, bareEnv);
    const found = r.stdout.trim().split('\n');
    expect(found).toEqual([path.join(bareEnv.PATH!, 'node'), path.join(bareEnv.PATH!, 'npm')]);
    // `which cc` style lookups fail too
    const cc = run('sh', ['-c', 'command -v cc || command -v g++ || command -v cmake'], work, bareEnv);
    expect(cc.status).not.toBe(0);
  });

  test('the installed package declares no install step (npm would run node-gyp for binding.gyp otherwise)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(installedRoot, 'package.json'), 'utf8'));
    expect(pkg.gypfile).toBe(false);
    for (const hook of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[hook]).toBeUndefined();
    // `prepare` builds a clone (npm runs it for local folders and git dependencies, never for a registry tarball);
    // this very install, from the tarball with no compiler on PATH, is the proof that nothing ran it
    expect(pkg.scripts?.prepare).toBe('node scripts/prepare.js');
    expect(fs.existsSync(path.join(installedRoot, 'build', 'native'))).toBe(false);
    expect(fs.existsSync(path.join(installedRoot, 'build', 'Release'))).toBe(false);
  });

  test('the mobilenet bin runs from the installed package', () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    const r = run(path.join(project, 'node_modules', '.bin', 'mobilenet'), ['--version'], project, bareEnv);
    if (r.status !== 0) throw new Error(describeRun('mobilenet --version', r));
    expect(r.stdout.trim()).toBe(version);
  });

  test('the tarball ships dist/, the linux-x64 and linux-arm64 binaries, both wasm builds and the default model', () => {
    for (const file of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'dist/cli/index.js', PREBUILT, 'prebuilds/linux-arm64/mobilenet_simd.node', ...WASM_FILES.map((f) => `build/wasm/${f}`), ...SHIPPED_DATA, 'NOTICE', 'package.json']) {
      expect(shipped).toContain(file.split(path.sep).join('/'));
    }
    expect(fs.statSync(path.join(installedRoot, PREBUILT)).size).toBe(fs.statSync(path.join(REPO_ROOT, PREBUILT)).size);
  });

  test('the tarball ships no dependencies, tests, photos, weights or labels beyond the default model and the ImageNet lists', () => {
    const forbidden = shipped.filter(
      (f) =>
        !SHIPPED_DATA.includes(f) && (
        /(^|\/)node_modules\//.test(f) ||
        /^(test|bench|assembly|lib)\//.test(f) ||
        /\.(jpe?g|png|bmp|webp|gif|tflite|onnx|pb|h5|npy|rgb|out|tsv)$/i.test(f) ||
        /(^|\/)group\d+-shard\d+of\d+/.test(f) ||
        /(^|\/)(model\.json|labels?[^/]*\.txt)$/i.test(f) ||
        /(^|\/)build\/(native|Release|asan|native-test|arm64)\//.test(f)),
    );
    expect(forbidden).toEqual([]);
  });

  (fs.existsSync(DATA_DIR) ? test : test.skip)(`no shipped file is a copy of a file under ${DATA_DIR}${fs.existsSync(DATA_DIR) ? '' : ' (skipped: the data folder is absent)'}`, () => {
    const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const bySize = new Map<number, string[]>();
    for (const f of shipped) {
      const file = path.join(installedRoot, f);
      const size = fs.statSync(file).size;
      bySize.set(size, [...(bySize.get(size) ?? []), file]);
    }
    const copies: string[] = [];
    let dataFiles = 0;
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.isFile()) {
          dataFiles++;
          const sameSize = bySize.get(fs.statSync(file).size);
          if (!sameSize) continue;
          const digest = sha(file);
          for (const s of sameSize) if (sha(s) === digest) copies.push(`${path.relative(installedRoot, s)} = ${path.relative(DATA_DIR, file)}`);
        }
      }
    };
    walk(DATA_DIR);
    expect(dataFiles).toBeGreaterThan(0);
    // the one exception: the default model and the 1001-name label list, shipped on purpose (see NOTICE)
    expect(copies.sort()).toEqual(['models/imagenet_labels_1001.txt = labels/imagenet_labels_1001_with_background.txt', 'models/mobilenet_v2_1.0_224_quant.tflite = models/tflite/mobilenet_v2_1.0_224_quant.tflite']);
  });

  test('native loads from the prebuilt binary and matches the reference; auto times it', () => {
    const report = probe('prebuilt');
    expect(report.resolved.startsWith(installedRoot + path.sep)).toBe(true);
    expect(report.esm).toEqual({ load: 'function', backends: 'function', sameInstance: true });
    const native = report.backends.find((b) => b.name === 'native')!;
    expect(native).toMatchObject({ available: true });
    expect(native.detail!.binary).toBe(path.join(installedRoot, PREBUILT));
    expect(native.detail!.attempts).toEqual([{ path: path.join(installedRoot, PREBUILT), ok: true }]);

    expect(report.native!.backend.name).toBe('native');
    expect(report.native!.shape).toEqual([1, 1000]);
    const ref = report.reference!.output;
    expect(report.reference!.backend.name).toBe('js');
    const maxRef = Math.max(...ref.map(Math.abs));
    const maxDiff = Math.max(...report.native!.output.map((v, i) => Math.abs(v - ref[i])));
    expect(maxDiff / maxRef).toBeLessThanOrEqual(1e-4);

    // auto either picked native or timed it against wasm: either way the prebuilt binary compiled and ran
    const auto = report.auto.backend;
    console.log(`default load() chose ${auto.name} (${auto.isa}); notes: ${auto.notes.join(' | ')}`);
    if (auto.name !== 'native') expect(auto.notes.join('\n')).toMatch(/native: [\d.]+ ms/);
  });

  test('with the prebuilt binary deleted, load() falls back to wasm and backends() lists every attempt', () => {
    fs.rmSync(path.join(installedRoot, PREBUILT));
    const report = probe('removed');
    const native = report.backends.find((b) => b.name === 'native')!;
    expect(native.available).toBe(false);
    const candidates = [PREBUILT, path.join('build', 'native', 'Release', BINARY), path.join('build', 'Release', BINARY)].map((p) => path.join(installedRoot, p));
    for (const c of candidates) expect(native.reason).toContain(`${c}: not found`);
    expect(native.reason).toMatch(/npm run build:native/);
    expect(native.reason).toMatch(/wasm/);

    expect(report.auto.backend.name).toMatch(/^wasm/);
    expect(report.auto.shape).toEqual([1, 1000]);
    expect(report.auto.backend.notes.join('\n')).toContain(`${candidates[0]}: not found`);
    expect(report.forcedNative).toMatchObject({ ok: false, code: 'E_BACKEND' });
    expect(report.forcedNative!.message).toContain(`${candidates[0]}: not found`);
  });
});
