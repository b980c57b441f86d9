// The built-in architectures: validates an {arch, alpha, resolution, classes, seed} spec and builds
// MobileNet V1/V2/V3 graphs with seeded random weights, calibrated so activations stay O(1).
import { describeValue, fail } from '../errors';
import type { Graph } from '../graph/types';
import { type ArchName, type BuiltArchitecture, type ResolvedSpec } from './common';
import { buildMobileNetV1 } from './mobilenet_v1';
import { buildMobileNetV2 } from './mobilenet_v2';
import { buildMobileNetV3 } from './mobilenet_v3';
import { calibrateScales, randomWeights, type WeightSource, zeroWeights } from './random';

export type { ArchName } from './common';
export { describeModel, formatModelInfo } from './info';
export type { LayerRow, ModelDescription, SeparablePair } from './info';

/** A built-in architecture with seeded random weights (for benchmarks, tests and shape exploration). */
export interface ArchitectureSpec {
  arch: ArchName;
  /** Width multiplier. V1: 0.25-1.0, V2: 0.35-1.4, V3: 0.35-1.5. Default 1. */
  alpha?: number;
  /** Square input side in pixels, an integer from 32 to 2048. Default 224. */
  resolution?: number;
  /** Classifier outputs, 1 to 100000. Default 1000 (no background class). */
  classes?: number;
  /** Weight seed, an unsigned 32-bit integer. Default 1. */
  seed?: number;
}

/** Allowed width multipliers per architecture: the published range (V1, V2) or Keras' usable one (V3). */
export const ALPHA_RANGE: Record<ArchName, [number, number]> = {
  mobilenet_v1: [0.25, 1.0],
  mobilenet_v2: [0.35, 1.4],
  mobilenet_v3_large: [0.35, 1.5],
  mobilenet_v3_small: [0.35, 1.5],
};
export const ARCH_NAMES = Object.keys(ALPHA_RANGE) as ArchName[];
export const MIN_RESOLUTION = 32;
export const MAX_RESOLUTION = 2048;
export const MAX_CLASSES = 100000;

const BUILDERS: Record<ArchName, (spec: ResolvedSpec, source: WeightSource) => BuiltArchitecture> = {
  mobilenet_v1: buildMobileNetV1,
  mobilenet_v2: buildMobileNetV2,
  mobilenet_v3_large: buildMobileNetV3,
  mobilenet_v3_small: buildMobileNetV3,
};

/** Side of the small image the weights are calibrated on; the scale found there holds at any size. */
const CALIBRATION_RESOLUTION = 48;

/**
 * Checks a spec and fills in defaults; throws MobileNetError('E_ARG') naming the bad field.
 *
 * @example
 * resolveSpec({ arch: 'mobilenet_v2', alpha: 0.5 }); // { arch, alpha: 0.5, resolution: 224, classes: 1000, seed: 1 }
 */
export function resolveSpec(spec: ArchitectureSpec): ResolvedSpec {
  if (typeof spec !== 'object' || spec === null) {
    fail('E_ARG', 'an architecture spec object like {arch: "mobilenet_v2"}', describeValue(spec), 'Pass an object with at least an `arch` field.');
  }
  const arch = spec.arch;
  if (!ARCH_NAMES.includes(arch)) {
    fail('E_ARG', `arch to be one of ${ARCH_NAMES.join(', ')}`, describeValue(arch), 'Use one of the listed architecture names.');
  }
  const alpha = spec.alpha ?? 1;
  const [lo, hi] = ALPHA_RANGE[arch];
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < lo || alpha > hi) {
    fail('E_ARG', `alpha for ${arch} to be a number from ${lo} to ${hi}`, describeValue(alpha), `Pick a width multiplier in [${lo}, ${hi}], e.g. 1.0.`);
  }
  const resolution = spec.resolution ?? 224;
  if (typeof resolution !== 'number' || !Number.isInteger(resolution) || resolution < MIN_RESOLUTION || resolution > MAX_RESOLUTION) {
    fail('E_ARG', `resolution to be an integer from ${MIN_RESOLUTION} to ${MAX_RESOLUTION}`, describeValue(resolution), 'Use a square input side such as 224, 192, 160 or 128.');
  }
  const classes = spec.classes ?? 1000;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1 || classes > MAX_CLASSES) {
    fail('E_ARG', `classes to be an integer from 1 to ${MAX_CLASSES}`, describeValue(classes), 'Use e.g. 1000 for ImageNet.');
  }
  const seed = spec.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    fail('E_ARG', 'seed to be an integer from 0 to 4294967295', describeValue(seed), 'Use any unsigned 32-bit integer; equal seeds give equal weights.');
  }
  return { arch, alpha, resolution, classes, seed };
}

/**
 * Builds a MobileNet V1, V2, V3-Large or V3-Small graph with seeded random weights.
 * Weights are He-uniform, then each layer is rescaled by one scalar so its pre-activation has unit RMS
 * on a random image (logits RMS 4), so every activation stays O(1) at any alpha and resolution.
 * `graph.output` holds softmax probabilities, `graph.embedding` the pooled features before the classifier.
 *
 * @example
 * const graph = buildArchitecture({ arch: 'mobilenet_v3_small', resolution: 96, seed: 7 });
 * const plan = planGraph(graph);
 */
export function buildArchitecture(spec: ArchitectureSpec): Graph {
  const resolved = resolveSpec(spec);
  const source = recordingSource(randomWeights(resolved.seed));
  const built = BUILDERS[resolved.arch](resolved, source);
  // The calibration graph reuses the very same weight arrays at a small resolution, so scaling them
  // in place there scales the full-size graph too.
  const small = BUILDERS[resolved.arch]({ ...resolved, resolution: Math.min(resolved.resolution, CALIBRATION_RESOLUTION) }, source.replay());
  calibrateScales(small.graph, { rms: 1, logitRms: 4, logits: small.logits }, resolved.seed);
  return built.graph;
}

/**
 * The graph of an architecture with all-zero weights: right shapes, MACs and parameter counts at a
 * fraction of the cost. For shape tables and `describeModel`, never for inference.
 *
 * @example
 * const shapesOnly = buildArchitectureShapes({ arch: 'mobilenet_v1' });
 */
export function buildArchitectureShapes(spec: ArchitectureSpec): Graph {
  const resolved = resolveSpec(spec);
  return BUILDERS[resolved.arch](resolved, zeroWeights()).graph;
}

/** A source that remembers every array it hands out, and can hand the same arrays out again in order. */
function recordingSource(inner: WeightSource): WeightSource & { replay(): WeightSource } {
  const handed: Float32Array[] = [];
  const take = (a: Float32Array) => (handed.push(a), a);
  return {
    random: inner.random,
    weights: (count, fanIn) => take(inner.weights(count, fanIn)),
    bias: (count) => take(inner.bias(count)),
    replay(): WeightSource {
      let next = 0;
      const give = (count: number): Float32Array => {
        const a = handed[next++];
        if (!a || a.length !== count) throw new Error('internal: architecture builder is not deterministic');
        return a;
      };
      return { random: inner.random, weights: give, bias: give };
    },
  };
}
