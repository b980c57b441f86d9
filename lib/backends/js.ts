// The `js` backend: the reference kernels executing the plan's program. The oracle and last resort.
import { Header } from '../kernels/contract';
import { runStep } from '../kernels/reference';
import type { Plan } from '../graph/plan';
import type { Availability, Backend, CompileOptions, Executable } from './types';

/** Runs a plan's program on a JS arena; shared by the js backend and tests. */
export function executeReference(plan: Plan, input: Float32Array, batch: number, stepMs?: Float64Array): Float32Array[] {
  const { program, constants } = plan;
  const arena = new Float32Array(program[Header.arenaFloatsPerImage] * batch);
  arena.set(input.subarray(0, program[Header.inputFloatsPerImage] * batch), program[Header.inputOffset] * batch);
  const steps = program[Header.stepCount];
  for (let i = 0; i < steps; i++) {
    const t0 = stepMs ? performance.now() : 0;
    runStep(program, i, batch, arena, constants);
    if (stepMs) stepMs[i] = performance.now() - t0;
  }
  const outs: Float32Array[] = [];
  for (let k = 0; k < program[Header.outputCount]; k++) {
    const off = program[Header.outputs + 2 * k] * batch;
    const len = program[Header.outputs + 2 * k + 1] * batch;
    outs.push(arena.slice(off, off + len));
  }
  return outs;
}

class JsExecutable implements Executable {
  readonly backend = 'js' as const;
  readonly isa = 'float64-reference';
  readonly threads = 1;
  constructor(private readonly plan: Plan) {}
  async run(input: Float32Array, batch: number): Promise<Float32Array[]> {
    return executeReference(this.plan, input, batch);
  }
  async profile(input: Float32Array, batch: number) {
    const stepMs = new Float64Array(this.plan.steps.length);
    const outputs = executeReference(this.plan, input, batch, stepMs);
    return { outputs, stepMs };
  }
  dispose(): void {}
}

/** The reference backend: always available. */
export const jsBackend: Backend = {
  name: 'js',
  async availability(): Promise<Availability> {
    return { name: 'js', available: true, detail: { kernels: 'float64 reference loops' } };
  },
  async compile(plan: Plan, _options?: CompileOptions): Promise<Executable> {
    return new JsExecutable(plan);
  },
};
