// 'auto' backend selection: compile the candidates that could win, time each on the loaded model within a
// small budget, keep the fastest, and remember the decision per (model, machine, runtime) key.
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cacheDir } from '../cache';
import { MobileNetError } from '../errors';
import type { Plan } from '../graph/plan';
import { tryCompile } from './chain';
import { getBackend } from './index';
import type { BackendName, CompileOptions, Executable } from './types';
import { BACKEND_NAMES } from './types';

/** Why a candidate was not used; the chosen backend also records every reason. */
export interface AutoDecision {
  chosen: BackendName;
  /** Median ms per candidate that was timed. */
  timings: Partial<Record<BackendName, number>>;
  /** Candidates not timed or not usable, with the reason. */
  skipped: string[];
  fromCache: boolean;
}

export interface AutoOptions {
  /** Total time budget for measuring, in ms (default 300). */
  budgetMs?: number;
  /** Replaces the timing of one candidate (tests inject timings with it). */
  measure?: (exe: Executable, plan: Plan) => Promise<number>;
  /** Where decisions persist; default the package's cache folder (lib/cache.ts); null = memory only. */
  cacheDir?: string | null;
}

const memoryCache = new Map<string, BackendName>();

/** The package version, part of the cache key so an upgrade re-measures. */
function packageVersion(): string {
  try {
    return require('../../package.json').version;
  } catch {
    return 'unknown';
  }
}

/** Identifies model + machine + runtime: a decision holds only while all three are the same. */
export function decisionKey(plan: Plan): string {
  const h = createHash('sha256');
  h.update(Buffer.from(plan.program.buffer, plan.program.byteOffset, plan.program.byteLength));
  h.update(Buffer.from(plan.constants.buffer, plan.constants.byteOffset, plan.constants.byteLength));
  const cpu = os.cpus()[0]?.model ?? 'unknown-cpu';
  h.update(`${cpu}|${os.availableParallelism?.() ?? os.cpus().length}|${process.platform}-${process.arch}|${process.version}|${packageVersion()}`);
  return h.digest('hex').slice(0, 32);
}

function cacheFile(dir: string): string {
  return path.join(dir, 'backend-choice.json');
}

async function readDiskCache(dir: string | null): Promise<Record<string, BackendName>> {
  if (!dir) return {};
  try {
    const parsed = JSON.parse(await fs.readFile(cacheFile(dir), 'utf8'));
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

async function writeDiskCache(dir: string | null, key: string, chosen: BackendName): Promise<void> {
  if (!dir) return;
  try {
    const all = await readDiskCache(dir);
    all[key] = chosen;
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${cacheFile(dir)}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(all));
    await fs.rename(tmp, cacheFile(dir));
  } catch {
    // a read-only home must not break loading; the decision stays in memory
  }
}

/** Forgets remembered decisions (memory only). */
export function clearAutoCache(): void {
  memoryCache.clear();
}

/** Median of timed runs after one warm-up: at least 3, then as many as the budget allows (at most 50). */
async function timeCandidate(exe: Executable, plan: Plan, budgetMs: number): Promise<number> {
  const input = new Float32Array(plan.input.shape[0] * plan.input.shape[1] * plan.input.shape[2]);
  const start = performance.now();
  await exe.run(input, 1);
  const times: number[] = [];
  // fast candidates get many runs within the budget, so a noisy neighbour cannot decide between close ones
  while (times.length < 3 || (times.length < 50 && performance.now() - start <= budgetMs)) {
    const t0 = performance.now();
    await exe.run(input, 1);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Picks and compiles the fastest backend for this plan. js is only timed when nothing faster loads
 * (it cannot win), and wasm-simd only when wasm-relaxed is unavailable (relaxed is the same code with FMA).
 */
export async function compileAuto(plan: Plan, compileOptions: CompileOptions, auto: AutoOptions = {}): Promise<{ exe: Executable; decision: AutoDecision }> {
  const dir = auto.cacheDir === undefined ? cacheDir() : auto.cacheDir;
  const key = decisionKey(plan);
  const skipped: string[] = [];
  const cached = memoryCache.get(key) ?? (await readDiskCache(dir))[key];
  if (cached && BACKEND_NAMES.includes(cached)) {
    const b = getBackend(cached);
    if ((await b.availability()).available) {
      try {
        const exe = await b.compile(plan, compileOptions);
        memoryCache.set(key, cached);
        return { exe, decision: { chosen: cached, timings: {}, skipped, fromCache: true } };
      } catch (e) {
        skipped.push(`${cached} (cached choice): ${(e as Error).message}`);
      }
    }
  }

  const compiled: Executable[] = [];
  const skip = new Map<BackendName, string>();
  for (const name of BACKEND_NAMES) {
    const why = skip.get(name);
    if (why) {
      skipped.push(`${name}: not timed, ${why}`);
      continue;
    }
    const result = await tryCompile(name, getBackend(name), plan, compileOptions);
    if (typeof result === 'string') {
      skipped.push(result);
      continue;
    }
    compiled.push(result);
    if (name === 'wasm-relaxed') skip.set('wasm-simd', 'wasm-relaxed loaded (the same kernels with fused multiply-add)');
    if (name !== 'js') skip.set('js', `it cannot beat the SIMD backend ${name}`);
  }
  if (compiled.length === 0) {
    throw new MobileNetError('E_BACKEND', `Expected at least one usable backend, but every candidate failed:\n  - ${skipped.join('\n  - ')}\nFix the first reason above, or report this machine.`, { failures: skipped });
  }
  const budget = auto.budgetMs ?? 300;
  const timings: Partial<Record<BackendName, number>> = {};
  let best = compiled[0];
  if (compiled.length > 1) {
    const per = budget / compiled.length;
    for (const exe of compiled) {
      timings[exe.backend] = auto.measure ? await auto.measure(exe, plan) : await timeCandidate(exe, plan, per);
    }
    best = compiled.reduce((a, b) => (timings[b.backend]! < timings[a.backend]! ? b : a));
  }
  for (const exe of compiled) if (exe !== best) exe.dispose();
  memoryCache.set(key, best.backend);
  await writeDiskCache(dir, key, best.backend);
  return { exe: best, decision: { chosen: best.backend, timings, skipped, fromCache: false } };
}
