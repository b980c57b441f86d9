// The `wasm-relaxed` and `wasm-simd` backends: AssemblyScript SIMD kernels (assembly/) built twice, one
// module per feature level. compile() packs weights once and lays out program, constants and ONE arena in
// linear memory; run() is one exported call that executes the whole program.
import { MobileNetError } from '../errors';
import {
  CONSTANT_ALIGN_FLOATS,
  Header,
  HEADER_WORDS,
  MAX_OUTPUTS,
  Op,
  Param,
  PROGRAM_MAGIC,
  PROGRAM_VERSION,
  STEP_WORDS,
} from '../kernels/contract';
import type { Plan } from '../graph/plan';
import type { Availability, Backend, BackendName, CompileOptions, Executable } from './types';

/** The two builds of assembly/: plain simd128, and relaxed-simd (FMA in the hot loops). */
export type WasmVariant = 'simd' | 'relaxed';

/** Returns the bytes of one build. Injectable so a browser bundle can fetch them instead of reading files. */
export type WasmBytesLoader = (variant: WasmVariant) => Promise<Uint8Array>;

const FILE_OF: Record<WasmVariant, string> = {
  simd: 'mobilenet-simd.wasm',
  relaxed: 'mobilenet-relaxed.wasm',
};
const FEATURES_OF: Record<WasmVariant, string[]> = {
  simd: ['simd128'],
  relaxed: ['simd128', 'relaxed-simd'],
};
const ISA_OF: Record<WasmVariant, string> = { simd: 'simd128', relaxed: 'relaxed-simd' };

/** Bytes past the arena that kernels may read (never use) when a 4-lane load covers a channel tail. */
const TAIL_SLACK_BYTES = 64;
const PAGE = 65536;

/** Finds build/wasm/<file> from this module's folder upwards (lib/backends in the repo, dist/... when built). */
function findBuildFile(file: string, dir?: string): string {
  // Required lazily so importing this module never needs Node built-ins (browser bundles inject a loader).
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const tried: string[] = [];
  if (dir !== undefined) {
    tried.push(path.join(dir, file));
  } else {
    let at = typeof __dirname === 'string' ? __dirname : process.cwd();
    for (let up = 0; up < 5; up++) {
      tried.push(path.join(at, 'build', 'wasm', file));
      at = path.dirname(at);
    }
  }
  const found = tried.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`${file} was not found (looked at ${tried.join(', ')}); run \`npm run build:wasm\` to build it`);
  return found;
}

/**
 * A loader that reads the .wasm files with Node's fs, from `dir` or else from build/wasm/ found above
 * this module. This is the default loader under Node.
 *
 * @example
 * setWasmLoader(wasmFileLoader('/opt/app/resources/wasm'));
 */
export function wasmFileLoader(dir?: string): WasmBytesLoader {
  return async (variant) => {
    if (typeof process === 'undefined' || !process.versions?.node) {
      throw new Error('no wasm bytes loader is set and this is not Node.js; call setWasmLoader() with one that fetches the .wasm files');
    }
    const fs = require('fs') as typeof import('fs');
    return new Uint8Array(fs.readFileSync(findBuildFile(FILE_OF[variant], dir)));
  };
}

let loader: WasmBytesLoader = wasmFileLoader();

interface VariantState {
  module?: WebAssembly.Module;
  /** Why this variant cannot run here (set once, then reported by availability and compile). */
  reason?: string;
  file: string;
}
const states = new Map<WasmVariant, Promise<VariantState>>();

/**
 * Replaces how the .wasm bytes are obtained (e.g. `fetch` in a browser or an Electron renderer).
 *
 * @example
 * setWasmLoader(async (v) => new Uint8Array(await (await fetch(`/wasm/mobilenet-${v}.wasm`)).arrayBuffer()));
 */
export function setWasmLoader(next: WasmBytesLoader): void {
  loader = next;
  states.clear();
}

