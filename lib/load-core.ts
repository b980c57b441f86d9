// The load core the Node entry (lib/index.ts) and the browser entry (lib/browser.ts) share: model bytes (plus a
// reader for TF.js weight shards) to a compiled Model, i.e. format sniffing, import, fusion, planning, the
// preprocessing preset, labels and the backend chain. Free of Node built-ins: each entry supplies its own I/O
// (fs or fetch) and its backend list.
import { compileFirst } from './backends/chain';
import type { Backend, CompileOptions, Executable } from './backends/types';
import { fuseActivations } from './graph/optimize';
import { planGraph, type Plan } from './graph/plan';
import type { Graph } from './graph/types';
import { presetFor } from './image/presets';
import type { PreprocessOptions } from './image/types';
import { importBytes, type ModelBytes } from './importers/sniff';
import { checkArena, type LabelSource, type Model } from './model';
import { resolveLimits, type Limits } from './limits';

/** How a backend gets chosen for a plan: the executable plus notes on what was tried (model.backend.notes). */
export type CompileStrategy = (plan: Plan) => Promise<{ exe: Executable; notes: string[] }>;

/**
 * The plain fallback chain: the first of `names` that is available and compiles; `wanted` names the request in
 * the E_BACKEND message when none does.
 *
 * @example
 * const strategy = fallbackChain(['wasm-simd', 'js'], (n) => table[n], {}, 'among wasm-simd, js');
 */
export function fallbackChain<Name extends string>(names: readonly Name[], backendOf: (name: Name) => Backend, options: CompileOptions, wanted: string): CompileStrategy {
  return async (plan) => {
    const { exe, failures } = await compileFirst(plan, names, backendOf, options, wanted);
    return { exe, notes: failures };
  };
}

/** What the core needs besides the graph: labels already read by the entry, and how to compile. */
export interface CompileModelOptions<M extends Model> {
  /** The `labels` option, already read by the entry (array or file contents). */
  labels?: string[];
  /** Labels the source brought apart from the file (a registry label file). */
  sourceLabels?: string[];
  /** The ImageNet names the package ships, for 1000- and 1001-output files without labels. */
  imagenetLabels: (classes: 1000 | 1001) => Promise<string[] | undefined>;
  preprocess?: string | Partial<PreprocessOptions>;
  compile: CompileStrategy;
  /** The limits in force (arenaBytes is checked here, before a backend allocates); default: resolveLimits(). */
  limits?: Limits;
  /** Makes the entry's Model class (the browser's takes page images). */
  create: (graph: Graph, plan: Plan, exe: Executable, preprocess: PreprocessOptions, labels: string[] | undefined, notes: string[], labelSource: LabelSource, arenaBytesLimit: number) => M;
}

/** Values per image of the plan's main output. */
function outputSize(plan: Plan): number {
  const [h, w, c] = plan.outputs[0].shape;
  return h * w * c;
}

async function chooseLabels<M extends Model>(graph: Graph, plan: Plan, options: CompileModelOptions<M>): Promise<{ labels?: string[]; source: LabelSource }> {
  if (options.labels) return { labels: options.labels, source: 'option' };
  if (options.sourceLabels) return { labels: options.sourceLabels, source: 'registry' };
  if (graph.meta.labels) return { labels: graph.meta.labels, source: 'file' };
  // Random built-in weights were never trained on ImageNet: naming their outputs would mislead.
  const classes = outputSize(plan);
  if (graph.meta.format !== 'builtin' && (classes === 1000 || classes === 1001)) {
    const imagenet = await options.imagenetLabels(classes);
    if (imagenet) return { labels: imagenet, source: 'imagenet (assumed)' };
  }
  return { source: 'none' };
}

/**
 * Model bytes (format sniffed, TF.js shards through `readSibling`) or an already built graph to a ready Model:
 * imports, fuses activations, plans the arena, picks the preprocessing preset and the labels, compiles on the
 * strategy's backend, and disposes the executable if the Model cannot be made.
 *
 * @example
 * const model = await compileModel({ bytes, where: 'v2.tflite' }, { imagenetLabels, compile: fallbackChain(['js'], () => jsBackend, {}, "for 'js'"), create: (...a) => new Model(...a) });
 */
export async function compileModel<M extends Model>(source: ModelBytes | Graph, options: CompileModelOptions<M>): Promise<M> {
  const graph = fuseActivations('bytes' in source ? await importBytes(source) : source);
  const plan = planGraph(graph);
  const limits = options.limits ?? resolveLimits();
  // a crafted file can plan an arena of many GiB: refuse it before any backend allocates (and zero-fills) it
  checkArena(plan.arenaFloatsPerImage, 1, limits.arenaBytes);
  const preprocess = presetFor(graph.meta, options.preprocess);
  const { labels, source: labelSource } = await chooseLabels(graph, plan, options);
  const { exe, notes } = await options.compile(plan);
  try {
    return options.create(graph, plan, exe, preprocess, labels, notes, labelSource, limits.arenaBytes);
  } catch (e) {
    exe.dispose();
    throw e;
  }
}
