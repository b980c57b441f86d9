// The native backend: loads the mobilenet_simd N-API addon (prebuilt binary first, then local builds),
// picks the ISA (option > MOBILENET_NATIVE_ISA > best the CPU runs) and wraps its models as Executables.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MobileNetError } from '../errors';
import type { Plan } from '../graph/plan';
import type { Availability, Backend, CompileOptions, Executable } from './types';

/** What the addon exports (native/addon.cpp). */
export interface NativeAddon {
  contract(): Record<string, Record<string, number>>;
  cpu(): { isas: { name: string; available: boolean; reason?: string }[]; best: string };
  /**
   * fuse: 'auto' (default: fuse pwconv->dwconv->pwconv blocks and dwconv->pwconv pairs with big intermediates,
   * absorb residual adds), 'all' (every legal fusion; tests) or 'off'.
   */
  compile(program: Int32Array, constants: Float32Array, threads: number, isa: string, fuse?: string): NativeModel;
  /** GFLOP/s of one thread running the ISA's register-resident FMA probe for `iterations` rounds. */
  peak(isa: string, iterations: number): number;
}

/** One compiled program inside the addon. */
export interface NativeModel {
  readonly isa: string;
  readonly threads: number;
  readonly steps: number;
  /** pwconv -> dwconv -> pwconv chains run as one fused row-streaming kernel. */
  readonly fusedBlocks: number;
  /** Depthwise -> pointwise pairs run row by row as one unit. */
  readonly fusedPairs: number;
  /** Residual adds folded into the pwconv before them (run in its epilogue). */
  readonly absorbedAdds: number;
  run(input: Float32Array, batch: number): Promise<Float32Array[]>;
  profile(input: Float32Array, batch: number): Promise<{ outputs: Float32Array[]; stepMs: Float64Array }>;
  dispose(): void;
}

/** One place the loader looked for the binary, and what happened. */
export interface LoadAttempt {
  path: string;
  ok: boolean;
  error?: string;
}

export const BINARY_NAME = 'mobilenet_simd.node';
/** The package root: lib/backends (source) and dist/backends (compiled) both sit two levels below it. */
const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Candidate binaries in preference order: an explicit override, the prebuilt one, cmake-js, node-gyp.
 * A local build newer than the prebuilt binary goes first: a developer who rebuilt the addon with
 * `npm run build:native` after `npm run build` (which copies it into prebuilds/) means the fresh build.
 *
 * @example
 * binaryCandidates(); // ['/pkg/prebuilds/linux-x64/mobilenet_simd.node', '/pkg/build/native/Release/...', ...]
 */
export function binaryCandidates(root: string = ROOT): string[] {
  const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, BINARY_NAME);
  const local = [path.join(root, 'build', 'native', 'Release', BINARY_NAME), path.join(root, 'build', 'Release', BINARY_NAME)];
  const mtime = (f: string) => {
    try {
      return fs.statSync(f).mtimeMs;
    } catch {
      return -1;
    }
  };
  const prebuiltTime = mtime(prebuilt);
  const fresher = prebuiltTime >= 0 ? local.filter((f) => mtime(f) > prebuiltTime) : [];
  const list = [...fresher, prebuilt, ...local.filter((f) => !fresher.includes(f))];
  const forced = process.env.MOBILENET_NATIVE_BINARY;
  return forced ? [path.resolve(forced), ...list] : list;
}

interface Loaded {
  addon?: NativeAddon;
  binary?: string;
  attempts: LoadAttempt[];
}

let loaded: Loaded | undefined;

/**
 * Loads the addon once per thread (the addon is context-aware, so worker_threads load their own instance).
 * Never throws: `attempts` says where it looked and why each candidate failed.
 *
 * @example
 * const { addon, binary, attempts } = loadAddon();
 * if (!addon) console.log(attempts.map((a) => `${a.path}: ${a.error}`).join('\n'));
 */
export function loadAddon(): Loaded {
  if (loaded) return loaded;
  const attempts: LoadAttempt[] = [];
  for (const file of binaryCandidates()) {
    if (!fs.existsSync(file)) {
      attempts.push({ path: file, ok: false, error: 'not found' });
      continue;
    }
    try {
      const addon = require(file) as NativeAddon;
      if (typeof addon?.compile !== 'function') throw new Error('not a mobilenet_simd addon (no compile export)');
      attempts.push({ path: file, ok: true });
      loaded = { addon, binary: file, attempts };
      return loaded;
    } catch (e) {
      attempts.push({ path: file, ok: false, error: (e as Error).message.split('\n')[0] });
    }
  }
  loaded = { attempts };
  return loaded;
}

function unavailableReason(attempts: LoadAttempt[]): string {
  const tried = attempts.map((a) => `${a.path}: ${a.error}`).join('; ');
  return `no native binary could be loaded (tried ${tried}). Run \`npm run build:native\` (needs cmake and a C++17 compiler), or use the wasm backend`;
}

/** ISAs this CPU+OS can run and this binary carries, best first. */
function runnableIsas(addon: NativeAddon): string[] {
  return addon.cpu().isas.filter((i) => i.available).map((i) => i.name);
}

