// ISA-independent kernel interface: the decoded step every kernel reads, and the per-ISA table of
// pack/run entry points the runtime dispatches through. Kernel bodies live in kernels/<op>.inc and are
// compiled once per ISA by native/isa/<isa>.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mbn {

// One step of the program, decoded once at compile time. Offsets are per image (multiply by N).
struct StepDesc {
  int32_t op, act, in0, in1, out;
  int32_t inH, inW, inC, outH, outW, outC;
  int32_t kH, kW, strideH, strideW, padTop, padLeft, paramLen;
  float min, max, beta;
  // A following residual add absorbed into this pwconv's epilogue by the runtime (Executable::absorb_adds):
  // y = clamp2(act2(clamp(act(acc)) + arena[res..])), stored at `out` (the add's output). res < 0: none.
  int32_t res, act2;
  float min2, max2;
  const float* raw_weights;  // constants as planned (affine's mul, lookup's table), or null
  const float* raw_bias;     // constants as planned (affine's add, lookup's index map), or null
  const float* packed;       // this ISA's packed weights+bias, or null when the op has none
};

// Entry points of one op on one ISA. A kernel splits its own work into `ntasks` independent parts.
struct OpKernel {
  size_t (*packed_floats)(const StepDesc& s);  // 0 when the op packs nothing
  void (*pack)(const StepDesc& s, const float* weights, const float* bias, float* dst);
  size_t (*scratch_floats)(const StepDesc& s);  // per-thread scratch the run needs
  int (*max_tasks)(const StepDesc& s, int N);
  void (*run)(const StepDesc& s, int N, float* arena, int task, int ntasks, float* scratch);
};

constexpr int OP_SLOTS = 10;  // op codes 1..9 index directly

// pwconv -> dwconv -> pwconv fused row by row (see kernels/block.inc). spill: null, or where this task
// stores its output rows contiguously instead of the arena (the caller copies them after the join).
// expand may be null: a dwconv -> pwconv pair, the depthwise reading its input rows in place.
struct BlockKernel {
  size_t (*scratch_floats)(const StepDesc* expand, const StepDesc& dw);
  void (*run)(const StepDesc* expand, const StepDesc* dw, const StepDesc* project, int N, float* arena, int task,
              int ntasks, float* scratch, float* spill);
};

struct KernelTable {
  const char* isa;
  int lanes;
  OpKernel ops[OP_SLOTS];
  BlockKernel block;
  // FMA throughput probe (kernels/peak.inc): iters rounds of 16 chains x lanes x 2 FLOPs
  float (*peak)(long iters);
};

}  // namespace mbn

extern "C" {
const mbn::KernelTable* mbn_table__scalar(void);
#if defined(MBN_HAVE_AVX2)
const mbn::KernelTable* mbn_table__avx2(void);
#endif
#if defined(MBN_HAVE_AVX512)
const mbn::KernelTable* mbn_table__avx512(void);
#endif
#if defined(MBN_HAVE_NEON)
const mbn::KernelTable* mbn_table__neon(void);
#endif
}
