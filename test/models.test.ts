// The built-in architectures against the papers: MACs and parameters within a few percent of the
// published figures, block tables, channel rounding, embeddings, spec errors, and healthy random weights.
import { executeReference } from '../lib/backends/js';
import { MobileNetError } from '../lib/errors';
import { planGraph } from '../lib/graph/plan';
import type { Graph } from '../lib/graph/types';
import { runStep, readStep } from '../lib/kernels/reference';
import {
  buildArchitecture,
  buildArchitectureShapes,
  describeModel,
  formatModelInfo,
  type ArchitectureSpec,
  type ArchName,
} from '../lib/models';
import { Prng } from '../lib/models/random';
import { runGraph } from './helpers/run';

/**
 * Published multiply-adds and parameters at alpha 1.0, 224x224, 1000 classes:
 * V1 arXiv 1704.04861 Table 8 (569M, 4.2M); V2 arXiv 1801.04381 Table 4 (300M, 3.4M);
 * V3 arXiv 1905.02244 Table 3 (Large 219M in the paper, 217M in the TF-slim release; 5.4M;
 * Small 56M, 2.5M). Our MAC rule (describeModel's MAC_CONVENTION) counts every conv, dwconv and pwconv
 * weight use, squeeze-excite and classifier included; parameters are weights + folded biases.
 */
const PUBLISHED: Record<ArchName, { macs: number; params: number }> = {
  mobilenet_v1: { macs: 569e6, params: 4.2e6 },
  mobilenet_v2: { macs: 300e6, params: 3.4e6 },
  mobilenet_v3_large: { macs: 217e6, params: 5.4e6 },
  mobilenet_v3_small: { macs: 56e6, params: 2.5e6 },
};
const ARCHS = Object.keys(PUBLISHED) as ArchName[];

describe('MACs and parameters match the papers', () => {
  test.each(ARCHS)('%s 1.0 @224: MACs within 2%, parameters within 3% of the published figures', (arch) => {
    const d = describeModel(buildArchitectureShapes({ arch }));
    const macErr = Math.abs(d.totals.macs / PUBLISHED[arch].macs - 1);
    const paramErr = Math.abs(d.totals.params / PUBLISHED[arch].params - 1);
    expect({ arch, macs: d.totals.macs, macErrBelow2pct: macErr < 0.02 }).toEqual({ arch, macs: d.totals.macs, macErrBelow2pct: true });
    expect({ arch, params: d.totals.params, paramErrBelow3pct: paramErr < 0.03 }).toEqual({ arch, params: d.totals.params, paramErrBelow3pct: true });
    expect(d.macConvention).toMatch(/classifier/);
  });

  test('the V1 width multiplier scales MACs about by alpha^2 and resolution by rho^2 (paper Table 6/7)', () => {
    // paper: 0.75 -> 325M, 0.5 -> 149M, 0.25 -> 41M at 224; 1.0 at 192/160/128 -> 418M/290M/186M
    const table: Array<[ArchitectureSpec, number]> = [
      [{ arch: 'mobilenet_v1', alpha: 0.75 }, 325e6],
      [{ arch: 'mobilenet_v1', alpha: 0.5 }, 149e6],
      [{ arch: 'mobilenet_v1', alpha: 0.25 }, 41e6],
      [{ arch: 'mobilenet_v1', resolution: 192 }, 418e6],
      [{ arch: 'mobilenet_v1', resolution: 160 }, 290e6],
      [{ arch: 'mobilenet_v1', resolution: 128 }, 186e6],
    ];
    for (const [spec, macs] of table) {
      const got = describeModel(buildArchitectureShapes(spec)).totals.macs;
      expect({ spec, within3pct: Math.abs(got / macs - 1) < 0.03 }).toEqual({ spec, within3pct: true });
    }
  });

  test('depthwise separable saving: measured MACs equal 1/N + 1/Dk^2 (V1 eq. 5), 8-9x overall for V1', () => {
    const d = describeModel(buildArchitectureShapes({ arch: 'mobilenet_v1' }));
    expect(d.separable).toHaveLength(13);
    for (const p of d.separable) {
      expect(p.measuredRatio).toBeCloseTo(1 / p.N + 1 / (p.Dk * p.Dk), 12);
      expect(p.formulaRatio).toBeCloseTo(p.measuredRatio, 12);
    }
    const first = d.separable[0];
    expect([first.depthwise, first.pointwise, first.Dk, first.M, first.N]).toEqual(['conv_dw_1', 'conv_pw_1', 3, 32, 64]);
    const times = 1 / d.separableSaving.ratio;
    expect(times).toBeGreaterThan(8);
    expect(times).toBeLessThan(9);
    // V3 pairs see through the squeeze-excite scale to the projection
    const v3 = describeModel(buildArchitectureShapes({ arch: 'mobilenet_v3_large' }));
    expect(v3.separable.find((p) => p.depthwise === 'expanded_conv_3/depthwise')?.pointwise).toBe('expanded_conv_3/project');
    expect(v3.separable.some((p) => p.Dk === 5)).toBe(true);
    const text = formatModelInfo(d);
    expect(text).toMatch(/568\.\dM MACs per image/);
    expect(text).toMatch(/conv_dw_1 \+ conv_pw_1: Dk=3 M=32 N=64/);
  });
});

