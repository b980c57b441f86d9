// TFLite importer: reads a .tflite flatbuffer (uint8/int8 quantized or float32) and maps its operators onto the
// canonical op set through GraphBuilder, dequantizing weights to float and keeping each quantized tensor's
// representable range as an output clamp, so the float graph saturates where the integer graph does, and (by
// default) reproducing the TFLite interpreter's integer arithmetic op by op, so it also rounds where it does.
import { MobileNetError, type MobileNetErrorCode } from '../errors';
import { GraphBuilder, type Padding } from '../graph/builder';
import type { Graph, GraphMeta, Shape3 } from '../graph/types';
import { nearestEven } from '../kernels/contract';
import { FlatBuffer, FlatBufferError } from './flatbuffers';
import { readZip } from './zip';
import { halfToFloat } from './float16';
import { hardSwishTable } from './tflite-fixed';

/** BuiltinOperator codes (tensorflow/lite/schema/schema.fbs) that this importer maps, plus names for messages. */
const BuiltinOp = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MUL: 18,
  RELU: 19,
  RELU_N1_TO_1: 20,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  CUSTOM: 32,
  MEAN: 40,
  SQUEEZE: 43,
  QUANTIZE: 114,
  HARD_SWISH: 117,
} as const;

/** Names of other common builtins, so an unsupported-op error says which op it met. */
const OTHER_OP_NAMES: Record<number, string> = {
  2: 'CONCATENATION', 5: 'DEPTH_TO_SPACE', 8: 'FLOOR', 11: 'L2_NORMALIZATION', 12: 'L2_POOL_2D',
  13: 'LOCAL_RESPONSE_NORMALIZATION', 16: 'LSTM', 17: 'MAX_POOL_2D', 23: 'RESIZE_BILINEAR', 28: 'TANH',
  34: 'PAD', 36: 'GATHER', 39: 'TRANSPOSE', 41: 'SUB', 42: 'DIV', 45: 'STRIDED_SLICE', 47: 'EXP', 49: 'SPLIT',
  53: 'CAST', 54: 'PRELU', 55: 'MAXIMUM', 57: 'MINIMUM', 60: 'PADV2', 65: 'SLICE', 67: 'TRANSPOSE_CONV',
  74: 'SUM', 76: 'RSQRT', 83: 'PACK', 97: 'RESIZE_NEAREST_NEIGHBOR', 98: 'LEAKY_RELU', 100: 'MIRROR_PAD',
  102: 'SPLIT_V', 111: 'ELU',
};

const opName = (code: number): string =>
  (Object.keys(BuiltinOp) as (keyof typeof BuiltinOp)[]).find((k) => BuiltinOp[k] === code) ?? OTHER_OP_NAMES[code] ?? `builtin op ${code}`;

/** TensorType codes and their element sizes. */
const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, INT8: 9 } as const;
const TYPE_NAMES: Record<number, string> = { 0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 5: 'string', 6: 'bool', 7: 'int16', 8: 'complex64', 9: 'int8', 10: 'float64' };
const ELEMENT_BYTES: Record<number, number> = { 0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 9: 1 };

/** Integer range a quantized activation type can hold. */
const Q_RANGE: Record<number, [number, number]> = { 3: [0, 255], 9: [-128, 127] };

/** Largest per-image activation we accept: bounds memory whatever a corrupt shape field says (V2@224 peaks near 1.2M). */
const MAX_TENSOR_ELEMENTS = 1 << 24;

/** ActivationFunctionType -> the clamp it means; TANH and SIGN_BIT are outside the contract. */
const FUSED_CLAMP: Record<number, [number, number]> = {
  0: [-Infinity, Infinity],
  1: [0, Infinity],
  2: [-1, 1],
  3: [0, 6],
};
const FUSED_NAMES = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

interface Quantization {
  scale: number[];
  zeroPoint: number[];
  axis: number;
}

/** The zero point of a per-tensor quantization (0 when the file lists none). */
const zeroPointOf = (q: Quantization) => (q.zeroPoint.length ? q.zeroPoint[0] : 0);

interface Tensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  /** Constant contents, when the tensor's buffer holds data. */
  data?: Uint8Array;
  quant?: Quantization;
}

