// Thin static-inline AVX2+FMA wrappers (8 fp32 lanes, vector masks for tails). Included only by
// native/isa/avx2.cpp; internal linkage inside mbn::avx2.
#pragma once
#include <immintrin.h>

#define MBN_ISA_NS avx2
#define MBN_GEMM_MR 6
#ifndef MBN_GEMM_PAD_K
// x rows are copied to a padded stride when K is a multiple of this (see gemm_pads_rows)
#define MBN_GEMM_PAD_K 1024
#endif
#define MBN_GEMM_NV 2

namespace mbn {
namespace avx2 {
namespace {
using V = __m256;
using M = __m256i;
constexpr int L = 8;
inline V zero() { return _mm256_setzero_ps(); }
inline V set1(float x) { return _mm256_set1_ps(x); }
inline V load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
// min(max(v, lo), hi), except that a NaN v stays NaN (maxps alone returns lo for it), as in the reference
inline V vclamp(V v, V lo, V hi) { return _mm256_blendv_ps(_mm256_min_ps(_mm256_max_ps(v, lo), hi), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }
inline M mask_n(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline V load_m(const float* p, M m) { return _mm256_maskload_ps(p, m); }
inline void store_m(float* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
}  // namespace
}  // namespace avx2
}  // namespace mbn
