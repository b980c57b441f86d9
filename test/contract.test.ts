// The planner's contract: tensors live at the same time never share memory, reshapes alias their
// input, the arena beats one buffer per tensor; and fuseActivations never changes a result.
import { executeReference } from '../lib/backends/js';
import { GraphBuilder } from '../lib/graph/builder';
import { fuseActivations } from '../lib/graph/optimize';
import { lowerActivation, planGraph, type Plan } from '../lib/graph/plan';
import type { Graph, GraphNode } from '../lib/graph/types';
import { Header, HEADER_WORDS, Param, STEP_WORDS } from '../lib/kernels/contract';
import { buildArchitecture, buildArchitectureShapes, type ArchName } from '../lib/models';
import { Prng } from '../lib/models/random';
import { relError } from './helpers/run';

const ARCHS: ArchName[] = ['mobilenet_v1', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small'];
const SEED = 4242;

interface Interval { tensor: string; offset: number; size: number; def: number; lastUse: number }

/**
 * Recomputes liveness from the graph on its own (not with the planner's code) and reads each
 * tensor's offset out of the encoded program, so the check is independent of how the plan was made.
 */
function liveIntervals(graph: Graph, plan: Plan): Interval[] {
  const alias = new Map<string, string>();
  const root = (t: string): string => (alias.has(t) ? root(alias.get(t)!) : t);
  for (const n of graph.nodes) if (n.op === 'reshape') alias.set(n.output, n.inputs[0]);
  const steps = graph.nodes.filter((n) => n.op !== 'reshape');
  const offset = new Map<string, number>();
  const record = (t: string, off: number) => {
    const r = root(t);
    const prev = offset.get(r);
    if (prev !== undefined && prev !== off) throw new Error(`tensor ${r} is read at offset ${off} but lives at ${prev}`);
    offset.set(r, off);
  };
  record(graph.input.name, plan.program[Header.inputOffset]);
  steps.forEach((n, i) => {
    const p = HEADER_WORDS + i * STEP_WORDS;
    record(n.output, plan.program[p + Param.out]);
    record(n.inputs[0], plan.program[p + Param.in0]);
    if (n.inputs.length > 1) record(n.inputs[1], plan.program[p + Param.in1]);
  });
  const size = (t: string) => graph.shapes[t].reduce((a, b) => a * b, 1);
  const intervals = new Map<string, Interval>();
  intervals.set(graph.input.name, { tensor: graph.input.name, offset: offset.get(graph.input.name)!, size: size(graph.input.name), def: -1, lastUse: -1 });
  steps.forEach((n, i) => intervals.set(n.output, { tensor: n.output, offset: offset.get(n.output)!, size: size(n.output), def: i, lastUse: i }));
  steps.forEach((n, i) => { for (const t of n.inputs) intervals.get(root(t))!.lastUse = Math.max(intervals.get(root(t))!.lastUse, i); });
  for (const t of [graph.output, graph.embedding]) if (t) intervals.get(root(t))!.lastUse = Infinity;
  return [...intervals.values()];
}

describe('planGraph memory plan', () => {
  test.each(ARCHS)('%s 1.0 @224: tensors live at the same time never overlap, and all fit the arena', (arch) => {
    const graph = buildArchitectureShapes({ arch });
    const plan = planGraph(graph);
    const live = liveIntervals(graph, plan);
    const clashes: string[] = [];
    for (let a = 0; a < live.length; a++) {
      const A = live[a];
      expect(A.offset).toBeGreaterThanOrEqual(0);
      expect(A.offset + A.size).toBeLessThanOrEqual(plan.arenaFloatsPerImage);
      for (let b = a + 1; b < live.length; b++) {
        const B = live[b];
        const together = A.def <= B.lastUse && B.def <= A.lastUse;
        const overlap = A.offset < B.offset + B.size && B.offset < A.offset + A.size;
        if (together && overlap) clashes.push(`${A.tensor} [${A.offset}, +${A.size}) and ${B.tensor} [${B.offset}, +${B.size})`);
      }
    }
    expect(clashes).toEqual([]);
  });

  test.each(ARCHS)('%s 1.0 @224: the arena is far smaller than one buffer per tensor', (arch) => {
    const graph = buildArchitectureShapes({ arch });
    const plan = planGraph(graph);
    const everything = Object.values(graph.shapes).reduce((sum, s) => sum + s[0] * s[1] * s[2], 0);
    expect(plan.arenaFloatsPerImage).toBeLessThan(everything);
    // reuse should at least halve it on these deep nets
    expect(plan.arenaFloatsPerImage).toBeLessThan(everything / 2);
  });

  test('reshapes alias their input: no copy, no step, same offset (also when the reshape is the output)', () => {
    const rng = new Prng(SEED);
    const g = new GraphBuilder('x', [4, 4, 8], 'reshape test');
    const a = g.conv('conv2d', 'x', rng.fillUniform(new Float32Array(16 * 9 * 8), -0.2, 0.2), undefined, { name: 'conv', kernel: [3, 3], stride: [2, 2], padding: 'same' });
    const pooled = g.gavgpool(a, { name: 'pool' });
    const flat = g.reshape(pooled, [1, 1, 16], { name: 'flatten' });
    const fc = g.pwconv(flat, rng.fillUniform(new Float32Array(16 * 5), -1, 1), undefined, { name: 'fc' });
    const out = g.reshape(fc, [1, 1, 5], { name: 'out' });
    const graph = g.finish(out, { format: 'builtin', name: 'reshape test', outputKind: 'logits', backgroundClass: false }, flat);
    const plan = planGraph(graph);
    expect(plan.steps.map((s) => s.op)).toEqual(['conv2d', 'gavgpool', 'pwconv']);
    const word = (step: number, k: number) => plan.program[HEADER_WORDS + step * STEP_WORDS + k];
    expect(word(2, Param.in0)).toBe(word(1, Param.out)); // fc reads the pool's buffer through the reshape
    expect(plan.outputs[0].offset).toBe(word(2, Param.out));
    expect(plan.outputs[1].offset).toBe(word(1, Param.out)); // the embedding is the aliased pool output
    const live = liveIntervals(graph, plan);
    expect(live.map((t) => t.tensor).sort()).toEqual([a, fc, pooled, 'x'].sort());
  });
});

/** Splits every fused activation/clamp off its producer into a stand-alone activation node. */
function unfuse(graph: Graph): Graph {
  const g = new GraphBuilder(graph.input.name, graph.input.shape, 'unfused');
  const rename = new Map<string, string>();
  const t = (name: string) => rename.get(name) ?? name;
  for (const n of graph.nodes) {
    const inputs = n.inputs.map(t);
    let out: string;
    const bare = { name: n.name };
    switch (n.op) {
      case 'conv2d':
      case 'dwconv':
        out = g.conv(n.op, inputs[0], n.weights, n.bias, { ...bare, kernel: n.kernel, stride: n.stride, padding: n.pads });
        break;
      case 'pwconv':
        out = g.pwconv(inputs[0], n.weights, n.bias, bare);
        break;
      case 'add':
        out = g.add(inputs[0], inputs[1], bare);
        break;
      case 'scale':
        out = g.scale(inputs[0], inputs[1], bare);
        break;
      case 'gavgpool':
        out = g.gavgpool(inputs[0], bare);
        break;
      case 'softmax':
        out = g.softmax(inputs[0], { ...bare, beta: n.beta });
        break;
      case 'affine':
        out = g.affine(inputs[0], n.mul, n.add, bare);
        break;
      case 'lookup':
        out = g.lookup(inputs[0], n.table, { mul: n.indexMul, add: n.indexAdd }, bare);
        break;
      case 'reshape':
        out = g.reshape(inputs[0], graph.shapes[n.output], bare);
        break;
    }
    if (n.activation !== 'none' || n.clamp) out = g.activate(out, n.activation, { name: `${n.name}/act`, clamp: n.clamp });
    rename.set(n.output, out);
  }
  return g.finish(t(graph.output), graph.meta, graph.embedding ? t(graph.embedding) : undefined);
}

function seededInput(graph: Graph, seed: number, batch = 1): Float32Array {
  const [H, W, C] = graph.input.shape;
  return new Prng(seed).fillUniform(new Float32Array(batch * H * W * C), -1, 1);
}

test(`lookup: the step carries the table (paramLen entries) and the [mul, add] index map; an activation after it stays a step of its own (seed ${SEED})`, () => {
  const rng = new Prng(SEED);
  const table = rng.fillUniform(new Float32Array(37), -2, 2);
  const g = new GraphBuilder('x', [2, 3, 5], 'lookup test');
  const y = g.lookup('x', table, { mul: 8, add: 18 }, { name: 'table' });
  const z = g.activate(y, 'relu', { name: 'relu' });
  const graph = g.finish(z, { format: 'builtin', name: 'lookup test', outputKind: 'logits', backgroundClass: false });
  const plan = planGraph(fuseActivations(graph));
  expect(plan.steps.map((s) => s.op)).toEqual(['lookup', 'affine']);
  const word = (k: number) => plan.program[HEADER_WORDS + k];
  expect(word(Param.paramLen)).toBe(37);
  expect(Array.from(plan.constants.subarray(word(Param.weights), word(Param.weights) + 37))).toEqual(Array.from(table));
  expect(Array.from(plan.constants.subarray(word(Param.bias), word(Param.bias) + 2))).toEqual([8, 18]);
  // x = k/8 - 2.25 lands exactly on entry k (x * 8 + 18 = k), and the ends clamp
  const x = Float32Array.from({ length: 30 }, (_, i) => (i < 28 ? (i + 5) / 8 - 2.25 : i === 28 ? -100 : 100));
  const [out] = executeReference(plan, x, 1);
  const want = Array.from(x, (_, i) => Math.max(0, i < 28 ? table[i + 5] : i === 28 ? table[0] : table[36]));
  expect(Array.from(out)).toEqual(want);
});

describe('fuseActivations keeps results equal', () => {
  test(`mobilenet_v3_small @64 seed=${SEED}: unfused (separate activation nodes) vs fused on js`, () => {
    const original = buildArchitecture({ arch: 'mobilenet_v3_small', resolution: 64, seed: SEED });
    const separate = unfuse(original);
    const fused = fuseActivations(separate);
    expect(separate.nodes.length).toBeGreaterThan(original.nodes.length);
    // every activation of the builder is fusable, so fusion restores the builder's ops and epilogues
    // (relu may come back as a [0, inf) clamp: the same kernel epilogue)
    const epilogues = (gr: Graph) => gr.nodes.map((n) => `${n.op}:${JSON.stringify(lowerActivation(n.activation, n.clamp))}`);
    expect(epilogues(fused)).toEqual(epilogues(original));
    const x = seededInput(original, SEED, 2);
    const [probSep, embSep] = executeReference(planGraph(separate), x, 2);
    const [probFused, embFused] = executeReference(planGraph(fused), x, 2);
    // the unfused graph rounds to float32 before each activation; the fused one does not
    // (normwise: max |difference| over max |value|)
    expect(relError(probFused, probSep)).toBeLessThan(1e-5);
    expect(relError(embFused, embSep)).toBeLessThan(1e-5);
  });

  test(`hand-built chains seed=${SEED}: relu6 after hswish, clamp after clamp, shared tensors, embedding kept`, () => {
    const rng = new Prng(SEED);
    const w = (n: number, lim: number) => rng.fillUniform(new Float32Array(n), -lim, lim);
    const g = new GraphBuilder('x', [9, 7, 6], 'fusion test');
    const c1 = g.conv('conv2d', 'x', w(12 * 9 * 6, 0.6), w(12, 0.5), { name: 'c1', kernel: [3, 3], stride: [2, 2], padding: 'same' });
    const a1 = g.activate(c1, 'hswish', { name: 'a1' });
    const a2 = g.activate(a1, 'relu6', { name: 'a2' }); // clamp on a nonlinearity: becomes hswish + clamp[0,6]
    const d1 = g.conv('dwconv', a2, w(25 * 12, 0.8), w(12, 0.5), { name: 'd1', kernel: [5, 5], stride: [1, 1], padding: 'same' });
    const a3 = g.activate(d1, 'relu', { name: 'a3' });
    const a4 = g.activate(a3, 'none', { name: 'a4', clamp: [-1, 2.5] }); // clamp after clamp: [0, 2.5]
    const p1 = g.pwconv(a4, w(12 * 12, 0.9), w(12, 0.5), { name: 'p1' });
    // p1 feeds both an activation and an add: fusing would change the add's input, so it must not
    const a5 = g.activate(p1, 'hsigmoid', { name: 'a5' });
    const s1 = g.add(p1, a5, { name: 's1' });
    const a6 = g.activate(s1, 'relu6', { name: 'a6' });
    const pool = g.gavgpool(a6, { name: 'pool' });
    const fc = g.pwconv(pool, w(12 * 10, 1), w(10, 0.5), { name: 'fc' });
    // the embedding is `pool`; an activation after the classifier input must not be fused into it
    const a7 = g.activate(fc, 'hswish', { name: 'a7' });
    const prob = g.softmax(a7, { name: 'softmax' });
    const graph = g.finish(prob, { format: 'builtin', name: 'fusion test', outputKind: 'probabilities', backgroundClass: false }, pool);

    const fused = fuseActivations(graph);
    expect(fused.nodes.filter((n) => n.op === 'affine').map((n) => n.name)).toEqual(['a5']);
    const byName = (name: string) => fused.nodes.find((n) => n.name === name) as GraphNode;
    expect([byName('c1').activation, byName('c1').clamp]).toEqual(['hswish', [0, 6]]);
    expect([byName('d1').activation, byName('d1').clamp]).toEqual(['none', [0, 2.5]]);
    expect(byName('p1').activation).toBe('none');
    const x = seededInput(graph, SEED + 1, 3);
    const [probA, embA] = executeReference(planGraph(graph), x, 3);
    const [probB, embB] = executeReference(planGraph(fused), x, 3);
    expect(relError(probB, probA)).toBeLessThan(1e-5);
    expect(relError(embB, embA)).toBeLessThan(1e-5);
  });
});