type Range = [number, number];
const FULL: Range = [-Infinity, Infinity];
const intersect = (a: Range, b: Range): Range => [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
const isFull = (r: Range) => r[0] === -Infinity && r[1] === Infinity;

/**
 * The levels q - zero point an integer kernel can write to quantized tensor `out`: its type's range, narrowed by
 * `range` (a fused activation) rounded to the nearest level on the float32 scale; undefined when none is left.
 */
function outputLevels(out: Tensor, range: Range): Range | undefined {
  const [qmin, qmax] = Q_RANGE[out.type];
  const zp = zeroPointOf(out.quant!);
  const scale = Math.fround(out.quant!.scale[0]);
  const lo = Math.max(qmin - zp, Number.isFinite(range[0]) ? Math.round(range[0] / scale) : -Infinity);
  const hi = Math.min(qmax - zp, Number.isFinite(range[1]) ? Math.round(range[1] / scale) : Infinity);
  return lo > hi ? undefined : [lo, hi];
}

/** Everything one operator needs to report an error that names the file and the node. */
class NodeContext {
  constructor(
    readonly where: string,
    readonly index: number,
    readonly op: string,
    readonly label: string,
  ) {}

  get node(): string {
    return `operator #${this.index} ${this.op} ("${this.label}")`;
  }

  fail(code: MobileNetErrorCode, expected: string, received: string, todo?: string): never {
    const what = todo ?? (code === 'E_UNSUPPORTED_OP'
      ? 'This model uses an operator or option outside the MobileNet kernel contract; convert it without that option or use a supported model.'
      : 'The file is malformed or truncated; re-export or download it again.');
    throw new MobileNetError(code, `${this.where}: ${this.node}: expected ${expected}, received ${received}. ${what}`, {
      file: this.where,
      node: this.node,
    });
  }
}

/** Short, human label for a TFLite tensor name (converters join fused names with ';'). */
const shortName = (name: string) => (name.split(';')[0] || name).slice(0, 120);

/** Reads the model structure; all flatbuffer access for the importer goes through here. */
class TfliteFile {
  readonly fb: FlatBuffer;
  readonly tensors: Tensor[] = [];
  readonly opcodes: { code: number; custom: string }[] = [];
  readonly metadataNames: string[] = [];
  readonly description: string;
  readonly inputs: number[];
  readonly outputs: number[];
  readonly operators: number[];

  constructor(bytes: Uint8Array, readonly where: string) {
    this.fb = new FlatBuffer(bytes);
    const fb = this.fb;
    const root = fb.root();
    const version = fb.u32Field(root, 0, 0);
    if (version !== 3) this.fail(`schema version 3`, `version ${version}`);
    this.description = fb.stringField(root, 3);
    for (const oc of fb.tableVector(root, 1)) {
      // newer files store codes above 127 in builtin_code and keep a placeholder in the deprecated byte
      const code = Math.max(fb.i8Field(oc, 0, 0), fb.i32Field(oc, 3, 0));
      this.opcodes.push({ code, custom: fb.stringField(oc, 1) });
    }
    const buffers = fb.tableVector(root, 4).map((b) => this.bufferData(b));
    for (const m of fb.tableVector(root, 6)) this.metadataNames.push(fb.stringField(m, 0));
    const subgraphs = fb.tableVector(root, 2);
    if (subgraphs.length < 1) this.fail('at least one subgraph', 'none');
    const sg = subgraphs[0];
    fb.tableVector(sg, 0).forEach((t, index) => {
      const bufferIndex = fb.u32Field(t, 2, 0);
      if (bufferIndex >= buffers.length) this.fail(`tensor ${index}'s buffer index below ${buffers.length}`, `${bufferIndex}`);
      const data = buffers[bufferIndex];
      this.tensors.push({
        index,
        name: fb.stringField(t, 3, `tensor${index}`),
        shape: fb.i32Vector(t, 0),
        type: fb.i8Field(t, 1, 0),
        data: data && data.length > 0 ? data : undefined,
        quant: this.quantization(fb.tableField(t, 4)),
      });
    });
    this.inputs = fb.i32Vector(sg, 1);
    this.outputs = fb.i32Vector(sg, 2);
    this.operators = fb.tableVector(sg, 3);
  }

  fail(expected: string, received: string): never {
    throw new MobileNetError('E_MODEL_FORMAT', `${this.where}: expected ${expected} in the TFLite flatbuffer, received ${received}. The file is malformed or truncated; re-export or download it again.`, { file: this.where });
  }

  private bufferData(b: number): Uint8Array | undefined {
    const inline = this.fb.bytesField(b, 0);
    if (inline && inline.length > 0) return inline;
    // files over 2 GB keep buffers outside the flatbuffer, addressed by absolute offset and size
    const offset = this.fb.field(b, 1) ? this.fb.i64(this.fb.field(b, 1)) : 0;
    const size = this.fb.field(b, 2) ? this.fb.i64(this.fb.field(b, 2)) : 0;
    if (offset > 1 && size > 0) {
      this.fb.need(offset, size, 'an external buffer');
      return this.fb.bytes.subarray(offset, offset + size);
    }
    return inline;
  }

  private quantization(q: number): Quantization | undefined {
    if (!q) return undefined;
    const scale = this.fb.f32Vector(q, 2);
    if (scale.length === 0) return undefined;
    return { scale, zeroPoint: this.fb.i64Vector(q, 3), axis: this.fb.i32Field(q, 6, 0) };
  }
}

/** [1,H,W,C] / [1,C] / [C] / [] -> per-image [H,W,C]; undefined when the shape has no batch-1 reading. */
function toShape3(shape: number[]): Shape3 | undefined {
  if (shape.length > 4) return undefined;
  let dims = shape;
  if (dims.length === 4 || (dims.length >= 2 && dims[0] === 1)) {
    if (dims[0] !== 1) return undefined;
    dims = dims.slice(1);
  }
  while (dims.length < 3) dims = [1, ...dims];
  return dims as Shape3;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Options of {@link importTflite}. */
export interface TfliteImportOptions {
  /**
   * Reproduce the TFLite interpreter's integer arithmetic (default true): every quantized tensor is rounded to
   * the levels its type can hold, and convolutions, HARD_SWISH, ADD and AVERAGE_POOL_2D round exactly as the
   * interpreter's kernels do. false: the plain float graph, with the quantized ranges as clamps only.
   */
  rounding?: boolean;
}

/** 1.5 * 2^23: float32 numbers within 2^22 of it are spaced exactly 1 apart, so storing x + MAGIC rounds x. */
const MAGIC = 12582912;

/**
 * Imports a TFLite model into the canonical graph. Quantized weights (uint8 per-tensor, int8 per-channel,
 * int32 biases) are dequantized to float; each quantized activation's representable range
 * [scale*(qmin-zp), scale*(qmax-zp)] becomes its op's output clamp, which is where quantized models keep
 * their ReLU/ReLU6. The graph's input takes real values: real = pixel * meta.inputRange.scale + offset.
 * The embedding is the output of the last global average pool (AVERAGE_POOL_2D over the whole map, or
 * MEAN over H,W) that the main output depends on: the pooled features every MobileNet feeds its classifier.
 * Labels come from the zip archive metadata tools append to the file (coral models), when present.
 * By default the graph reproduces the interpreter's integer arithmetic: quantized tensors are carried as their
 * exact integer levels, convolutions accumulate them exactly and requantize with XNNPACK's float32 multiplier,
 * HARD_SWISH and two-tensor ADD become tables of the interpreter's kernels (the `lookup` op), pools round half
 * up; on the reference tensors this gives the interpreter's output bytes exactly (tflite-fidelity tests).
 * Without it the small V1 files move by up to ~25/256 in probability and V3-Small by ~50/256. Pass
 * `{ rounding: false }` for the plain float graph (clamps only, a few fewer elementwise passes per op).
 *
 * @param bytes the whole .tflite file
 * @param where the file name, used in every error message
 * @param options `rounding` (default true): reproduce the interpreter's integer arithmetic
 * @throws MobileNetError E_MODEL_FORMAT for damaged files, E_UNSUPPORTED_OP for ops outside the contract
 * @example
 * const graph = importTflite(fs.readFileSync('mobilenet_v2_1.0_224_quant.tflite'), 'mobilenet_v2_1.0_224_quant.tflite');
 * graph.meta.inputRange; // { scale: 0.0078125, offset: -1 }
 * graph.meta.labels?.[653]; // 'military uniform'
 */
export function importTflite(bytes: Uint8Array, where: string, options: TfliteImportOptions = {}): Graph {
  if (!(bytes instanceof Uint8Array)) {
    throw new MobileNetError('E_ARG', `${where}: expected the bytes of a .tflite file as a Uint8Array, received ${typeof bytes}. Pass fs.readFileSync(path).`, { file: where });
  }
  if (bytes.byteLength < 8 || String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]) !== 'TFL3') {
    const got = bytes.byteLength < 8 ? `${bytes.byteLength} bytes` : `identifier ${JSON.stringify(String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]))}`;
    throw new MobileNetError('E_MODEL_FORMAT', `${where}: expected a TFLite flatbuffer (file identifier "TFL3" at byte 4), received ${got}. Check that the file is a .tflite model and not truncated.`, { file: where });
  }
  try {
    return new Importer(new TfliteFile(bytes, where), where, options.rounding ?? true).run();
  } catch (e) {
    if (e instanceof MobileNetError) {
      if (e.message.startsWith(where)) throw e;
      // low-level reader errors: add the file name and what to do
      throw new MobileNetError(e.code, `${where}: expected a well-formed TFLite flatbuffer, received ${e.message}. The file is malformed or truncated; re-export or download it again.`, { file: where });
    }
    // a reader bug must still surface as the one public error type, with enough to report it
    throw new MobileNetError('E_MODEL_FORMAT', `${where}: expected a readable TFLite model, received a file that broke the importer (internal error: ${(e as Error)?.message ?? String(e)}). Please report this file.`, { file: where });
  }
}

