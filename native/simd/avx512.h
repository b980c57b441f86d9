// Thin static-inline AVX-512F wrappers (16 fp32 lanes, k-masks for tails). Included only by
// native/isa/avx512.cpp; everything has internal linkage inside mbn::avx512 so no AVX-512 code can be
// merged into baseline paths by the linker.
#pragma once
#include <immintrin.h>

#define MBN_ISA_NS avx512
// register blocking of the GEMM microkernel: MR pixels x NV vectors of Cout (7 x 32 = 14 zmm
// accumulators; 7 divides every MobileNet feature-map width from 7 up). With the tile's epilogue out of
// line, 7 rows beat 14 on every MobileNet layer shape (Zen 4, one thread: 56x56 64->128 109 -> 112
// GFLOP/s, 112x112 32->64 103 -> 108, 7x7 1024->1024 114 -> 115): 14 row pointers do not fit in
// registers, so the 14-row tile reloaded some from the stack every k step.
#ifndef MBN_GEMM_MR
#define MBN_GEMM_MR 7
#endif
#ifndef MBN_GEMM_PAD_K
// x rows are copied to a padded stride when K is a multiple of this (see gemm_pads_rows); at K = 512
// the copy measured 2-3% slower than none on AMD Zen 4 (14x14 512->512), at 1024 25% faster
#define MBN_GEMM_PAD_K 1024
#endif
#ifndef MBN_GEMM_NV
#define MBN_GEMM_NV 2
#endif

namespace mbn {
namespace avx512 {
namespace {
using V = __m512;
using M = __mmask16;
constexpr int L = 16;
inline V zero() { return _mm512_setzero_ps(); }
inline V set1(float x) { return _mm512_set1_ps(x); }
inline V load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
// min(max(v, lo), hi), except that a NaN v stays NaN (maxps alone returns lo for it), as in the reference
inline V vclamp(V v, V lo, V hi) { return _mm512_mask_mov_ps(_mm512_min_ps(_mm512_max_ps(v, lo), hi), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v); }
inline M mask_n(int n) { return static_cast<M>(n >= L ? 0xFFFFu : ((1u << n) - 1u)); }
inline V load_m(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store_m(float* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
// half vectors (8 lanes) for the GEMM's odd panel widths (see MBN_HALF_VECTORS in kernels/pwconv.inc)
#define MBN_HALF_VECTORS 1
using VH = __m256;
inline VH lo_half(V v) { return _mm512_castps512_ps256(v); }
inline VH h_load(const float* p) { return _mm256_loadu_ps(p); }
inline VH h_fmadd(VH a, VH b, VH c) { return _mm256_fmadd_ps(a, b, c); }
inline VH h_clamp(VH v, V lo, V hi) {
  return _mm256_mask_mov_ps(_mm256_min_ps(_mm256_max_ps(v, lo_half(lo)), lo_half(hi)), _mm256_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}
inline void h_store(float* p, VH v) { _mm256_storeu_ps(p, v); }
inline void h_store_n(float* p, VH v, int n) { _mm256_mask_storeu_ps(p, (__mmask8)((1u << n) - 1u), v); }
}  // namespace
}  // namespace avx512
}  // namespace mbn
