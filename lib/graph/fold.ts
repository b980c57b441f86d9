// Batch-norm folding: y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta becomes a conv with
// per-output-channel scaled weights and a new bias, so no backend ever sees a BatchNorm.

export interface BatchNorm {
  gamma?: Float32Array; // absent when scale=False in Keras
  beta?: Float32Array; // absent when center=False
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/**
 * Folds BN into weights laid out with the output channel either first ([Cout][...]: conv2d, pwconv)
 * or last ([KH][KW][C]: dwconv). Returns new arrays; computed in float64.
 */
export function foldBatchNorm(
  weights: Float32Array,
  bias: Float32Array | undefined,
  bn: BatchNorm,
  channelAxis: 'first' | 'last',
): { weights: Float32Array; bias: Float32Array } {
  const C = bn.mean.length;
  const scale = new Float64Array(C);
  const newBias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const g = bn.gamma ? bn.gamma[c] : 1;
    scale[c] = g / Math.sqrt(bn.variance[c] + bn.epsilon);
    const b = bias ? bias[c] : 0;
    newBias[c] = (b - bn.mean[c]) * scale[c] + (bn.beta ? bn.beta[c] : 0);
  }
  const w = new Float32Array(weights.length);
  if (channelAxis === 'first') {
    const per = weights.length / C;
    for (let c = 0; c < C; c++) for (let i = 0; i < per; i++) w[c * per + i] = weights[c * per + i] * scale[c];
  } else {
    for (let i = 0; i < weights.length; i++) w[i] = weights[i] * scale[i % C];
  }
  return { weights: w, bias: newBias };
}