class Importer {
  private readonly b: GraphBuilder;
  /** TFLite tensor index -> builder tensor name, for tensors produced so far. */
  private readonly produced = new Map<number, string>();
  /** Builder tensors whose values are softmax outputs (through value-preserving ops). */
  private readonly fromSoftmax = new Set<string>();
  /**
   * Rounding mode: TFLite tensor index -> builder tensor holding its integer levels q - zero point, exactly (as
   * float32 integers). Ops that the interpreter computes on integers read these; the real values
   * scale * (q - zero point) are made from them only when an op needs them (see `real`).
   */
  private readonly levels = new Map<number, string>();
  /** Builder tensors returned by `lower` that hold levels rather than real values. */
  private readonly levelResults = new Set<string>();
  /** Level tensors whose real values are softmax outputs. */
  private readonly softmaxLevels = new Set<string>();
  /** Global pools lowered to several nodes (quantizedAveragePool): their levels -> the pool's output tensor. */
  private readonly pooledLevels = new Map<string, Tensor>();
  /** Constants computed at import time (DEQUANTIZE of a constant, e.g. float16 weights). */
  private readonly folded = new Map<number, { values: Float32Array; shape: number[] }>();
  private readonly inputTensor: Tensor;
  private ctx!: NodeContext;

  constructor(private readonly file: TfliteFile, private readonly where: string, private readonly rounding: boolean) {
    if (file.inputs.length !== 1) file.fail('exactly one subgraph input (an image)', `${file.inputs.length} inputs`);
    if (file.outputs.length < 1) file.fail('at least one subgraph output', 'none');
    this.inputTensor = this.tensorAt(file.inputs[0], 'the subgraph input');
    const t = this.inputTensor;
    const shape = t.shape.length === 4 && t.shape[0] === 1 ? toShape3(t.shape) : undefined;
    if (!shape || shape.some((d) => d < 1) || count(shape) > MAX_TENSOR_ELEMENTS) {
      file.fail(`a [1,H,W,C] image input of at most ${MAX_TENSOR_ELEMENTS} values`, `input "${t.name}" of shape [${t.shape}]`);
    }
    if (t.data) file.fail('an input tensor without constant data', `input "${t.name}" with a constant buffer`);
    if (!(t.type in Q_RANGE) && t.type !== TensorType.FLOAT32) {
      throw new MobileNetError('E_UNSUPPORTED_OP', `${where}: expected a float32, uint8 or int8 input, received ${TYPE_NAMES[t.type] ?? `type ${t.type}`}. Use a model with an image input.`, { file: where });
    }
    this.b = new GraphBuilder(t.name, shape, where);
    this.produced.set(t.index, t.name);
    if (rounding && t.quant) {
      // TFLite's input is integer: real values that fall between pixel levels are rounded to one
      this.ctx = new NodeContext(where, -1, 'input', shortName(t.name));
      this.produced.delete(t.index);
      this.levels.set(t.index, this.roundToGrid(t.name, t));
    }
  }

  private tensorAt(index: number, role: string): Tensor {
    const t = Number.isInteger(index) && index >= 0 ? this.file.tensors[index] : undefined;
    if (!t) {
      if (this.ctx) this.ctx.fail('E_MODEL_FORMAT', `${role} to be a tensor index below ${this.file.tensors.length}`, `${index}`);
      this.file.fail(`${role} to be a tensor index below ${this.file.tensors.length}`, `${index}`);
    }
    return t;
  }

  run(): Graph {
    const { file } = this;
    file.operators.forEach((op, k) => {
      try {
        this.operator(op, k);
      } catch (e) {
        if (e instanceof FlatBufferError && this.ctx) this.ctx.fail('E_MODEL_FORMAT', 'a well-formed operator table', e.message);
        throw e;
      }
    });
    const outIndex = file.outputs[0];
    const outTensor = this.tensorAt(outIndex, 'the subgraph output');
    const output = this.produced.get(outIndex) ?? (this.levels.has(outIndex) ? this.real(outTensor) : undefined);
    if (output === undefined) return file.fail(`the subgraph output "${outTensor.name}" to be produced by an operator`, 'a tensor no operator writes (a dangling graph)');
    const outShape = this.b.shape(output);
    const labels = this.labels();
    const quantized = file.tensors.some((t) => t.quant && t.type === TensorType.INT8) ? 'int8 per-channel' : file.tensors.some((t) => t.quant && t.type === TensorType.UINT8) ? 'uint8 per-tensor' : 'float32';
    const iq = this.inputTensor.quant;
    const meta: GraphMeta = {
      format: 'tflite',
      name: this.where.split(/[\\/]/).pop() || this.where,
      outputKind: this.fromSoftmax.has(output) ? 'probabilities' : 'logits',
      backgroundClass: outShape[0] * outShape[1] * outShape[2] === 1001,
      inputRange: iq && this.inputTensor.type in Q_RANGE ? { scale: iq.scale[0], offset: -iq.zeroPoint[0] * iq.scale[0] } : undefined,
      notes: { description: file.description, quantization: quantized, operators: file.operators.length },
    };
    if (labels) meta.labels = labels;
    return this.b.finish(output, meta, this.findEmbedding(output));
  }

  /** The last global pool in execution order that the output depends on (SE pools come earlier in V3). */
  private findEmbedding(output: string): string | undefined {
    const nodes = this.b.nodes;
    const needed = new Set([output]);
    for (let i = nodes.length - 1; i >= 0; i--) {
      if (!needed.has(nodes[i].output)) continue;
      // an emulated pool averages integer levels: its features are their real values (made here when no op
      // read them), not the mean of levels inside it
      const pooled = this.pooledLevels.get(nodes[i].output);
      if (pooled) return this.real(pooled);
      if (nodes[i].op === 'gavgpool') return nodes[i].output;
      for (const t of nodes[i].inputs) needed.add(t);
    }
    return undefined;
  }

  /** Labels from the appended zip; bytes past the flatbuffer that are not a readable zip mean truncation. */
  private labels(): string[] | undefined {
    const { fb } = this.file;
    // metadata tools append the archive right after the last buffer; a local-header signature there that
    // does not lead to a readable archive means the file was cut short
    const startsZip = fb.length - fb.extent >= 4 && fb.u32(fb.extent) === 0x04034b50;
    if (!startsZip) return undefined;
    const entries = readZip(fb.bytes, this.where);
    const entry = entries.find((e) => /label/i.test(e.name) && e.name.endsWith('.txt')) ?? entries.find((e) => e.name.endsWith('.txt'));
    if (!entry) return undefined;
    const lines = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.length).toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  // ---- operators ---------------------------------------------------------------------------------

