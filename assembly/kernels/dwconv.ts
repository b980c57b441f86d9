// dwconv: depthwise KxK convolution (depth multiplier 1), any stride and padding.
//
// Contract: x [N][inH][inW][C], y [N][outH][outW][C] (NHWC).
// Packed weights (lib/backends/wasm.ts packDwconv): ceil(C/4) groups, group g = bias[4] then taps
// [KH][KW][4] for channels 4g..4g+3, zero padding past C. The step's bias offset is unused.
// Epilogue: bias, nonlinearity, clamp.
// Loop order: output pixel, then channel group. Each tap gets one row pointer per pixel; a tap outside
// the image points at `zeros` (a zero-filled buffer of at least C+4 floats the host reserves), so
// borders, strides and padding all run the same branch-free inner loop and the channel sweep streams
// input and packed weights contiguously. The last group of a C that is not a multiple of 4 reads padding
// lanes (zero weights) and stores only its real lanes.
import { Param, word, wordf } from '../contract';
import { epilogue4, madd, storeUpTo4 } from './epilogue';

/** Byte address of tap (iy, ix) at channel 0, or the zero buffer when the tap is in the padding. */
// @ts-ignore: decorator
@inline function tap(x: usize, iy: i32, ix: i32, inH: i32, inW: i32, C4: usize, zeros: usize): usize {
  return <u32>iy < <u32>inH && <u32>ix < <u32>inW ? x + (<usize>(iy * inW + ix)) * C4 : zeros;
}

/** 3x3: nine tap pointers in locals; two accumulator chains per group halve the add latency. */
function pixel3x3(
  x: usize, iy: i32, ix: i32, inH: i32, inW: i32, C: i32, zeros: usize,
  w: usize, y: usize, act: i32, lo: v128, hi: v128,
): void {
  const C4 = <usize>C << 2;
  const i0 = tap(x, iy, ix, inH, inW, C4, zeros);
  const i1 = tap(x, iy, ix + 1, inH, inW, C4, zeros);
  const i2 = tap(x, iy, ix + 2, inH, inW, C4, zeros);
  const i3 = tap(x, iy + 1, ix, inH, inW, C4, zeros);
  const i4 = tap(x, iy + 1, ix + 1, inH, inW, C4, zeros);
  const i5 = tap(x, iy + 1, ix + 2, inH, inW, C4, zeros);
  const i6 = tap(x, iy + 2, ix, inH, inW, C4, zeros);
  const i7 = tap(x, iy + 2, ix + 1, inH, inW, C4, zeros);
  const i8 = tap(x, iy + 2, ix + 2, inH, inW, C4, zeros);
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

/** Runs one dwconv step over N images. `scratch` holds the zero buffer, then the KxK tap table. */
export function dwconv(step: usize, N: i32, arena: usize, consts: usize, scratch: usize): void {
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
  const zeros = scratch;
  const taps = scratch + ((<usize>C + 8) << 2);
  const is3x3 = kH == 3 && kW == 3;
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * inImage;
    let y = yBatch + <usize>n * outImage;
    for (let oy = 0; oy < outH; oy++) {
      const iy = oy * sH - padT;
      for (let ox = 0; ox < outW; ox++) {
        const ix = ox * sW - padL;
        if (is3x3) pixel3x3(x, iy, ix, inH, inW, C, zeros, w, y, act, lo, hi);
        else pixelKxK(x, iy, ix, inH, inW, C, kH, kW, zeros, taps, w, y, act, lo, hi);
        y += C4;
      }
    }
  }
}
