// block: the inverted-residual body pwconv (expand) -> 3x3 dwconv -> pwconv (project) fused row by row
// (mirrors native/kernels/block.inc), so the expanded tensor and the depthwise output - the largest
// tensors of MobileNetV2 - never travel to memory. Same math, same summation order as the three steps.
//
// Contract: e, d, p are consecutive steps with d.in0 == e.out, p.in0 == d.out, d 3x3; neither
// intermediate is read by any other step (the host checks this and marks e's `reserved` word with
// FUSE_BLOCK, or FUSE_BLOCK_SPILL when p.out overlaps e.in0, in its private copy of the program).
// Scratch: `zeros` (at least d.inW*Cx+8 zero floats, read for padding rows); `work` holds a ring of 3
// expanded rows [3][inW][Cx], one depthwise row [outW][Cx], and 3 row tags.
import { Param, word, wordf } from '../contract';
import { dwRow3x3 } from './dwconv';
import { gemm } from './pwconv';

/** Value of the expand step's `reserved` word that asks for the fused path. */
export const FUSE_BLOCK: i32 = 1;
/**
 * The same, for a block whose output overlaps its input (the planner reuses a dead input's memory):
 * output rows go to `spill` (past the arena) and are copied into place once every input row is read.
 */
export const FUSE_BLOCK_SPILL: i32 = 2;

/** Runs steps e, d, p (parameter blocks) as one fused block over N images. */
export function block(e: usize, d: usize, p: usize, N: i32, arena: usize, consts: usize, zeros: usize, work: usize, spill: usize): void {
  const Cin = word(e, Param.inC);
  const Cx = word(e, Param.outC);
  const Cout = word(p, Param.outC);
  const inH = word(d, Param.inH);
  const inW = word(d, Param.inW);
  const outH = word(d, Param.outH);
  const outW = word(d, Param.outW);
  const sH = word(d, Param.strideH);
  const sW = word(d, Param.strideW);
  const padT = word(d, Param.padTop);
  const padL = word(d, Param.padLeft);
  const eW = consts + (<usize>word(e, Param.weights) << 2);
  const eB = consts + (<usize>word(e, Param.bias) << 2);
  const eAct = word(e, Param.act);
  const eLo = f32x4.splat(wordf(e, Param.min));
  const eHi = f32x4.splat(wordf(e, Param.max));
  const dW = consts + (<usize>word(d, Param.weights) << 2);
  const dAct = word(d, Param.act);
  const dLo = f32x4.splat(wordf(d, Param.min));
  const dHi = f32x4.splat(wordf(d, Param.max));
  const pW = consts + (<usize>word(p, Param.weights) << 2);
  const pB = consts + (<usize>word(p, Param.bias) << 2);
  const pAct = word(p, Param.act);
  const pLo = f32x4.splat(wordf(p, Param.min));
  const pHi = f32x4.splat(wordf(p, Param.max));
  const rowBytes = (<usize>inW * <usize>Cx) << 2;
  const ring = work;
  const dwRow = ring + 3 * rowBytes;
  const tags = dwRow + ((<usize>outW * <usize>Cx) << 2);
  const xBatch = arena + ((<usize>word(e, Param.in0) * <usize>N) << 2);
  const yFinal = arena + ((<usize>word(p, Param.out) * <usize>N) << 2);
  const yBatch = spill != 0 ? spill : yFinal;
  const xImage = (<usize>inH * <usize>inW * <usize>Cin) << 2;
  const xRowBytes = (<usize>inW * <usize>Cin) << 2;
  const yImage = (<usize>outH * <usize>outW * <usize>Cout) << 2;
  const yRowBytes = (<usize>outW * <usize>Cout) << 2;
  for (let k = 0; k < 3; k++) store<i32>(tags + (<usize>k << 2), -1);
  for (let n = 0; n < N; n++) {
    const x = xBatch + <usize>n * xImage;
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * sH - padT;
      // Expand each input row this output row needs once; a ring slot keeps it while later rows use it.
      let r0: usize = zeros, r1: usize = zeros, r2: usize = zeros;
      for (let ky = 0; ky < 3; ky++) {
        const iy = iy0 + ky;
        if (<u32>iy >= <u32>inH) continue;
        const slot = iy % 3;
        const row = ring + <usize>slot * rowBytes;
        const id = n * inH + iy;
        const tag = tags + (<usize>slot << 2);
        if (load<i32>(tag) != id) {
          gemm(x + <usize>iy * xRowBytes, inW, Cin, eW, eB, row, Cx, eAct, eLo, eHi);
          store<i32>(tag, id);
        }
        if (ky == 0) r0 = row;
        else if (ky == 1) r1 = row;
        else r2 = row;
      }
      dwRow3x3(r0, r1, r2, inW, Cx, sW, padL, outW, zeros, dW, dwRow, dAct, dLo, dHi);
      gemm(dwRow, outW, Cx, pW, pB, yBatch + <usize>n * yImage + <usize>oy * yRowBytes, Cout, pAct, pLo, pHi);
    }
  }
  if (spill != 0) memory.copy(yFinal, spill, <usize>N * yImage);
}
