// affine: elementwise x * mul[c] + add[c] then the epilogue; mul/add have length 1 (broadcast) or C.
// Standalone activations and quantization rescales lower to this op. x*mul + add is computed in float64
// and rounded to float32 once, like the reference: importers emulate integer rounding with
// x/scale + 1.5*2^23 stored as float32, which a float32 mul-then-add would round twice.
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

/** x*m + a for four lanes, exact product and one float64 add, then one rounding to float32. */
// @ts-ignore: decorator
@inline function mulAdd64(x: v128, m: v128, a: v128): v128 {
  const lo = f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(x), f64x2.promote_low_f32x4(m)), f64x2.promote_low_f32x4(a));
  const xh = i32x4.shuffle(x, x, 2, 3, 0, 1);
  const mh = i32x4.shuffle(m, m, 2, 3, 0, 1);
  const ah = i32x4.shuffle(a, a, 2, 3, 0, 1);
  const hi = f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(xh), f64x2.promote_low_f32x4(mh)), f64x2.promote_low_f32x4(ah));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** Scalar twin of mulAdd64. */
// @ts-ignore: decorator
@inline function mulAdd1(x: f32, m: f32, a: f32): f32 {
  return <f32>(<f64>x * <f64>m + <f64>a);
}

/** Runs one affine step over N images. */
export function affine(step: usize, N: i32, arena: usize, consts: usize): void {
  const C = word(step, Param.inC);
  const pixels = N * word(step, Param.inH) * word(step, Param.inW);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  const mul = consts + (<usize>word(step, Param.weights) << 2);
  const addv = consts + (<usize>word(step, Param.bias) << 2);
  const x = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const y = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  if (word(step, Param.paramLen) == 1) {
    const m = load<f32>(mul);
    const a = load<f32>(addv);
    const m4 = f32x4.splat(m);
    const a4 = f32x4.splat(a);
    const len = pixels * C;
    const len4 = len & ~3;
    for (let i = 0; i < len4; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, epilogue4(mulAdd64(v128.load(x + o), m4, a4), act, lo4, hi4));
    }
    for (let i = len4; i < len; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, epilogue1(mulAdd1(load<f32>(x + o), m, a), act, lo, hi));
    }
    return;
  }
  const C4 = C & ~3;
  const pix = <usize>C << 2;
  for (let p = 0; p < pixels; p++) {
    const xp = x + <usize>p * pix;
    const yp = y + <usize>p * pix;
    for (let c = 0; c < C4; c += 4) {
      const o = <usize>c << 2;
      v128.store(yp + o, epilogue4(mulAdd64(v128.load(xp + o), v128.load(mul + o), v128.load(addv + o)), act, lo4, hi4));
    }
    for (let c = C4; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yp + o, epilogue1(mulAdd1(load<f32>(xp + o), load<f32>(mul + o), load<f32>(addv + o)), act, lo, hi));
    }
  }
}
