// MobileNet V2 (Sandler et al., arXiv 1801.04381, Table 2): inverted residual blocks with linear
// bottlenecks, ReLU6, channels rounded to multiples of 8 exactly as the Keras/TF reference code does.
import { type BuiltArchitecture, LayerKit, makeDivisible, type ResolvedSpec } from './common';
import type { WeightSource } from './random';

/** Rows of Table 2: expansion t, output channels c, repeats n, first stride s. */
export const V2_STAGES: ReadonlyArray<{ t: number; c: number; n: number; s: number }> = [
  { t: 1, c: 16, n: 1, s: 1 },
  { t: 6, c: 24, n: 2, s: 2 },
  { t: 6, c: 32, n: 3, s: 2 },
  { t: 6, c: 64, n: 4, s: 2 },
  { t: 6, c: 96, n: 3, s: 1 },
  { t: 6, c: 160, n: 3, s: 2 },
  { t: 6, c: 320, n: 1, s: 1 },
];

/**
 * Builds MobileNet V2 for a validated spec; weights come from `source`.
 *
 * @example
 * const { graph } = buildMobileNetV2(resolveSpec({ arch: 'mobilenet_v2', alpha: 1.4 }), zeroWeights());
 */
export function buildMobileNetV2(spec: ResolvedSpec, source: WeightSource): BuiltArchitecture {
  const kit = new LayerKit(spec, source);
  const { alpha } = spec;
  let x = kit.conv('input', makeDivisible(32 * alpha), 3, 2, 'relu6', 'Conv1');
  let blockId = 0;
  for (const { t, c, n, s } of V2_STAGES) {
    const outChannels = makeDivisible(c * alpha);
    for (let r = 0; r < n; r++) {
      const stride = r === 0 ? s : 1;
      const inChannels = kit.g.shape(x)[2];
      const prefix = blockId === 0 ? 'expanded_conv' : `block_${blockId}`;
      let y = x;
      // the first block has t = 1: Keras skips its expansion conv entirely
      if (t !== 1) y = kit.pw(y, inChannels * t, 'relu6', `${prefix}_expand`);
      y = kit.dw(y, 3, stride, 'relu6', `${prefix}_depthwise`);
      y = kit.pw(y, outChannels, 'none', `${prefix}_project`); // linear bottleneck: no activation
      x = stride === 1 && inChannels === outChannels ? kit.g.add(x, y, { name: `${prefix}_add` }) : y;
      blockId++;
    }
  }
  // the last conv widens with alpha only above 1 (Keras: "no reduction of the last conv below 1.0")
  const lastChannels = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = kit.pw(x, lastChannels, 'relu6', 'Conv_1');
  const features = kit.g.gavgpool(x, { name: 'global_average_pooling2d' });
  return kit.finish(features, 'mobilenet_v2', { paper: 'arXiv 1801.04381' });
}
