// lookup: y = epilogue(table[i]), i = nearest integer (ties to even) to x * map[0] + map[1], clamped to
// [0, paramLen-1], NaN to 0 (lib/kernels/reference.ts lookup). A gather per element, so scalar: imported
// quantized graphs use it for elementwise functions their integer runtime evaluates by table (h-swish).
import { Param, word, wordf } from '../contract';
import { epilogue1 } from './common';

/** Runs one lookup step over N images. */
export function lookup(step: usize, N: i32, arena: usize, consts: usize): void {
  const len = N * word(step, Param.inH) * word(step, Param.inW) * word(step, Param.inC);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const table = consts + (<usize>word(step, Param.weights) << 2);
  const map = consts + (<usize>word(step, Param.bias) << 2);
  const mul = load<f32>(map);
  const add = load<f32>(map, 4);
  const last = <f32>(word(step, Param.paramLen) - 1);
  const x = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const y = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  for (let i = 0; i < len; i++) {
    const o = <usize>i << 2;
    let v: f32 = load<f32>(x + o) * mul + add;
    // written so that NaN fails the first test and lands on entry 0
    v = v >= 0 ? v : 0;
    v = v <= last ? v : last;
    const j = <usize>(<i32>nearest<f32>(v));
    store<f32>(y + o, epilogue1(load<f32>(table + (j << 2)), act, lo, hi));
  }
}
