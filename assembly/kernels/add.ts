// add: elementwise a + b over the whole batch (residual connections), then the epilogue.
// Contract: a, b, y hold N*H*W*C floats each; y may alias neither a nor b partially (the planner's rule).
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

/** Runs one add step over N images. */
export function add(step: usize, N: i32, arena: usize, _consts: usize): void {
  const len = N * word(step, Param.outH) * word(step, Param.outW) * word(step, Param.outC);
  const a = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const b = arena + ((<usize>word(step, Param.in1) * <usize>N) << 2);
  const y = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  const len4 = len & ~3;
  for (let i = 0; i < len4; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, epilogue4(f32x4.add(v128.load(a + o), v128.load(b + o)), act, lo4, hi4));
  }
  for (let i = len4; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, epilogue1(load<f32>(a + o) + load<f32>(b + o), act, lo, hi));
  }
}
