// `mobilenet bench`: times `await model.infer()` for each backend x threads x batch on this machine, with the
// environment first, optional peer rows (onnxruntime-node, tfjs-wasm) on the same weights, and what auto picks.
import { benchEnvironment, runBench, syntheticInput, type BenchRow } from '../bench';
import { BACKEND_NAMES, type BackendName } from '../backends/types';
import { getBackend } from '../backends';
import { candidatesFor } from '../backends/select';
import { MobileNetError } from '../errors';
import { fuseActivations } from '../graph/optimize';
import { load } from '../index';
import type { ArchitectureSpec } from '../models';
import { peerRunners } from '../peers';
import { resolveSource } from '../source';
import { parseModelSource, usageError, type CliIO, type Command, type ParsedArgs } from './args';
import { ProgressBar } from './progress';

const ARCHES = ['mobilenet_v1', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small'] as const;

function parseList(value: string | undefined, flag: string, fallback: number[], max: number): number[] {
  if (value === undefined) return fallback;
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || nums.some((n) => n < 1 || n > max)) {
    throw usageError(`--${flag} to be a comma-separated list of integers from 1 to ${max}`, JSON.stringify(value), `Pass e.g. --${flag} 1,2.`);
  }
  return nums;
}

/** Backends named on the command line; `optional` are those only named through a group (wasm), measured if available. */
function parseBackends(value: string | undefined): { names: BackendName[]; optional: Set<BackendName> } | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((s) => s.trim());
  for (const n of parts) {
    if (n !== 'wasm' && !(BACKEND_NAMES as readonly string[]).includes(n)) {
      throw usageError(`--backend to list backends among ${BACKEND_NAMES.join(', ')} (or wasm)`, JSON.stringify(n), 'Pass e.g. --backend native,wasm-simd.');
    }
  }
  const named = new Set(parts.filter((n) => n !== 'wasm') as BackendName[]);
  // `wasm` stands for both wasm builds; only those this engine can run get rows
  const names = [...new Set(parts.flatMap((n) => (n === 'wasm' ? candidatesFor('wasm') : [n as BackendName])))];
  return { names, optional: new Set(names.filter((n) => !named.has(n))) };
}

/** The backends to measure: every available one by default; a group's unavailable members are left out (the header says why). */
async function backendsToMeasure(requested: ReturnType<typeof parseBackends>): Promise<BackendName[]> {
  const candidates = requested?.names ?? [...BACKEND_NAMES];
  const optional = requested?.optional ?? new Set(BACKEND_NAMES);
  const chosen: BackendName[] = [];
  const reasons: string[] = [];
  for (const n of candidates) {
    const a = await getBackend(n).availability();
    if (a.available || !optional.has(n)) chosen.push(n);
    else reasons.push(`${n}: ${a.reason ?? 'unavailable'}`);
  }
  if (chosen.length === 0) {
    throw new MobileNetError('E_BACKEND', `Expected at least one of ${candidates.join(', ')} to run here, but none can:\n  - ${reasons.join('\n  - ')}\nPick another backend, e.g. --backend js.`);
  }
  return chosen;
}

function modelSource(args: ParsedArgs): string | ArchitectureSpec {
  const model = args.string('model');
  const arch = args.string('arch');
  if (model && arch) throw usageError('either --model or --arch', 'both', 'Drop one of them.');
  if (model) return parseModelSource(model);
  return {
    arch: (arch ?? 'mobilenet_v2') as ArchitectureSpec['arch'],
    alpha: args.number('alpha') ?? 1,
    resolution: args.number('resolution') ?? 224,
    seed: 1,
  };
}

const fmt = (n: number, d = 2) => n.toFixed(d);

function tableRow(r: BenchRow & { peer?: boolean }): string {
  const cells = [
    r.backend + (r.peer ? ' (peer)' : ''), r.isa, String(r.threads), String(r.batch), String(r.runs),
    fmt(r.min_ms), fmt(r.median_ms), fmt(r.p90_ms), fmt(r.images_per_s, 1), fmt(r.gflops, 1),
    r.peak_fraction === null ? 'n/a' : `${(r.peak_fraction * 100).toFixed(1)}%`,
  ];
  return `| ${cells.join(' | ')} |`;
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const json = args.flag('json');
  const source = modelSource(args);
  const threads = parseList(args.string('threads'), 'threads', [1, 2].filter((t) => t <= Math.max(1, require('os').availableParallelism?.() ?? 2)), 256);
  const batches = parseList(args.number('batch') !== undefined ? String(args.number('batch')) : undefined, 'batch', [1], 4096);
  const runs = args.number('runs') ?? 50;
  const warmup = args.number('warmup') ?? 5;
  const chosen = await backendsToMeasure(parseBackends(args.string('backend')));
  const env = await benchEnvironment();
  if (json) {
    io.stdout.write(JSON.stringify({ environment: env }) + '\n');
  } else {
    io.stdout.write(`CPU: ${env.cpu} (${env.cores} cores), ${env.platform}, Node ${env.node}\n`);
    io.stdout.write(`native ISAs: ${env.isas.join(', ') || 'none'}; wasm: ${env.wasmFeatures.join(', ') || 'none'}; FMA peak: ${env.peakGflopsPerCore ? `${env.peakGflopsPerCore.toFixed(1)} GFLOP/s per core` : 'unknown'}\n`);
    for (const [name, state] of Object.entries(env.available)) if (state !== 'yes') io.stdout.write(`  ${name}: ${state}\n`);
    io.stdout.write('\n| backend | isa | threads | batch | runs | min ms | median ms | p90 ms | images/s | GFLOP/s | of FMA peak |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n');
  }
  const bar = new ProgressBar('bench', 1, { stream: io.stderr });
  const emit = (row: BenchRow & { peer?: boolean }) => {
    bar.clear();
    io.stdout.write(json ? JSON.stringify(row) + '\n' : tableRow(row) + '\n');
  };
  const rows = await runBench({
    source, backends: chosen, threads, batches, runs, warmup,
    onProgress: (done, total) => bar.update(done, total),
  }, emit);
  if (args.flag('peers')) await peerRows(source, threads, batches, runs, warmup, env.peakGflopsPerCore, rows[0]?.macs ?? 0, emit, io);
  bar.finish();
  // which backend `auto` picks for this model here, measured as load() would
  const autoModel = await load(source, { threads: Math.max(...threads) });
  const auto = autoModel.backend.name;
  autoModel.dispose();
  const fastest = rows.length ? rows.reduce((a, b) => (b.median_ms / b.batch < a.median_ms / a.batch ? b : a)).backend : null;
  if (json) io.stdout.write(JSON.stringify({ auto, fastest }) + '\n');
  else io.stdout.write(`\nauto picks: ${auto}; fastest row: ${fastest}\n`);
  return 0;
}

