// Benchmark core behind `mobilenet bench`: times `await model.infer()` end to end for each backend x
// threads x batch, and reports latency percentiles, throughput, GFLOP/s and the fraction of FMA peak.
import * as os from 'os';
import { backends, load, type ModelSource } from './index';
import type { BackendName } from './backends/types';
import { getBackend } from './backends';
import type { Model } from './model';

export interface BenchRow {
  backend: string;
  isa: string;
  threads: number;
  batch: number;
  runs: number;
  macs: number;
  min_ms: number;
  median_ms: number;
  p90_ms: number;
  images_per_s: number;
  gflops: number;
  /** GFLOP/s over (this machine's measured single-core fp32 FMA peak x threads); null when unknown. */
  peak_fraction: number | null;
}

export interface BenchOptions {
  source: ModelSource;
  backends: BackendName[];
  threads: number[];
  batches: number[];
  runs: number;
  warmup: number;
  /** Upper bound on seconds spent timing one row (slow backends such as js stop early). */
  maxSecondsPerRow?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface BenchEnvironment {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  isas: string[];
  wasmFeatures: string[];
  /** Single-core fp32 FMA peak in GFLOP/s, measured once by the native addon (null without it). */
  peakGflopsPerCore: number | null;
  available: Record<string, string>;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

let peakCache: number | null | undefined;
/** The machine's single-core FMA peak, measured once per process by the native addon if it can. */
export async function measurePeakGflops(): Promise<number | null> {
  if (peakCache !== undefined) return peakCache;
  let peak: number | null = null;
  try {
    const native = require('./backends/native');
    if (typeof native.measurePeakGflops === 'function' && (await getBackend('native').availability()).available) {
      peak = await native.measurePeakGflops();
    }
  } catch {
    peak = null;
  }
  peakCache = peak;
  return peak;
}

/** Describes the machine, as the header of every bench run. */
export async function benchEnvironment(): Promise<BenchEnvironment> {
  const list = await backends();
  const native = list.find((b) => b.name === 'native');
  const available: Record<string, string> = {};
  for (const b of list) available[b.name] = b.available ? 'yes' : `no: ${b.reason}`;
  const wasmFeatures = list.filter((b) => b.name.startsWith('wasm') && b.available).map((b) => b.name.replace('wasm-', ''));
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    isas: ((native?.detail?.isas as string[] | undefined) ?? []),
    wasmFeatures,
    peakGflopsPerCore: await measurePeakGflops(),
    available,
  };
}

/**
 * A deterministic, non-constant input of `floats` values in [-1, 1] for timing (no zeros for kernels to skip).
 *
 * @example
 * const data = syntheticInput(224 * 224 * 3);
 */
export function syntheticInput(floats: number): Float32Array {
  const data = new Float32Array(floats);
  for (let i = 0; i < floats; i++) data[i] = Math.sin(i * 0.37);
  return data;
}

/** Times one loaded model at one batch size. */
export async function timeModel(model: Model, batch: number, runs: number, warmup: number, maxSeconds = Infinity): Promise<number[]> {
  const [H, W, C] = model.info.inputShape;
  const input = { data: syntheticInput(batch * H * W * C), shape: [batch, H, W, C] };
  for (let i = 0; i < warmup; i++) await model.infer(input);
  const times: number[] = [];
  const deadline = performance.now() + maxSeconds * 1000;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await model.infer(input);
    times.push(performance.now() - t0);
    if (performance.now() > deadline && times.length >= 3) break;
  }
  return times;
}

/**
 * Runs the benchmark matrix and calls `emit` per row.
 *
 * @example
 * await runBench({ source: { arch: 'mobilenet_v2' }, backends: ['native'], threads: [1], batches: [1], runs: 50, warmup: 5 }, console.log);
 */
export async function runBench(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<BenchRow[]> {
  const peak = await measurePeakGflops();
  const rows: BenchRow[] = [];
  const combos: { backend: BackendName; threads: number; batch: number }[] = [];
  for (const backend of opts.backends) {
    // only native runs more than one thread; other backends get one row per batch
    const threads = backend === 'native' ? opts.threads : [1];
    for (const t of threads) for (const batch of opts.batches) combos.push({ backend, threads: t, batch });
  }
  let done = 0;
  for (const c of combos) {
    opts.onProgress?.(done, combos.length, `${c.backend} x${c.threads} b${c.batch}`);
    const model = await load(opts.source, { backend: c.backend, threads: c.threads });
    try {
      const slow = c.backend === 'js';
      const times = await timeModel(model, c.batch, slow ? Math.min(opts.runs, 5) : opts.runs, slow ? Math.min(opts.warmup, 1) : opts.warmup, opts.maxSecondsPerRow ?? (slow ? 20 : 60));
      const sorted = [...times].sort((a, b) => a - b);
      const median = percentile(sorted, 50);
      const macs = model.info.macs;
      const gflops = (2 * macs * c.batch) / (median * 1e6);
      const row: BenchRow = {
        backend: model.backend.name,
        isa: model.backend.isa,
        threads: model.backend.threads,
        batch: c.batch,
        runs: times.length,
        macs,
        min_ms: sorted[0],
        median_ms: median,
        p90_ms: percentile(sorted, 90),
        images_per_s: (1000 * c.batch) / median,
        gflops,
        peak_fraction: peak ? gflops / (peak * model.backend.threads) : null,
      };
      rows.push(row);
      emit(row);
    } finally {
      model.dispose();
    }
    done++;
  }
  opts.onProgress?.(done, combos.length, 'done');
  return rows;
}
