// The reference implementation of the kernel contract: plain loops with float64 accumulation, obviously
// correct, one function per op. It is the oracle for native and wasm, and the `js` backend runs it.
import { Act, bitsFloat, Header, HEADER_WORDS, nearestEven, Op, Param, STEP_WORDS } from './contract';

/** Epilogue: nonlinearity, then clamp. Shared by every op so the math exists once. */
export function epilogue(x: number, act: number, min: number, max: number): number {
  let y = x;
  if (act === Act.hswish) y = x * Math.min(Math.max(x / 6 + 0.5, 0), 1);
  else if (act === Act.hsigmoid) y = Math.min(Math.max(x / 6 + 0.5, 0), 1);
  else if (act === Act.sigmoid) y = 1 / (1 + Math.exp(-x));
  return y < min ? min : y > max ? max : y;
}

/** Decoded view of one step's parameter block. */
export interface StepParams {
  op: number; act: number; in0: number; in1: number; out: number;
  inH: number; inW: number; inC: number; outH: number; outW: number; outC: number;
  kH: number; kW: number; strideH: number; strideW: number; padTop: number; padLeft: number;
  weights: number; bias: number; paramLen: number; min: number; max: number; beta: number;
}

export function readStep(program: Int32Array, index: number): StepParams {
  const p = HEADER_WORDS + index * STEP_WORDS;
  const w = (k: number) => program[p + k];
  return {
    op: w(Param.op), act: w(Param.act), in0: w(Param.in0), in1: w(Param.in1), out: w(Param.out),
    inH: w(Param.inH), inW: w(Param.inW), inC: w(Param.inC), outH: w(Param.outH), outW: w(Param.outW), outC: w(Param.outC),
    kH: w(Param.kH), kW: w(Param.kW), strideH: w(Param.strideH), strideW: w(Param.strideW),
    padTop: w(Param.padTop), padLeft: w(Param.padLeft), weights: w(Param.weights), bias: w(Param.bias),
    paramLen: w(Param.paramLen), min: bitsFloat(w(Param.min)), max: bitsFloat(w(Param.max)), beta: bitsFloat(w(Param.beta)),
  };
}

/** conv2d: weights [Cout][KH][KW][Cin]. x, y are the batch's first elements (N images back to back). */
export function conv2d(s: StepParams, N: number, arena: Float32Array, k: Float32Array): void {
  const inSz = s.inH * s.inW * s.inC;
  const outSz = s.outH * s.outW * s.outC;
  for (let n = 0; n < N; n++) {
    const x = s.in0 * N + n * inSz;
    const y = s.out * N + n * outSz;
    for (let oy = 0; oy < s.outH; oy++) for (let ox = 0; ox < s.outW; ox++) for (let co = 0; co < s.outC; co++) {
      let acc = k[s.bias + co];
      for (let ky = 0; ky < s.kH; ky++) {
        const iy = oy * s.strideH - s.padTop + ky;
        if (iy < 0 || iy >= s.inH) continue;
        for (let kx = 0; kx < s.kW; kx++) {
          const ix = ox * s.strideW - s.padLeft + kx;
          if (ix < 0 || ix >= s.inW) continue;
          const xi = x + (iy * s.inW + ix) * s.inC;
          const wi = s.weights + ((co * s.kH + ky) * s.kW + kx) * s.inC;
          for (let ci = 0; ci < s.inC; ci++) acc += arena[xi + ci] * k[wi + ci];
        }
      }
      arena[y + (oy * s.outW + ox) * s.outC + co] = epilogue(acc, s.act, s.min, s.max);
    }
  }
}

/** dwconv: weights [KH][KW][C], one filter per channel. */
export function dwconv(s: StepParams, N: number, arena: Float32Array, k: Float32Array): void {
  const inSz = s.inH * s.inW * s.inC;
  const outSz = s.outH * s.outW * s.outC;
  const C = s.inC;
  for (let n = 0; n < N; n++) {
    const x = s.in0 * N + n * inSz;
    const y = s.out * N + n * outSz;
    for (let oy = 0; oy < s.outH; oy++) for (let ox = 0; ox < s.outW; ox++) for (let c = 0; c < C; c++) {
      let acc = k[s.bias + c];
      for (let ky = 0; ky < s.kH; ky++) {
        const iy = oy * s.strideH - s.padTop + ky;
        if (iy < 0 || iy >= s.inH) continue;
        for (let kx = 0; kx < s.kW; kx++) {
          const ix = ox * s.strideW - s.padLeft + kx;
          if (ix < 0 || ix >= s.inW) continue;
          acc += arena[x + (iy * s.inW + ix) * C + c] * k[s.weights + (ky * s.kW + kx) * C + c];
        }
      }
      arena[y + (oy * s.outW + ox) * C + c] = epilogue(acc, s.act, s.min, s.max);
    }
  }
}

