// scale: squeeze-and-excite gating x[H][W][C] * g[1][1][C] per image, then the epilogue.
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

/** Runs one scale step over N images. */
export function scale(step: usize, N: i32, arena: usize, _consts: usize): void {
  const hw = word(step, Param.inH) * word(step, Param.inW);
  const C = word(step, Param.inC);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  const C4 = C & ~3;
  const pix = <usize>C << 2;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const gBatch = arena + ((<usize>word(step, Param.in1) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  for (let n = 0; n < N; n++) {
    const image = <usize>n * <usize>hw * pix;
    const g = gBatch + <usize>n * pix;
    for (let i = 0; i < hw; i++) {
      const x = xBatch + image + <usize>i * pix;
      const y = yBatch + image + <usize>i * pix;
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        v128.store(y + o, epilogue4(f32x4.mul(v128.load(x + o), v128.load(g + o)), act, lo4, hi4));
      }
      for (let c = C4; c < C; c++) {
        const o = <usize>c << 2;
        store<f32>(y + o, epilogue1(load<f32>(x + o) * load<f32>(g + o), act, lo, hi));
      }
    }
  }
}
