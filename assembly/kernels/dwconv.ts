// dwconv: depthwise KxK convolution (depth multiplier 1), any stride and padding.
//
// Contract: x [N][inH][inW][C], y [N][outH][outW][C] (NHWC).
// Packed weights (lib/backends/wasm.ts packDwconv): ceil(C/4) groups, group g = bias[4] then taps
// [KH][KW][4] for channels 4g..4g+3, zero padding past C. The step's bias offset is unused.
// Epilogue: bias, nonlinearity, clamp.
// Loop order: output row, then runs of 4 interior pixels (3x3, stride 1 or 2) that share input columns,
// then channel groups; border pixels and other kernels go one pixel at a time with one pointer per tap.
// A tap or row in the padding points at `zeros` (a zero-filled region of inW*C+8 floats the host
// reserves), so the inner loops have no bounds checks and the channel sweep streams input and packed
// weights contiguously. The last group of a C that is not a multiple of 4 reads padding
// lanes (zero weights) and stores only its real lanes.
import { Param, word, wordf } from '../contract';
import { epilogue4, madd, storeUpTo4 } from './common';

/** Byte address of tap (iy, ix) at channel 0, or the zero buffer when the tap is in the padding. */
// @ts-ignore: decorator
@inline function tap(x: usize, iy: i32, ix: i32, inH: i32, inW: i32, C4: usize, zeros: usize): usize {
  return <u32>iy < <u32>inH && <u32>ix < <u32>inW ? x + (<usize>(iy * inW + ix)) * C4 : zeros;
}

/** Byte address of column ix in row r (an image row or the zero row), or the zero buffer in the padding. */
// @ts-ignore: decorator
@inline function col(r: usize, ix: i32, inW: i32, C4: usize, zeros: usize): usize {
  return <u32>ix < <u32>inW ? r + <usize>ix * C4 : zeros;
}

/**
 * 3x3, one pixel: nine tap pointers in locals; two accumulator chains per group halve the add latency.
 * r0..r2 are the three input rows (the zero row when a row is in the padding); ix the left tap column.
 */
function pixel3x3(
  r0: usize, r1: usize, r2: usize, ix: i32, inW: i32, C: i32, zeros: usize,
  w: usize, y: usize, act: i32, lo: v128, hi: v128,
): void {
  const C4 = <usize>C << 2;
  const i0 = col(r0, ix, inW, C4, zeros);
  const i1 = col(r0, ix + 1, inW, C4, zeros);
  const i2 = col(r0, ix + 2, inW, C4, zeros);
  const i3 = col(r1, ix, inW, C4, zeros);
  const i4 = col(r1, ix + 1, inW, C4, zeros);
  const i5 = col(r1, ix + 2, inW, C4, zeros);
  const i6 = col(r2, ix, inW, C4, zeros);
  const i7 = col(r2, ix + 1, inW, C4, zeros);
  const i8 = col(r2, ix + 2, inW, C4, zeros);
  let wp = w;
  let yp = y;
  const C16 = <usize>(C & ~3) << 2;
  let o: usize = 0;
  for (; o < C16; o += 16) {
    let a = madd(v128.load(i0 + o), v128.load(wp, 16), v128.load(wp));
    let b = f32x4.mul(v128.load(i1 + o), v128.load(wp, 32));
    a = madd(v128.load(i2 + o), v128.load(wp, 48), a);
    b = madd(v128.load(i3 + o), v128.load(wp, 64), b);
    a = madd(v128.load(i4 + o), v128.load(wp, 80), a);
    b = madd(v128.load(i5 + o), v128.load(wp, 96), b);
    a = madd(v128.load(i6 + o), v128.load(wp, 112), a);
    b = madd(v128.load(i7 + o), v128.load(wp, 128), b);
    a = madd(v128.load(i8 + o), v128.load(wp, 144), a);
    v128.store(yp + o, epilogue4(f32x4.add(a, b), act, lo, hi));
    wp += 160;
  }
  if (o < C4) {
    let a = madd(v128.load(i0 + o), v128.load(wp, 16), v128.load(wp));
    let b = f32x4.mul(v128.load(i1 + o), v128.load(wp, 32));
    a = madd(v128.load(i2 + o), v128.load(wp, 48), a);
    b = madd(v128.load(i3 + o), v128.load(wp, 64), b);
    a = madd(v128.load(i4 + o), v128.load(wp, 80), a);
    b = madd(v128.load(i5 + o), v128.load(wp, 96), b);
    a = madd(v128.load(i6 + o), v128.load(wp, 112), a);
    b = madd(v128.load(i7 + o), v128.load(wp, 128), b);
    a = madd(v128.load(i8 + o), v128.load(wp, 144), a);
    storeUpTo4(yp + o, epilogue4(f32x4.add(a, b), act, lo, hi), C & 3);
  }
}

/**
 * 3x3 stride 1, four neighbouring interior pixels of one row per pass: the six input columns of a kernel
 * row are loaded once and shared (6.75 loads per output vector instead of 18). r0..r2 point at the
 * first pixel's top-left tap in each kernel row (or into the zero row for rows in the padding).
 */