/** Loads, validates and compiles one variant once; never rejects (failures become `reason`). */
function variantState(variant: WasmVariant): Promise<VariantState> {
  let s = states.get(variant);
  if (!s) {
    s = (async (): Promise<VariantState> => {
      const file = FILE_OF[variant];
      if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') {
        return { file, reason: 'this JavaScript engine has no WebAssembly' };
      }
      let bytes: Uint8Array;
      try {
        bytes = await loader(variant);
      } catch (e) {
        return { file, reason: `the module ${file} could not be loaded: ${(e as Error).message}` };
      }
      const source = bytes as unknown as BufferSource;
      if (!WebAssembly.validate(source)) {
        if (variant === 'relaxed') {
          return {
            file,
            reason: 'this engine does not accept WebAssembly relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Node 22+ and Chromium 114+ have it on)',
          };
        }
        return { file, reason: 'this engine does not support WebAssembly SIMD (simd128); use the js backend or a newer engine (Node 16.4+, Chromium 91+)' };
      }
      try {
        return { file, module: await WebAssembly.compile(source) };
      } catch (e) {
        return { file, reason: `the module ${file} failed to compile: ${(e as Error).message}` };
      }
    })();
    states.set(variant, s);
  }
  return s;
}

interface WasmExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  run(program: number, constants: number, arena: number, zeros: number, work: number, batch: number, stepMs: number): number;
  RELAXED_SIMD: WebAssembly.Global;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function badProgram(what: string, step?: number): never {
  const where = step === undefined ? 'the program header' : `step ${step}`;
  throw new MobileNetError(
    'E_MODEL_FORMAT',
    `Expected a valid kernel program, but ${where} is invalid: ${what}. Re-create the plan with planGraph(); programs are not meant to be edited by hand.`,
    step === undefined ? undefined : { step },
  );
}

/**
 * Checks every offset and size a kernel will touch, so a malformed program is a MobileNetError here and
 * never an out-of-bounds access (a wasm trap, or silent garbage) inside run().
 */
