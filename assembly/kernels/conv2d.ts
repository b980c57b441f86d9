// conv2d: general KxK convolution (the stem), any stride and padding.
//
// Contract: x [N][inH][inW][Cin], y [N][outH][outW][Cout] (NHWC).
// Packed weights (lib/backends/wasm.ts packConv2d): ceil(Cout/8) panels, panel j = [KH][KW][Cin][8] floats
// for output channels 8j..8j+7 (zero padding past Cout); bias padded to a multiple of 8.
// Epilogue: bias, nonlinearity, clamp.
// For one kernel row ky the taps (kx, ci) of an output pixel are kW*Cin consecutive input floats, so the
// interior is a GEMM tile (4 output columns x 8 channels) whose reduction runs over those spans;
// columns whose taps cross the left/right border take the guarded one-pixel path.
import { Param, word, wordf } from '../contract';
import { madd, store8 } from './common';

/**
 * Four interior output columns, one panel. x points at the first tap of column 0 in kernel row kyLo;
 * xs is the byte distance between neighbouring output columns' inputs.
 */
function tile4x8(
  x: usize, xs: usize, rowBytes: usize, rows: i32, span: i32, wp: usize, wRowBytes: usize,
  b: usize, y: usize, ys: usize, nc: i32, act: i32, lo: v128, hi: v128,
): void {
  const b0 = v128.load(b);
  const b1 = v128.load(b, 16);
  let c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
  for (let r = 0; r < rows; r++) {
    let x0 = x + <usize>r * rowBytes;
    let w = wp + <usize>r * wRowBytes;
    for (let t = 0; t < span; t++) {
      const w0 = v128.load(w);
      const w1 = v128.load(w, 16);
      let a = v128.load32_splat(x0);
      c00 = madd(a, w0, c00);
      c01 = madd(a, w1, c01);
      a = v128.load32_splat(x0 + xs);
      c10 = madd(a, w0, c10);
      c11 = madd(a, w1, c11);
      a = v128.load32_splat(x0 + 2 * xs);
      c20 = madd(a, w0, c20);
      c21 = madd(a, w1, c21);
      a = v128.load32_splat(x0 + 3 * xs);
      c30 = madd(a, w0, c30);
      c31 = madd(a, w1, c31);
      x0 += 4;
      w += 32;
    }
  }
  store8(y, c00, c01, nc, act, lo, hi);
  store8(y + ys, c10, c11, nc, act, lo, hi);
  store8(y + 2 * ys, c20, c21, nc, act, lo, hi);
  store8(y + 3 * ys, c30, c31, nc, act, lo, hi);
}

/** One output pixel, one panel, every tap bounds-checked. */
function pixelGuarded(
  x: usize, inH: i32, inW: i32, Cin: i32, iy0: i32, ix0: i32, kH: i32, kW: i32,
  wp: usize, b: usize, y: usize, nc: i32, act: i32, lo: v128, hi: v128,
): void {
  let c0 = v128.load(b);
  let c1 = v128.load(b, 16);
  for (let ky = 0; ky < kH; ky++) {
    const iy = iy0 + ky;
    if (iy < 0 || iy >= inH) continue;
    for (let kx = 0; kx < kW; kx++) {
      const ix = ix0 + kx;
      if (ix < 0 || ix >= inW) continue;
      let xp = x + ((<usize>(iy * inW + ix) * <usize>Cin) << 2);
      let w = wp + ((<usize>((ky * kW + kx) * Cin)) << 5);
      for (let ci = 0; ci < Cin; ci++) {
        const a = v128.load32_splat(xp);
        c0 = madd(a, v128.load(w), c0);
        c1 = madd(a, v128.load(w, 16), c1);
        xp += 4;
        w += 32;
      }
    }
  }
  store8(y, c0, c1, nc, act, lo, hi);
}

/** Runs one conv2d step over N images. */
export function conv2d(step: usize, N: i32, arena: usize, consts: usize): void {
  const inH = word(step, Param.inH);
  const inW = word(step, Param.inW);
  const Cin = word(step, Param.inC);
  const outH = word(step, Param.outH);
  const outW = word(step, Param.outW);
  const Cout = word(step, Param.outC);
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
  const b = consts + (<usize>word(step, Param.bias) << 2);
  const inImage = <usize>inH * <usize>inW * <usize>Cin << 2;
  const outImage = <usize>outH * <usize>outW * <usize>Cout << 2;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  const panels = (Cout + 7) >> 3;
  const panelBytes = <usize>(kH * kW * Cin) << 5;
  const wRowBytes = <usize>(kW * Cin) << 5;
  const rowBytes = <usize>inW * <usize>Cin << 2;
  const pixBytes = <usize>Cin << 2;
  const ys = <usize>Cout << 2;
  const xs = <usize>sW * pixBytes;
  const span = kW * Cin;
  let oxLo = (padL + sW - 1) / sW;
  let oxHi = inW + padL - kW >= 0 ? (inW + padL - kW) / sW + 1 : 0;
  if (oxHi > outW) oxHi = outW;
  if (oxLo > oxHi) oxLo = oxHi;
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * inImage;
    const yImg = yBatch + <usize>n * outImage;
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * sH - padT;
      const kyLo = iy0 < 0 ? -iy0 : 0;
      const kyHi = iy0 + kH > inH ? inH - iy0 : kH;
      const yRow = yImg + <usize>oy * <usize>outW * ys;
      for (let ox = 0; ox < oxLo; ox++) {
        for (let j = 0; j < panels; j++) {
          pixelGuarded(x, inH, inW, Cin, iy0, ox * sW - padL, kH, kW, w + <usize>j * panelBytes, b + (<usize>j << 5), yRow + <usize>ox * ys + (<usize>j << 5), Cout - (j << 3), act, lo, hi);
        }
      }
      let ox = oxLo;
      if (kyHi > kyLo) {
        const xRow = x + <usize>(iy0 + kyLo) * rowBytes;
        for (; ox + 4 <= oxHi; ox += 4) {
          const xp = xRow + <usize>(ox * sW - padL) * pixBytes;
          for (let j = 0; j < panels; j++) {
            tile4x8(xp, xs, rowBytes, kyHi - kyLo, span, w + <usize>j * panelBytes + <usize>kyLo * wRowBytes, wRowBytes,
              b + (<usize>j << 5), yRow + <usize>ox * ys + (<usize>j << 5), ys, Cout - (j << 3), act, lo, hi);
          }
        }
      }
      for (; ox < outW; ox++) {
        for (let j = 0; j < panels; j++) {
          pixelGuarded(x, inH, inW, Cin, iy0, ox * sW - padL, kH, kW, w + <usize>j * panelBytes, b + (<usize>j << 5), yRow + <usize>ox * ys + (<usize>j << 5), Cout - (j << 3), act, lo, hi);
        }
      }
    }
  }
}