function block3x3s1(r0: usize, r1: usize, r2: usize, C: i32, w: usize, y: usize, act: i32, lo: v128, hi: v128): void {
  const C4 = <usize>C << 2;
  const C16 = <usize>(C & ~3) << 2;
  let wp = w;
  for (let o: usize = 0; o < C4; o += 16) {
    const bias = v128.load(wp);
    let a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    for (let ky = 0; ky < 3; ky++) {
      const r = (ky == 0 ? r0 : ky == 1 ? r1 : r2) + o;
      const wk = wp + <usize>(16 + ky * 48);
      const w0 = v128.load(wk);
      const w1 = v128.load(wk, 16);
      const w2 = v128.load(wk, 32);
      const c0 = v128.load(r);
      const c1 = v128.load(r + C4);
      const c2 = v128.load(r + 2 * C4);
      a0 = madd(c0, w0, a0);
      a0 = madd(c1, w1, a0);
      a1 = madd(c1, w0, a1);
      a0 = madd(c2, w2, a0);
      a1 = madd(c2, w1, a1);
      a2 = madd(c2, w0, a2);
      const c3 = v128.load(r + 3 * C4);
      a1 = madd(c3, w2, a1);
      a2 = madd(c3, w1, a2);
      a3 = madd(c3, w0, a3);
      const c4 = v128.load(r + 4 * C4);
      a2 = madd(c4, w2, a2);
      a3 = madd(c4, w1, a3);
      const c5 = v128.load(r + 5 * C4);
      a3 = madd(c5, w2, a3);
    }
    const n = o < C16 ? 4 : C & 3;
    storeUpTo4(y + o, epilogue4(a0, act, lo, hi), n);
    storeUpTo4(y + C4 + o, epilogue4(a1, act, lo, hi), n);
    storeUpTo4(y + 2 * C4 + o, epilogue4(a2, act, lo, hi), n);
    storeUpTo4(y + 3 * C4 + o, epilogue4(a3, act, lo, hi), n);
    wp += 160;
  }
}

/** 3x3 stride 2, four interior pixels per pass: nine input columns per kernel row, shared at the seams. */
function block3x3s2(r0: usize, r1: usize, r2: usize, C: i32, w: usize, y: usize, act: i32, lo: v128, hi: v128): void {
  const C4 = <usize>C << 2;
  const C16 = <usize>(C & ~3) << 2;
  let wp = w;
  for (let o: usize = 0; o < C4; o += 16) {
    const bias = v128.load(wp);
    let a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    for (let ky = 0; ky < 3; ky++) {
      const r = (ky == 0 ? r0 : ky == 1 ? r1 : r2) + o;
      const wk = wp + <usize>(16 + ky * 48);
      const w0 = v128.load(wk);
      const w1 = v128.load(wk, 16);
      const w2 = v128.load(wk, 32);
      a0 = madd(v128.load(r), w0, a0);
      a0 = madd(v128.load(r + C4), w1, a0);
      let c = v128.load(r + 2 * C4);
      a0 = madd(c, w2, a0);
      a1 = madd(c, w0, a1);
      a1 = madd(v128.load(r + 3 * C4), w1, a1);
      c = v128.load(r + 4 * C4);
      a1 = madd(c, w2, a1);
      a2 = madd(c, w0, a2);
      a2 = madd(v128.load(r + 5 * C4), w1, a2);
      c = v128.load(r + 6 * C4);
      a2 = madd(c, w2, a2);
      a3 = madd(c, w0, a3);
      a3 = madd(v128.load(r + 7 * C4), w1, a3);
      a3 = madd(v128.load(r + 8 * C4), w2, a3);
    }
    const n = o < C16 ? 4 : C & 3;
    storeUpTo4(y + o, epilogue4(a0, act, lo, hi), n);
    storeUpTo4(y + C4 + o, epilogue4(a1, act, lo, hi), n);
    storeUpTo4(y + 2 * C4 + o, epilogue4(a2, act, lo, hi), n);
    storeUpTo4(y + 3 * C4 + o, epilogue4(a3, act, lo, hi), n);
    wp += 160;
  }
}

