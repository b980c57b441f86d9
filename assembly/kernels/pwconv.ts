// pwconv: 1x1 convolution as a GEMM over all pixels of the batch (also the fully connected layer).
//
// Contract: x [M][K] (M = N*H*W pixels, K = inC), y [M][Cout], NHWC so both are row-major.
// Packed weights (lib/backends/wasm.ts packPwconvPairs): ceil(Cout/8) panels of 8 output channels (zero
// padding past Cout), panels 2p and 2p+1 interleaved as [K][16], a last odd panel [K][8]; bias padded to a
// multiple of 8.
// Epilogue: bias (the accumulators start from it), nonlinearity, clamp.
// Tiles: 2 pixels x 16 channels (two panels) = 8 v128 accumulators + 4 weight vectors + 1 splat + 1
// product temp, inside V8's 15 allocatable xmm registers. Measured against 4x8 and 6x8: same speed with
// mul+add, ~10% faster with relaxed FMA (fewer row pointers), and 6x8 spills. A last odd panel takes
// 4x8 tiles, a last odd pixel 1x16 / 1x8 tiles; every tile sums each output in the same order, so
// results do not depend on the tiling or the batch size.
// V8's TurboFan (Node 20 and 22) schedules every load of a loop body before its first multiply-add, so
// loads + accumulators must fit in the registers: unrolling K by 4 (16 weight loads live) and a 3x16 tile
// (12 accumulators + 7 loads) both spill and measured about 2x slower. What does pay is fewer
// instructions per iteration (the loop is front-end bound): one weight pointer, no counter.
import { Param, word, wordf } from '../contract';
import { madd, store8 } from './common';

/** 2 pixels x 16 channels (a pair of panels interleaved as [K][16]): 8 accumulators, 4 weight loads, 2 splats. */
// @ts-ignore: decorator
@inline function tile2x16(x: usize, xs: usize, K: i32, w: usize, b: usize, y: usize, ys: usize, nc: i32, act: i32, lo: v128, hi: v128): void {
  let c00 = v128.load(b), c01 = v128.load(b, 16), c02 = v128.load(b, 32), c03 = v128.load(b, 48);
  let c10 = c00, c11 = c01, c12 = c02, c13 = c03;
  let x0 = x;
  let x1 = x + xs;
  // Three pointers and no counter: V8 keeps every increment in the loop body, which is front-end bound.
  const x0End = x + (<usize>K << 2);
  while (x0 < x0End) {
    const w0 = v128.load(w);
    const w1 = v128.load(w, 16);
    const w2 = v128.load(w, 32);
    const w3 = v128.load(w, 48);
    let a = v128.load32_splat(x0);
    c00 = madd(a, w0, c00);
    c01 = madd(a, w1, c01);
    c02 = madd(a, w2, c02);
    c03 = madd(a, w3, c03);
    a = v128.load32_splat(x1);
    c10 = madd(a, w0, c10);
    c11 = madd(a, w1, c11);
    c12 = madd(a, w2, c12);
    c13 = madd(a, w3, c13);
    x0 += 4;
    x1 += 4;
    w += 64;
  }
  store8(y, c00, c01, nc, act, lo, hi);
  store8(y + 32, c02, c03, nc - 8, act, lo, hi);
  store8(y + ys, c10, c11, nc, act, lo, hi);
  store8(y + ys + 32, c12, c13, nc - 8, act, lo, hi);
}

/** 4 pixels (rows x, x+xs, x+2xs, x+3xs) times one 8-channel panel w, reduction length K. */
function tile4x8(x: usize, xs: usize, K: i32, w: usize, b: usize, y: usize, ys: usize, nc: i32, act: i32, lo: v128, hi: v128): void {
  const b0 = v128.load(b);
  const b1 = v128.load(b, 16);
  let c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
  let x0 = x;
  let x1 = x + xs;
  let x2 = x1 + xs;
  let x3 = x2 + xs;
  const x0End = x + (<usize>K << 2);
  while (x0 < x0End) {
    const w0 = v128.load(w);
    const w1 = v128.load(w, 16);
    let a = v128.load32_splat(x0);
    c00 = madd(a, w0, c00);
    c01 = madd(a, w1, c01);
    a = v128.load32_splat(x1);
    c10 = madd(a, w0, c10);
    c11 = madd(a, w1, c11);
    a = v128.load32_splat(x2);
    c20 = madd(a, w0, c20);
    c21 = madd(a, w1, c21);
    a = v128.load32_splat(x3);
    c30 = madd(a, w0, c30);
    c31 = madd(a, w1, c31);
    x0 += 4;
    x1 += 4;
    x2 += 4;
    x3 += 4;
    w += 32;
  }
  store8(y, c00, c01, nc, act, lo, hi);
  store8(y + ys, c10, c11, nc, act, lo, hi);
  store8(y + 2 * ys, c20, c21, nc, act, lo, hi);
  store8(y + 3 * ys, c30, c31, nc, act, lo, hi);
}

/**
 * One pixel times a pair of panels ([K][16]): four independent chains hide the add latency.
 * Each output sums in the same order as tile2x16, so a pixel's result does not depend on its tile.
 */
