// lookup: y = epilogue(table[i]), i = nearest integer (ties to even) to x * map[0] + map[1], clamped to
// [0, paramLen-1], NaN to 0 (lib/kernels/reference.ts lookup). Imported quantized graphs use it for elementwise
// functions their integer runtime evaluates by table (h-swish, two-tensor add). The index math runs four lanes
// at a time; wasm has no gather, so the four table reads are scalar.
import { Param, word, wordf } from '../contract';
import { epilogue1, epilogue4 } from './common';

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
  const mul4 = f32x4.splat(mul);
  const add4 = f32x4.splat(add);
  const last4 = f32x4.splat(last);
  const zero4 = f32x4.splat(0);
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  const len4 = len & ~3;
  for (let i = 0; i < len4; i += 4) {
    const o = <usize>i << 2;
    let v = f32x4.add(f32x4.mul(v128.load(x + o), mul4), add4);
    // pmax(0, v) is v only when 0 < v, so NaN lands on 0; v is a number after that
    v = f32x4.pmin(last4, f32x4.pmax(zero4, v));
    const j = i32x4.trunc_sat_f32x4_s(f32x4.nearest(v));
    let t = f32x4.splat(load<f32>(table + (<usize>i32x4.extract_lane(j, 0) << 2)));
    t = f32x4.replace_lane(t, 1, load<f32>(table + (<usize>i32x4.extract_lane(j, 1) << 2)));
    t = f32x4.replace_lane(t, 2, load<f32>(table + (<usize>i32x4.extract_lane(j, 2) << 2)));
    t = f32x4.replace_lane(t, 3, load<f32>(table + (<usize>i32x4.extract_lane(j, 3) << 2)));
    v128.store(y + o, epilogue4(t, act, lo4, hi4));
  }
  for (let i = len4; i < len; i++) {
    const o = <usize>i << 2;
    let v: f32 = load<f32>(x + o) * mul + add;
    // written so that NaN fails the first test and lands on entry 0
    v = v >= 0 ? v : 0;
    v = v <= last ? v : last;
    const j = <usize>(<i32>nearest<f32>(v));
    store<f32>(y + o, epilogue1(load<f32>(table + (j << 2)), act, lo, hi));
  }
}