export function validateProgram(program: Int32Array, constantsLength: number): void {
  if (!(program instanceof Int32Array) || program.length < HEADER_WORDS) badProgram(`it has ${program?.length} words, fewer than the ${HEADER_WORDS}-word header`);
  if (program[Header.magic] !== PROGRAM_MAGIC) badProgram(`magic is 0x${(program[Header.magic] >>> 0).toString(16)}, not 0x${PROGRAM_MAGIC.toString(16)}`);
  if (program[Header.version] !== PROGRAM_VERSION) badProgram(`version is ${program[Header.version]}, this backend runs ${PROGRAM_VERSION}`);
  const steps = program[Header.stepCount];
  if (steps < 0 || program.length < HEADER_WORDS + steps * STEP_WORDS) badProgram(`stepCount ${steps} does not fit ${program.length} words`);
  const arena = program[Header.arenaFloatsPerImage];
  if (!(arena > 0)) badProgram(`arenaFloatsPerImage is ${arena}`);
  const inArena = (off: number, len: number) => off >= 0 && len > 0 && off + len <= arena;
  if (!inArena(program[Header.inputOffset], program[Header.inputFloatsPerImage])) badProgram('the input tensor lies outside the arena');
  const outs = program[Header.outputCount];
  if (outs < 1 || outs > MAX_OUTPUTS) badProgram(`outputCount is ${outs}, expected 1..${MAX_OUTPUTS}`);
  for (let k = 0; k < outs; k++) {
    if (!inArena(program[Header.outputs + 2 * k], program[Header.outputs + 2 * k + 1])) badProgram(`output ${k} lies outside the arena`);
  }
  for (let i = 0; i < steps; i++) {
    const w = (k: number) => program[HEADER_WORDS + i * STEP_WORDS + k];
    const [inH, inW, inC, outH, outW, outC] = [w(Param.inH), w(Param.inW), w(Param.inC), w(Param.outH), w(Param.outW), w(Param.outC)];
    const fail = (what: string): never => badProgram(what, i);
    if (![inH, inW, inC, outH, outW, outC].every((d) => Number.isInteger(d) && d > 0)) fail(`shapes [${inH},${inW},${inC}] -> [${outH},${outW},${outC}] must be positive`);
    const inSize = inH * inW * inC;
    const outSize = outH * outW * outC;
    if (!inArena(w(Param.in0), inSize)) fail('its input lies outside the arena');
    if (!inArena(w(Param.out), outSize)) fail('its output lies outside the arena');
    const inConst = (off: number, len: number, what: string) => {
      if (!(off >= 0 && off + len <= constantsLength)) fail(`its ${what} (${len} floats at ${off}) lie outside the constants (${constantsLength} floats)`);
    };
    const op = w(Param.op);
    const sameHW = inH === outH && inW === outW;
    switch (op) {
      case Op.conv2d:
      case Op.dwconv: {
        const [kH, kW, sH, sW, pT, pL] = [w(Param.kH), w(Param.kW), w(Param.strideH), w(Param.strideW), w(Param.padTop), w(Param.padLeft)];
        if (!(kH > 0 && kW > 0 && sH > 0 && sW > 0 && pT >= 0 && pL >= 0)) fail(`kernel ${kH}x${kW}, stride ${sH}x${sW}, pads ${pT},${pL} are invalid`);
        if (op === Op.dwconv && inC !== outC) fail(`dwconv keeps channels, got ${inC} -> ${outC}`);
        inConst(w(Param.weights), op === Op.dwconv ? kH * kW * inC : outC * kH * kW * inC, 'weights');
        inConst(w(Param.bias), outC, 'bias');
        break;
      }
      case Op.pwconv:
        if (!sameHW) fail('pwconv keeps H and W');
        inConst(w(Param.weights), outC * inC, 'weights');
        inConst(w(Param.bias), outC, 'bias');
        break;
      case Op.add:
        if (inSize !== outSize) fail('add keeps the shape');
        if (!inArena(w(Param.in1), outSize)) fail('its second input lies outside the arena');
        break;
      case Op.gavgpool:
        if (outSize !== inC || outC !== inC) fail(`gavgpool gives [1,1,${inC}]`);
        break;
      case Op.scale:
        if (!sameHW || inC !== outC) fail('scale keeps the shape');
        if (!inArena(w(Param.in1), inC)) fail('its gate lies outside the arena');
        break;
      case Op.softmax:
        if (!sameHW || inC !== outC) fail('softmax keeps the shape');
        break;
      case Op.affine: {
        if (!sameHW || inC !== outC) fail('affine keeps the shape');
        const len = w(Param.paramLen);
        if (len !== 1 && len !== inC) fail(`affine constants must have length 1 or ${inC}, got ${len}`);
        inConst(w(Param.weights), len, 'mul vector');
        inConst(w(Param.bias), len, 'add vector');
        break;
      }
      case Op.lookup: {
        if (!sameHW || inC !== outC) fail('lookup keeps the shape');
        const len = w(Param.paramLen);
        if (!(len >= 1)) fail(`a lookup table needs at least one entry, got ${len}`);
        inConst(w(Param.weights), len, 'table');
        inConst(w(Param.bias), 2, 'index map');
        break;
      }
      default:
        fail(`op code ${op} is not one of the contract's ops`);
    }
  }
}

/** pwconv weights [Cout][Cin] -> panels of 8 output channels, [Cout/8][Cin][8] (assembly/kernels/pwconv.ts). */
export function packPwconv(w: Float32Array, cout: number, cin: number): Float32Array {
  const panels = Math.ceil(cout / 8);
  const out = new Float32Array(panels * cin * 8);
  for (let co = 0; co < cout; co++) {
    const base = (co >> 3) * cin * 8 + (co & 7);
    for (let ci = 0; ci < cin; ci++) out[base + ci * 8] = w[co * cin + ci];
  }
  return out;
}

