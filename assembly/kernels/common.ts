// Helpers shared by every kernel (mirrors native/kernels/common.inc): the multiply-add that differs between
// the two builds, and the fused epilogue (nonlinearity, then clamp) so the activation math exists once.
import { Act } from '../contract';

/**
 * acc + a*b. The relaxed build (asc --enable relaxed-simd) emits f32x4.relaxed_madd, which V8 lowers to
 * one FMA; the simd128 build keeps the mul+add pair every engine accepts.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(f32x4.mul(a, b), acc);
}

/** clamp(x/6 + 1/2, 0, 1) on four lanes (h-sigmoid, arXiv 1905.02244). */
// @ts-ignore: decorator
@inline function hsigmoid4(v: v128): v128 {
  const t = f32x4.add(f32x4.div(v, f32x4.splat(6)), f32x4.splat(0.5));
  return f32x4.pmin(f32x4.pmax(t, f32x4.splat(0)), f32x4.splat(1));
}

function sigmoid1(x: f32): f32 {
  return <f32>(1.0 / (1.0 + Math.exp(-<f64>x)));
}

function sigmoid4(v: v128): v128 {
  let r = f32x4.splat(sigmoid1(f32x4.extract_lane(v, 0)));
  r = f32x4.replace_lane(r, 1, sigmoid1(f32x4.extract_lane(v, 1)));
  r = f32x4.replace_lane(r, 2, sigmoid1(f32x4.extract_lane(v, 2)));
  return f32x4.replace_lane(r, 3, sigmoid1(f32x4.extract_lane(v, 3)));
}

/**
 * Nonlinearity `act`, then clamp to [lo, hi]. pmax/pmin keep a NaN input as NaN, like the reference's
 * `y < min ? min : y > max ? max : y`, and lower to single maxps/minps instructions.
 */
// @ts-ignore: decorator
@inline export function epilogue4(v: v128, act: i32, lo: v128, hi: v128): v128 {
  let y = v;
  if (act != Act.none) {
    if (act == Act.hswish) y = f32x4.mul(v, hsigmoid4(v));
    else if (act == Act.hsigmoid) y = hsigmoid4(v);
    else y = sigmoid4(v);
  }
  return f32x4.pmin(f32x4.pmax(y, lo), hi);
}

/** Scalar twin of epilogue4 for channel tails. */
export function epilogue1(x: f32, act: i32, lo: f32, hi: f32): f32 {
  let y = x;
  if (act == Act.hswish) y = x * min(max(x / 6 + 0.5, <f32>0), <f32>1);
  else if (act == Act.hsigmoid) y = min(max(x / 6 + 0.5, <f32>0), <f32>1);
  else if (act == Act.sigmoid) y = sigmoid1(x);
  return y < lo ? lo : y > hi ? hi : y;
}

/** Stores the first n (< 4) lanes of v: the channel tail of a vector whose other lanes are padding. */
export function storeLanes(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Stores min(n, 4) lanes of v. */
// @ts-ignore: decorator
@inline export function storeUpTo4(p: usize, v: v128, n: i32): void {
  if (n >= 4) v128.store(p, v);
  else if (n > 0) storeLanes(p, v, n);
}

/** Stores one 8-channel row of a GEMM tile after the epilogue: nc (1..8) channels are real (pwconv, conv2d). */
// @ts-ignore: decorator
@inline export function store8(y: usize, a: v128, b: v128, nc: i32, act: i32, lo: v128, hi: v128): void {
  const ea = epilogue4(a, act, lo, hi);
  const eb = epilogue4(b, act, lo, hi);
  if (nc >= 8) {
    v128.store(y, ea);
    v128.store(y, eb, 16);
  } else {
    storeUpTo4(y, ea, nc);
    storeUpTo4(y + 16, eb, nc - 4);
  }
}
