// dwconv: depthwise KxK convolution (depth multiplier 1), any stride and padding.
//
// Contract: x [N][inH][inW][C], y [N][outH][outW][C] (NHWC).
// Packed weights (lib/backends/wasm.ts packDwconv): ceil(C/4) groups, group g = [KH][KW][4] floats for
// channels 4g..4g+3 (zero padding past C); bias padded to a multiple of 4.
// Epilogue: bias, nonlinearity, clamp.
// Loop order: output row, channel group, output column, so a 3x3 group's nine weight vectors stay in
// registers while the row is swept. Border pixels take the guarded path; the last group of a C that is
// not a multiple of 4 reads padding lanes (zero weights) and stores only its real lanes.
import { Param, word, wordf } from '../contract';
import { epilogue4, madd, storeUpTo4 } from './epilogue';

/** One output vector with every tap bounds-checked (borders and any kernel size). */
function pixelGuarded(
  x: usize, inH: i32, inW: i32, C: i32, iy0: i32, ix0: i32, kH: i32, kW: i32,
  wg: usize, bias: v128, y: usize, nc: i32, act: i32, lo: v128, hi: v128,
): void {
  let acc = bias;
  const rowBytes = <usize>inW * <usize>C << 2;
  for (let ky = 0; ky < kH; ky++) {
    const iy = iy0 + ky;
    if (iy < 0 || iy >= inH) continue;
    for (let kx = 0; kx < kW; kx++) {
      const ix = ix0 + kx;
      if (ix < 0 || ix >= inW) continue;
      const xv = v128.load(x + <usize>iy * rowBytes + ((<usize>ix * <usize>C) << 2));
      acc = madd(xv, v128.load(wg + (<usize>(ky * kW + kx) << 4)), acc);
    }
  }
  storeUpTo4(y, epilogue4(acc, act, lo, hi), nc);
}

/** Runs one dwconv step over N images. */
export function dwconv(step: usize, N: i32, arena: usize, consts: usize): void {
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
  const b = consts + (<usize>word(step, Param.bias) << 2);
  const inImage = <usize>inH * <usize>inW * <usize>C << 2;
  const outImage = <usize>outH * <usize>outW * <usize>C << 2;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  const groups = (C + 3) >> 2;
  const taps = kH * kW;
  const C4 = <usize>C << 2;
  const rowBytes = <usize>inW * C4;
  // Interior columns: every kx tap lands inside the row.
  let oxLo = (padL + sW - 1) / sW;
  let oxHi = inW + padL - kW >= 0 ? (inW + padL - kW) / sW + 1 : 0;
  if (oxHi > outW) oxHi = outW;
  if (oxLo > oxHi) oxLo = oxHi;
  const xStep = <usize>sW * C4;
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * inImage;
    const yImg = yBatch + <usize>n * outImage;
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * sH - padT;
      const rowsInside = iy0 >= 0 && iy0 + kH <= inH;
      const yRow = yImg + <usize>oy * <usize>outW * C4;
      for (let g = 0; g < groups; g++) {
        const wg = w + (<usize>(g * taps) << 4);
        const bias = v128.load(b + (<usize>g << 4));
        const nc = C - (g << 2);
        const cOff = <usize>g << 4;
        if (rowsInside && kH == 3 && kW == 3) {
          for (let ox = 0; ox < oxLo; ox++) {
            pixelGuarded(x + cOff, inH, inW, C, iy0, ox * sW - padL, kH, kW, wg, bias, yRow + <usize>ox * C4 + cOff, nc, act, lo, hi);
          }
          const w0 = v128.load(wg), w1 = v128.load(wg, 16), w2 = v128.load(wg, 32);
          const w3 = v128.load(wg, 48), w4 = v128.load(wg, 64), w5 = v128.load(wg, 80);
          const w6 = v128.load(wg, 96), w7 = v128.load(wg, 112), w8 = v128.load(wg, 128);
          let r0 = x + <usize>iy0 * rowBytes + <usize>(oxLo * sW - padL) * C4 + cOff;
          let yp = yRow + <usize>oxLo * C4 + cOff;
          for (let ox = oxLo; ox < oxHi; ox++) {
            const r1 = r0 + rowBytes;
            const r2 = r1 + rowBytes;
            let acc = madd(v128.load(r0), w0, bias);
            acc = madd(v128.load(r0 + C4), w1, acc);
            acc = madd(v128.load(r0 + 2 * C4), w2, acc);
            acc = madd(v128.load(r1), w3, acc);
            acc = madd(v128.load(r1 + C4), w4, acc);
            acc = madd(v128.load(r1 + 2 * C4), w5, acc);
            acc = madd(v128.load(r2), w6, acc);
            acc = madd(v128.load(r2 + C4), w7, acc);
            acc = madd(v128.load(r2 + 2 * C4), w8, acc);
            storeUpTo4(yp, epilogue4(acc, act, lo, hi), nc);
            r0 += xStep;
            yp += C4;
          }
          for (let ox = oxHi; ox < outW; ox++) {
            pixelGuarded(x + cOff, inH, inW, C, iy0, ox * sW - padL, kH, kW, wg, bias, yRow + <usize>ox * C4 + cOff, nc, act, lo, hi);
          }
        } else {
          for (let ox = 0; ox < outW; ox++) {
            pixelGuarded(x + cOff, inH, inW, C, iy0, ox * sW - padL, kH, kW, wg, bias, yRow + <usize>ox * C4 + cOff, nc, act, lo, hi);
          }
        }
      }
    }
  }
}