/**
 * pwconv weights [Cout][Cin] -> what assembly/kernels/pwconv.ts reads: output channels in pairs of
 * 8-channel panels interleaved as [Cin][16] (one pointer walks both panels of a 2x16 tile, so the inner
 * loop has one increment fewer), a last odd panel as [Cin][8]. Pair p starts where panel 2p would in
 * packPwconv, so panel offsets are unchanged.
 *
 * @example
 * packPwconvPairs(new Float32Array(24 * 5), 24, 5).length; // 3 panels * 5 * 8 = 120
 */
export function packPwconvPairs(w: Float32Array, cout: number, cin: number): Float32Array {
  const panels = Math.ceil(cout / 8);
  const out = new Float32Array(panels * cin * 8);
  const pairedChannels = (panels & ~1) * 8;
  for (let co = 0; co < cout; co++) {
    const paired = co < pairedChannels;
    const base = paired ? (co >> 4) * cin * 16 + (co & 15) : (co >> 3) * cin * 8 + (co & 7);
    const stride = paired ? 16 : 8;
    for (let ci = 0; ci < cin; ci++) out[base + ci * stride] = w[co * cin + ci];
  }
  return out;
}

/** conv2d weights [Cout][KH][KW][Cin] -> [Cout/8][KH][KW][Cin][8] (assembly/kernels/conv2d.ts). */
export function packConv2d(w: Float32Array, cout: number, taps: number): Float32Array {
  return packPwconv(w, cout, taps);
}

/** dwconv weights [KH][KW][C] + bias -> groups of 4 channels, [C/4][bias, KH*KW taps][4] (assembly/kernels/dwconv.ts). */
export function packDwconv(w: Float32Array, bias: Float32Array, taps: number, c: number): Float32Array {
  const groups = Math.ceil(c / 4);
  const out = new Float32Array(groups * (1 + taps) * 4);
  for (let ch = 0; ch < c; ch++) {
    const base = (ch >> 2) * (1 + taps) * 4 + (ch & 3);
    out[base] = bias[ch];
    for (let t = 0; t < taps; t++) out[base + (1 + t) * 4] = w[t * c + ch];
  }
  return out;
}

/** The program with weight offsets rewritten to the packed constants, plus those constants. */
function packPlan(program: Int32Array, constants: Float32Array): { program: Int32Array; constants: Float32Array } {
  const prog = program.slice();
  // `reserved` carries this backend's fusion marks (markFusedBlocks); never trust incoming values.
  for (let i = 0; i < prog[Header.stepCount]; i++) prog[HEADER_WORDS + i * STEP_WORDS + Param.reserved] = 0;
  const parts: { off: number; data: Float32Array }[] = [];
  let len = 0;
  const put = (data: Float32Array, padTo: number): number => {
    const off = len;
    const padded = new Float32Array(alignUp(Math.max(data.length, 1), padTo));
    padded.set(data);
    parts.push({ off, data: padded });
    len = alignUp(off + padded.length, CONSTANT_ALIGN_FLOATS);
    return off;
  };
  const steps = prog[Header.stepCount];
  for (let i = 0; i < steps; i++) {
    const p = HEADER_WORDS + i * STEP_WORDS;
    const op = prog[p + Param.op];
    const inC = prog[p + Param.inC];
    const outC = prog[p + Param.outC];
    const taps = prog[p + Param.kH] * prog[p + Param.kW];
    const wOff = prog[p + Param.weights];
    const bOff = prog[p + Param.bias];
    const bias = () => constants.subarray(bOff, bOff + outC);
    if (op === Op.pwconv) {
      prog[p + Param.weights] = put(packPwconvPairs(constants.subarray(wOff, wOff + outC * inC), outC, inC), 8);
      prog[p + Param.bias] = put(bias(), 8);
    } else if (op === Op.conv2d) {
      prog[p + Param.weights] = put(packConv2d(constants.subarray(wOff, wOff + outC * taps * inC), outC, taps * inC), 8);
      prog[p + Param.bias] = put(bias(), 8);
    } else if (op === Op.dwconv) {
      // The bias travels inside the packed groups; the bias word keeps a valid offset (the same block).
      prog[p + Param.weights] = put(packDwconv(constants.subarray(wOff, wOff + taps * inC), bias(), taps, inC), 4);
      prog[p + Param.bias] = prog[p + Param.weights];
    } else if (op === Op.affine) {
      const n = prog[p + Param.paramLen];
      prog[p + Param.weights] = put(constants.subarray(wOff, wOff + n), 4);
      prog[p + Param.bias] = put(constants.subarray(bOff, bOff + n), 4);
    } else if (op === Op.lookup) {
      prog[p + Param.weights] = put(constants.subarray(wOff, wOff + prog[p + Param.paramLen]), 4);
      prog[p + Param.bias] = put(constants.subarray(bOff, bOff + 2), 4);
    }
  }
  const packed = new Float32Array(Math.max(len, CONSTANT_ALIGN_FLOATS));
  for (const { off, data } of parts) packed.set(data, off);
  return { program: prog, constants: packed };
}

