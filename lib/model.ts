// A loaded model: validates inputs, queues inferences on its compiled backend, and turns outputs into
// classifications and embeddings. Knows models and images, never kernels or file formats.
import { MobileNetError, describeValue } from './errors';
import type { Executable } from './backends/types';
import type { Plan } from './graph/plan';
import type { Graph, GraphMeta } from './graph/types';
import type { ImageInput, PreprocessOptions } from './image/types';
import { decodeImage, preprocessImage } from './image';
import { limitError, resolveLimits } from './limits';

/** A tensor in NHWC float32 with batch dimension first. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

/** One classification result; `index` is the model's own output index. */
export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/** Where a model's class names came from: the `labels` option, a registry label file, the model file itself, the ImageNet list assumed for a 1000/1001-output file without names, or nowhere ('class N'). */
export type LabelSource = 'option' | 'registry' | 'file' | 'imagenet (assumed)' | 'none';

export interface ModelInfo {
  name: string;
  format: string;
  /** [H, W, C] of one input image. */
  inputShape: [number, number, number];
  /** Values per image of the main output. */
  outputSize: number;
  outputKind: GraphMeta['outputKind'];
  /** Output 0 is "background" and is left out of classify's top-k. */
  backgroundClass: boolean;
  /** Length of embed()'s vector, or 0 when the model has no pooled feature layer. */
  embeddingSize: number;
  macs: number;
  params: number;
  preprocess: PreprocessOptions;
  /** Where `model.labels` came from; 'imagenet (assumed)' when the file had none and has 1000 or 1001 outputs. */
  labels: LabelSource;
  notes?: Record<string, string | number>;
}

export interface BackendInfo {
  name: string;
  isa: string;
  threads: number;
  /** Why other candidates were not used (auto selection timings, unavailable backends, fallbacks). */
  notes: string[];
}

/**
 * E_LIMIT when an inference of `batch` images would need more than `limit` bytes of arena.
 *
 * @example
 * checkArena(plan.arenaFloatsPerImage, 64, 1 << 30); // throws for a batch whose working memory exceeds 1 GiB
 */
export function checkArena(floatsPerImage: number, batch: number, limit: number): void {
  const bytes = floatsPerImage * 4 * batch;
  if (bytes > limit) throw limitError('arenaBytes', `an inference needing ${bytes} bytes of working memory (${batch} image${batch === 1 ? '' : 's'} of ${floatsPerImage * 4} bytes)`, limit);
}

/** The index of the first NaN or infinite value, or -1 when every value is finite. */
function firstNonFinite(d: Float32Array): number {
  // x * 0 is NaN exactly for NaN and +-Infinity, so one sum finds any non-finite value without a call per
  // element (global lookups such as Number.isFinite are slow inside vm contexts like jest's)
  let poison = 0;
  for (let i = 0; i < d.length; i++) poison += d[i] * 0;
  if (poison === 0) return -1;
  let i = 0;
  while (d[i] * 0 === 0) i++;
  return i;
}

/** A loaded MobileNet. Create it with `load()`. */
export class Model {
  readonly info: ModelInfo;
  readonly backend: BackendInfo;
  /** Class labels (from the file, the registry or the `labels` option), if any. */
  readonly labels?: string[];
  /** @internal the planned steps (names, ops, MACs) in execution order, for profiles */
  readonly steps: Plan['steps'];
  private exe: Executable | undefined;
  private readonly arenaFloatsPerImage: number;
  private readonly arenaBytesLimit: number;
  private tail: Promise<unknown> = Promise.resolve();
  /** Calls started or waiting; 0 means a new call starts at once. */
  private active = 0;

  /** @internal use load() */
  constructor(
    graph: Graph, plan: Plan, exe: Executable, preprocess: PreprocessOptions, labels: string[] | undefined, backendNotes: string[] = [],
    labelSource: LabelSource = labels ? 'file' : 'none', arenaBytesLimit: number = resolveLimits().arenaBytes,
  ) {
    this.exe = exe;
    this.arenaFloatsPerImage = plan.arenaFloatsPerImage;
    this.arenaBytesLimit = arenaBytesLimit;
    this.backend = { name: exe.backend, isa: exe.isa, threads: exe.threads, notes: backendNotes };
    this.steps = plan.steps;
    const out = plan.outputs[0].shape;
    let params = 0;
    for (const n of graph.nodes) {
      if ('weights' in n) params += n.weights.length + n.bias.length;
    }
    this.info = {
      name: graph.meta.name,
      format: graph.meta.format,
      inputShape: [...graph.input.shape] as [number, number, number],
      outputSize: out[0] * out[1] * out[2],
      outputKind: graph.meta.outputKind,
      backgroundClass: graph.meta.backgroundClass,
      embeddingSize: plan.outputs[1] ? plan.outputs[1].shape[2] * plan.outputs[1].shape[0] * plan.outputs[1].shape[1] : 0,
      macs: plan.steps.reduce((s, st) => s + st.macs, 0),
      params,
      preprocess: preprocess,
      labels: labelSource,
      notes: graph.meta.notes,
    };
    if (labels && labels.length !== this.info.outputSize) {
      throw new MobileNetError('E_ARG', `Expected ${this.info.outputSize} labels (one per model output), received ${labels.length}. Pass the label file that belongs to this model.`);
    }
    this.labels = labels;
  }

