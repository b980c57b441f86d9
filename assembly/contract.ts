// AssemblyScript mirror of lib/kernels/contract.ts: op codes, epilogues and the int32 program layout.
// The entry module re-exports these as wasm globals so test/wasm.test.ts can check them against the TS originals.

/** Op codes (lib/kernels/contract.ts Op). */
export enum Op {
  conv2d = 1,
  dwconv = 2,
  pwconv = 3,
  add = 4,
  gavgpool = 5,
  scale = 6,
  softmax = 7,
  affine = 8,
  lookup = 9,
}

/** Epilogue nonlinearity before the clamp (lib/kernels/contract.ts Act). */
export enum Act {
  none = 0,
  hswish = 1,
  hsigmoid = 2,
  sigmoid = 3,
}

/** Program header word indices. */
export enum Header {
  magic = 0,
  version = 1,
  stepCount = 2,
  arenaFloatsPerImage = 3,
  inputOffset = 4,
  inputFloatsPerImage = 5,
  outputCount = 6,
  outputs = 7,
}

/** Parameter-block word indices of one step. */
export enum Param {
  op = 0,
  act = 1,
  in0 = 2,
  in1 = 3,
  out = 4,
  inH = 5,
  inW = 6,
  inC = 7,
  outH = 8,
  outW = 9,
  outC = 10,
  kH = 11,
  kW = 12,
  strideH = 13,
  strideW = 14,
  padTop = 15,
  padLeft = 16,
  weights = 17,
  bias = 18,
  paramLen = 19,
  min = 20,
  max = 21,
  beta = 22,
  reserved = 23,
}

export const MAX_OUTPUTS: i32 = 4;
export const HEADER_WORDS: i32 = 16;
export const PROGRAM_MAGIC: i32 = 0x314e424d;
export const PROGRAM_VERSION: i32 = 1;
export const STEP_WORDS: i32 = 24;
export const CONSTANT_ALIGN_FLOATS: i32 = 16;
export const ARENA_ALIGN_FLOATS: i32 = 16;

/** Reads word `k` of the parameter block at byte address `step`. */
// @ts-ignore: decorator
@inline export function word(step: usize, k: i32): i32 {
  return load<i32>(step + (<usize>k << 2));
}

/** Reads a float32 carried as bits in word `k` (min, max, beta). */
// @ts-ignore: decorator
@inline export function wordf(step: usize, k: i32): f32 {
  return load<f32>(step + (<usize>k << 2));
}