/**
 * Fuse a block only when its expanded tensor holds at least this many floats per image (1 MiB):
 * measured on this project's machine, fusion wins once that tensor leaves L2 (MobileNetV2's 112x112 and
 * 56x56 stages) and loses a little below, where the per-row GEMMs are short and the tensor stays cached.
 */
export const FUSE_MIN_FLOATS = 256 * 1024;

let fusion: boolean | 'always' | undefined;

/**
 * Sets how later compiles fuse inverted-residual blocks: true (default: blocks whose expanded tensor is
 * at least FUSE_MIN_FLOATS), 'always' (every fusable block), false (none; MOBILENET_WASM_FUSE=0 does the
 * same for debugging). Results are identical either way.
 *
 * @example
 * setWasmFusion(false); // compare the unfused kernels step by step in profiles
 */
export function setWasmFusion(mode: boolean | 'always'): void {
  fusion = mode;
}

/** The minimum expanded size to fuse, or -1 for no fusion. */
function fusionThreshold(): number {
  const mode = fusion ?? !(typeof process !== 'undefined' && process.env?.MOBILENET_WASM_FUSE === '0');
  return mode === 'always' ? 0 : mode ? FUSE_MIN_FLOATS : -1;
}

/** assembly/kernels/block.ts FUSE_BLOCK(_SPILL): the expand step's `reserved` word asking for the fused block. */
const FUSE_BLOCK = 1;
const FUSE_BLOCK_SPILL = 2;

type Region = [number, number];
const overlaps = (a: Region, b: Region) => a[0] < b[1] && b[0] < a[1];

/**
 * Marks (in the backend's private program copy) every pwconv -> 3x3 dwconv -> pwconv chain whose two
 * intermediates nobody else reads, so the wasm side runs it as one fused block that keeps them in cache.
 * Only blocks whose expanded tensor has at least `minFloats` floats per image are marked.
 * Returns the number of blocks marked.
 */