function nativeError(e: unknown, what: string): MobileNetError {
  if (e instanceof MobileNetError) return e;
  // the addon's errors come from the main realm, so instanceof Error fails inside vm contexts: read the fields
  const fields = e as { code?: unknown; message?: unknown } | null;
  const message = typeof fields?.message === 'string' ? fields.message : String(e);
  // the addon's own input check (non-finite values) is the user's error, not the addon's
  if (fields?.code === 'E_INPUT') return new MobileNetError('E_INPUT', message);
  return new MobileNetError('E_NATIVE', `Native ${what} failed: ${message}`);
}

/**
 * The addon creates arrays with the main context's constructors; a view made here has this module's realm, so
 * `instanceof Float32Array` holds for callers in vm contexts (jest, Electron isolated worlds) too. No copy.
 */
function inThisRealm(a: Float32Array): Float32Array {
  return new Float32Array(a.buffer, a.byteOffset, a.length);
}

class NativeExecutable implements Executable {
  readonly backend = 'native' as const;
  readonly checksFinite = true;
  readonly isa: string;
  readonly threads: number;
  private model: NativeModel | undefined;

  constructor(model: NativeModel) {
    this.model = model;
    this.isa = model.isa;
    this.threads = model.threads;
  }

  private live(): NativeModel {
    if (!this.model) throw new MobileNetError('E_DISPOSED', 'Expected a live native executable, received a disposed one. Compile the plan again.');
    return this.model;
  }

  async run(input: Float32Array, batch: number): Promise<Float32Array[]> {
    const model = this.live();
    try {
      return (await model.run(input, batch)).map(inThisRealm);
    } catch (e) {
      throw nativeError(e, 'inference');
    }
  }

  async profile(input: Float32Array, batch: number): Promise<{ outputs: Float32Array[]; stepMs: Float64Array }> {
    const model = this.live();
    try {
      const { outputs, stepMs } = await model.profile(input, batch);
      return { outputs: outputs.map(inThisRealm), stepMs: new Float64Array(stepMs.buffer, stepMs.byteOffset, stepMs.length) };
    } catch (e) {
      throw nativeError(e, 'profiled inference');
    }
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}

function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * The native SIMD backend (C++17 kernels per ISA behind N-API; every inference runs off the JS thread).
 *
 * @example
 * const a = await nativeBackend.availability(); // { available, detail: { isas: ['avx512', 'avx2', 'scalar'], ... } }
 * const exe = await nativeBackend.compile(planGraph(graph), { threads: 1, isa: 'avx2' });
 * const [probs] = await exe.run(input, 1);
 */
export const nativeBackend: Backend = {
  name: 'native',
  async availability(): Promise<Availability> {
    try {
      const { addon, binary, attempts } = loadAddon();
      if (!addon) return { name: 'native', available: false, reason: unavailableReason(attempts), detail: { attempts } };
      const cpu = addon.cpu();
      const isas = runnableIsas(addon);
      return {
        name: 'native',
        available: isas.length > 0,
        reason: isas.length > 0 ? undefined : 'the binary carries no ISA this CPU can run',
        detail: { isas, isa: isas[0], binary, attempts, compiled: cpu.isas },
      };
    } catch (e) {
      return { name: 'native', available: false, reason: `probing the native addon failed: ${(e as Error).message}` };
    }
  },

  async compile(plan: Plan, options: CompileOptions = {}): Promise<Executable> {
    const { addon, attempts } = loadAddon();
    if (!addon) throw new MobileNetError('E_BACKEND', `Expected the native backend to be available, but ${unavailableReason(attempts)}.`, { attempts });
    const isas = runnableIsas(addon);
    const envIsa = process.env.MOBILENET_NATIVE_ISA;
    const requested = options.isa ?? (envIsa ? envIsa : undefined);
    const isa = requested ?? isas[0];
    if (!isas.includes(isa)) {
      const compiled = addon.cpu().isas;
      const entry = compiled.find((i) => i.name === requested);
      const why = entry ? `this CPU/OS cannot run it (${entry.reason})` : `it is not compiled into ${loadAddon().binary}`;
      const source = options.isa !== undefined ? 'options.isa' : 'MOBILENET_NATIVE_ISA';
      throw new MobileNetError('E_BACKEND', `Expected ${source} to name an ISA this machine runs (${isas.join(', ')}), received ${JSON.stringify(requested)}: ${why}. Pick one of those or unset it.`);
    }
    const threads = options.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new MobileNetError('E_ARG', `Expected threads to be an integer in [1, 256], received ${threads}. Pass e.g. { threads: 1 }.`);
    }
    try {
      const fuse = process.env.MOBILENET_NATIVE_FUSE ?? 'auto';
      return new NativeExecutable(addon.compile(plan.program, plan.constants, threads, isa, fuse));
    } catch (e) {
      throw nativeError(e, 'compile');
    }
  },
};

/**
 * This machine's single-core fp32 FMA peak in GFLOP/s on the best ISA the addon can run here (best of 5 probes
 * of ~40 ms each, on the calling thread), or null without a usable addon.
 *
 * @example
 * const peak = await measurePeakGflops(); // e.g. 246 on an AVX-512 core with two FMA units
 */
export async function measurePeakGflops(): Promise<number | null> {
  const { addon } = loadAddon();
  if (!addon) return null;
  const isa = runnableIsas(addon)[0];
  if (!isa) return null;
  let best = 0;
  for (let i = 0; i < 5; i++) best = Math.max(best, addon.peak(isa, 2e7));
  return best;
}
