// MobileNet V1 (Howard et al., arXiv 1704.04861, Table 1): a 3x3 stem and 13 depthwise-separable
// blocks, ReLU6 everywhere (as in TF-slim and Keras), global pool, 1x1 classifier, softmax.
import { type BuiltArchitecture, LayerKit, type ResolvedSpec } from './common';
import type { WeightSource } from './random';

/** [pointwise output channels, depthwise stride] of the 13 separable blocks, from Table 1 of the paper. */
export const V1_BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
  [512, 1], [512, 1], [512, 1], [512, 1], [512, 1],
  [1024, 2], [1024, 1],
];

/** Width-multiplied channel count: TF-slim's max(int(d * alpha), 8). */
function v1Depth(channels: number, alpha: number): number {
  return Math.max(8, Math.floor(channels * alpha + 1e-9));
}

/**
 * Builds MobileNet V1 for a validated spec; weights come from `source`.
 *
 * @example
 * const { graph } = buildMobileNetV1(resolveSpec({ arch: 'mobilenet_v1', alpha: 0.5 }), zeroWeights());
 */
export function buildMobileNetV1(spec: ResolvedSpec, source: WeightSource): BuiltArchitecture {
  const kit = new LayerKit(spec, source);
  let x = kit.conv('input', v1Depth(32, spec.alpha), 3, 2, 'relu6', 'conv1');
  V1_BLOCKS.forEach(([channels, stride], i) => {
    x = kit.dw(x, 3, stride, 'relu6', `conv_dw_${i + 1}`);
    x = kit.pw(x, v1Depth(channels, spec.alpha), 'relu6', `conv_pw_${i + 1}`);
  });
  const features = kit.g.gavgpool(x, { name: 'global_average_pooling2d' });
  return kit.finish(features, 'mobilenet_v1', { paper: 'arXiv 1704.04861' });
}
