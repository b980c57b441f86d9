// The browser build end to end: bundles lib/browser.ts, serves a page, the bundle, the .wasm files, real models and
// photos on loopback, drives headless Chromium to classify them, and matches Node's wasm-simd output on the same pixels.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { load, type Model, type Prediction } from '../lib';
import { decodeImage } from '../lib/image';
import { DATA_DIR, dataPath } from './helpers/data';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BUNDLE_DIR = path.join(ROOT, 'build', 'browser');
const PAGE_DIR = path.join(__dirname, 'browser');

const V2 = 'models/tflite/mobilenet_v2_1.0_224_quant.tflite';
const LAYERS = 'models/tfjs/mobilenet_v1_0.25_224_layers/model.json';
const JPEG = 'images/classic/parrot.jpg';
const BMP = 'images/classic/grace_hopper.bmp';
/** Softmax probabilities in [0, 1]: the same wasm module on the same floats must agree to float32 noise. */
const PROB_TOL = 1e-5;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** Node's wasm-relaxed top-5 from a child process (Node 20 needs the V8 flag; Node 22+ has relaxed SIMD on). */
function nodeRelaxed(model: string, jpeg: string, bmp: string): Promise<{ backend: string; raw: Prediction[]; bmp: Prediction[] }> {
  const flags = NODE_MAJOR < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
  const args = [...flags, '--import', 'tsx', path.join(PAGE_DIR, 'node-classify.ts'), 'wasm-relaxed', model, jpeg, bmp];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`node ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

interface PageRun {
  name: string;
  loaderCalls: string[];
  backend: string;
  isa: string;
  notes: string[];
  loadMs: number;
  classifyMs: number;
  results: Record<string, Prediction[] | Prediction[][]>;
}
interface PageReport {
  userAgent: string;
  backends: { name: string; available: boolean; reason?: string }[];
  runs: PageRun[];
  errors: Record<string, { code?: string; message: string }>;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves the page, the bundle and read-only data under fixed prefixes; never a path outside them. */
function startServer(routes: Record<string, string>, extra: Record<string, Buffer>, onResult: (body: string) => void): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        res.end('ok');
        onResult(body);
      });
      return;
    }
    const send = (status: number, data: Buffer | string, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(data);
    };
    if (extra[url.pathname]) return send(200, extra[url.pathname], TYPES[path.extname(url.pathname)] ?? 'application/octet-stream');
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = path.resolve(dir, decodeURIComponent(url.pathname.slice(prefix.length)));
      if (!file.startsWith(path.resolve(dir) + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return send(404, 'not found');
      return send(200, fs.readFileSync(file), TYPES[path.extname(file)] ?? 'application/octet-stream');
    }
    send(404, 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Opens the page in headless Chromium and resolves with what it POSTs to /result (or rejects with Chromium's log). */
async function runPage<T = PageReport>(page: string, cases: unknown, files: Record<string, Buffer>, budgetMs: number): Promise<T> {
  let settle: (body: string) => void = () => undefined;
  const posted = new Promise<string>((resolve) => (settle = resolve));
  const server = await startServer(
    { '/page/': PAGE_DIR, '/bundle/': BUNDLE_DIR, '/data/': DATA_DIR },
    { '/cases.json': Buffer.from(JSON.stringify(cases)), ...files },
    (body) => settle(body),
  );
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenet-chromium-'));
  const { port } = server.address() as AddressInfo;
  let browser: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Chromium's helper processes inherit its output: a file (not a pipe) keeps them from holding jest open.
  const logFile = path.join(profile, 'chromium.log');
  const logFd = fs.openSync(logFile, 'w');
  const log = () => fs.readFileSync(logFile, 'utf8');
  try {
    browser = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
      '--enable-logging=stderr', '--v=0', `http://127.0.0.1:${port}/page/${page}`,
    ], { stdio: ['ignore', logFd, logFd], detached: true });
    const exited = new Promise<string>((resolve) => browser!.on('exit', (code, signal) => resolve(`chromium exited early (code ${code}, signal ${signal})`)));
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no result from the page within ${budgetMs} ms`), budgetMs)));
    const body = await Promise.race([posted, exited.then((m) => Promise.reject(new Error(m))), timeout.then((m) => Promise.reject(new Error(m)))]).catch((e: Error) => {
      throw new Error(`${e.message}\n--- chromium log (last 3000 chars) ---\n${log().slice(-3000)}`);
    });
    const parsed = JSON.parse(body) as { ok?: T; error?: { code?: string; message: string; stack?: string } };
    if (!parsed.ok) throw new Error(`the page failed: ${parsed.error?.code ?? ''} ${parsed.error?.message}\n${parsed.error?.stack ?? ''}`);
    return parsed.ok;
  } finally {
    clearTimeout(timer);
    // detached: Chromium leads its own process group, so its helpers (renderer, zygote) end with it.
    const group = browser?.pid;
    if (browser && group !== undefined && browser.exitCode === null) {
      const gone = new Promise((resolve) => browser!.once('exit', resolve));
      process.kill(-group, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000).unref())]);
      if (browser.exitCode === null) process.kill(-group, 'SIGKILL');
    }
    fs.closeSync(logFd);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function expectSameTop5(where: string, page: Prediction[], node: Prediction[], tol: number): void {
  expect({ where, indices: page.map((p) => p.index) }).toEqual({ where, indices: node.map((p) => p.index) });
  page.forEach((p, i) => {
    const diff = Math.abs(p.probability - node[i].probability);
    if (!(diff <= tol)) throw new Error(`${where}: class ${p.index} has probability ${p.probability} in Chromium and ${node[i].probability} in Node (|diff| ${diff} > ${tol})`);
  });
}

describe('browser bundle in headless Chromium', () => {
  let report: PageReport;
  const node: Record<string, { raw: Prediction[]; bmp: Prediction[]; jpeg?: Prediction[] }> = {};

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's Chromium. Run \`apt-get install -y chromium\` (CI installs it in .ci/run), or set CHROMIUM_PATH.`);
    }
    // Build outputs: the wasm modules once on a fresh checkout, the bundle every run (esbuild takes well under a second).
    if (!['mobilenet-simd.wasm', 'mobilenet-relaxed.wasm'].every((f) => fs.existsSync(path.join(ROOT, 'build', 'wasm', f)))) {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-wasm.js')], { cwd: ROOT, stdio: 'pipe' });
    }
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.js')], { cwd: ROOT, stdio: 'pipe' });
    const photo = await decodeImage(dataPath(JPEG));
    const cases = {
      image: { rgb: '/photo.rgb', width: photo.width, height: photo.height, jpeg: `/data/${JPEG}`, bmp: `/data/${BMP}` },
      runs: [
        { name: 'v2-simd', model: `/data/${V2}`, backend: 'wasm-simd', inputs: ['raw', 'imageData', 'bitmap', 'bmp', 'bmpUrl', 'jpegElement'] },
        { name: 'v2-auto', model: `/data/${V2}`, backend: 'auto', inputs: ['raw', 'bmp'] },
        { name: 'layers-simd', model: `/data/${LAYERS}`, backend: 'wasm-simd', inputs: ['raw', 'bmp'] },
        { name: 'v2-bytes-loader', model: `/data/${V2}`, modelAsBytes: true, customLoader: true, backend: 'wasm-simd', inputs: ['raw'] },
      ],
    };
    const [pageReport, relaxed] = await Promise.all([
      runPage('index.html', cases, { '/photo.rgb': Buffer.from(photo.data) }, 90_000).catch((e) => e as Error),
      nodeRelaxed(dataPath(V2), dataPath(JPEG), dataPath(BMP)),
      (async () => {
        for (const [name, file] of [['v2', V2], ['layers', LAYERS]] as const) {
          const model: Model = await load(dataPath(file), { backend: 'wasm-simd' });
          const raw = await model.classify({ data: photo.data, width: photo.width, height: photo.height, channels: 3 });
          node[name] = { raw, bmp: await model.classify(dataPath(BMP)), jpeg: await model.classify(dataPath(JPEG)) };
          model.dispose();
        }
      })(),
    ]);
    if (pageReport instanceof Error) throw pageReport;
    expect(relaxed.backend).toBe('wasm-relaxed');
    node.v2relaxed = relaxed;
    report = pageReport;
  }, 150_000);

  test('Chromium offers both wasm builds and js', () => {
    const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]));
    expect(Object.keys(byName).sort()).toEqual(['js', 'wasm-relaxed', 'wasm-simd']);
    for (const b of report.backends) expect({ name: b.name, available: b.available, reason: b.reason }).toEqual({ name: b.name, available: true, reason: undefined });
  });

  test('V2 quant .tflite fetched by URL, wasm-simd: every input kind gives Node wasm-simd top-5 within 1e-5', () => {
    const run = report.runs.find((r) => r.name === 'v2-simd')!;
    expect(run.backend).toBe('wasm-simd');
    const r = run.results as Record<string, Prediction[]>;
    for (const kind of ['raw', 'imageData', 'bitmap']) expectSameTop5(`v2 wasm-simd ${kind} of ${JPEG}`, r[kind], node.v2.raw, PROB_TOL);
    for (const kind of ['bmp', 'bmpUrl']) expectSameTop5(`v2 wasm-simd ${kind} ${BMP}`, r[kind], node.v2.bmp, PROB_TOL);
    const [first, second] = run.results.batch as Prediction[][];
    expectSameTop5('v2 wasm-simd classifyBatch[0]', first, node.v2.raw, PROB_TOL);
    expectSameTop5('v2 wasm-simd classifyBatch[1]', second, node.v2.raw, PROB_TOL);
    // Labels come from the zip appended to the .tflite, read in the page with the bundle's Buffer shim.
    expect(r.raw.map((p) => p.label)).toEqual(node.v2.raw.map((p) => p.label));
  });

  test('an <img> decoded by Chromium (not libjpeg) gives the same top-1 as Node', () => {
    const run = report.runs.find((r) => r.name === 'v2-simd')!;
    const page = (run.results as Record<string, Prediction[]>).jpegElement;
    expect(page[0].index).toBe(node.v2.jpeg![0].index);
    expect(Math.abs(page[0].probability - node.v2.jpeg![0].probability)).toBeLessThan(0.05);
  });

  test('auto picks wasm-relaxed in Chromium and agrees with Node wasm-relaxed (FMA rounds differently from wasm-simd)', () => {
    const run = report.runs.find((r) => r.name === 'v2-auto')!;
    expect(run.backend).toBe('wasm-relaxed');
    expect(run.isa).toBe('relaxed-simd');
    const r = run.results as Record<string, Prediction[]>;
    expectSameTop5('v2 auto raw', r.raw, node.v2relaxed.raw, PROB_TOL);
    expectSameTop5('v2 auto bmp', r.bmp, node.v2relaxed.bmp, PROB_TOL);
  });

  test('TF.js layers model.json with weight shards fetched by the page matches Node', () => {
    const run = report.runs.find((r) => r.name === 'layers-simd')!;
    const r = run.results as Record<string, Prediction[]>;
    expectSameTop5('layers wasm-simd raw', r.raw, node.layers.raw, PROB_TOL);
    expectSameTop5('layers wasm-simd bmp', r.bmp, node.layers.bmp, PROB_TOL);
  });

  test('an ArrayBuffer model with .wasm bytes from setWasmLoader (the Electron file:// route) matches Node', () => {
    const run = report.runs.find((r) => r.name === 'v2-bytes-loader')!;
    expect(run.loaderCalls).toContain('simd');
    expect(run.backend).toBe('wasm-simd');
    expectSameTop5('v2 ArrayBuffer + setWasmLoader raw', (run.results as Record<string, Prediction[]>).raw, node.v2.raw, PROB_TOL);
  });

  test('errors in the page keep their MobileNetError codes', () => {
    expect(report.errors.native.code).toBe('E_ARG');
    expect(report.errors.native.message).toMatch(/cannot load in a browser/);
    expect(report.errors.missingModel.code).toBe('E_IO');
    expect(report.errors.missingModel.message).toMatch(/HTTP 200.*404/);
    expect(report.errors.badImage.code).toBe('E_IMAGE');
  });

  afterAll(() => {
    if (report) console.log(`Chromium: ${report.userAgent}\n${report.runs.map((r) => `${r.name}: ${r.backend} load ${r.loadMs.toFixed(0)} ms, classify ${r.classifyMs.toFixed(1)} ms`).join('\n')}`);
  });
});

