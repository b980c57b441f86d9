// gavgpool: global average pool [H][W][C] -> [1][1][C] per image, then the epilogue.
// Channels are summed four at a time down the pixels; the C % 4 tail is scalar.
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

/** Runs one gavgpool step over N images. */
export function gavgpool(step: usize, N: i32, arena: usize, _consts: usize): void {
  const hw = word(step, Param.inH) * word(step, Param.inW);
  const C = word(step, Param.inC);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  const inv = f32x4.splat(<f32>hw);
  const C4 = C & ~3;
  const pix = <usize>C << 2;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * <usize>hw * pix;
    const y = yBatch + <usize>n * pix;
    for (let c = 0; c < C4; c += 4) {
      let acc = f32x4.splat(0);
      let p = x + (<usize>c << 2);
      for (let i = 0; i < hw; i++) {
        acc = f32x4.add(acc, v128.load(p));
        p += pix;
      }
      v128.store(y + (<usize>c << 2), epilogue4(f32x4.div(acc, inv), act, lo4, hi4));
    }
    for (let c = C4; c < C; c++) {
      let acc: f32 = 0;
      let p = x + (<usize>c << 2);
      for (let i = 0; i < hw; i++) {
        acc += load<f32>(p);
        p += pix;
      }
      store<f32>(y + (<usize>c << 2), epilogue1(acc / <f32>hw, act, lo, hi));
    }
  }
}