/** Channel counts of every depthwise conv, in order: the expansion sizes of the block tables. */
function depthwiseWidths(graph: Graph): number[] {
  return graph.nodes.filter((n) => n.op === 'dwconv').map((n) => graph.shapes[n.output][2]);
}

describe('block tables and channel rounding', () => {
  test('V3-Large: expansion sizes, kernels and strides of arXiv 1905.02244 Table 1', () => {
    const g = buildArchitectureShapes({ arch: 'mobilenet_v3_large' });
    expect(depthwiseWidths(g)).toEqual([16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672, 960, 960]);
    const dws = g.nodes.filter((n) => n.op === 'dwconv');
    expect(dws.map((n) => (n.op === 'dwconv' ? n.kernel[0] : 0))).toEqual([3, 3, 3, 5, 5, 5, 3, 3, 3, 3, 3, 3, 5, 5, 5]);
    expect(dws.map((n) => (n.op === 'dwconv' ? n.stride[0] : 0))).toEqual([1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]);
    expect(g.nodes.filter((n) => n.op === 'scale')).toHaveLength(8);
    expect(g.shapes[g.nodes.find((n) => n.name === 'Conv_1')!.output]).toEqual([7, 7, 960]);
  });

  test('V3-Small: expansion sizes, kernels and squeeze-excite placement of Table 2', () => {
    const g = buildArchitectureShapes({ arch: 'mobilenet_v3_small' });
    expect(depthwiseWidths(g)).toEqual([16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576]);
    expect(g.nodes.filter((n) => n.op === 'scale')).toHaveLength(9);
    expect(g.shapes[g.nodes.find((n) => n.name === 'Conv_1')!.output]).toEqual([7, 7, 576]);
    // squeeze = expanded/4 rounded to 8: 16->8, 96->24, 240->64, 120->32, 144->40, 288->72, 576->144
    const squeeze = g.nodes.filter((n) => n.name.endsWith('squeeze_excite/Conv')).map((n) => g.shapes[n.output][2]);
    expect(squeeze).toEqual([8, 24, 64, 64, 32, 40, 72, 144, 144]);
  });

  test('V2: Table 2 strides/widths; alpha 0.35 and 1.4 round channels to multiples of 8 like Keras', () => {
    const g = buildArchitectureShapes({ arch: 'mobilenet_v2' });
    expect(g.nodes.filter((n) => n.op === 'add')).toHaveLength(10);
    expect(g.nodes.filter((n) => n.op === 'dwconv')).toHaveLength(17);
    const narrow = buildArchitectureShapes({ arch: 'mobilenet_v2', alpha: 0.35 });
    const out = (gr: Graph, name: string) => gr.shapes[gr.nodes.find((n) => n.name === name)!.output][2];
    // Keras mobilenet_v2_0.35: Conv1 16, expanded_conv_project 8, block_16_project 112, Conv_1 1280
    expect([out(narrow, 'Conv1'), out(narrow, 'expanded_conv_project'), out(narrow, 'block_16_project'), out(narrow, 'Conv_1')]).toEqual([16, 8, 112, 1280]);
    const wide = buildArchitectureShapes({ arch: 'mobilenet_v2', alpha: 1.4 });
    expect([out(wide, 'Conv1'), out(wide, 'block_16_project'), out(wide, 'Conv_1')]).toEqual([48, 448, 1792]);
    for (const n of narrow.nodes) if (n.op === 'pwconv' && n.name !== 'Logits') expect(narrow.shapes[n.output][2] % 8).toBe(0);
  });

  test.each([
    [{ arch: 'mobilenet_v1' }, 1024],
    [{ arch: 'mobilenet_v1', alpha: 0.25 }, 256],
    [{ arch: 'mobilenet_v1', alpha: 0.75 }, 768],
    [{ arch: 'mobilenet_v2' }, 1280],
    [{ arch: 'mobilenet_v2', alpha: 0.35 }, 1280],
    [{ arch: 'mobilenet_v2', alpha: 1.4 }, 1792],
    [{ arch: 'mobilenet_v3_large' }, 1280],
    [{ arch: 'mobilenet_v3_small' }, 1024],
  ] as Array<[ArchitectureSpec, number]>)('embedding of %j has %i features and the output 1000 probabilities', (spec, features) => {
    const g = buildArchitectureShapes(spec);
    expect(g.shapes[g.embedding!]).toEqual([1, 1, features]);
    expect(g.shapes[g.output]).toEqual([1, 1, 1000]);
    expect(g.nodes[g.nodes.length - 1].op).toBe('softmax');
    expect(g.meta).toMatchObject({ format: 'builtin', outputKind: 'probabilities', backgroundClass: false, inputRange: { scale: 1 / 127.5, offset: -1 } });
  });

  test('any resolution from 32 up, odd ones included; classes is honoured', () => {
    for (const resolution of [32, 33, 97, 225]) {
      for (const arch of ARCHS) {
        const g = buildArchitectureShapes({ arch, resolution, classes: 10 });
        expect(g.input.shape).toEqual([resolution, resolution, 3]);
        expect(g.shapes[g.output]).toEqual([1, 1, 10]);
      }
    }
    // TF SAME padding: 225 -> 113 -> 57 -> 29 -> 15 -> 8
    const v1 = buildArchitectureShapes({ arch: 'mobilenet_v1', resolution: 225 });
    expect(v1.shapes[v1.nodes.find((n) => n.name === 'conv_pw_13')!.output]).toEqual([8, 8, 1024]);
  });
});