function tile1x16(x: usize, K: i32, w: usize, b: usize, y: usize, nc: i32, act: i32, lo: v128, hi: v128): void {
  let c0 = v128.load(b);
  let c1 = v128.load(b, 16);
  let c2 = v128.load(b, 32);
  let c3 = v128.load(b, 48);
  const xEnd = x + (<usize>K << 2);
  while (x < xEnd) {
    const a = v128.load32_splat(x);
    c0 = madd(a, v128.load(w), c0);
    c1 = madd(a, v128.load(w, 16), c1);
    c2 = madd(a, v128.load(w, 32), c2);
    c3 = madd(a, v128.load(w, 48), c3);
    x += 4;
    w += 64;
  }
  store8(y, c0, c1, nc, act, lo, hi);
  store8(y + 32, c2, c3, nc - 8, act, lo, hi);
}

/** One pixel times one 8-channel panel (the odd panel left after tile1x16). */
function tile1x8(x: usize, K: i32, w: usize, b: usize, y: usize, nc: i32, act: i32, lo: v128, hi: v128): void {
  let c0 = v128.load(b);
  let c1 = v128.load(b, 16);
  const xEnd = x + (<usize>K << 2);
  while (x < xEnd) {
    const a = v128.load32_splat(x);
    c0 = madd(a, v128.load(w), c0);
    c1 = madd(a, v128.load(w, 16), c1);
    x += 4;
    w += 32;
  }
  store8(y, c0, c1, nc, act, lo, hi);
}

/** Rows m, m+1 times panels j, j+1: the 2x16 tile. */
// @ts-ignore: decorator
@inline function pairTile(
  x: usize, xs: usize, K: i32, w: usize, panel: usize, b: usize, y: usize, ys: usize, Cout: i32,
  m: i32, j: i32, act: i32, lo: v128, hi: v128,
): void {
  tile2x16(x + <usize>m * xs, xs, K, w + <usize>j * panel, b + (<usize>j << 5), y + <usize>m * ys + (<usize>j << 5), ys, Cout - (j << 3), act, lo, hi);
}

/**
 * y[M][Cout] = epilogue(x[M][K] * packed w + b): the GEMM behind pwconv, also called row by row by the
 * fused inverted-residual block. x rows are K floats apart, y rows Cout floats apart.
 */
export function gemm(x: usize, M: i32, K: i32, w: usize, b: usize, y: usize, Cout: i32, act: i32, lo: v128, hi: v128): void {
  const xs = <usize>K << 2;
  const ys = <usize>Cout << 2;
  const panel = <usize>K << 5;
  const panels = (Cout + 7) >> 3;
  const M2 = M & ~1;
  const pairs = panels >> 1;
  if (M >= Cout) {
    // Many pixels, few channels: the whole packed weight matrix stays in L1 while pixels stream.
    for (let m = 0; m < M2; m += 2) {
      for (let jj = 0; jj < pairs; jj++) pairTile(x, xs, K, w, panel, b, y, ys, Cout, m, jj << 1, act, lo, hi);
    }
  } else {
    // Few pixels, many channels (7x7 layers, FC): each weight panel is read once, pixels stay in cache.
    for (let jj = 0; jj < pairs; jj++) {
      for (let m = 0; m < M2; m += 2) pairTile(x, xs, K, w, panel, b, y, ys, Cout, m, jj << 1, act, lo, hi);
    }
  }
  if (M2 < M) {
    // A last odd pixel: one row across all panel pairs.
    for (let jj = 0; jj < pairs; jj++) {
      const j = jj << 1;
      tile1x16(x + <usize>M2 * xs, K, w + <usize>j * panel, b + (<usize>j << 5), y + <usize>M2 * ys + (<usize>j << 5), Cout - (j << 3), act, lo, hi);
    }
  }
  if (panels & 1) {
    // A last odd panel (Cout = 24, 1000, ...): 4 rows at a time keeps 8 chains in flight.
    const j = panels - 1;
    const wj = w + <usize>j * panel;
    const bj = b + (<usize>j << 5);
    const nc = Cout - (j << 3);
    const M4 = M & ~3;
    for (let m = 0; m < M4; m += 4) tile4x8(x + <usize>m * xs, xs, K, wj, bj, y + <usize>m * ys + (<usize>j << 5), ys, nc, act, lo, hi);
    for (let m = M4; m < M; m++) tile1x8(x + <usize>m * xs, K, wj, bj, y + <usize>m * ys + (<usize>j << 5), nc, act, lo, hi);
  }
}

/** Runs one pwconv step (parameter block at `step`) over N images. */
export function pwconv(step: usize, N: i32, arena: usize, consts: usize): void {
  gemm(
    arena + ((<usize>word(step, Param.in0) * <usize>N) << 2),
    N * word(step, Param.inH) * word(step, Param.inW),
    word(step, Param.inC),
    consts + (<usize>word(step, Param.weights) << 2),
    consts + (<usize>word(step, Param.bias) << 2),
    arena + ((<usize>word(step, Param.out) * <usize>N) << 2),
    word(step, Param.outC),
    word(step, Param.act),
    f32x4.splat(wordf(step, Param.min)),
    f32x4.splat(wordf(step, Param.max)),
  );
}