  private executable(): Executable {
    if (!this.exe) throw new MobileNetError('E_DISPOSED', 'Expected a live model, received one that was disposed. Load the model again.');
    return this.exe;
  }

  /**
   * Runs fn after every earlier call on this model, so one arena serves all callers in order. With nothing
   * running it starts at once, in this call: every backend reads its input synchronously when a run starts.
   */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    let next: Promise<T>;
    if (this.active === 0) {
      try {
        next = fn();
      } catch (e) {
        next = Promise.reject(e);
      }
    } else {
      next = this.tail.then(fn, fn);
    }
    this.active++;
    this.tail = next.then(() => this.active--, () => this.active--);
    return next;
  }

  /**
   * The input a queued call may run on later: the caller's own array when the call starts now (the backend reads
   * it before this returns), else a copy taken now, so writes after infer() returns change nothing.
   */
  private inputForCall(data: Float32Array): Float32Array {
    return this.active === 0 ? data : data.slice();
  }

  private async runQueued(input: Float32Array, batch: number): Promise<Float32Array[]> {
    checkArena(this.arenaFloatsPerImage, batch, this.arenaBytesLimit);
    const outputs = await this.enqueue(() => this.executable().run(input, batch));
    outputs.forEach((out, i) => this.checkOutput(out, i === 0 ? 'main output' : 'embedding'));
    return outputs;
  }

  /** Every backend alike: a non-finite output (NaN, Infinity) is an E_NUMERIC, never NaN probabilities. */
  private checkOutput(out: Float32Array, what: string): void {
    const i = firstNonFinite(out);
    if (i < 0) return;
    throw new MobileNetError(
      'E_NUMERIC',
      `Expected finite values from ${this.info.name}, received ${out[i]} in its ${what} at index ${i} (backend ${this.backend.name}). The model's weights or scales produce non-finite numbers for this input: check the model file, or the input's range.`,
      { index: i, value: out[i], output: what },
    );
  }

  /**
   * Runs the model on an already-preprocessed NHWC float32 tensor and returns its raw main output
   * (probabilities or logits, as the file defines; shape [N, outputs]).
   *
   * @example
   * const out = await model.infer({ data: new Float32Array(224 * 224 * 3), shape: [1, 224, 224, 3] });
   * console.log(out.shape); // [1, 1001]
   */
  async infer(input: Tensor): Promise<Tensor> {
    const batch = this.checkTensor(input);
    const [out] = await this.runQueued(this.inputForCall(input.data), batch);
    return { data: out, shape: [batch, this.info.outputSize] };
  }

  private checkTensor(input: Tensor): number {
    // a disposed model rejects with E_DISPOSED before its input is looked at
    const scanFinite = !this.executable().checksFinite;
    const [H, W, C] = this.info.inputShape;
    if (!input || typeof input !== 'object' || !(input.data instanceof Float32Array) || !Array.isArray(input.shape)) {
      throw new MobileNetError('E_INPUT', `Expected {data: Float32Array, shape: [N, ${H}, ${W}, ${C}]}, received ${describeValue(input)}. Preprocess the image into a Float32Array (or use classify()).`);
    }
    const s = input.shape;
    const ok = s.length === 4 && Number.isInteger(s[0]) && s[0] >= 1 && s[1] === H && s[2] === W && s[3] === C;
    if (!ok) throw new MobileNetError('E_INPUT', `Expected shape [N, ${H}, ${W}, ${C}], received [${s.join(', ')}]. Resize the input to the model's resolution.`);
    const n = s[0];
    if (input.data.length !== n * H * W * C) {
      throw new MobileNetError('E_INPUT', `Expected ${n * H * W * C} values for shape [${s.join(', ')}], received ${input.data.length}. Make data.length match the shape.`);
    }
    // a backend that checks finiteness itself (native, while copying the input) need not scan it here too
    if (!scanFinite) return n;
    const i = firstNonFinite(input.data);
    if (i >= 0) throw new MobileNetError('E_INPUT', `Expected finite input values, received ${input.data[i]} at index ${i}. Check the preprocessing.`);
    return n;
  }

  /** Decodes and preprocesses images into one batch tensor. */
  private async prepare(images: ImageInput[]): Promise<Float32Array> {
    const [H, W, C] = this.info.inputShape;
    if (C !== 3) throw new MobileNetError('E_ARG', `Expected a model with 3 input channels for images, received one with ${C}. Use infer() with a preprocessed tensor.`);
    const per = H * W * C;
    const batch = new Float32Array(per * images.length);
    const decoded = await Promise.all(images.map((img) => decodeImage(img)));
    decoded.forEach((img, i) => batch.set(preprocessImage(img, H, W, this.info.preprocess), i * per));
    return batch;
  }

  private toPredictions(out: Float32Array, offset: number, topK: number): Prediction[] {
    const K = this.info.outputSize;
    const row = out.subarray(offset, offset + K);
    let probs: Float32Array | Float64Array = row;
    if (this.info.outputKind === 'logits') {
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      const e = new Float64Array(K);
      let sum = 0;
      for (let i = 0; i < K; i++) sum += e[i] = Math.exp(row[i] - max);
      for (let i = 0; i < K; i++) e[i] /= sum;
      probs = e;
    }
    const first = this.info.backgroundClass ? 1 : 0;
    const order: number[] = [];
    for (let i = first; i < K; i++) order.push(i);
    order.sort((a, b) => probs[b] - probs[a] || a - b);
    return order.slice(0, topK).map((index) => ({
      index,
      label: this.labels ? this.labels[index] : `class ${index}`,
      probability: probs[index],
    }));
  }

  private checkTopK(options?: { topK?: number }): number {
    const topK = options?.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new MobileNetError('E_ARG', `Expected topK to be a positive integer, received ${describeValue(topK)}. Pass e.g. {topK: 5}.`);
    return topK;
  }

  /**
   * Classifies one image: top-k predictions with softmax probabilities, background class left out.
   *
   * @example
   * const [best] = await model.classify('cat.jpg', { topK: 3 });
   * console.log(best.label, best.probability);
   */
  async classify(image: ImageInput, options?: { topK?: number }): Promise<Prediction[]> {
    return (await this.classifyBatch([image], options))[0];
  }

  /**
   * Classifies several images in one inference call (one batch).
   *
   * @example
   * const results = await model.classifyBatch(['a.jpg', 'b.png'], { topK: 1 });
   */
  async classifyBatch(images: ImageInput[], options?: { topK?: number }): Promise<Prediction[][]> {
    const topK = this.checkTopK(options);
    if (!Array.isArray(images) || images.length === 0) throw new MobileNetError('E_ARG', `Expected a non-empty array of images, received ${describeValue(images)}. Pass e.g. ['photo.jpg'].`);
    this.executable();
    const input = await this.prepare(images);
    const [out] = await this.runQueued(input, images.length);
    return images.map((_, i) => this.toPredictions(out, i * this.info.outputSize, topK));
  }

  /**
   * The globally pooled features that feed the classifier (e.g. 1024 values for V1 1.0, 1280 for V2 1.0).
   *
   * @example
   * const vector = await model.embed('photo.jpg');
   */
  async embed(image: ImageInput): Promise<Float32Array> {
    if (!this.info.embeddingSize) throw new MobileNetError('E_UNSUPPORTED_OP', `Expected a model with a global pooling layer for embed(), received ${this.info.name}, which has none. Use infer() instead.`);
    this.executable();
    const input = await this.prepare([image]);
    const outs = await this.runQueued(input, 1);
    return outs[1];
  }

  /** Per-step timings of one inference, measured inside the backend's single call. */
  async profile(input: Tensor): Promise<{ stepMs: Float64Array; outputs: Float32Array[] }> {
    const batch = this.checkTensor(input);
    checkArena(this.arenaFloatsPerImage, batch, this.arenaBytesLimit);
    const data = this.inputForCall(input.data);
    return this.enqueue(() => this.executable().profile(data, batch));
  }

  /**
   * Frees the backend's memory; later calls reject with E_DISPOSED.
   *
   * @example
   * model.dispose();
   */
  dispose(): void {
    const exe = this.exe;
    this.exe = undefined;
    if (exe) void this.tail.then(() => exe.dispose());
  }
}