describe('spec validation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown arch', { arch: 'mobilenet_v4' }, /arch to be one of mobilenet_v1, mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small, received "mobilenet_v4"/],
    ['missing spec', null, /architecture spec object.*received null/],
    ['V1 alpha above 1', { arch: 'mobilenet_v1', alpha: 1.4 }, /alpha for mobilenet_v1 to be a number from 0\.25 to 1, received 1\.4/],
    ['V2 alpha below 0.35', { arch: 'mobilenet_v2', alpha: 0.25 }, /alpha for mobilenet_v2 to be a number from 0\.35 to 1\.4, received 0\.25/],
    ['NaN alpha', { arch: 'mobilenet_v3_small', alpha: NaN }, /received NaN/],
    ['string alpha', { arch: 'mobilenet_v3_large', alpha: '1' }, /received "1"/],
    ['resolution below 32', { arch: 'mobilenet_v2', resolution: 31 }, /resolution to be an integer from 32 to 2048, received 31/],
    ['fractional resolution', { arch: 'mobilenet_v2', resolution: 224.5 }, /received 224\.5/],
    ['zero classes', { arch: 'mobilenet_v1', classes: 0 }, /classes to be an integer from 1 to 100000, received 0/],
    ['negative seed', { arch: 'mobilenet_v1', seed: -1 }, /seed to be an integer from 0 to 4294967295, received -1/],
  ];
  test.each(cases)('%s -> MobileNetError E_ARG saying expected, received and what to do', (_what, spec, message) => {
    for (const build of [buildArchitecture, buildArchitectureShapes]) {
      let error: unknown;
      try {
        build(spec as ArchitectureSpec);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MobileNetError);
      expect((error as MobileNetError).code).toBe('E_ARG');
      expect((error as MobileNetError).message).toMatch(/^Expected /);
      expect((error as MobileNetError).message).toMatch(message);
      // the last sentence tells the user what to do
      expect((error as MobileNetError).message).toMatch(/\. (Use|Pick|Pass) [^.]+/);
    }
  });
});