  private operator(op: number, k: number): void {
    const { fb } = this.file;
    const opcodeIndex = fb.u32Field(op, 0, 0);
    const opcode = this.file.opcodes[opcodeIndex];
    const inputs = fb.i32Vector(op, 1);
    const outputs = fb.i32Vector(op, 2);
    const firstOut = outputs.length > 0 && outputs[0] >= 0 ? this.file.tensors[outputs[0]] : undefined;
    const name = opcode ? (opcode.code === BuiltinOp.CUSTOM ? `CUSTOM(${opcode.custom || '?'})` : opName(opcode.code)) : `opcode ${opcodeIndex}`;
    this.ctx = new NodeContext(this.where, k, name, shortName(firstOut?.name ?? `op${k}`));
    const ctx = this.ctx;
    if (!opcode) ctx.fail('E_MODEL_FORMAT', `an opcode index below ${this.file.opcodes.length}`, `${opcodeIndex}`);
    if (outputs.length !== 1) ctx.fail('E_UNSUPPORTED_OP', 'exactly one output tensor', `${outputs.length}`);
    const out = this.tensorAt(outputs[0], 'the output');
    if (out.data) ctx.fail('E_MODEL_FORMAT', 'an output tensor without constant data', `"${out.name}" backed by a constant buffer`);
    if (this.produced.has(out.index) || this.levels.has(out.index) || this.folded.has(out.index)) ctx.fail('E_MODEL_FORMAT', `tensor "${shortName(out.name)}" to be written by one operator`, 'a second writer (a cyclic or inconsistent graph)');
    if (opcode.code === BuiltinOp.DEQUANTIZE && inputs.length === 1 && this.isConstant(inputs[0])) {
      // float16 and weight-only quantized files dequantize constant weights in the graph: fold that here
      const c = this.constant(inputs, 0, 'the dequantized constant');
      if (count(out.shape) !== c.values.length) ctx.fail('E_MODEL_FORMAT', `a DEQUANTIZE output of ${c.values.length} values`, `[${out.shape}]`);
      this.folded.set(out.index, { values: c.values, shape: out.shape });
      return;
    }
    const outShape = toShape3(out.shape);
    if (!outShape || outShape.some((d) => !Number.isInteger(d) || d < 1) || count(outShape) > MAX_TENSOR_ELEMENTS) {
      return ctx.fail('E_MODEL_FORMAT', `an output shape [1,H,W,C] of at most ${MAX_TENSOR_ELEMENTS} values`, `[${out.shape}]`);
    }
    const options = fb.tableField(op, 4);
    const result = this.lower(opcode.code, inputs, out, options);
    const got = this.b.shape(result);
    if (got.join() !== outShape.join()) {
      ctx.fail('E_MODEL_FORMAT', `the declared output shape [${out.shape}]`, `an op whose inputs give [${got}]`);
    }
    if (this.levelResults.has(result)) this.levels.set(out.index, result);
    else if (this.rounding && !this.keepsGrid(opcode.code, inputs, out) && !isFull(this.range(out))) this.levels.set(out.index, this.roundToGrid(result, out));
    else this.produced.set(out.index, result);
  }

  /** True when the op moves values without changing their grid (a reshape or a requantize to the same scale). */
  private keepsGrid(code: number, inputs: number[], out: Tensor): boolean {
    const valuePreserving = code === BuiltinOp.RESHAPE || code === BuiltinOp.SQUEEZE || code === BuiltinOp.QUANTIZE;
    const src = valuePreserving ? this.file.tensors[inputs[0]] : undefined;
    return !!src?.quant && src.type in Q_RANGE && !!out.quant && src.quant.scale[0] === out.quant.scale[0];
  }

  /**
   * Rounds a quantized tensor's real values to its grid scale*(q - zp), q integer in the type's range, with
   * three affine steps and no new kernel: t = x/scale + MAGIC is stored as float32, where the spacing is
   * exactly 1, so the store rounds to an integer (the clamp in that step is the type's [qmin, qmax]);
   * t - MAGIC is then exact: the tensor's levels q - zero point. `real` scales them back to the grid value.
   * Kept as separate steps on purpose: fusing them would compute in registers and skip the rounding store.
   * Only for quantized tensors (a bounded range).
   */
  private roundToGrid(x: string, t: Tensor): string {
    const qr = Q_RANGE[t.type];
    const q = t.quant!;
    const scale = q.scale[0];
    const zp = zeroPointOf(q);
    return this.roundLevels(x, Float32Array.of(1 / scale), [qr[0] - zp, qr[1] - zp]);
  }

  /** x * mul rounded to nearest (ties to even) and clamped to [lo, hi], as exact float32 integers (two steps). */
  private roundLevels(x: string, mul: Float32Array, [lo, hi]: [number, number]): string {
    const { b } = this;
    const label = `${this.ctx.label}/round`;
    const shifted = b.affine(x, mul, new Float32Array(mul.length).fill(MAGIC), { name: label, clamp: [MAGIC + lo, MAGIC + hi] });
    const integer = b.affine(shifted, Float32Array.of(1), Float32Array.of(-MAGIC), { name: label });
    if (this.fromSoftmax.has(x)) this.softmaxLevels.add(integer);
    return integer;
  }

  /** The real values of quantized tensor `t` from its levels (made once, on first use): scale * (q - zp). */
  private real(t: Tensor): string {
    const made = this.produced.get(t.index);
    if (made !== undefined) return made;
    const level = this.levels.get(t.index)!;
    const y = this.b.affine(level, Float32Array.of(t.quant!.scale[0]), Float32Array.of(0), { name: `${shortName(t.name)}/real` });
    if (this.softmaxLevels.has(level)) this.fromSoftmax.add(y);
    this.produced.set(t.index, y);
    return y;
  }

  /** The levels of activation input `i` (rounding mode, quantized): made from its real values if none exist yet. */
  private levelsOf(inputs: number[], i: number): { t: Tensor; name: string } {
    const t = this.tensorAt(inputs[i], `input ${i}`);
    const made = this.levels.get(t.index);
    if (made !== undefined) return { t, name: made };
    const x = this.act(inputs, i);
    const level = this.roundToGrid(x.name, x.t);
    this.levels.set(t.index, level);
    return { t, name: level };
  }

  /**
   * HARD_SWISH between two quantized tensors, as the interpreter computes it: its int16 fixed-point kernel
   * rounds differently from h-swish in float on about 1% of the levels, and V3-Small's squeeze-excite gates
   * amplify those one-step differences up to 40/256 in the probabilities. The kernel is a function of the
   * input level alone, so it becomes a table over the levels, indexed by the (already rounded) input.
   * Undefined when either side is not a per-tensor quantized uint8/int8 tensor of the same type.
   */
  private quantizedHardSwish(inputs: number[], out: Tensor): string | undefined {
    const t = this.tensorAt(inputs[0], 'input 0');
    const levels = Q_RANGE[out.type];
    const iq = t.quant;
    const oq = out.quant;
    if (!levels || t.type !== out.type || !iq || !oq || iq.scale.length !== 1 || oq.scale.length !== 1) return undefined;
    this.range(t);
    this.range(out);
    const input = { scale: iq.scale[0], zeroPoint: zeroPointOf(iq) };
    const output = { scale: oq.scale[0], zeroPoint: zeroPointOf(oq) };
    const table = hardSwishTable(input, output, levels);
    if (!table) return undefined;
    // levels in -> levels out: entry q - qmin holds the output's q - zero point
    const values = Float32Array.from(table, (level) => level - output.zeroPoint);
    const y = this.b.lookup(this.levelsOf(inputs, 0).name, values, { mul: 1, add: input.zeroPoint - levels[0] }, { name: this.ctx.label });
    this.levelResults.add(y);
    return y;
  }

