// Graph clean-up before planning: fold stand-alone activations and clamps into the op that produced
// their input (Keras writes Conv -> BatchNorm -> ReLU as three layers), so kernels fuse the epilogue.
import type { Activation, Graph, GraphNode } from './types';

const CLAMP_OF: Partial<Record<Activation, [number, number]>> = {
  none: [-Infinity, Infinity],
  relu: [0, Infinity],
  relu6: [0, 6],
};

function intersect(a: [number, number] | undefined, b: [number, number] | undefined): [number, number] | undefined {
  if (!a) return b;
  if (!b) return a;
  return [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
}

const FUSABLE = new Set(['conv2d', 'dwconv', 'pwconv', 'add', 'affine']);

/** Returns a graph where pure activation/clamp affines are merged into their producer when legal. */
export function fuseActivations(graph: Graph): Graph {
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const t of n.inputs) uses.set(t, (uses.get(t) ?? 0) + 1);
  const producer = new Map<string, GraphNode>();
  const rename = new Map<string, string>();
  const out: GraphNode[] = [];
  const keep = new Set([graph.output, graph.embedding].filter(Boolean) as string[]);
  for (const orig of graph.nodes) {
    const node = { ...orig, inputs: orig.inputs.map((t) => rename.get(t) ?? t) } as GraphNode;
    const isPureActivation = node.op === 'affine' && node.mul.length === 1 && node.mul[0] === 1 && node.add[0] === 0;
    const src = isPureActivation ? producer.get(node.inputs[0]) : undefined;
    const act = node.activation;
    if (
      src && FUSABLE.has(src.op) && uses.get(orig.inputs[0]) === 1 && !keep.has(src.output) &&
      // only a clamp-like activation can follow a clamp; a nonlinearity needs the producer to have none
      (CLAMP_OF[act] !== undefined || (src.activation === 'none' && src.clamp === undefined))
    ) {
      if (CLAMP_OF[act] !== undefined && CLAMP_OF[src.activation] === undefined) {
        // producer already has a nonlinearity: the relu/clamp becomes part of its output clamp
        src.clamp = intersect(intersect(src.clamp, CLAMP_OF[act]), node.clamp);
      } else if (CLAMP_OF[act] !== undefined) {
        src.clamp = intersect(intersect(intersect(src.clamp, CLAMP_OF[src.activation]), CLAMP_OF[act]), node.clamp);
        src.activation = 'none';
      } else {
        src.activation = act;
        src.clamp = node.clamp;
      }
      rename.set(node.output, src.output);
      if (keep.has(node.output)) keep.add(src.output);
      continue;
    }
    producer.set(node.output, node);
    out.push(node);
  }
  return {
    ...graph,
    nodes: out,
    output: rename.get(graph.output) ?? graph.output,
    embedding: graph.embedding ? rename.get(graph.embedding) ?? graph.embedding : undefined,
  };
}
