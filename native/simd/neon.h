// Thin static-inline NEON (AArch64 ASIMD) wrappers: 4 fp32 lanes, lane masks for tails. Included only by
// native/isa/neon.cpp; internal linkage inside mbn::neon. AArch64 always has ASIMD, so no runtime check.
#pragma once
#include <arm_neon.h>

#define MBN_ISA_NS neon
// 8 pixels x 3 vectors (12 channels) = 24 of the 32 q registers as accumulators
#define MBN_GEMM_MR 8
#ifndef MBN_GEMM_PAD_K
// x rows are copied to a padded stride when K is a multiple of this (see gemm_pads_rows)
#define MBN_GEMM_PAD_K 1024
#endif
#define MBN_GEMM_NV 3

namespace mbn {
namespace neon {
namespace {
using V = float32x4_t;
using M = uint32x4_t;
constexpr int L = 4;
inline V zero() { return vdupq_n_f32(0.0f); }
inline V set1(float x) { return vdupq_n_f32(x); }
inline V load(const float* p) { return vld1q_f32(p); }
inline void store(float* p, V v) { vst1q_f32(p, v); }
inline V fmadd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
inline V add(V a, V b) { return vaddq_f32(a, b); }
inline V mul(V a, V b) { return vmulq_f32(a, b); }
inline V vmin(V a, V b) { return vminq_f32(a, b); }
inline V vmax(V a, V b) { return vmaxq_f32(a, b); }
// min(max(v, lo), hi); FMAX/FMIN already return NaN for a NaN operand, as the reference does
inline V vclamp(V v, V lo, V hi) { return vminq_f32(vmaxq_f32(v, lo), hi); }
inline M mask_n(int n) {
  const uint32_t lanes[4] = {0, 1, 2, 3};
  return vcltq_u32(vld1q_u32(lanes), vdupq_n_u32((uint32_t)(n < 0 ? 0 : n)));
}
// Tails never touch memory past the mask: lanes are moved one by one.
inline V load_m(const float* p, M m) {
  float t[4] = {0, 0, 0, 0};
  uint32_t mm[4];
  vst1q_u32(mm, m);
  for (int i = 0; i < 4; i++)
    if (mm[i]) t[i] = p[i];
  return vld1q_f32(t);
}
inline void store_m(float* p, V v, M m) {
  float t[4];
  uint32_t mm[4];
  vst1q_f32(t, v);
  vst1q_u32(mm, m);
  for (int i = 0; i < 4; i++)
    if (mm[i]) p[i] = t[i];
}
}  // namespace
}  // namespace neon
}  // namespace mbn