async function peerRows(
  source: string | ArchitectureSpec, threads: number[], batches: number[], runs: number, warmup: number,
  peak: number | null, macs: number, emit: (r: BenchRow & { peer: boolean }) => void, io: CliIO,
): Promise<void> {
  const graph = fuseActivations((await resolveSource(source)).graph);
  const [H, W, C] = graph.input.shape;
  for (const peer of peerRunners()) {
    const avail = await peer.available();
    if (!avail.ok) {
      io.stderr.write(`peer ${peer.name} not measured: ${avail.reason}\n`);
      continue;
    }
    for (const t of threads.filter((x) => x <= peer.maxThreads)) {
      const prepared = await peer.prepare(graph, { threads: t });
      try {
        for (const batch of batches) {
          const input = syntheticInput(batch * H * W * C);
          for (let i = 0; i < warmup; i++) await prepared.run(input, batch);
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            await prepared.run(input, batch);
            times.push(performance.now() - t0);
          }
          times.sort((a, b) => a - b);
          const median = times[Math.floor(times.length / 2)];
          const gflops = (2 * macs * batch) / (median * 1e6);
          emit({
            backend: peer.name, isa: prepared.version, threads: t, batch, runs, macs,
            min_ms: times[0], median_ms: median, p90_ms: times[Math.min(times.length - 1, Math.ceil(0.9 * times.length) - 1)],
            images_per_s: (1000 * batch) / median, gflops, peak_fraction: peak ? gflops / (peak * t) : null, peer: true,
          });
        }
      } finally {
        prepared.dispose();
      }
    }
  }
}

export const command: Command = {
  name: 'bench',
  summary: 'Time inference on every backend (and installed peers) on this machine',
  usage: '[--model M | --arch A --alpha X --resolution R] [options]',
  maxPositionals: 0,
  options: [
    { name: 'model', short: 'm', kind: 'string', valueName: 'MODEL', description: 'Registry name, model file, folder, URL or arch:<name>[,alpha=..] (default: --arch)' },
    { name: 'arch', kind: 'string', valueName: 'A', choices: ARCHES, description: 'Built-in architecture with random weights (default mobilenet_v2)' },
    { name: 'alpha', kind: 'number', valueName: 'X', min: 0.1, max: 2, description: 'Width multiplier (default 1)' },
    { name: 'resolution', kind: 'int', valueName: 'R', min: 32, max: 1024, description: 'Input resolution (default 224)' },
    { name: 'backend', short: 'b', kind: 'string', valueName: 'LIST', description: 'Comma-separated backends (default: every available one)' },
    { name: 'threads', short: 't', kind: 'string', valueName: 'LIST', description: 'Comma-separated thread counts for native (default 1,2)' },
    { name: 'batch', kind: 'int', valueName: 'N', min: 1, max: 4096, description: 'Images per inference call (default 1)' },
    { name: 'runs', kind: 'int', valueName: 'N', min: 1, max: 100000, description: 'Timed runs per row (default 50; js stops after 5)' },
    { name: 'warmup', kind: 'int', valueName: 'N', min: 0, max: 10000, description: 'Untimed runs first (default 5)' },
    { name: 'peers', kind: 'flag', description: 'Add rows for onnxruntime-node and tfjs-backend-wasm on the same weights, when installed' },
    { name: 'json', kind: 'flag', description: 'One JSON object per line: the environment, each row, then {"auto", "fastest"}' },
  ],
  epilog: `Rows time \`await model.infer()\` end to end, as an application sees it. GFLOP/s = 2 x MACs x batch / median;
"of FMA peak" divides by this machine's single-core fp32 FMA peak (measured once by the native addon) x threads.
Examples:
  mobilenet bench
  mobilenet bench --arch mobilenet_v2 --alpha 1 --resolution 224 --backend native --threads 1 --runs 100 --json
  mobilenet bench --model mobilenet_v3_small --backend native,wasm --batch 8 --peers`,
  run,
};