describe('seeded random weights', () => {
  test('V3-Small @96 seed=7 runs on js: finite probabilities summing to 1, finite O(1) embedding', async () => {
    const graph = buildArchitecture({ arch: 'mobilenet_v3_small', resolution: 96, seed: 7 });
    const input = new Prng(7).fillUniform(new Float32Array(2 * 96 * 96 * 3), -1, 1);
    const [probs, embedding] = await runGraph(graph, input, 2, 'js');
    expect(probs).toHaveLength(2000);
    expect(embedding).toHaveLength(2048);
    for (let b = 0; b < 2; b++) {
      const p = probs.subarray(b * 1000, (b + 1) * 1000);
      expect(p.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
      expect(Math.abs(p.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-5);
    }
    const rms = Math.sqrt(embedding.reduce((s, v) => s + v * v, 0) / embedding.length);
    expect(embedding.every(Number.isFinite)).toBe(true);
    expect(rms).toBeGreaterThan(0.01);
    expect(rms).toBeLessThan(100);
  });

  test('equal seeds give equal weights, different seeds different ones', () => {
    const weights = (seed: number) => {
      const g = buildArchitecture({ arch: 'mobilenet_v1', alpha: 0.25, resolution: 64, seed });
      const first = g.nodes[0];
      return first.op === 'conv2d' ? Array.from(first.weights) : [];
    };
    expect(weights(3)).toEqual(weights(3));
    expect(weights(3)).not.toEqual(weights(4));
  });

  test('built weights match the zero-weight shape graph op for op', () => {
    const real = buildArchitecture({ arch: 'mobilenet_v3_small', resolution: 64 });
    const shapes = buildArchitectureShapes({ arch: 'mobilenet_v3_small', resolution: 64 });
    expect(describeModel(real).rows).toEqual(describeModel(shapes).rows);
  });

  // Every intermediate tensor of every architecture stays O(1): no overflow, NaN or denormal collapse.
  test.each([
    [{ arch: 'mobilenet_v1', alpha: 0.5, resolution: 128, seed: 11 }],
    [{ arch: 'mobilenet_v2', alpha: 1.0, resolution: 96, seed: 12 }],
    [{ arch: 'mobilenet_v3_large', alpha: 1.0, resolution: 96, seed: 13 }],
    [{ arch: 'mobilenet_v3_small', alpha: 1.0, resolution: 160, seed: 14 }],
  ] as Array<[ArchitectureSpec]>)('%j: every layer output has an RMS between 0.01 and 30', (spec) => {
    const plan = planGraph(buildArchitecture(spec));
    const arena = new Float32Array(plan.arenaFloatsPerImage);
    const r = spec.resolution!;
    new Prng(spec.seed!).fillUniform(arena.subarray(plan.input.offset, plan.input.offset + r * r * 3), -1, 1);
    const outOfRange: string[] = [];
    plan.steps.forEach((step, i) => {
      runStep(plan.program, i, 1, arena, plan.constants);
      if (step.op === 'softmax') return;
      const s = readStep(plan.program, i);
      const len = s.outH * s.outW * s.outC;
      let sumSq = 0;
      for (let k = 0; k < len; k++) sumSq += arena[s.out + k] ** 2;
      const rms = Math.sqrt(sumSq / len);
      if (!(rms > 0.01 && rms < 30)) outOfRange.push(`${step.name}: rms ${rms}`);
    });
    expect(outOfRange).toEqual([]);
    const [probs] = executeReference(plan, arena.slice(plan.input.offset, plan.input.offset + r * r * 3), 1);
    expect(Math.abs(probs.reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-5);
  });
});
