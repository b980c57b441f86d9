// MobileNet V3 Large and Small (Howard et al., arXiv 1905.02244, Tables 1 and 2, block tables as in
// Keras applications): inverted residuals with optional squeeze-excite, h-swish, 3x3 and 5x5 depthwise.
import type { Activation } from '../graph/types';
import { type BuiltArchitecture, LayerKit, makeDivisible, type ResolvedSpec } from './common';
import type { WeightSource } from './random';

/** One bneck row: expansion ratio, output channels, depthwise kernel, stride, squeeze-excite, nonlinearity. */
export interface V3Block {
  expansion: number;
  channels: number;
  kernel: 3 | 5;
  stride: 1 | 2;
  se: boolean;
  activation: 'relu' | 'hswish';
}

const b = (expansion: number, channels: number, kernel: 3 | 5, stride: 1 | 2, se: boolean, activation: 'relu' | 'hswish'): V3Block =>
  ({ expansion, channels, kernel, stride, se, activation });

/** Table 1 (Large): expansion sizes 16,64,72,72,120,120,240,200,184,184,480,672,672,960,960 as ratios. */
export const V3_LARGE_BLOCKS: readonly V3Block[] = [
  b(1, 16, 3, 1, false, 'relu'),
  b(4, 24, 3, 2, false, 'relu'),
  b(3, 24, 3, 1, false, 'relu'),
  b(3, 40, 5, 2, true, 'relu'),
  b(3, 40, 5, 1, true, 'relu'),
  b(3, 40, 5, 1, true, 'relu'),
  b(6, 80, 3, 2, false, 'hswish'),
  b(2.5, 80, 3, 1, false, 'hswish'),
  b(2.3, 80, 3, 1, false, 'hswish'),
  b(2.3, 80, 3, 1, false, 'hswish'),
  b(6, 112, 3, 1, true, 'hswish'),
  b(6, 112, 3, 1, true, 'hswish'),
  b(6, 160, 5, 2, true, 'hswish'),
  b(6, 160, 5, 1, true, 'hswish'),
  b(6, 160, 5, 1, true, 'hswish'),
];

/** Table 2 (Small): expansion sizes 16,72,88,96,240,240,120,144,288,576,576 as ratios. */
export const V3_SMALL_BLOCKS: readonly V3Block[] = [
  b(1, 16, 3, 2, true, 'relu'),
  b(72 / 16, 24, 3, 2, false, 'relu'),
  b(88 / 24, 24, 3, 1, false, 'relu'),
  b(4, 40, 5, 2, true, 'hswish'),
  b(6, 40, 5, 1, true, 'hswish'),
  b(6, 40, 5, 1, true, 'hswish'),
  b(3, 48, 5, 1, true, 'hswish'),
  b(3, 48, 5, 1, true, 'hswish'),
  b(6, 96, 5, 2, true, 'hswish'),
  b(6, 96, 5, 1, true, 'hswish'),
  b(6, 96, 5, 1, true, 'hswish'),
];

/** Squeeze-excite bottleneck = 1/4 of the expanded width, rounded to 8 (paper section 5.3, Keras). */
const SE_RATIO = 0.25;

/**
 * Builds MobileNet V3 Large or Small for a validated spec; weights come from `source`.
 *
 * @example
 * const { graph } = buildMobileNetV3(resolveSpec({ arch: 'mobilenet_v3_small' }), zeroWeights());
 */
export function buildMobileNetV3(spec: ResolvedSpec, source: WeightSource): BuiltArchitecture {
  const large = spec.arch === 'mobilenet_v3_large';
  const blocks = large ? V3_LARGE_BLOCKS : V3_SMALL_BLOCKS;
  const kit = new LayerKit(spec, source);
  // Keras keeps the 16-channel stem fixed for every alpha
  let x = kit.conv('input', 16, 3, 2, 'hswish', 'Conv');
  blocks.forEach((blk, id) => {
    const prefix = id === 0 ? 'expanded_conv' : `expanded_conv_${id}`;
    const inChannels = kit.g.shape(x)[2];
    const expanded = makeDivisible(inChannels * blk.expansion);
    const outChannels = makeDivisible(blk.channels * spec.alpha);
    const act: Activation = blk.activation;
    let y = x;
    // the first block never expands (Keras: `if block_id:`), whatever its ratio
    if (id > 0) y = kit.pw(y, expanded, act, `${prefix}/expand`);
    y = kit.dw(y, blk.kernel, blk.stride, act, `${prefix}/depthwise`);
    if (blk.se) y = kit.se(y, makeDivisible(kit.g.shape(y)[2] * SE_RATIO), prefix);
    y = kit.pw(y, outChannels, 'none', `${prefix}/project`);
    x = blk.stride === 1 && inChannels === outChannels ? kit.g.add(x, y, { name: `${prefix}/Add` }) : y;
  });
  const lastConv = makeDivisible(kit.g.shape(x)[2] * 6);
  const lastPoint = spec.alpha > 1 ? makeDivisible((large ? 1280 : 1024) * spec.alpha) : large ? 1280 : 1024;
  x = kit.pw(x, lastConv, 'hswish', 'Conv_1');
  const pooled = kit.g.gavgpool(x, { name: 'global_average_pooling2d' });
  // Conv_2 has a bias and no batch norm in the reference; its h-swish output is the feature vector
  const features = kit.pw(pooled, lastPoint, 'hswish', 'Conv_2');
  return kit.finish(features, large ? 'mobilenet_v3_large' : 'mobilenet_v3_small', { paper: 'arXiv 1905.02244' });
}