  /**
   * A uint8 global AVERAGE_POOL_2D as the interpreter computes it: the mean of the input levels, rounded half
   * up ((sum + n/2) / n in integers), where rounding the real mean to the grid would round ties to even. The
   * levels are made exact integers first, so their sum is exact in float32 in any order (255 * n < 2^24) and
   * the mean lands within float32 rounding of a multiple of 1/n; adding 1/(4n) before rounding to nearest then
   * sends exact ties up and nothing else across a boundary (up to n of about 8000). The result is on the grid.
   * Undefined when the pool does not keep the quantization (TFLite requires it to) or the map is too large.
   */
  private quantizedAveragePool(inputs: number[], out: Tensor, n: number): string | undefined {
    const t = this.tensorAt(inputs[0], 'input 0');
    const iq = t.quant;
    const oq = out.quant;
    if (t.type !== TensorType.UINT8 || out.type !== TensorType.UINT8 || !iq || !oq || n > 8192) return undefined;
    if (iq.scale.length !== 1 || oq.scale.length !== 1 || iq.scale[0] !== oq.scale[0] || zeroPointOf(iq) !== zeroPointOf(oq)) return undefined;
    const { b } = this;
    const label = this.ctx.label;
    const zp = zeroPointOf(iq);
    const one = Float32Array.of(1);
    // on the levels q - zp: the mean of q ties exactly where the mean of q - zp does, zp being an integer
    const mean = b.gavgpool(this.levelsOf(inputs, 0).name, { name: label });
    // the nudge needs its own step: next to MAGIC, where float32 steps are 1, it would vanish
    const nudged = b.affine(mean, one, Float32Array.of(1 / (4 * n)), { name: `${label}/round` });
    const level = this.roundLevels(nudged, one, [-zp, 255 - zp]);
    this.levelResults.add(level);
    this.pooledLevels.set(level, out);
    return level;
  }

  /**
   * ADD of two quantized tensors of one shape as XNNPACK computes it: integer multipliers A, B for
   * scale_a / scale_out and scale_b / scale_out with 20 significant bits (exponent-aligned), then
   * floor((A * (qa - za) + B * (qb - zb) + 2^(shift-1)) / 2^shift), which needs ~30-bit integers that float32 cannot
   * hold. The result depends on the two input levels alone, so it is one table over both (256 x 256 entries),
   * indexed by qa * 256 + qb, which is an exact float32 integer computed by an affine and an add.
   * Undefined unless both inputs and the output are per-tensor quantized of one 8-bit type with the same shape.
   */
  private quantizedAdd(inputs: number[], out: Tensor, range: Range): string | undefined {
    if (this.isConstant(inputs[0]) || this.isConstant(inputs[1])) return undefined;
    const ta = this.tensorAt(inputs[0], 'input 0');
    const tb = this.tensorAt(inputs[1], 'input 1');
    const levels = Q_RANGE[out.type];
    const [qa, qb, qo] = [ta.quant, tb.quant, out.quant];
    if (!levels || !qa || !qb || !qo || ta.type !== out.type || tb.type !== out.type || [qa, qb, qo].some((q) => q.scale.length !== 1)) return undefined;
    this.range(ta);
    this.range(tb);
    const f32 = Math.fround;
    const sa = f32(f32(qa.scale[0]) / f32(qo.scale[0]));
    const sb = f32(f32(qb.scale[0]) / f32(qo.scale[0]));
    const largest = Math.max(sa, sb);
    if (!(Math.min(sa, sb) >= 2 ** -10 && largest < 2 ** 8)) return undefined;
    let exponent = Math.floor(Math.log2(largest));
    if (2 ** exponent > largest) exponent--;
    if (2 ** (exponent + 1) <= largest) exponent++;
    const shift = 20 - exponent;
    const A = nearestEven(sa * 2 ** shift);
    const B = nearestEven(sb * 2 ** shift);
    const [za, zb] = [zeroPointOf(qa), zeroPointOf(qb)];
    const bounds = outputLevels(out, range);
    if (!bounds) return undefined;
    const [lo, hi] = bounds;
    if (this.inputShape(inputs, 0).join() !== this.inputShape(inputs, 1).join()) return undefined;
    const { b } = this;
    const label = this.ctx.label;
    const la = this.levelsOf(inputs, 0).name;
    const lb = this.levelsOf(inputs, 1).name;
    const table = new Float32Array(256 * 256);
    for (let a = 0; a < 256; a++) {
      for (let c = 0; c < 256; c++) {
        const acc = A * (a + levels[0] - za) + B * (c + levels[0] - zb);
        table[a * 256 + c] = Math.min(hi, Math.max(lo, Math.floor((acc + 2 ** (shift - 1)) / 2 ** shift)));
      }
    }
    // index (qa - qmin) * 256 + (qb - qmin) from the levels q - zp: exact integers below 2^16
    const rows = b.affine(la, Float32Array.of(256), Float32Array.of(256 * (za - levels[0]) + zb - levels[0]), { name: `${label}/index` });
    const index = b.add(rows, lb, { name: `${label}/index` });
    const y = b.lookup(index, table, { mul: 1, add: 0 }, { name: label });
    this.levelResults.add(y);
    return y;
  }

  /** Per-image shape of activation input `i`, without making its real values when only its levels exist. */
  private inputShape(inputs: number[], i: number): Shape3 {
    const level = this.levels.get(this.tensorAt(inputs[i], `input ${i}`).index);
    return this.b.shape(level ?? this.act(inputs, i).name);
  }

  /**
   * CONV_2D / DEPTHWISE_CONV_2D as the interpreter's XNNPACK kernels compute them: an exact integer
   * accumulator sum((q - zp_in) * (w - zp_w)) + bias over the levels (exact in float32 for any summation order
   * while partial sums stay below 2^24, and in the reference's float64 always), times the float32 multiplier
   * scale_in * scale_w / scale_out rounded to float32 (its own step: the product is rounded there, as XNNPACK's
   * fp32 requantization does), then rounded to the nearest level, ties to even, and clamped to the output range
   * and fused activation. Undefined (the float lowering then applies) unless input, output and filter are
   * quantized (per-tensor activations, per-tensor or per-channel filter) and the bias is int32.
   */
  private quantizedConv(op: 'conv2d' | 'dwconv' | 'pwconv', inputs: number[], filter: { stored?: Float64Array }, out: Tensor, range: Range, geometry: { kernel: [number, number]; stride: [number, number]; padding: Padding }): string | undefined {
    const t = this.tensorAt(inputs[0], 'input 0');
    const wt = this.tensorAt(inputs[1], 'the filter');
    const iq = t.quant;
    const oq = out.quant;
    const wq = wt.quant;
    if (!filter.stored || !iq || !oq || !wq || !(t.type in Q_RANGE) || !(out.type in Q_RANGE) || !(wt.type in Q_RANGE) || iq.scale.length !== 1 || oq.scale.length !== 1) return undefined;
    const hasBias = inputs.length > 2 && inputs[2] >= 0;
    if (hasBias && this.tensorAt(inputs[2], 'the bias').type !== TensorType.INT32) return undefined;
    this.range(t);
    const w = { values: Float32Array.from(filter.stored), scales: wq.scale };
    const cout = op === 'dwconv' ? wt.shape[3] : wt.shape[0];
    const perChannel = w.scales.length > 1;
    if (perChannel && w.scales.length !== cout) return undefined;
    const bias = hasBias ? this.constant(inputs, 2, 'the bias').stored : new Float64Array(cout);
    if (!bias || bias.length !== cout || bias.some((v) => !(Math.abs(v) < 2 ** 31))) return undefined;
    const f32 = Math.fround;
    const sIn = f32(iq.scale[0]);
    const sOut = f32(oq.scale[0]);
    const multiplier = Float32Array.from(perChannel ? w.scales : [w.scales[0]], (sW) => f32(f32(sIn * f32(sW)) / sOut));
    const bounds = outputLevels(out, range);
    if (!bounds) return undefined;
    const x = this.levelsOf(inputs, 0).name;
    const { b } = this;
    const label = this.ctx.label;
    // Every partial sum stays an exact float32 integer while it is below 2^24 in magnitude: bound it by the
    // bias plus the largest input level times sum |w| per output channel. Past that (a large bias, as in
    // int8 files' first layers), the bias is added in its own step, which rounds once to float32 exactly as
    // XNNPACK's int32 -> float conversion of the accumulator does.
    const inLevels = Q_RANGE[t.type];
    const inZp = zeroPointOf(iq);
    const maxLevel = Math.max(Math.abs(inLevels[0] - inZp), Math.abs(inLevels[1] - inZp));
    const sumAbs = new Float64Array(cout);
    w.values.forEach((v, j) => { sumAbs[op === 'dwconv' ? j % cout : Math.floor(j / (w.values.length / cout))] += Math.abs(v); });
    const separateBias = bias.some((v, c) => Math.abs(v) + maxLevel * sumAbs[c] >= 2 ** 24);
    const convBias = separateBias ? new Float32Array(cout) : Float32Array.from(bias);
    let acc = op === 'pwconv'
      ? b.pwconv(x, w.values, convBias, { name: label })
      : b.conv(op, x, w.values, convBias, { name: label, ...geometry });
    if (separateBias) {
      // bias = high + low, both exact in float32 (high a multiple of 2^12): c + low stays exact, and adding high
      // then rounds the whole accumulator once
      const low = Float32Array.from(bias, (v) => ((v % 4096) + 4096) % 4096);
      const high = Float32Array.from(bias, (v, c) => v - low[c]);
      const ones = new Float32Array(cout).fill(1);
      acc = b.affine(b.affine(acc, ones, low, { name: `${label}/bias` }), ones, high, { name: `${label}/bias` });
    }
    const product = b.affine(acc, multiplier, new Float32Array(multiplier.length), { name: `${label}/requantize` });
    const level = this.roundLevels(product, Float32Array.of(1), bounds);
    this.levelResults.add(level);
    return level;
  }

