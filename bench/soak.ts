// `npm run soak`: memory soak. Runs thousands of back-to-back inferences on one model and checks that resident
// memory stops growing once warm (RSS after the last inference within a limit of RSS after inference 1,000).
//
//   npm run soak                                   # native, MobileNetV2 1.0@224, 1 thread, 10,000 inferences
//   npm run soak -- --backend wasm-simd --count 2000
//   npm run soak -- --arch mobilenet_v1 --alpha 0.25 --resolution 128 --threads 2 --limit-mb 5
import * as v8 from 'v8';
import * as vm from 'vm';
import { load } from '../lib';
import type { BackendChoice } from '../lib/backends/select';
import type { ArchitectureSpec } from '../lib/models';
import { syntheticInput } from '../lib/bench';

interface SoakOptions {
  backend: BackendChoice;
  spec: ArchitectureSpec;
  threads: number;
  count: number;
  /** The inference whose RSS is the baseline (warm-up, arenas and JIT done by then). */
  baseline: number;
  limitMb: number;
}

interface Sample {
  inference: number;
  rss_mb: number;
  heap_used_mb: number;
  external_mb: number;
  array_buffers_mb: number;
  elapsed_s: number;
}

const USAGE = 'usage: tsx bench/soak.ts [--backend native|wasm-simd|wasm-relaxed|js|auto] [--arch mobilenet_v2] [--alpha 1] [--resolution 224] [--threads 1] [--count 10000] [--baseline 1000] [--limit-mb 5]';

function parseArgs(argv: string[]): SoakOptions {
  const opts: SoakOptions = { backend: 'native', spec: { arch: 'mobilenet_v2', alpha: 1, resolution: 224, seed: 1 }, threads: 1, count: 10_000, baseline: 1000, limitMb: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value. ${USAGE}`);
    const num = Number(value);
    switch (flag) {
      case '--backend': opts.backend = value as BackendChoice; break;
      case '--arch': opts.spec.arch = value as ArchitectureSpec['arch']; break;
      case '--alpha': opts.spec.alpha = num; break;
      case '--resolution': opts.spec.resolution = num; break;
      case '--threads': opts.threads = num; break;
      case '--count': opts.count = num; break;
      case '--baseline': opts.baseline = num; break;
      case '--limit-mb': opts.limitMb = num; break;
      default: throw new Error(`unknown option ${flag}. ${USAGE}`);
    }
  }
  if (!Number.isInteger(opts.count) || !Number.isInteger(opts.baseline) || opts.baseline < 1 || opts.baseline >= opts.count) {
    throw new Error(`--baseline must be an integer from 1 to --count - 1 (received ${opts.baseline} and ${opts.count}). ${USAGE}`);
  }
  return opts;
}

/** A full collection before each sample, so RSS shows what is still reachable or leaked, not garbage in waiting. */
function collector(): { gc: () => void; how: string } {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return { gc: exposed, how: '--expose-gc' };
  // Node accepts the flag at run time; a fresh context then sees the gc() function it adds.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  return { gc, how: 'v8.setFlagsFromString(--expose-gc)' };
}

/** Inference numbers at which to sample: a few early ones, the baseline, then tenths of the run. */
function samplePoints(count: number, baseline: number): Set<number> {
  const points = new Set([1, 10, 100, baseline, count]);
  for (let k = 1; k < 10; k++) points.add(Math.round((count * k) / 10));
  return points;
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const { gc, how } = collector();
  const model = await load(opts.spec, { backend: opts.backend, threads: opts.threads });
  const [H, W, C] = model.info.inputShape;
  const data = syntheticInput(H * W * C);
  const input = { data, shape: [1, H, W, C] };
  const points = samplePoints(opts.count, opts.baseline);
  const samples: Sample[] = [];
  const label = `${opts.spec.arch} ${opts.spec.alpha}@${opts.spec.resolution} on ${model.backend.name} (${model.backend.isa}) x${model.backend.threads}`;
  console.error(`soak: ${label}, ${opts.count} inferences, RSS sampled after a full GC (${how})`);

  let first: Float32Array | undefined;
  let mismatches = 0;
  const start = performance.now();
  for (let n = 1; n <= opts.count; n++) {
    const out = await model.infer(input);
    // the same input must keep giving the same output: a soak that corrupts memory fails here too
    if (!first) first = out.data;
    else if (n % 100 === 0 && !out.data.every((v, i) => v === first![i])) mismatches++;
    if (points.has(n)) {
      gc();
      gc();
      const m = process.memoryUsage();
      const s: Sample = {
        inference: n,
        rss_mb: m.rss / MB,
        heap_used_mb: m.heapUsed / MB,
        external_mb: m.external / MB,
        array_buffers_mb: m.arrayBuffers / MB,
        elapsed_s: (performance.now() - start) / 1000,
      };
      samples.push(s);
      console.error(`  #${n}: rss ${s.rss_mb.toFixed(1)} MB, heap ${s.heap_used_mb.toFixed(1)} MB, external ${s.external_mb.toFixed(1)} MB, ${s.elapsed_s.toFixed(1)} s`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  model.dispose();

  const at = (n: number): Sample => samples.find((s) => s.inference === n)!;
  const growth = at(opts.count).rss_mb - at(opts.baseline).rss_mb;
  const ok = growth <= opts.limitMb && mismatches === 0;
  const result = {
    model: `${opts.spec.arch} ${opts.spec.alpha}@${opts.spec.resolution}`,
    backend: model.backend.name,
    isa: model.backend.isa,
    threads: model.backend.threads,
    count: opts.count,
    baseline: opts.baseline,
    rss_baseline_mb: +at(opts.baseline).rss_mb.toFixed(2),
    rss_final_mb: +at(opts.count).rss_mb.toFixed(2),
    rss_growth_mb: +growth.toFixed(2),
    limit_mb: opts.limitMb,
    ms_per_inference: +((seconds * 1000) / opts.count).toFixed(3),
    output_mismatches: mismatches,
    ok,
    samples: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, +v.toFixed(2)]))),
  };
  console.log(JSON.stringify(result));
  console.log(
    `soak ${ok ? 'OK' : 'FAILED'}: ${label}: RSS ${result.rss_baseline_mb} MB after #${opts.baseline}, ${result.rss_final_mb} MB after #${opts.count} ` +
      `(growth ${result.rss_growth_mb} MB, limit ${opts.limitMb} MB), ${result.ms_per_inference} ms per inference` +
      (mismatches ? `, ${mismatches} outputs differed from the first` : ''),
  );
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`soak: ${(e as Error).message}`);
  process.exitCode = 2;
});