export function markFusedBlocks(prog: Int32Array, minFloats = 0): number {
  const steps = prog[Header.stepCount];
  const at = (i: number, k: number) => prog[HEADER_WORDS + i * STEP_WORDS + k];
  const inSize = (i: number) => at(i, Param.inH) * at(i, Param.inW) * at(i, Param.inC);
  const outSize = (i: number) => at(i, Param.outH) * at(i, Param.outW) * at(i, Param.outC);
  const outRegion = (i: number): Region => [at(i, Param.out), at(i, Param.out) + outSize(i)];
  const reads = (j: number): Region[] => {
    const r: Region[] = [[at(j, Param.in0), at(j, Param.in0) + inSize(j)]];
    const op = at(j, Param.op);
    if (op === Op.add) r.push([at(j, Param.in1), at(j, Param.in1) + outSize(j)]);
    if (op === Op.scale) r.push([at(j, Param.in1), at(j, Param.in1) + at(j, Param.inC)]);
    return r;
  };
  for (let i = 0; i < steps; i++) prog[HEADER_WORDS + i * STEP_WORDS + Param.reserved] = 0;
  let fused = 0;
  for (let i = 0; i + 2 < steps; i++) {
    const [e, d, p] = [i, i + 1, i + 2];
    if (at(e, Param.op) !== Op.pwconv || at(d, Param.op) !== Op.dwconv || at(p, Param.op) !== Op.pwconv) continue;
    if (at(d, Param.kH) !== 3 || at(d, Param.kW) !== 3 || outSize(e) < minFloats) continue;
    if (at(d, Param.in0) !== at(e, Param.out) || at(p, Param.in0) !== at(d, Param.out)) continue;
    // p's rows are written while e's input rows are still being read: if they share memory, the block
    // writes to the spill buffer past the arena and copies at the end.
    const spill = overlaps(outRegion(p), [at(e, Param.in0), at(e, Param.in0) + inSize(e)]);
    // The intermediates are never written when fused: no later read may see them before a rewrite.
    let stale: Region[] = [outRegion(e), outRegion(d)];
    let ok = true;
    for (let j = p; j < steps && ok && stale.length; j++) {
      if (j > p && reads(j).some((r) => stale.some((s) => overlaps(r, s)))) ok = false;
      // A write makes its part of a stale region current again (interval subtraction).
      const [w0, w1] = outRegion(j);
      stale = stale.flatMap(([s0, s1]): Region[] => {
        if (w1 <= s0 || s1 <= w0) return [[s0, s1]];
        const left: Region[] = s0 < w0 ? [[s0, w0]] : [];
        return s1 > w1 ? [...left, [w1, s1]] : left;
      });
    }
    for (let k = 0; k < prog[Header.outputCount] && ok; k++) {
      const o: Region = [prog[Header.outputs + 2 * k], prog[Header.outputs + 2 * k] + prog[Header.outputs + 2 * k + 1]];
      if (stale.some((s) => overlaps(o, s))) ok = false;
    }
    if (!ok) continue;
    prog[HEADER_WORDS + e * STEP_WORDS + Param.reserved] = spill ? FUSE_BLOCK_SPILL : FUSE_BLOCK;
    fused++;
    i += 2;
  }
  return fused;
}

/**
 * Scratch sizes in bytes: `zeros` must hold inW*C+8 zero floats for every dwconv (padding taps read it,
 * nothing writes it); `work` holds dwconv's tap table and each fused block's rows (3 expanded rows,
 * one depthwise row, 3 tags); spill blocks need their output per image once more past the arena.
 */
function scratchBytes(program: Int32Array): { zeros: number; work: number; spillPerImage: number } {
  let zeros = 64;
  let work = 64;
  let spillPerImage = 0;
  for (let i = 0; i < program[Header.stepCount]; i++) {
    const p = HEADER_WORDS + i * STEP_WORDS;
    if (program[p + Param.op] !== Op.dwconv) continue;
    const inW = program[p + Param.inW];
    const C = program[p + Param.inC];
    zeros = Math.max(zeros, (inW * C + 8) * 4 + 64);
    work = Math.max(work, program[p + Param.kH] * program[p + Param.kW] * 4 + 64);
    if (i > 0 && program[p - STEP_WORDS + Param.reserved] !== 0) {
      work = Math.max(work, (3 * inW * C + program[p + Param.outW] * C) * 4 + 64);
    }
    if (i > 0 && program[p - STEP_WORDS + Param.reserved] === FUSE_BLOCK_SPILL) {
      const q = p + STEP_WORDS;
      spillPerImage = Math.max(spillPerImage, program[q + Param.outH] * program[q + Param.outW] * program[q + Param.outC] * 4);
    }
  }
  return { zeros, work, spillPerImage };
}

