// The backend contract: compile a Plan once (weights packed once), then run whole inferences in one call.
import type { Plan } from '../graph/plan';

export type BackendName = 'native' | 'wasm-relaxed' | 'wasm-simd' | 'js';
export const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm-relaxed', 'wasm-simd', 'js'];

export interface CompileOptions {
  /** Intra-op threads; default: the machine's available parallelism (backends may cap it). */
  threads?: number;
  /** Native only: force an ISA ('avx512' | 'avx2' | 'neon' | 'scalar'); default: the best the CPU has. */
  isa?: string;
}

export interface Availability {
  name: BackendName;
  available: boolean;
  /** Why not, when unavailable: every attempt that failed. */
  reason?: string;
  /** e.g. native's ISA list or wasm features. */
  detail?: Record<string, unknown>;
}

export interface Backend {
  readonly name: BackendName;
  /** Never throws: says whether this backend can run here and why not. */
  availability(): Promise<Availability>;
  /** Packs the plan's weights for this backend. Throws MobileNetError('E_BACKEND') if unavailable. */
  compile(plan: Plan, options?: CompileOptions): Promise<Executable>;
}

/**
 * A compiled model on one backend. Callers serialize run/profile calls on one Executable
 * (the Model class queues them), so a backend may keep one arena per Executable.
 */
export interface Executable {
  readonly backend: BackendName;
  /** The ISA or feature level actually used (e.g. 'avx512', 'relaxed-simd', 'float64-reference'). */
  readonly isa: string;
  readonly threads: number;
  /** True when run() itself rejects NaN / +-Infinity input with E_INPUT (native checks while it copies). */
  readonly checksFinite?: boolean;
  /**
   * One whole inference over `batch` images: `input` holds batch x inputFloatsPerImage floats (NHWC).
   * Resolves to one Float32Array per plan output (batch x floats per image each), freshly allocated.
   */
  run(input: Float32Array, batch: number): Promise<Float32Array[]>;
  /** Like run, plus each step's time in milliseconds, read from a clock inside the single call. */
  profile(input: Float32Array, batch: number): Promise<{ outputs: Float32Array[]; stepMs: Float64Array }>;
  dispose(): void;
}
