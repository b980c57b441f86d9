// The portable baseline: "vectors" of one float, so the same kernel source compiles for any CPU.
// Internal linkage inside mbn::scalar.
#pragma once

#define MBN_ISA_NS scalar
#define MBN_GEMM_MR 4
#ifndef MBN_GEMM_PAD_K
// x rows are copied to a padded stride when K is a multiple of this (see gemm_pads_rows)
#define MBN_GEMM_PAD_K 1024
#endif
#define MBN_GEMM_NV 4

namespace mbn {
namespace scalar {
namespace {
using V = float;
using M = int;
constexpr int L = 1;
inline V zero() { return 0.0f; }
inline V set1(float x) { return x; }
inline V load(const float* p) { return *p; }
inline void store(float* p, V v) { *p = v; }
inline V fmadd(V a, V b, V c) { return a * b + c; }
inline V add(V a, V b) { return a + b; }
inline V mul(V a, V b) { return a * b; }
inline V vmin(V a, V b) { return a < b ? a : b; }
inline V vmax(V a, V b) { return a > b ? a : b; }
// min(max(v, lo), hi), except that a NaN v stays NaN (the comparisons alone return lo for it), as in the reference
inline V vclamp(V v, V lo, V hi) { return v != v ? v : vmin(vmax(v, lo), hi); }
inline M mask_n(int n) { return n > 0 ? 1 : 0; }
inline V load_m(const float* p, M m) { return m ? *p : 0.0f; }
inline void store_m(float* p, V v, M m) {
  if (m) *p = v;
}
}  // namespace
}  // namespace scalar
}  // namespace mbn
