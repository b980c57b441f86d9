// `mobilenet profile`: where one inference spends its time, layer by layer, from clock readings taken inside
// the backend's single call (not a split of the total by MACs), with the depthwise / pointwise split.
import { syntheticInput } from '../bench';
import { load } from '../index';
import type { Model } from '../model';
import { DEFAULT_MODEL } from '../registry';
import { parseModelSource, type CliIO, type Command, type ParsedArgs } from './args';
import { downloadBars } from './progress';
import { MODEL_OPTIONS } from './classify';

export interface LayerProfile {
  index: number;
  name: string;
  op: string;
  out_shape: number[];
  macs: number;
  ms: number;
  gflops: number;
  share: number;
}

export interface ProfileResult {
  backend: string;
  isa: string;
  threads: number;
  runs: number;
  /** Median wall time of a whole profiled inference, as awaited from JS. */
  total_ms: number;
  /** Sum of the per-layer medians. */
  layers_ms: number;
  /** Median over runs of (sum of that run's layer times) / (that run's wall time): how much of an inference the layers explain. */
  coverage: number;
  layers: LayerProfile[];
  by_op: Record<string, { ms: number; macs: number; share: number }>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Profiles a loaded model: per-step medians over `runs` profiled inferences, each also timed whole from JS.
 *
 * @example
 * const result = await profileModel(await load('mobilenet_v2'), 20);
 */
export async function profileModel(model: Model, runs: number): Promise<ProfileResult> {
  const [H, W, C] = model.info.inputShape;
  const data = syntheticInput(H * W * C);
  const input = { data, shape: [1, H, W, C] };
  for (let i = 0; i < 3; i++) await model.infer(input);
  const perStep: number[][] = model.steps.map(() => []);
  const totals: number[] = [];
  const coverage: number[] = [];
  for (let r = 0; r < runs; r++) {
    // each profiled call is itself a whole inference: its wall time and its layer times come from the same run
    const t0 = performance.now();
    const { stepMs } = await model.profile(input);
    const wall = performance.now() - t0;
    totals.push(wall);
    let sum = 0;
    stepMs.forEach((ms, i) => { perStep[i].push(ms); sum += ms; });
    coverage.push(sum / wall);
  }
  const stepMedians = perStep.map(median);
  const layersMs = stepMedians.reduce((a, b) => a + b, 0);
  const layers: LayerProfile[] = model.steps.map((s, i) => ({
    index: i,
    name: s.name,
    op: s.op,
    out_shape: [...s.outShape],
    macs: s.macs,
    ms: stepMedians[i],
    gflops: stepMedians[i] > 0 ? (2 * s.macs) / (stepMedians[i] * 1e6) : 0,
    share: layersMs > 0 ? stepMedians[i] / layersMs : 0,
  }));
  const byOp: ProfileResult['by_op'] = {};
  for (const l of layers) {
    const key = l.op === 'pwconv' && l.out_shape[0] === 1 && l.out_shape[1] === 1 ? 'pwconv (1x1 spatial: FC / squeeze-excite)' : l.op;
    const e = (byOp[key] ??= { ms: 0, macs: 0, share: 0 });
    e.ms += l.ms;
    e.macs += l.macs;
  }
  for (const e of Object.values(byOp)) e.share = layersMs > 0 ? e.ms / layersMs : 0;
  return { backend: model.backend.name, isa: model.backend.isa, threads: model.backend.threads, runs, total_ms: median(totals), layers_ms: layersMs, coverage: median(coverage), layers, by_op: byOp };
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const source = parseModelSource(args.positionals[0] ?? args.string('model') ?? DEFAULT_MODEL);
  const model = await load(source, { backend: args.string('backend') as never, threads: args.number('threads'), onProgress: downloadBars(io.stderr) });
  try {
    const result = await profileModel(model, args.number('runs') ?? 20);
    if (args.flag('json')) {
      io.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    io.stdout.write(`${model.info.name} on ${result.backend} (${result.isa}, ${result.threads} thread${result.threads > 1 ? 's' : ''}), median of ${result.runs} runs\n`);
    io.stdout.write(`whole inference: ${result.total_ms.toFixed(3)} ms; sum of layers: ${result.layers_ms.toFixed(3)} ms; layers explain ${(result.coverage * 100).toFixed(1)}% of each inference\n\n`);
    io.stdout.write('| # | layer | op | output | MMACs | ms | GFLOP/s | share |\n|---:|---|---|---|---:|---:|---:|---:|\n');
    for (const l of result.layers) {
      io.stdout.write(`| ${l.index} | ${l.name} | ${l.op} | ${l.out_shape.join('x')} | ${(l.macs / 1e6).toFixed(2)} | ${l.ms.toFixed(3)} | ${l.gflops.toFixed(1)} | ${(l.share * 100).toFixed(1)}% |\n`);
    }
    io.stdout.write('\n| op | ms | MMACs | GFLOP/s | share of time | share of MACs |\n|---|---:|---:|---:|---:|---:|\n');
    const totalMacs = result.layers.reduce((s, l) => s + l.macs, 0);
    for (const [op, e] of Object.entries(result.by_op).sort((a, b) => b[1].ms - a[1].ms)) {
      io.stdout.write(`| ${op} | ${e.ms.toFixed(3)} | ${(e.macs / 1e6).toFixed(1)} | ${e.ms > 0 ? ((2 * e.macs) / (e.ms * 1e6)).toFixed(1) : '-'} | ${(e.share * 100).toFixed(1)}% | ${totalMacs ? ((e.macs / totalMacs) * 100).toFixed(1) : '0'}% |\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

export const command: Command = {
  name: 'profile',
  summary: 'Per-layer time, MACs and GFLOP/s of one inference, measured inside the backend call',
  usage: '[model] [options]',
  maxPositionals: 1,
  positionalName: 'model',
  options: [
    ...MODEL_OPTIONS.filter((o) => o.name !== 'labels'),
    { name: 'runs', kind: 'int', valueName: 'N', min: 1, max: 10000, description: 'Profiled inferences; each layer reports its median (default 20)' },
    { name: 'json', kind: 'flag', description: 'One JSON object: totals, layers and the per-op split' },
  ],
  epilog: `Examples:
  mobilenet profile mobilenet_v2 --backend native --threads 1
  mobilenet profile arch:mobilenet_v3_large --json`,
  run,
};
