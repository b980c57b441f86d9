// `info` for any graph (built-in or imported): per-layer shapes, parameters and MACs, totals, and the
// depthwise-separable saving of every dwconv+pwconv pair against a standard convolution (arXiv 1704.04861 eq. 5).
import { nodeMacs } from '../graph/plan';
import type { Graph, GraphNode, Shape3 } from '../graph/types';

/** One row of the layer table. */
export interface LayerRow {
  name: string;
  op: GraphNode['op'];
  inShape: Shape3;
  outShape: Shape3;
  /** [KH, KW] for conv2d/dwconv, [1, 1] for pwconv, null for ops without a kernel. */
  kernel: [number, number] | null;
  stride: [number, number] | null;
  activation: string;
  /** Weights plus bias (batch norm already folded into them), or affine constants. */
  params: number;
  /** Multiply-accumulates per image (see MAC_CONVENTION). */
  macs: number;
}

/** A depthwise convolution and the pointwise convolution that consumes it. */
export interface SeparablePair {
  depthwise: string;
  pointwise: string;
  /** Depthwise kernel side Dk, input channels M, output channels N, output size DF x DF (paper notation). */
  Dk: number;
  M: number;
  N: number;
  outH: number;
  outW: number;
  /** Paper eq. 5: (Dk²·M·DF² + M·N·DF²) / (Dk²·M·N·DF²) = 1/N + 1/Dk². */
  formulaRatio: number;
  /** Measured: (dwconv MACs + pwconv MACs) / MACs of a standard Dk x Dk conv with the same input and output. */
  measuredRatio: number;
  separableMacs: number;
  standardMacs: number;
}

export interface ModelDescription {
  name: string;
  input: Shape3;
  rows: LayerRow[];
  totals: { layers: number; params: number; macs: number };
  separable: SeparablePair[];
  /** Sum over the pairs: separable MACs / standard MACs (paper: 8 to 9 times fewer MACs for 3x3). */
  separableSaving: { separableMacs: number; standardMacs: number; ratio: number };
  /** How MACs are counted; the published figures use the same rule. */
  macConvention: string;
}

/**
 * MAC counting rule, the one the published figures (569M V1, 300M V2, 217M V3-Large, 56M V3-Small at
 * 224) follow: one multiply-accumulate per weight use in conv2d, dwconv and pwconv, which includes the
 * squeeze-excite 1x1 convs and the classifier; bias adds, activations, pooling, residual adds,
 * squeeze-excite scaling and softmax count as zero.
 */
export const MAC_CONVENTION =
  'MACs = weight multiply-accumulates of conv2d, dwconv and pwconv (squeeze-excite 1x1 convs and the classifier included); bias, activations, pooling, add, scale and softmax are not counted';

function paramsOf(node: GraphNode): number {
  switch (node.op) {
    case 'conv2d':
    case 'dwconv':
    case 'pwconv':
      return node.weights.length + node.bias.length;
    case 'affine':
      return node.mul.length + node.add.length;
    // lookup tables are derived from the file's quantization (an integer kernel tabulated), not learned weights
    default:
      return 0;
  }
}

/**
 * Describes a graph layer by layer: shapes, kernel, stride, parameters and MACs, with totals and the
 * depthwise-separable savings.
 *
 * @example
 * const d = describeModel(buildArchitecture({ arch: 'mobilenet_v1' }));
 * console.log(d.totals.macs / 1e6); // ~569
 */
export function describeModel(graph: Graph): ModelDescription {
  const { shapes } = graph;
  const rows: LayerRow[] = graph.nodes.map((n) => ({
    name: n.name,
    op: n.op,
    inShape: [...shapes[n.inputs[0]]] as Shape3,
    outShape: [...shapes[n.output]] as Shape3,
    kernel: n.op === 'conv2d' || n.op === 'dwconv' ? [...n.kernel] as [number, number] : n.op === 'pwconv' ? [1, 1] : null,
    stride: n.op === 'conv2d' || n.op === 'dwconv' ? [...n.stride] as [number, number] : n.op === 'pwconv' ? [1, 1] : null,
    activation: n.clamp ? `${n.activation} clamp[${n.clamp[0]},${n.clamp[1]}]` : n.activation,
    params: paramsOf(n),
    macs: nodeMacs(n, shapes),
  }));

  const separable = findSeparablePairs(graph);
  const sepMacs = separable.reduce((s, p) => s + p.separableMacs, 0);
  const stdMacs = separable.reduce((s, p) => s + p.standardMacs, 0);
  return {
    name: graph.meta.name,
    input: [...graph.input.shape] as Shape3,
    rows,
    totals: {
      layers: rows.length,
      params: rows.reduce((s, r) => s + r.params, 0),
      macs: rows.reduce((s, r) => s + r.macs, 0),
    },
    separable,
    separableSaving: { separableMacs: sepMacs, standardMacs: stdMacs, ratio: stdMacs > 0 ? sepMacs / stdMacs : 0 },
    macConvention: MAC_CONVENTION,
  };
}

