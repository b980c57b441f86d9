// `mobilenet classify`: walks the given images and folders, classifies each with one loaded model (a few in
// flight so decoding overlaps inference) and prints a table or one JSON object per image per line, in input order.
import { promises as fs } from 'fs';
import * as path from 'path';
import { MobileNetError } from '../errors';
import { BACKEND_CHOICES } from '../backends/select';
import { DEFAULT_MODEL } from '../registry';
import type { Prediction } from '../model';
import { parseModelSource, type CliIO, type Command, type OptionSpec, type ParsedArgs } from './args';
import { ProgressBar, downloadBars } from './progress';

/** File extensions a folder walk picks up (what sharp and our BMP reader decode). Explicit files are always tried. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff', '.bmp']);

/** Images decoded ahead while the model runs: enough to hide decoding, few enough to bound memory. */
const IN_FLIGHT = 4;

/** Shared with other commands that load a model (info, bench). */
export const MODEL_OPTIONS: readonly OptionSpec[] = [
  { name: 'model', short: 'm', kind: 'string', valueName: 'MODEL', description: `Registry name, model file, folder with model.json, URL, or arch:<name>[,alpha=..] (default ${DEFAULT_MODEL})` },
  { name: 'labels', short: 'l', kind: 'string', valueName: 'FILE', description: 'Label file, one class per line (default: the labels in the model or the registry)' },
  { name: 'backend', short: 'b', kind: 'string', valueName: 'B', description: 'Backend', choices: BACKEND_CHOICES },
  { name: 'threads', short: 't', kind: 'int', valueName: 'N', min: 1, max: 256, description: 'Intra-op threads (default: all cores)' },
];

/** Folders and files already walked, by device and inode: a symlink loop ends, and a file linked twice is classified once. */
interface Visited {
  dirs: Set<string>;
  files: Set<string>;
}

const identity = (stat: { dev: number; ino: number }) => `${stat.dev}:${stat.ino}`;

async function walk(dir: string, out: string[], visited: Visited): Promise<void> {
  const self = await fs.stat(dir).catch(() => undefined);
  if (!self || visited.dirs.has(identity(self))) return;
  visited.dirs.add(identity(self));
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new MobileNetError('E_IO', `Expected a readable folder at ${dir}, received ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Check its permissions.`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    const stat = await fs.stat(full).catch(() => undefined); // follows symlinks; a dangling one is skipped
    if (!stat) continue;
    if (stat.isDirectory()) await walk(full, out, visited);
    else if (stat.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) && !visited.files.has(identity(stat))) {
      visited.files.add(identity(stat));
      out.push(full);
    }
  }
}

/**
 * The image files named by `inputs`: files as given, folders walked recursively (sorted, hidden entries and
 * non-image extensions skipped). A missing input is E_IO; nothing to classify is E_ARG.
 *
 * @example
 * const files = await collectImages(['photos/', 'cat.jpg']); // [ 'photos/a.jpg', 'photos/b/c.png', 'cat.jpg' ]
 */
export async function collectImages(inputs: readonly string[]): Promise<{ files: string[]; walkedFolder: boolean }> {
  const files: string[] = [];
  const visited: Visited = { dirs: new Set(), files: new Set() };
  let walkedFolder = false;
  for (const input of inputs) {
    const stat = await fs.stat(input).catch(() => undefined);
    if (!stat) throw new MobileNetError('E_IO', `Expected an image file or folder, received ${JSON.stringify(input)}, which does not exist. Check the path.`, { path: input });
    if (stat.isDirectory()) {
      walkedFolder = true;
      const before = files.length;
      await walk(input, files, visited);
      if (files.length === before) {
        throw new MobileNetError('E_ARG', `Expected image files (${[...IMAGE_EXTENSIONS].join(' ')}) in the folder ${input}, received none. Pass a folder that holds images.`);
      }
    } else {
      files.push(input);
    }
  }
  return { files, walkedFolder };
}

/**
 * A human-readable block for one image: the file, then one row per prediction.
 *
 * @example
 * formatTable('cat.jpg', [{ index: 286, label: 'Egyptian cat', probability: 0.7 }]);
 * // "cat.jpg\n   1   70.00%  Egyptian cat  [286]\n"
 */
export function formatTable(file: string, predictions: readonly Prediction[]): string {
  const labelWidth = Math.max(0, ...predictions.map((p) => p.label.length));
  const rows = predictions.map((p, i) => `  ${String(i + 1).padStart(2)}  ${(p.probability * 100).toFixed(2).padStart(6)}%  ${p.label.padEnd(labelWidth)}  [${p.index}]`);
  return `${file}\n${rows.join('\n')}\n`;
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { load } = await import('../index');
  const { files, walkedFolder } = await collectImages(args.positionals);
  const topK = args.number('top') ?? 5;
  const json = args.flag('json');
  const model = await load(parseModelSource(args.string('model') ?? DEFAULT_MODEL), {
    backend: args.string('backend') as never,
    threads: args.number('threads'),
    labels: args.string('labels'),
    onProgress: downloadBars(io.stderr),
  });
  const bar = new ProgressBar('classifying', files.length, { stream: io.stderr, enabled: walkedFolder ? undefined : false });
  let failures = 0;
  bar.update(0);
  try {
    // Start up to IN_FLIGHT classifications; the model queues inferences, decoding runs alongside.
    const pending: Array<Promise<Prediction[] | MobileNetError>> = [];
    const start = (i: number) => {
      pending[i] = model.classify(files[i], { topK }).catch((e: unknown) => {
        if (e instanceof MobileNetError) return e;
        throw e;
      });
    };
    for (let i = 0; i < Math.min(IN_FLIGHT, files.length); i++) start(i);
    for (let i = 0; i < files.length; i++) {
      const result = await pending[i];
      if (i + IN_FLIGHT < files.length) start(i + IN_FLIGHT);
      bar.clear();
      if (result instanceof MobileNetError) {
        failures++;
        io.stderr.write(`mobilenet: ${result.code}: ${files[i]}: ${result.message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
        if (json) io.stdout.write(`${JSON.stringify({ file: files[i], error: { code: result.code, message: result.message } })}\n`);
      } else if (json) {
        io.stdout.write(`${JSON.stringify({ file: files[i], predictions: result.map((p) => ({ index: p.index, label: p.label, probability: p.probability })) })}\n`);
      } else {
        io.stdout.write(formatTable(files[i], result));
      }
      bar.update(i + 1);
    }
    bar.finish();
  } finally {
    bar.clear();
    model.dispose();
  }
  return failures > 0 ? 1 : 0;
}

/** `mobilenet classify <images or folders...>` */
export const command: Command = {
  name: 'classify',
  summary: 'Classify images (files or folders) and print the top predictions',
  usage: '<images or folders...> [options]',
  positionalName: 'image files or folders',
  minPositionals: 1,
  options: [
    ...MODEL_OPTIONS,
    { name: 'top', short: 'k', kind: 'int', valueName: 'N', min: 1, max: 100000, description: 'Predictions per image (default 5)' },
    { name: 'json', kind: 'flag', description: 'One JSON object per image per line: {"file", "predictions": [{"index", "label", "probability"}]}' },
  ],
  epilog: `Examples:
  mobilenet classify cat.jpg
  mobilenet classify photos/ --model mobilenet_v3_small --top 3 --json
  mobilenet classify grace_hopper.bmp --model ./mobilenet_v2_1.0_224_quant.tflite --backend js`,
  run,
};
