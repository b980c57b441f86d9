// TFLite's integer kernels re-derived for the importer: where the interpreter evaluates an elementwise op on a
// quantized tensor with its own fixed-point arithmetic, the result is a function of the input level alone, and
// the importer tabulates it (one entry per level) so the float graph reproduces the interpreter bit for bit.

/** m = q * 2^shift with q an int32 in [2^30, 2^31) standing for [0.5, 1) (how TFLite stores a real multiplier). */
export function quantizeMultiplier(m: number): { q: number; shift: number } {
  if (!(m > 0) || !Number.isFinite(m)) return { q: 0, shift: 0 };
  let shift = Math.floor(Math.log2(m)) + 1;
  let frac = m / 2 ** shift;
  // log2 of a float can land one off near powers of two: bring the fraction back into [0.5, 1)
  while (frac >= 1) { frac /= 2; shift++; }
  while (frac < 0.5) { frac *= 2; shift--; }
  let q = Math.round(frac * 2 ** 31);
  if (q === 2 ** 31) { q /= 2; shift++; }
  if (shift < -31) return { q: 0, shift: 0 };
  return { q, shift };
}

/** The int32 multiplier rounded to its top 16 bits (saturating), as TFLite's 16-bit kernels use it. */
const toInt16Multiplier = (q: number) => Math.min(32767, Math.floor((q + 32768) / 65536));

const saturate16 = (x: number) => Math.max(-32768, Math.min(32767, x));

/** (a * b * 2) / 2^16 rounded to nearest, ties away from zero, on int16 values (the one overflow saturates). */
function roundingDoublingHighMul16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  const ab = a * b;
  return Math.trunc((ab + (ab >= 0 ? 16384 : 1 - 16384)) / 32768);
}

/** The same product truncated toward zero: TFLite's h-swish uses it on purpose, to cancel the other roundings' bias. */
function doublingHighMul16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  return Math.trunc((a * b) / 32768);
}

/** x / 2^exponent rounded to nearest, ties away from zero. */
function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent <= 0) return x;
  const mask = 2 ** exponent - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

const f32 = Math.fround;

/**
 * The quantized HARD_SWISH of the TFLite interpreter as a table: entry k is its output level for input level
 * qmin + k. The kernel works in int16: the input moves to a "high-resolution" scale (x 2^7), one fixed-point
 * multiplier takes it to the output scale, another to a ReLU6-like gate in [-1, 1] that saturation clips and a
 * shift maps to [0, 1], their product is truncated and the output exponent applied with rounding. The scales
 * are combined in float32 first, as the interpreter does. Returns undefined where the interpreter itself
 * rejects the parameters (an output multiplier above 1).
 *
 * @example
 * const table = hardSwishTable({ scale: 0.2921, zeroPoint: 99 }, { scale: 0.1733, zeroPoint: 2 }, [0, 255]);
 * table?.[99]; // 2: a zero input (level 99) gives the output zero point
 */
export function hardSwishTable(input: { scale: number; zeroPoint: number }, output: { scale: number; zeroPoint: number }, levels: [number, number]): Int32Array | undefined {
  const hires = f32(f32(1 / 128) * f32(input.scale));
  const out = quantizeMultiplier(f32(hires / f32(output.scale)));
  const gate = quantizeMultiplier(f32(hires / f32(3 / 32768)));
  if (out.shift > 0 || out.q === 0) return undefined;
  const outMul = toInt16Multiplier(out.q);
  const gateMul = toInt16Multiplier(gate.q);
  const [qmin, qmax] = levels;
  const table = new Int32Array(qmax - qmin + 1);
  for (let level = qmin; level <= qmax; level++) {
    const x = (level - input.zeroPoint) * 128;
    const onOutputScale = roundingDoublingHighMul16(x, outMul);
    let g = x;
    if (gate.shift > 0) g = saturate16(g * 2 ** (gate.shift - 1));
    g = roundingDoublingHighMul16(g, gateMul);
    if (gate.shift > 0) g = saturate16(g * 2);
    else if (gate.shift < 0) g = roundingDivideByPOT(g, -gate.shift);
    // [-1, 1] in Q0.15 -> [0, 1]
    g = (g + 32768) >> 1;
    const y = roundingDivideByPOT(doublingHighMul16(g, onOutputScale), -out.shift) + output.zeroPoint;
    table[level - qmin] = Math.max(qmin, Math.min(qmax, y));
  }
  return table;
}
