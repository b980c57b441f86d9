// softmax: exp(beta*(x - max)) / sum over C at every pixel of the batch, then the epilogue.
// Scalar with a float64 sum: it runs once per image over ~1000 classes, so accuracy beats vector width.
import { Param, word, wordf } from '../contract';
import { epilogue1 } from './common';

/** Runs one softmax step over N images. */
export function softmax(step: usize, N: i32, arena: usize, _consts: usize): void {
  const rows = N * word(step, Param.inH) * word(step, Param.inW);
  const C = word(step, Param.inC);
  const act = word(step, Param.act);
  const lo = wordf(step, Param.min);
  const hi = wordf(step, Param.max);
  const beta = <f64>wordf(step, Param.beta);
  const pix = <usize>C << 2;
  const xBatch = arena + ((<usize>word(step, Param.in0) * <usize>N) << 2);
  const yBatch = arena + ((<usize>word(step, Param.out) * <usize>N) << 2);
  for (let r = 0; r < rows; r++) {
    const x = xBatch + <usize>r * pix;
    const y = yBatch + <usize>r * pix;
    let mx: f64 = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, <f64>load<f32>(x + (<usize>c << 2)));
    let sum: f64 = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(beta * (<f64>load<f32>(x + (<usize>c << 2)) - mx));
    // x and y may be the same buffer: every x[c] is read before y[c] is written.
    for (let c = 0; c < C; c++) {
      const e = Math.exp(beta * (<f64>load<f32>(x + (<usize>c << 2)) - mx)) / sum;
      store<f32>(y + (<usize>c << 2), epilogue1(<f32>e, act, lo, hi));
    }
  }
}