/**
 * Pairs every dwconv with the pwconv that reads its result, looking through ops that keep the shape
 * and mix no channels (squeeze-excite scale, stand-alone activations), as in V3 and unfused imports.
 */
function findSeparablePairs(graph: Graph): SeparablePair[] {
  const consumers = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) {
    n.inputs.forEach((t, k) => {
      // a scale's gate (input 1) is not the data path
      if (n.op === 'scale' && k === 1) return;
      const list = consumers.get(t) ?? [];
      list.push(n);
      consumers.set(t, list);
    });
  }
  const pairs: SeparablePair[] = [];
  for (const dw of graph.nodes) {
    if (dw.op !== 'dwconv') continue;
    let tensor = dw.output;
    let pw: GraphNode | undefined;
    for (let hops = 0; hops < 8 && !pw; hops++) {
      const next = (consumers.get(tensor) ?? []).filter((n) => n.op !== 'gavgpool');
      if (next.length !== 1) break;
      if (next[0].op === 'pwconv') pw = next[0];
      else if (next[0].op === 'scale' || next[0].op === 'affine' || next[0].op === 'reshape') tensor = next[0].output;
      else break;
    }
    if (!pw) continue;
    const [outH, outW, M] = graph.shapes[dw.output];
    const N = graph.shapes[pw.output][2];
    const Dk = dw.kernel[0];
    const separableMacs = nodeMacs(dw, graph.shapes) + nodeMacs(pw, graph.shapes);
    const standardMacs = outH * outW * dw.kernel[0] * dw.kernel[1] * M * N;
    pairs.push({
      depthwise: dw.name, pointwise: pw.name, Dk, M, N, outH, outW,
      formulaRatio: 1 / N + 1 / (dw.kernel[0] * dw.kernel[1]),
      measuredRatio: separableMacs / standardMacs,
      separableMacs,
      standardMacs,
    });
  }
  return pairs;
}

/**
 * A plain-text report of describeModel for the CLI: the layer table, totals and separable savings.
 *
 * @example
 * console.log(formatModelInfo(describeModel(graph)));
 */
export function formatModelInfo(d: ModelDescription): string {
  const fmt = (s: number[] | null) => (s ? s.join('x') : '-');
  const lines: string[] = [];
  lines.push(`${d.name}  input ${fmt(d.input)}`);
  const header = ['#', 'name', 'op', 'in', 'out', 'kernel', 'stride', 'act', 'params', 'MACs'];
  const table = d.rows.map((r, i) => [String(i), r.name, r.op, fmt(r.inShape), fmt(r.outShape), fmt(r.kernel), fmt(r.stride), r.activation, String(r.params), String(r.macs)]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const render = (row: string[]) => row.map((cell, c) => (c >= 8 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  lines.push(render(header));
  for (const row of table) lines.push(render(row));
  lines.push(`total: ${d.totals.layers} layers, ${(d.totals.params / 1e6).toFixed(3)}M parameters, ${(d.totals.macs / 1e6).toFixed(1)}M MACs per image`);
  lines.push(`MAC convention: ${d.macConvention}`);
  if (d.separable.length) {
    const s = d.separableSaving;
    lines.push(`depthwise separable: ${d.separable.length} dwconv+pwconv pairs cost ${(s.separableMacs / 1e6).toFixed(1)}M MACs vs ${(s.standardMacs / 1e6).toFixed(1)}M for standard convs (ratio ${s.ratio.toFixed(4)}, ${(1 / s.ratio).toFixed(1)}x fewer)`);
    for (const p of d.separable) {
      lines.push(`  ${p.depthwise} + ${p.pointwise}: Dk=${p.Dk} M=${p.M} N=${p.N} 1/N + 1/Dk^2 = ${p.formulaRatio.toFixed(4)}, measured ${p.measuredRatio.toFixed(4)}`);
    }
  }
  return lines.join('\n');
}
