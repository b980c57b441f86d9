// affine: elementwise x * mul[c] + add[c] then the epilogue; mul/add have length 1 (broadcast) or C.
// Standalone activations and quantization rescales lower to this op.
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

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
      v128.store(y + o, epilogue4(f32x4.add(f32x4.mul(v128.load(x + o), m4), a4), act, lo4, hi4));
    }
    for (let i = len4; i < len; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, epilogue1(load<f32>(x + o) * m + a, act, lo, hi));
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
      v128.store(yp + o, epilogue4(f32x4.add(f32x4.mul(v128.load(xp + o), v128.load(mul + o)), v128.load(addv + o)), act, lo4, hi4));
    }
    for (let c = C4; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yp + o, epilogue1(load<f32>(xp + o) * load<f32>(mul + o) + load<f32>(addv + o), act, lo, hi));
    }
  }
}