/** pwconv: weights [Cout][Cin] applied at every pixel of every image (a GEMM; also fully connected). */
export function pwconv(s: StepParams, N: number, arena: Float32Array, k: Float32Array): void {
  const pixels = N * s.inH * s.inW;
  const x = s.in0 * N;
  const y = s.out * N;
  for (let p = 0; p < pixels; p++) for (let co = 0; co < s.outC; co++) {
    let acc = k[s.bias + co];
    const xi = x + p * s.inC;
    const wi = s.weights + co * s.inC;
    for (let ci = 0; ci < s.inC; ci++) acc += arena[xi + ci] * k[wi + ci];
    arena[y + p * s.outC + co] = epilogue(acc, s.act, s.min, s.max);
  }
}

export function add(s: StepParams, N: number, arena: Float32Array): void {
  const len = N * s.outH * s.outW * s.outC;
  const a = s.in0 * N;
  const b = s.in1 * N;
  const y = s.out * N;
  for (let i = 0; i < len; i++) arena[y + i] = epilogue(arena[a + i] + arena[b + i], s.act, s.min, s.max);
}

export function gavgpool(s: StepParams, N: number, arena: Float32Array): void {
  const hw = s.inH * s.inW;
  const C = s.inC;
  for (let n = 0; n < N; n++) {
    const x = s.in0 * N + n * hw * C;
    const y = s.out * N + n * C;
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let p = 0; p < hw; p++) acc += arena[x + p * C + c];
      arena[y + c] = epilogue(acc / hw, s.act, s.min, s.max);
    }
  }
}

export function scale(s: StepParams, N: number, arena: Float32Array): void {
  const hw = s.inH * s.inW;
  const C = s.inC;
  for (let n = 0; n < N; n++) {
    const x = s.in0 * N + n * hw * C;
    const g = s.in1 * N + n * C;
    const y = s.out * N + n * hw * C;
    for (let p = 0; p < hw; p++) for (let c = 0; c < C; c++) {
      arena[y + p * C + c] = epilogue(arena[x + p * C + c] * arena[g + c], s.act, s.min, s.max);
    }
  }
}

export function softmax(s: StepParams, N: number, arena: Float32Array): void {
  const rows = N * s.inH * s.inW;
  const C = s.inC;
  for (let r = 0; r < rows; r++) {
    const x = s.in0 * N + r * C;
    const y = s.out * N + r * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, arena[x + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(s.beta * (arena[x + c] - max));
    for (let c = 0; c < C; c++) arena[y + c] = epilogue(Math.exp(s.beta * (arena[x + c] - max)) / sum, s.act, s.min, s.max);
  }
}

export function affine(s: StepParams, N: number, arena: Float32Array, k: Float32Array): void {
  const len = N * s.inH * s.inW * s.inC;
  const C = s.inC;
  const per = s.paramLen === 1 ? 0 : 1;
  const x = s.in0 * N;
  const y = s.out * N;
  for (let i = 0; i < len; i++) {
    const c = per * (i % C);
    arena[y + i] = epilogue(arena[x + i] * k[s.weights + c] + k[s.bias + c], s.act, s.min, s.max);
  }
}

export function lookup(s: StepParams, N: number, arena: Float32Array, k: Float32Array): void {
  const len = N * s.inH * s.inW * s.inC;
  const x = s.in0 * N;
  const y = s.out * N;
  const last = s.paramLen - 1;
  // the index is computed in float32 like the SIMD kernels: x * mul rounded, then + add rounded
  const mul = k[s.bias];
  const add = k[s.bias + 1];
  for (let i = 0; i < len; i++) {
    const v = Math.fround(Math.fround(arena[x + i] * mul) + add);
    // NaN compares false both ways and lands on entry 0, like the SIMD kernels' max/min
    const j = v >= 0 ? (v <= last ? nearestEven(v) : last) : 0;
    arena[y + i] = epilogue(k[s.weights + j], s.act, s.min, s.max);
  }
}

type Kernel = (s: StepParams, N: number, arena: Float32Array, k: Float32Array) => void;
const KERNELS: Record<number, Kernel> = {
  [Op.conv2d]: conv2d,
  [Op.dwconv]: dwconv,
  [Op.pwconv]: pwconv,
  [Op.add]: add,
  [Op.gavgpool]: gavgpool,
  [Op.scale]: scale,
  [Op.softmax]: softmax,
  [Op.affine]: affine,
  [Op.lookup]: lookup,
};

/** Runs one step of a program over a batch of N images. */
export function runStep(program: Int32Array, index: number, N: number, arena: Float32Array, constants: Float32Array): void {
  const s = readStep(program, index);
  const kernel = KERNELS[s.op];
  if (!kernel) throw new Error(`reference: unknown op code ${s.op} at step ${index}`);
  kernel(s, N, arena, constants);
}

/** Number of steps in a program. */
export function stepCount(program: Int32Array): number {
  return program[Header.stepCount];
}