/** Any KxK: tap pointers go to a small table in `taps` (host scratch), read back in the channel loop. */
function pixelKxK(
  x: usize, iy: i32, ix: i32, inH: i32, inW: i32, C: i32, kH: i32, kW: i32, zeros: usize, taps: usize,
  w: usize, y: usize, act: i32, lo: v128, hi: v128,
): void {
  const C4 = <usize>C << 2;
  const KK = kH * kW;
  for (let ky = 0; ky < kH; ky++) {
    for (let kx = 0; kx < kW; kx++) {
      store<usize>(taps + (<usize>(ky * kW + kx) << 2), tap(x, iy + ky, ix + kx, inH, inW, C4, zeros));
    }
  }
  const groupBytes = <usize>(1 + KK) << 4;
  let wp = w;
  for (let o: usize = 0; o < C4; o += 16) {
    let a = v128.load(wp);
    let b = f32x4.splat(0);
    let t = 0;
    for (; t + 1 < KK; t += 2) {
      a = madd(v128.load(load<usize>(taps + (<usize>t << 2)) + o), v128.load(wp + (<usize>(t + 1) << 4)), a);
      b = madd(v128.load(load<usize>(taps + (<usize>(t + 1) << 2)) + o), v128.load(wp + (<usize>(t + 2) << 4)), b);
    }
    if (t < KK) a = madd(v128.load(load<usize>(taps + (<usize>t << 2)) + o), v128.load(wp + (<usize>(t + 1) << 4)), a);
    storeUpTo4(y + o, epilogue4(f32x4.add(a, b), act, lo, hi), C - <i32>(o >> 2));
    wp += groupBytes;
  }
}

/**
 * One output row of a 3x3 dwconv from three input row pointers (image rows or the zero row): border
 * pixels one at a time, interior runs of 4 through the shared-column blocks. Also used by the fused
 * inverted-residual block, whose rows live in a ring buffer rather than in the image.
 */
export function dwRow3x3(
  r0: usize, r1: usize, r2: usize, inW: i32, C: i32, sW: i32, padL: i32, outW: i32,
  zeros: usize, w: usize, yRow: usize, act: i32, lo: v128, hi: v128,
): void {
  const C4 = <usize>C << 2;
  // Interior columns: every kx tap of the pixel lies inside the row.
  let oxLo = (padL + sW - 1) / sW;
  let oxHi = inW + padL - 3 >= 0 ? (inW + padL - 3) / sW + 1 : 0;
  if (oxHi > outW) oxHi = outW;
  if (oxLo > oxHi) oxLo = oxHi;
  let ox = 0;
  for (; ox < oxLo; ox++) pixel3x3(r0, r1, r2, ox * sW - padL, inW, C, zeros, w, yRow + <usize>ox * C4, act, lo, hi);
  if (sW <= 2) {
    for (; ox + 4 <= oxHi; ox += 4) {
      const c = <usize>(ox * sW - padL) * C4;
      if (sW == 1) block3x3s1(r0 + c, r1 + c, r2 + c, C, w, yRow + <usize>ox * C4, act, lo, hi);
      else block3x3s2(r0 + c, r1 + c, r2 + c, C, w, yRow + <usize>ox * C4, act, lo, hi);
    }
  }
  for (; ox < outW; ox++) pixel3x3(r0, r1, r2, ox * sW - padL, inW, C, zeros, w, yRow + <usize>ox * C4, act, lo, hi);
}

/** Runs one dwconv step over N images. `zeros`: at least inW*C+8 zero floats; `work`: the KxK tap table. */
export function dwconv(step: usize, N: i32, arena: usize, consts: usize, zeros: usize, work: usize): void {
  const inH = word(step, Param.inH);
  const inW = word(step, Param.inW);
  const C = word(step, Param.inC);
  const outH = word(step, Param.outH);
  const outW = word(step, Param.outW);
  const kH = word(step, Param.kH);
  const kW = word(step, Param.kW);
  const sH = word(step, Param.strideH);
  const sW = word(step, Param.strideW);
  const padT = word(step, Param.padTop);
  const padL = word(step, Param.padLeft);
  const act = word(step, Param.act);
  const lo = f32x4.splat(wordf(step, Param.min));
  const hi = f32x4.splat(wordf(step, Param.max));
  const w = consts + (<usize>word(step, Param.weights) << 2);
  const C4 = <usize>C << 2;
  const inImage = <usize>inH * <usize>inW * C4;
  const outImage = <usize>outH * <usize>outW * C4;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  const taps = work;
  const is3x3 = kH == 3 && kW == 3;
  const rowBytes = <usize>inW * C4;
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * inImage;
    const yImg = yBatch + <usize>n * outImage;
    for (let oy = 0; oy < outH; oy++) {
      const iy = oy * sH - padT;
      const yRow = yImg + <usize>oy * <usize>outW * C4;
      if (is3x3) {
        // Rows in the padding read the zero row (`zeros` holds inW*C+8 of them), so only columns need care.
        const r0 = <u32>iy < <u32>inH ? x + <usize>iy * rowBytes : zeros;
        const r1 = <u32>(iy + 1) < <u32>inH ? x + <usize>(iy + 1) * rowBytes : zeros;
        const r2 = <u32>(iy + 2) < <u32>inH ? x + <usize>(iy + 2) * rowBytes : zeros;
        dwRow3x3(r0, r1, r2, inW, C, sW, padL, outW, zeros, w, yRow, act, lo, hi);
      } else {
        for (let ox = 0; ox < outW; ox++) {
          pixelKxK(x, iy, ox * sW - padL, inH, inW, C, kH, kW, zeros, taps, w, yRow + <usize>ox * C4, act, lo, hi);
        }
      }
    }
  }
}
