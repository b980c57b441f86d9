// The kernel contract, written down once: op codes, epilogues and the program/parameter-block layout
// that the reference (TS), native (C++) and wasm (AssemblyScript) backends all execute.
// native/contract.h and assembly/contract.ts mirror these numbers; test/contract-parity.test.ts checks them.

/** Op codes of the contract. Tensors are NHWC float32 with a batch dimension. */
export const Op = {
  /** general KxK convolution, weights [Cout][KH][KW][Cin] */
  conv2d: 1,
  /** depthwise KxK convolution (depth multiplier 1), weights [KH][KW][C] */
  dwconv: 2,
  /** 1x1 convolution = GEMM over pixels, also fully connected; weights [Cout][Cin] */
  pwconv: 3,
  /** elementwise a + b, same shape */
  add: 4,
  /** global average pool [H,W,C] -> [1,1,C] */
  gavgpool: 5,
  /** channel scale (squeeze-excite gating): x[H,W,C] * g[1,1,C] */
  scale: 6,
  /** softmax over C at every pixel, with inverse temperature beta */
  softmax: 7,
  /** elementwise x * mul[c] + add[c] (mul/add of length 1 or C): the general elementwise op */
  affine: 8,
  /**
   * elementwise table[i] with i = nearest integer to x * bias[0] + bias[1], clamped to [0, paramLen-1]: a
   * function given by its values on a quantization grid (how a quantized runtime evaluates e.g. h-swish)
   */
  lookup: 9,
} as const;
export type OpName = keyof typeof Op;
export const OP_NAMES: readonly OpName[] = Object.keys(Op) as OpName[];

/**
 * Epilogue nonlinearity applied after bias, before the output clamp [min, max].
 * None/ReLU/ReLU6 are all `none` plus a clamp (ReLU6: arXiv 1704.04861).
 */
export const Act = {
  none: 0,
  /** x * clamp(x/6 + 1/2, 0, 1)  (h-swish, arXiv 1905.02244) */
  hswish: 1,
  /** clamp(x/6 + 1/2, 0, 1)  (h-sigmoid, arXiv 1905.02244) */
  hsigmoid: 2,
  /** 1 / (1 + exp(-x)) */
  sigmoid: 3,
} as const;
export type ActName = keyof typeof Act;

/** Program header: int32 words at the start of every program. */
export const Header = {
  magic: 0,
  version: 1,
  stepCount: 2,
  /** arena size in floats for ONE image; a batch of N uses N times this */
  arenaFloatsPerImage: 3,
  inputOffset: 4,
  inputFloatsPerImage: 5,
  outputCount: 6,
  /** outputs table: for output k, offset at outputs + 2k, floats per image at outputs + 2k + 1 */
  outputs: 7,
} as const;
export const MAX_OUTPUTS = 4;
export const HEADER_WORDS = 16;
export const PROGRAM_MAGIC = 0x314e424d; // "MBN1" little-endian
export const PROGRAM_VERSION = 1;

/**
 * One step's parameter block: STEP_WORDS int32 words after the header.
 * Arena offsets (in0, in1, out) are in floats for ONE image: at batch N every offset is multiplied by N
 * and the tensor holds N images back to back, so one plan serves every batch size.
 * Constants offsets index the constants Float32Array (-1 when absent). min/max/beta are float32 bits.
 */
export const Param = {
  op: 0,
  act: 1,
  in0: 2,
  in1: 3,
  out: 4,
  inH: 5,
  inW: 6,
  inC: 7,
  outH: 8,
  outW: 9,
  outC: 10,
  kH: 11,
  kW: 12,
  strideH: 13,
  strideW: 14,
  padTop: 15,
  padLeft: 16,
  /** conv weights, affine's mul vector, or lookup's table */
  weights: 17,
  /** conv bias, affine's add vector, or lookup's index map [mul, add] (2 floats) */
  bias: 18,
  /** affine: length of mul/add (1 = broadcast, or C); lookup: table length */
  paramLen: 19,
  min: 20,
  max: 21,
  beta: 22,
  reserved: 23,
} as const;
export const STEP_WORDS = 24;

/** Constants (weights) are placed at offsets that are multiples of this many floats (64 bytes). */
export const CONSTANT_ALIGN_FLOATS = 16;
/** Arena tensors are placed at offsets (per image) that are multiples of this many floats. */
export const ARENA_ALIGN_FLOATS = 16;

/**
 * Nearest integer, ties to even (float32 hardware rounding, C's lrintf): how lookup rounds its index.
 *
 * @example
 * nearestEven(2.5); // 2
 * nearestEven(3.5); // 4
 */
export function nearestEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
/** The int32 bit pattern of a float32 (how min/max/beta travel in the int32 parameter block). */
export function floatBits(x: number): number {
  f32[0] = x;
  return i32[0];
}
/** Inverse of floatBits. */
export function bitsFloat(bits: number): number {
  i32[0] = bits;
  return f32[0];
}
