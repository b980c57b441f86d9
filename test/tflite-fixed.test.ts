// TFLite's fixed-point HARD_SWISH as a table (lib/importers/tflite-fixed.ts): properties any faithful version has,
// against plain float math; the importer's bit-exactness with the interpreter itself is in tflite-fidelity.test.ts.
import { hardSwishTable, quantizeMultiplier } from '../lib/importers/tflite-fixed';
import { Prng } from '../lib/models/random';

const SEED = 20261124;

test(`quantizeMultiplier: q * 2^(shift - 31) equals m to 31 bits, q in [2^30, 2^31) (200 random m, seed ${SEED})`, () => {
  const rng = new Prng(SEED);
  for (let k = 0; k < 200; k++) {
    const m = 2 ** (rng.next() * 40 - 30);
    const { q, shift } = quantizeMultiplier(m);
    expect(q).toBeGreaterThanOrEqual(2 ** 30);
    expect(q).toBeLessThan(2 ** 31);
    expect(Math.abs(q * 2 ** (shift - 31) - m) / m).toBeLessThanOrEqual(2 ** -31);
  }
  expect(quantizeMultiplier(1)).toEqual({ q: 2 ** 30, shift: 1 });
  expect(quantizeMultiplier(0)).toEqual({ q: 0, shift: 0 });
});

describe.each([
  // V3-Small's first and last HARD_SWISH (uint8), and an int8 pair
  { input: { scale: 0.292073, zeroPoint: 99 }, output: { scale: 0.173324, zeroPoint: 2 }, levels: [0, 255] as [number, number] },
  { input: { scale: 0.0578348, zeroPoint: 170 }, output: { scale: 0.01954, zeroPoint: 19 }, levels: [0, 255] as [number, number] },
  { input: { scale: 0.05, zeroPoint: -20 }, output: { scale: 0.03, zeroPoint: -118 }, levels: [-128, 127] as [number, number] },
])('hardSwishTable in $input -> out $output, levels $levels', ({ input, output, levels }) => {
  const table = hardSwishTable(input, output, levels)!;
  const hswish = (x: number) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6;
  const floatLevel = (q: number) => Math.min(levels[1], Math.max(levels[0], Math.round(hswish(input.scale * (q - input.zeroPoint)) / output.scale) + output.zeroPoint));

  test('one entry per level; within one level of h-swish in float everywhere, equal on most levels', () => {
    expect(table).toHaveLength(levels[1] - levels[0] + 1);
    let differ = 0;
    for (let q = levels[0]; q <= levels[1]; q++) {
      const d = table[q - levels[0]] - floatLevel(q);
      expect({ q, near: Math.abs(d) <= 1 }).toEqual({ q, near: true });
      if (d) differ++;
    }
    expect(differ).toBeLessThan(table.length / 8);
  });

  test('a zero input gives the output zero point', () => {
    expect(table[input.zeroPoint - levels[0]]).toBe(output.zeroPoint);
  });
});