  /** Activation input `i` of the current operator: must be produced earlier and not be a constant. */
  private act(inputs: number[], i: number): { t: Tensor; name: string } {
    const t = this.tensorAt(inputs[i], `input ${i}`);
    const name = this.produced.get(t.index) ?? (this.levels.has(t.index) ? this.real(t) : undefined);
    if (name === undefined) {
      if (t.data || this.folded.has(t.index)) this.ctx.fail('E_UNSUPPORTED_OP', `input ${i} to be a computed tensor`, `the constant "${shortName(t.name)}"`);
      this.ctx.fail('E_MODEL_FORMAT', `input ${i} ("${shortName(t.name)}") to be produced by an earlier operator`, 'a tensor that no earlier operator writes (a cyclic or dangling graph)');
    }
    if (!(t.type in Q_RANGE) && t.type !== TensorType.FLOAT32) this.ctx.fail('E_UNSUPPORTED_OP', 'a float32, uint8 or int8 activation', TYPE_NAMES[t.type] ?? `type ${t.type}`);
    return { t, name };
  }

  /**
   * Dequantized constant input `i`, with its declared shape; checks the buffer holds exactly that many values.
   * `stored`: the numbers as stored minus their zero point, in float64 (for an integer type the exact levels
   * q - zero point, which the quantized kernels compute on); absent for a constant folded at import time.
   */
  private constant(inputs: number[], i: number, role: string): { values: Float32Array; shape: number[]; stored?: Float64Array } {
    const t = this.tensorAt(inputs[i], role);
    const folded = this.folded.get(t.index);
    if (folded) return folded;
    if (!t.data) this.ctx.fail('E_UNSUPPORTED_OP', `${role} to be a constant`, `the computed tensor "${shortName(t.name)}"`);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) this.ctx.fail('E_MODEL_FORMAT', `a non-negative shape for ${role}`, `[${t.shape}]`);
    const n = count(t.shape);
    const size = ELEMENT_BYTES[t.type];
    if (size === undefined) this.ctx.fail('E_UNSUPPORTED_OP', `${role} of type float32, int32, uint8 or int8`, TYPE_NAMES[t.type] ?? `type ${t.type}`);
    if (n * size !== t.data.length) this.ctx.fail('E_MODEL_FORMAT', `${role} "${shortName(t.name)}" [${t.shape}] to hold ${n * size} bytes`, `${t.data.length} bytes`);
    const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const raw = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      switch (t.type) {
        case TensorType.FLOAT32: raw[j] = view.getFloat32(4 * j, true); break;
        case TensorType.FLOAT16: raw[j] = halfToFloat(view.getUint16(2 * j, true)); break;
        case TensorType.INT32: raw[j] = view.getInt32(4 * j, true); break;
        case TensorType.UINT8: raw[j] = view.getUint8(j); break;
        case TensorType.INT8: raw[j] = view.getInt8(j); break;
        default: raw[j] = Number(view.getBigInt64(8 * j, true));
      }
    }
    const values = new Float32Array(n);
    const q = t.quant;
    if (!q || t.type === TensorType.FLOAT32 || t.type === TensorType.FLOAT16) {
      values.set(raw);
      return { values, shape: t.shape, stored: raw };
    }
    // per-tensor (one scale) or per-channel along quantized_dimension
    const channels = q.scale.length;
    let inner = 1;
    if (channels > 1) {
      if (q.axis < 0 || q.axis >= t.shape.length || t.shape[q.axis] !== channels) {
        this.ctx.fail('E_MODEL_FORMAT', `${channels} scales along dimension ${q.axis} of ${role} [${t.shape}]`, `a mismatch`);
      }
      inner = count(t.shape.slice(q.axis + 1));
    }
    if (q.zeroPoint.length !== 0 && q.zeroPoint.length !== 1 && q.zeroPoint.length !== channels) {
      this.ctx.fail('E_MODEL_FORMAT', `1 or ${channels} zero points for ${role}`, `${q.zeroPoint.length}`);
    }
    for (let c = 0; c < channels; c++) this.checkScale(q.scale[c], role);
    for (let j = 0; j < n; j++) {
      const c = channels > 1 ? Math.floor(j / inner) % channels : 0;
      const zp = q.zeroPoint.length === 0 ? 0 : q.zeroPoint[q.zeroPoint.length === 1 ? 0 : c];
      raw[j] -= zp;
      values[j] = q.scale[c] * raw[j];
    }
    return { values, shape: t.shape, stored: raw };
  }

  private isConstant(index: number): boolean {
    return !!this.tensorAt(index, 'an input').data || this.folded.has(index);
  }

  private checkScale(s: number, role: string): void {
    if (!(Number.isFinite(s) && s > 0)) this.ctx.fail('E_MODEL_FORMAT', `a positive finite quantization scale for ${role}`, `${s}`);
  }

  /** The real range a quantized activation tensor can represent; unbounded for float tensors. */
  private range(t: Tensor): Range {
    const q = t.quant;
    const qr = Q_RANGE[t.type];
    if (!q || !qr) return FULL;
    if (q.scale.length !== 1) this.ctx.fail('E_UNSUPPORTED_OP', `per-tensor quantization of activation "${shortName(t.name)}"`, `${q.scale.length} scales`);
    this.checkScale(q.scale[0], `activation "${shortName(t.name)}"`);
    const zp = zeroPointOf(q);
    if (!(zp >= qr[0] && zp <= qr[1])) this.ctx.fail('E_MODEL_FORMAT', `a zero point in [${qr}] for "${shortName(t.name)}"`, `${zp}`);
    return [q.scale[0] * (qr[0] - zp), q.scale[0] * (qr[1] - zp)];
  }

  private fused(code: number): Range {
    const r = FUSED_CLAMP[code];
    if (!r) this.ctx.fail('E_UNSUPPORTED_OP', 'a fused activation NONE, RELU, RELU6 or RELU_N1_TO_1', FUSED_NAMES[code] ?? `code ${code}`);
    return r;
  }

  /** Builder clamp option: undefined when unbounded, so float graphs stay clamp-free. */
  private clampOf(r: Range): [number, number] | undefined {
    if (r[0] > r[1]) this.ctx.fail('E_MODEL_FORMAT', 'a non-empty output range', `[${r}]`);
    return isFull(r) ? undefined : [r[0], r[1]];
  }

  private padding(code: number): Padding {
    if (code === 0) return 'same';
    if (code === 1) return 'valid';
    return this.ctx.fail('E_MODEL_FORMAT', 'padding SAME (0) or VALID (1)', `${code}`);
  }

  private stride(options: number, wField: number, hField: number): [number, number] {
    const { fb } = this.file;
    const s: [number, number] = [fb.i32Field(options, hField, 0), fb.i32Field(options, wField, 0)];
    if (!(s[0] >= 1 && s[1] >= 1 && s[0] <= 64 && s[1] <= 64)) this.ctx.fail('E_MODEL_FORMAT', 'strides between 1 and 64', `[${s}]`);
    return s;
  }

  private dilation(options: number, wField: number, hField: number): void {
    const { fb } = this.file;
    const d = [fb.i32Field(options, hField, 1), fb.i32Field(options, wField, 1)];
    if (d[0] !== 1 || d[1] !== 1) this.ctx.fail('E_UNSUPPORTED_OP', 'dilation 1', `dilation [${d}]`);
  }

  private needOptions(options: number): void {
    if (!options) this.ctx.fail('E_MODEL_FORMAT', 'the operator\'s options table', 'none');
  }

  private optionalBias(inputs: number[], index: number): Float32Array | undefined {
    if (inputs.length <= index || inputs[index] < 0) return undefined;
    return this.constant(inputs, index, 'the bias').values;
  }

  /** Emits the nodes for one operator; returns the builder tensor holding its output. */
  private lower(code: number, inputs: number[], out: Tensor, options: number): string {
    const { b, ctx } = this;
    const { fb } = this.file;
    const label = ctx.label;
    const outRange = this.range(out);
    const needInputs = (n: number) => {
      if (inputs.length < n) ctx.fail('E_MODEL_FORMAT', `at least ${n} inputs`, `${inputs.length}`);
    };
    switch (code) {
      case BuiltinOp.CONV_2D: {
        needInputs(2);
        this.needOptions(options);
        const [, , C] = this.inputShape(inputs, 0);
        const w = this.constant(inputs, 1, 'the filter');
        if (w.shape.length !== 4 || w.shape[3] !== C) ctx.fail('E_MODEL_FORMAT', `a [Cout,KH,KW,${C}] filter`, `[${w.shape}]`);
        const stride = this.stride(options, 1, 2);
        this.dilation(options, 4, 5);
        const range = intersect(outRange, this.fused(fb.i8Field(options, 3, 0)));
        const clamp = this.clampOf(range);
        const kernel: [number, number] = [w.shape[1], w.shape[2]];
        // a 1x1 stride-1 convolution is a GEMM over pixels: the pwconv kernels are much faster for it
        const op = kernel[0] === 1 && kernel[1] === 1 && stride[0] === 1 && stride[1] === 1 ? 'pwconv' : 'conv2d';
        const padding = this.padding(fb.i8Field(options, 0, 0));
        const exact = this.rounding && this.quantizedConv(op, inputs, w, out, range, { kernel, stride, padding });
        if (exact) return exact;
        const x = this.act(inputs, 0);
        const bias = this.optionalBias(inputs, 2);
        if (op === 'pwconv') return b.pwconv(x.name, w.values, bias, { name: label, clamp });
        return b.conv('conv2d', x.name, w.values, bias, { name: label, kernel, stride, padding, clamp });
      }
      case BuiltinOp.DEPTHWISE_CONV_2D: {
        needInputs(2);
        this.needOptions(options);
        const [, , C] = this.inputShape(inputs, 0);
        const w = this.constant(inputs, 1, 'the filter');
        if (w.shape.length !== 4 || w.shape[0] !== 1) ctx.fail('E_MODEL_FORMAT', 'a [1,KH,KW,C] depthwise filter', `[${w.shape}]`);
        if (w.shape[3] !== C) ctx.fail('E_UNSUPPORTED_OP', `depth multiplier 1 (a [1,KH,KW,${C}] filter)`, `a filter [${w.shape}] (depth multiplier ${fb.i32Field(options, 3, 1)})`);
        const stride = this.stride(options, 1, 2);
        this.dilation(options, 5, 6);
        const range = intersect(outRange, this.fused(fb.i8Field(options, 4, 0)));
        const kernel: [number, number] = [w.shape[1], w.shape[2]];
        const padding = this.padding(fb.i8Field(options, 0, 0));
        const exact = this.rounding && this.quantizedConv('dwconv', inputs, w, out, range, { kernel, stride, padding });
        if (exact) return exact;
        // [1][KH][KW][C] is already the canonical [KH][KW][C] memory order
        return b.conv('dwconv', this.act(inputs, 0).name, w.values, this.optionalBias(inputs, 2), { name: label, kernel, stride, padding, clamp: this.clampOf(range) });
      }
      case BuiltinOp.FULLY_CONNECTED: {
        needInputs(2);
        const x = this.act(inputs, 0);
        const w = this.constant(inputs, 1, 'the weights');
        const xs = b.shape(x.name);
        if (w.shape.length !== 2 || w.shape[1] !== count(xs)) ctx.fail('E_MODEL_FORMAT', `[Cout,${count(xs)}] weights`, `[${w.shape}]`);
        if (options && fb.i8Field(options, 1, 0) !== 0) ctx.fail('E_UNSUPPORTED_OP', 'the DEFAULT weights format', `format ${fb.i8Field(options, 1, 0)}`);
        const clamp = this.clampOf(intersect(outRange, this.fused(options ? fb.i8Field(options, 0, 0) : 0)));
        const flat = xs[0] === 1 && xs[1] === 1 ? x.name : b.reshape(x.name, [1, 1, count(xs)], { name: `${label}/flatten` });
        return b.pwconv(flat, w.values, this.optionalBias(inputs, 2), { name: label, clamp });
      }
      case BuiltinOp.AVERAGE_POOL_2D: {
        this.needOptions(options);
        const [H, W] = this.inputShape(inputs, 0);
        const padding = this.padding(fb.i8Field(options, 0, 0));
        const stride = this.stride(options, 1, 2);
        const filter = [fb.i32Field(options, 4, 0), fb.i32Field(options, 3, 0)];
        const global = filter[0] === H && filter[1] === W && (padding === 'valid' || (stride[0] >= H && stride[1] >= W));
        if (!global) ctx.fail('E_UNSUPPORTED_OP', `a global average pool (a ${H}x${W} window over the ${H}x${W} map)`, `a ${filter[0]}x${filter[1]} window, stride [${stride}], ${padding.toString().toUpperCase()} padding`);
        const clamp = this.clampOf(intersect(outRange, this.fused(fb.i8Field(options, 5, 0))));
        return (this.rounding && !clamp?.some((v, i) => v !== outRange[i]) && this.quantizedAveragePool(inputs, out, H * W)) || b.gavgpool(this.act(inputs, 0).name, { name: label, clamp });
      }
      case BuiltinOp.MEAN: {
        needInputs(2);
        const x = this.act(inputs, 0);
        const axes = Array.from(this.constant(inputs, 1, 'the axes').values).map((a) => (a < 0 ? a + 4 : a)).sort();
        if (x.t.shape.length !== 4 || axes.join() !== '1,2') ctx.fail('E_UNSUPPORTED_OP', 'a MEAN over axes [1,2] (H and W) of a 4-D tensor', `axes [${axes}] of [${x.t.shape}]`);
        return b.gavgpool(x.name, { name: label, clamp: this.clampOf(outRange) });
      }
      case BuiltinOp.ADD:
      case BuiltinOp.MUL: {
        needInputs(2);
        const range = intersect(outRange, this.fused(options ? fb.i8Field(options, 0, 0) : 0));
        return (this.rounding && code === BuiltinOp.ADD && this.quantizedAdd(inputs, out, range)) || this.binary(code, inputs, this.clampOf(range));
      }
      case BuiltinOp.HARD_SWISH: {
        return (this.rounding && this.quantizedHardSwish(inputs, out)) || b.activate(this.act(inputs, 0).name, 'hswish', { name: label, clamp: this.clampOf(outRange) });
      }
      case BuiltinOp.LOGISTIC:
        return b.activate(this.act(inputs, 0).name, 'sigmoid', { name: label, clamp: this.clampOf(outRange) });
      case BuiltinOp.RELU:
        return b.activate(this.act(inputs, 0).name, 'relu', { name: label, clamp: this.clampOf(outRange) });
      case BuiltinOp.RELU6:
        return b.activate(this.act(inputs, 0).name, 'relu6', { name: label, clamp: this.clampOf(outRange) });
      case BuiltinOp.RELU_N1_TO_1:
        return b.activate(this.act(inputs, 0).name, 'none', { name: label, clamp: this.clampOf(intersect(outRange, [-1, 1])) });
      case BuiltinOp.SOFTMAX: {
        const x = this.act(inputs, 0);
        const beta = options ? fb.f32Field(options, 0, 1) : 1;
        if (!(Number.isFinite(beta) && beta > 0)) ctx.fail('E_MODEL_FORMAT', 'a positive finite softmax beta', `${beta}`);
        // the quantized output range [0, 255/256] differs from softmax's own [0, 1] by under one step: no clamp
        const y = b.softmax(x.name, { name: label, beta });
        this.fromSoftmax.add(y);
        return y;
      }
      case BuiltinOp.RESHAPE:
      case BuiltinOp.SQUEEZE:
      case BuiltinOp.QUANTIZE:
      case BuiltinOp.DEQUANTIZE:
        return this.relabel(inputs, out, outRange);
      default:
        return ctx.fail('E_UNSUPPORTED_OP', 'an operator of the MobileNet set (CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, AVERAGE_POOL_2D, MEAN, HARD_SWISH, LOGISTIC, RELU, RELU6, RESHAPE, SQUEEZE, SOFTMAX, QUANTIZE, DEQUANTIZE, FULLY_CONNECTED)', ctx.op);
    }
  }

  /** ADD/MUL: tensor+tensor (same shape), tensor x gate[1,1,C] (squeeze-excite), or tensor op constant (affine). */
  private binary(code: number, inputs: number[], clamp: [number, number] | undefined): string {
    const { b, ctx } = this;
    const label = ctx.label;
    const isConst = (i: number) => this.isConstant(inputs[i]);
    const isAdd = code === BuiltinOp.ADD;
    if (isConst(0) && isConst(1)) ctx.fail('E_UNSUPPORTED_OP', 'at least one computed input', 'two constants (fold them before export)');
    if (isConst(0) || isConst(1)) {
      const xi = isConst(0) ? 1 : 0;
      const x = this.act(inputs, xi);
      const C = b.shape(x.name)[2];
      const c = this.constant(inputs, 1 - xi, 'the constant operand');
      // only a scalar or a per-channel vector broadcasts the way affine does
      const lastDimOnly = c.shape.slice(0, -1).every((d) => d === 1);
      if (!(c.values.length === 1 || (c.values.length === C && lastDimOnly))) {
        ctx.fail('E_UNSUPPORTED_OP', `a scalar or ${C}-channel constant operand`, `a constant of shape [${c.shape}]`);
      }
      return isAdd
        ? b.affine(x.name, new Float32Array(c.values.length).fill(1), c.values, { name: label, clamp })
        : b.affine(x.name, c.values, new Float32Array(c.values.length), { name: label, clamp });
    }
    const p = this.act(inputs, 0);
    const q = this.act(inputs, 1);
    const sp = b.shape(p.name);
    const sq = b.shape(q.name);
    if (sp.join() === sq.join()) {
      if (isAdd) return b.add(p.name, q.name, { name: label, clamp });
      if (sp[0] !== 1 || sp[1] !== 1) ctx.fail('E_UNSUPPORTED_OP', 'a MUL by a constant or by a [1,1,C] gate', `two [${sp}] tensors`);
    }
    if (!isAdd) {
      const gateSecond = sq[0] === 1 && sq[1] === 1 && sq[2] === sp[2];
      const gateFirst = sp[0] === 1 && sp[1] === 1 && sp[2] === sq[2];
      if (gateSecond) return b.scale(p.name, q.name, { name: label, clamp });
      if (gateFirst) return b.scale(q.name, p.name, { name: label, clamp });
    }
    return ctx.fail('E_UNSUPPORTED_OP', isAdd ? 'an ADD of two tensors of the same shape or of a constant' : 'a MUL by a constant or by a [1,1,C] gate', `inputs [${sp}] and [${sq}]`);
  }

  /** RESHAPE/SQUEEZE/QUANTIZE/DEQUANTIZE keep values; only a narrower destination range needs a clamp. */
  private relabel(inputs: number[], out: Tensor, outRange: Range): string {
    const { b, ctx } = this;
    const x = this.act(inputs, 0);
    const inRange = this.range(x.t);
    let y = x.name;
    if (outRange[0] > inRange[0] || outRange[1] < inRange[1]) {
      y = b.activate(y, 'none', { name: ctx.label, clamp: this.clampOf(outRange) });
    }
    const shape = toShape3(out.shape) as Shape3;
    y = b.reshape(y, shape, { name: ctx.label });
    if (this.fromSoftmax.has(x.name)) this.fromSoftmax.add(y);
    return y;
  }
}
