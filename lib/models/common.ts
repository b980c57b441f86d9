// Building blocks shared by the V1/V2/V3 builders: the resolved spec, channel rounding, and layer
// helpers that draw canonical-layout weights from a WeightSource and add nodes through GraphBuilder.
import { GraphBuilder } from '../graph/builder';
import type { Activation, Graph, GraphMeta } from '../graph/types';
import type { WeightSource } from './random';

export type ArchName = 'mobilenet_v1' | 'mobilenet_v2' | 'mobilenet_v3_large' | 'mobilenet_v3_small';

/** A validated spec with every default filled in. */
export interface ResolvedSpec {
  arch: ArchName;
  alpha: number;
  resolution: number;
  classes: number;
  seed: number;
}

/** What an architecture builder returns: the graph and the name of the node producing the logits. */
export interface BuiltArchitecture {
  graph: Graph;
  logits: string;
}

/**
 * Channel rounding of the TF/Keras MobileNet V2/V3 code: nearest multiple of `divisor`, at least
 * `divisor`, never more than 10% below the unrounded value.
 *
 * @example
 * makeDivisible(32 * 0.35); // 16
 */
export function makeDivisible(v: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/**
 * Thin layer vocabulary over GraphBuilder: every weighted layer gets weights from the source.
 *
 * @example
 * const kit = new LayerKit(resolveSpec({ arch: 'mobilenet_v1' }), zeroWeights());
 * const x = kit.conv('input', 32, 3, 2, 'relu6', 'conv1');
 */
export class LayerKit {
  readonly g: GraphBuilder;

  constructor(
    readonly spec: ResolvedSpec,
    private readonly source: WeightSource,
  ) {
    this.g = new GraphBuilder('input', [spec.resolution, spec.resolution, 3], `built-in ${spec.arch}`);
  }

  /** Standard KxK convolution with TF SAME padding (BN folded into the bias). */
  conv(input: string, cout: number, k: number, stride: number, activation: Activation, name: string): string {
    const cin = this.g.shape(input)[2];
    const fanIn = k * k * cin;
    return this.g.conv('conv2d', input, this.source.weights(cout * fanIn, fanIn), this.source.bias(cout), {
      name, kernel: [k, k], stride: [stride, stride], padding: 'same', activation,
    });
  }

  /** Depthwise KxK convolution with TF SAME padding. */
  dw(input: string, k: number, stride: number, activation: Activation, name: string): string {
    const c = this.g.shape(input)[2];
    return this.g.conv('dwconv', input, this.source.weights(k * k * c, k * k), this.source.bias(c), {
      name, kernel: [k, k], stride: [stride, stride], padding: 'same', activation,
    });
  }

  /** 1x1 convolution (also the classifier on pooled [1,1,C] features). */
  pw(input: string, cout: number, activation: Activation, name: string): string {
    const cin = this.g.shape(input)[2];
    return this.g.pwconv(input, this.source.weights(cout * cin, cin), this.source.bias(cout), { name, activation });
  }

  /** Squeeze-and-excite as in arXiv 1905.02244: gavgpool -> pwconv relu -> pwconv h-sigmoid -> scale. */
  se(input: string, squeeze: number, prefix: string): string {
    const c = this.g.shape(input)[2];
    const pooled = this.g.gavgpool(input, { name: `${prefix}/squeeze_excite/AvgPool` });
    const reduced = this.pw(pooled, squeeze, 'relu', `${prefix}/squeeze_excite/Conv`);
    const gate = this.pw(reduced, c, 'hsigmoid', `${prefix}/squeeze_excite/Conv_1`);
    return this.g.scale(input, gate, { name: `${prefix}/squeeze_excite/Mul` });
  }

  /** Classifier head shared by every variant: logits pwconv, softmax; embedding = `features`. */
  finish(features: string, archLabel: string, notes: Record<string, string | number>): BuiltArchitecture {
    const logits = this.pw(features, this.spec.classes, 'none', 'Logits');
    const probabilities = this.g.softmax(logits, { name: 'Predictions' });
    const meta: GraphMeta = {
      format: 'builtin',
      name: `${archLabel} alpha ${this.spec.alpha} @${this.spec.resolution}`,
      outputKind: 'probabilities',
      backgroundClass: false,
      inputRange: { scale: 1 / 127.5, offset: -1 },
      notes: { architecture: archLabel, alpha: this.spec.alpha, resolution: this.spec.resolution, classes: this.spec.classes, seed: this.spec.seed, weights: 'seeded random (not trained)', ...notes },
    };
    return { graph: this.g.finish(probabilities, meta, features), logits };
  }
}