/** A compiled plan in one wasm instance. Exported for tests (memory checks); users see only Executable. */
export class WasmExecutable implements Executable {
  readonly threads = 1;
  readonly isa: string;
  private disposed = false;
  private batchCapacity = 0;
  private readonly programPtr: number;
  private readonly constantsPtr: number;
  private readonly stepMsPtr: number;
  private readonly zerosPtr: number;
  private readonly spillPerImage: number;
  private readonly workPtr: number;
  private readonly arenaPtr: number;
  private readonly arenaFloats: number;
  private readonly inputFloats: number;
  private readonly steps: number;
  private readonly outputs: { offset: number; floats: number }[] = [];

  constructor(
    readonly backend: BackendName,
    variant: WasmVariant,
    private exports: WasmExports,
    program: Int32Array,
    constants: Float32Array,
  ) {
    this.isa = ISA_OF[variant];
    this.steps = program[Header.stepCount];
    this.arenaFloats = program[Header.arenaFloatsPerImage];
    this.inputFloats = program[Header.inputFloatsPerImage];
    for (let k = 0; k < program[Header.outputCount]; k++) {
      this.outputs.push({ offset: program[Header.outputs + 2 * k], floats: program[Header.outputs + 2 * k + 1] });
    }
    // Layout: program | packed constants | step times | zeros | work | arena (last, so a bigger batch
    // only grows it). Fresh wasm memory is zero-filled and no kernel writes `zeros`.
    const scratch = scratchBytes(program);
    this.programPtr = alignUp(exports.heapBase(), 64);
    this.constantsPtr = alignUp(this.programPtr + program.byteLength, 64);
    this.stepMsPtr = alignUp(this.constantsPtr + constants.byteLength, 64);
    this.zerosPtr = alignUp(this.stepMsPtr + 8 * Math.max(this.steps, 1), 64);
    this.workPtr = alignUp(this.zerosPtr + scratch.zeros, 64);
    this.arenaPtr = alignUp(this.workPtr + scratch.work, 64);
    this.spillPerImage = scratch.spillPerImage;
    this.reserve(1);
    new Int32Array(this.memory.buffer, this.programPtr, program.length).set(program);
    new Float32Array(this.memory.buffer, this.constantsPtr, constants.length).set(constants);
  }

  /** The instance's linear memory (tests check it never grows inside run). */
  get memory(): WebAssembly.Memory {
    return this.exports.memory;
  }

  /** Grows memory, between runs only, so the arena holds `batch` images; views are re-created after. */
  private reserve(batch: number): void {
    if (batch <= this.batchCapacity) return;
    // assembly/index.ts places the spill rows at the 64-byte boundary after this batch's arena.
    const need = alignUp(this.arenaPtr + this.arenaFloats * 4 * batch, 64) + this.spillPerImage * batch + TAIL_SLACK_BYTES;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      try {
        this.memory.grow(Math.ceil((need - have) / PAGE));
      } catch (e) {
        throw new MobileNetError(
          'E_BACKEND',
          `Expected ${need} bytes of WebAssembly memory for a batch of ${batch}, but growing failed (${(e as Error).message}). Use a smaller batch.`,
        );
      }
    }
    this.batchCapacity = batch;
  }

  private execute(input: Float32Array, batch: number, profile: boolean): { outputs: Float32Array[]; stepMs: Float64Array } {
    if (this.disposed) throw new MobileNetError('E_DISPOSED', `Expected a live ${this.backend} executable, received one that was disposed. Compile the plan again.`);
    if (!Number.isInteger(batch) || batch < 1) {
      throw new MobileNetError('E_ARG', `Expected batch to be a positive integer, received ${batch}. Pass the number of images in the input.`);
    }
    if (!(input instanceof Float32Array) || input.length !== this.inputFloats * batch) {
      const got = input instanceof Float32Array ? `${input.length} floats` : 'not a Float32Array';
      throw new MobileNetError('E_INPUT', `Expected a Float32Array of ${this.inputFloats * batch} floats (${batch} x ${this.inputFloats}), received ${got}. Check the input shape and batch.`);
    }
    this.reserve(batch);
    const buffer = this.memory.buffer;
    const inputOffset = new Int32Array(buffer, this.programPtr + Header.inputOffset * 4, 1)[0];
    new Float32Array(buffer, this.arenaPtr + inputOffset * batch * 4, input.length).set(input);
    let status: number;
    try {
      status = this.exports.run(this.programPtr, this.constantsPtr, this.arenaPtr, this.zerosPtr, this.workPtr, batch, profile ? this.stepMsPtr : 0);
    } catch (e) {
      throw new MobileNetError('E_BACKEND', `Expected the ${this.backend} kernels to finish, but WebAssembly trapped (${(e as Error).message}). Please report this model; the js backend can run it meanwhile.`);
    }
    if (status !== 0) {
      throw new MobileNetError('E_BACKEND', `Expected the ${this.backend} kernels to run every step, but step ${status - 1} has an op they do not know. Re-create the plan with planGraph().`);
    }
    const after = this.memory.buffer;
    const outputs = this.outputs.map(({ offset, floats }) => new Float32Array(after, this.arenaPtr + offset * batch * 4, floats * batch).slice());
    const stepMs = profile ? new Float64Array(after, this.stepMsPtr, this.steps).slice() : new Float64Array(0);
    return { outputs, stepMs };
  }

  async run(input: Float32Array, batch: number): Promise<Float32Array[]> {
    return this.execute(input, batch, false).outputs;
  }

  async profile(input: Float32Array, batch: number): Promise<{ outputs: Float32Array[]; stepMs: Float64Array }> {
    return this.execute(input, batch, true);
  }

  dispose(): void {
    this.disposed = true;
    // Drop the instance so its linear memory (weights + arena) can be collected.
    this.exports = undefined as unknown as WasmExports;
  }
}