describe('browser bundle under a renderer CSP without wasm-unsafe-eval', () => {
  test('wasm backends report the CSP and how to allow it; auto falls back to js; forcing wasm is E_BACKEND', async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`apt-get install -y chromium\` (CI installs it in .ci/run), or set CHROMIUM_PATH.`);
    if (!fs.existsSync(path.join(BUNDLE_DIR, 'mobilenet-simd.js'))) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.js')], { cwd: ROOT, stdio: 'pipe' });
    const report = await runPage<{
      backends: { name: string; available: boolean; reason?: string }[];
      auto: { backend: string; notes: string[] };
      forced: { code: string; message: string };
    }>('csp.html', {}, {}, 60_000);
    const wasm = report.backends.filter((b) => b.name.startsWith('wasm'));
    expect(wasm.map((b) => b.name).sort()).toEqual(['wasm-relaxed', 'wasm-simd']);
    for (const b of wasm) {
      expect(b.available).toBe(false);
      expect(b.reason).toMatch(/Content Security Policy/);
      expect(b.reason).toMatch(/'wasm-unsafe-eval'/);
    }
    expect(report.auto.backend).toBe('js');
    expect(report.auto.notes.join('\n')).toMatch(/wasm-simd: .*wasm-unsafe-eval/);
    expect(report.forced.code).toBe('E_BACKEND');
    expect(report.forced.message).toMatch(/wasm-relaxed: .*wasm-unsafe-eval/);
  }, 90_000);
});
