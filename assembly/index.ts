// Entry of the wasm module: executes a whole program (every step of one inference over a batch) in ONE
// call. lib/backends/wasm.ts lays out program, packed constants and the arena in linear memory and
// calls `run`; this module never allocates, so linear memory never grows during an inference.
import { Header, HEADER_WORDS, Op, Param, STEP_WORDS, word } from './contract';
import { add } from './kernels/add';
import { affine } from './kernels/affine';
import { block, FUSE_BLOCK, FUSE_BLOCK_SPILL } from './kernels/block';
import { conv2d } from './kernels/conv2d';
import { dwconv } from './kernels/dwconv';
import { gavgpool } from './kernels/gavgpool';
import { lookup } from './kernels/lookup';
import { pwconv } from './kernels/pwconv';
import { scale } from './kernels/scale';
import { softmax } from './kernels/softmax';

export {
  Op, Act, Header, Param, MAX_OUTPUTS, HEADER_WORDS, PROGRAM_MAGIC, PROGRAM_VERSION, STEP_WORDS,
  CONSTANT_ALIGN_FLOATS, ARENA_ALIGN_FLOATS,
} from './contract';

/** Milliseconds from the host (performance.now), read only when profiling. */
@external('env', 'now')
declare function now(): f64;

/** 1 in the relaxed-simd build, 0 in the simd128 build: lets the host confirm which file it loaded. */
export const RELAXED_SIMD: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;

/** First byte the host may use for its own layout (after this module's static data). */
export function heapBase(): usize {
  return (__heap_base + 63) & ~63;
}

/**
 * Runs every step of the program at byte address `program` over `batch` images. A pwconv whose
 * `reserved` word is FUSE_BLOCK or FUSE_BLOCK_SPILL (set by the host in its private copy) runs with the
 * next two steps as one fused inverted-residual block.
 * `constants` and `arena` are byte addresses of the packed constants and the arena; offsets in the
 * program are in floats (arena offsets per image, multiplied by batch). `zeros` is a zero-filled region
 * no kernel writes (at least inW*C+8 floats for every dwconv: the padding taps read it); `work` is
 * scratch the kernels may overwrite (dwconv's tap table, the fused block's row ring). When `stepMs` is not 0 it
 * receives each step's duration (float64 milliseconds). Returns 0, or 1 + the index of a step whose op
 * code is unknown (the host validates programs first, so this is a last line of defence).
 */
export function run(program: usize, constants: usize, arena: usize, zeros: usize, work: usize, batch: i32, stepMs: usize): i32 {
  const steps = load<i32>(program + (<usize>Header.stepCount << 2));
  // Spill rows of fused blocks go right after this batch's arena (the host sizes memory for them).
  const spill = (arena + ((<usize>load<i32>(program + (<usize>Header.arenaFloatsPerImage << 2)) * <usize>batch) << 2) + 63) & ~63;
  for (let i = 0; i < steps; i++) {
    const step = program + (<usize>(HEADER_WORDS + i * STEP_WORDS) << 2);
    const t0 = stepMs != 0 ? now() : 0;
    const op = word(step, Param.op);
    const fuse = word(step, Param.reserved);
    if (op == Op.pwconv && (fuse == FUSE_BLOCK || fuse == FUSE_BLOCK_SPILL) && i + 2 < steps) {
      // expand -> dwconv -> project as one fused block; its time is booked on the expand step.
      const stepBytes = <usize>STEP_WORDS << 2;
      block(step, step + stepBytes, step + 2 * stepBytes, batch, arena, constants, zeros, work, fuse == FUSE_BLOCK_SPILL ? spill : 0);
      if (stepMs != 0) {
        store<f64>(stepMs + (<usize>i << 3), now() - t0);
        store<f64>(stepMs + (<usize>(i + 1) << 3), 0);
        store<f64>(stepMs + (<usize>(i + 2) << 3), 0);
      }
      i += 2;
      continue;
    }
    if (op == Op.pwconv) pwconv(step, batch, arena, constants);
    else if (op == Op.dwconv) dwconv(step, batch, arena, constants, zeros, work);
    else if (op == Op.conv2d) conv2d(step, batch, arena, constants);
    else if (op == Op.add) add(step, batch, arena, constants);
    else if (op == Op.gavgpool) gavgpool(step, batch, arena, constants);
    else if (op == Op.scale) scale(step, batch, arena, constants);
    else if (op == Op.softmax) softmax(step, batch, arena, constants);
    else if (op == Op.affine) affine(step, batch, arena, constants);
    else if (op == Op.lookup) lookup(step, batch, arena, constants);
    else return i + 1;
    if (stepMs != 0) store<f64>(stepMs + (<usize>i << 3), now() - t0);
  }
  return 0;
}
