// `mobilenet info <model>`: what a model is (format, shapes, classes, embedding, MACs, params, preprocessing,
// backend) and, layer by layer, its shapes, parameters and MACs as lib/models/info.ts describes the graph.
import { MobileNetError } from '../errors';
import { fuseActivations } from '../graph/optimize';
import type { Graph } from '../graph/types';
import { resolveSource } from '../source';
import { describeModel, formatModelInfo, type ArchitectureSpec } from '../models';
import type { Model } from '../model';
import { DEFAULT_MODEL } from '../registry';
import { parseModelSource, type CliIO, type Command, type ParsedArgs } from './args';
import { downloadBars } from './progress';
import { MODEL_OPTIONS } from './classify';

/** The fused graph behind a model source, resolved exactly as load() resolves it. */
export async function graphOf(source: string | ArchitectureSpec): Promise<Graph> {
  return fuseActivations((await resolveSource(source)).graph);
}

const RESIZE_WORDS: Record<string, string> = { stretch: 'whole image', crop: 'central crop', square: 'central square crop' };

const millions = (n: number, digits = 1) => `${(n / 1e6).toFixed(digits)}M`;

/**
 * The summary lines of `mobilenet info` for a loaded model.
 *
 * @example
 * process.stdout.write(formatSummary(model));
 */
export function formatSummary(model: Model): string {
  const i = model.info;
  const p = i.preprocess;
  const classes = i.backgroundClass ? `${i.outputSize - 1} + background at index 0` : String(i.outputSize);
  const rows: Array<[string, string]> = [
    ['name', i.name],
    ['format', i.format],
    ['input', `${i.inputShape.join('x')} (H x W x C per image, NHWC float32)`],
    ['output', `${i.outputSize} ${i.outputKind}`],
    ['classes', classes],
    ['labels', model.labels ? `${model.labels.length} (e.g. ${JSON.stringify(model.labels[i.backgroundClass ? 1 : 0])})` : 'none (predictions are named "class N")'],
    ['embedding', i.embeddingSize ? `${i.embeddingSize} values` : 'none'],
    ['MACs', `${millions(i.macs)} per image`],
    ['params', millions(i.params, 3)],
    [
      'preprocessing',
      `${RESIZE_WORDS[p.resize] ?? p.resize}${p.resize === 'stretch' ? '' : ` ${p.cropFraction}`}, ${p.interpolation}${p.roundToUint8 ? ', rounded to uint8' : ''}, (pixel - [${p.mean.join(', ')}]) / [${p.std.join(', ')}]`,
    ],
    ['backend', `${model.backend.name} (${model.backend.isa}, ${model.backend.threads} thread${model.backend.threads === 1 ? '' : 's'})`],
    ...(model.backend.notes ?? []).map((note): [string, string] => ['', note.replace(/\s*[\r\n]+\s*/g, ' ')]),
  ];
  for (const [key, value] of Object.entries(i.notes ?? {})) rows.push([key, String(value)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { load } = await import('../index');
  const positional = args.positionals[0];
  const option = args.string('model');
  if (positional !== undefined && option !== undefined) {
    throw new MobileNetError('E_ARG', `Expected one model, received both ${JSON.stringify(positional)} and --model ${JSON.stringify(option)}. Name the model once.`);
  }
  const source = parseModelSource(positional ?? option ?? DEFAULT_MODEL);
  const model = await load(source, { backend: args.string('backend') as never, threads: args.number('threads'), labels: args.string('labels'), onProgress: downloadBars(io.stderr) });
  try {
    const description = describeModel(await graphOf(source));
    if (args.flag('json')) {
      const out = {
        ...model.info,
        backend: model.backend,
        labels: model.labels?.length ?? 0,
        layers: description.rows,
        totals: description.totals,
        separableSaving: description.separableSaving,
        macConvention: description.macConvention,
      };
      io.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      io.stdout.write(formatSummary(model));
      if (!args.flag('summary')) io.stdout.write(`\n${formatModelInfo(description)}\n`);
    }
  } finally {
    model.dispose();
  }
  return 0;
}

/** `mobilenet info <model>` */
export const command: Command = {
  name: 'info',
  summary: 'Describe a model: format, shapes, classes, MACs, params, preprocessing, backend and layers',
  usage: '[model] [options]',
  positionalName: 'model',
  maxPositionals: 1,
  options: [
    ...MODEL_OPTIONS,
    { name: 'json', kind: 'flag', description: 'Print one JSON object (summary, layers, totals)' },
    { name: 'summary', short: 's', kind: 'flag', description: 'Leave out the per-layer table' },
  ],
  epilog: `Examples:
  mobilenet info mobilenet_v3_small
  mobilenet info ./mobilenet_v1_0.25_128_quant.tflite --json
  mobilenet info arch:mobilenet_v2,alpha=0.5,resolution=160`,
  run,
};