function makeBackend(name: BackendName, variant: WasmVariant): Backend {
  return {
    name,
    async availability(): Promise<Availability> {
      try {
        const s = await variantState(variant);
        const detail = { features: FEATURES_OF[variant], file: s.file };
        return s.module ? { name, available: true, detail } : { name, available: false, reason: s.reason, detail };
      } catch (e) {
        return { name, available: false, reason: `unexpected failure: ${(e as Error).message}` };
      }
    },
    async compile(plan: Plan, _options?: CompileOptions): Promise<Executable> {
      const s = await variantState(variant);
      if (!s.module) {
        throw new MobileNetError('E_BACKEND', `Expected the ${name} backend to be available, but it is not: ${s.reason}. Use backend 'auto' or another backend.`);
      }
      if (!plan || !(plan.constants instanceof Float32Array)) {
        throw new MobileNetError('E_ARG', `Expected a Plan from planGraph() with Float32Array constants, received ${plan === null ? 'null' : typeof plan}. Plan the graph first.`);
      }
      validateProgram(plan.program, plan.constants.length);
      const packed = packPlan(plan.program, plan.constants);
      const threshold = fusionThreshold();
      if (threshold >= 0) markFusedBlocks(packed.program, threshold);
      const instance = await WebAssembly.instantiate(s.module, {
        env: { now: () => performance.now() },
      });
      return new WasmExecutable(name, variant, instance.exports as unknown as WasmExports, packed.program, packed.constants);
    },
  };
}

/**
 * The wasm backend built with relaxed SIMD (f32x4.relaxed_madd = FMA in the hot loops). Available on
 * Node 22+, Chromium 114+, or Node 20 with --experimental-wasm-relaxed-simd.
 *
 * @example
 * const exe = await wasmRelaxedBackend.compile(planGraph(graph));
 * const [probs] = await exe.run(input, 1);
 */
export const wasmRelaxedBackend: Backend = makeBackend('wasm-relaxed', 'relaxed');

/**
 * The wasm backend built for plain WebAssembly SIMD (simd128): runs on every engine with SIMD.
 *
 * @example
 * if ((await wasmSimdBackend.availability()).available) exe = await wasmSimdBackend.compile(plan);
 */
export const wasmSimdBackend: Backend = makeBackend('wasm-simd', 'simd');
