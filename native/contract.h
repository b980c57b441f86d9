// The kernel contract mirrored from lib/kernels/contract.ts (same names, same values); the addon exports
// these numbers through contract() and test/native.test.ts checks them against the TypeScript originals.
#pragma once
#include <cstdint>

namespace mbn {

enum Op : int32_t {
  OP_conv2d = 1,
  OP_dwconv = 2,
  OP_pwconv = 3,
  OP_add = 4,
  OP_gavgpool = 5,
  OP_scale = 6,
  OP_softmax = 7,
  OP_affine = 8,
  OP_lookup = 9,
};

// Epilogue nonlinearity applied after bias, before the clamp [min, max] (ReLU/ReLU6 are a clamp).
enum Act : int32_t {
  ACT_none = 0,
  ACT_hswish = 1,    // x * clamp(x/6 + 1/2, 0, 1)  (arXiv 1905.02244)
  ACT_hsigmoid = 2,  // clamp(x/6 + 1/2, 0, 1)      (arXiv 1905.02244)
  ACT_sigmoid = 3,
};

enum Header : int32_t {
  H_magic = 0,
  H_version = 1,
  H_stepCount = 2,
  H_arenaFloatsPerImage = 3,
  H_inputOffset = 4,
  H_inputFloatsPerImage = 5,
  H_outputCount = 6,
  H_outputs = 7,
};

enum Param : int32_t {
  P_op = 0,
  P_act = 1,
  P_in0 = 2,
  P_in1 = 3,
  P_out = 4,
  P_inH = 5,
  P_inW = 6,
  P_inC = 7,
  P_outH = 8,
  P_outW = 9,
  P_outC = 10,
  P_kH = 11,
  P_kW = 12,
  P_strideH = 13,
  P_strideW = 14,
  P_padTop = 15,
  P_padLeft = 16,
  P_weights = 17,
  P_bias = 18,
  P_paramLen = 19,
  P_min = 20,
  P_max = 21,
  P_beta = 22,
  P_reserved = 23,
};

constexpr int32_t MAX_OUTPUTS = 4;
constexpr int32_t HEADER_WORDS = 16;
constexpr int32_t STEP_WORDS = 24;
constexpr int32_t PROGRAM_MAGIC = 0x314e424d;  // "MBN1" little-endian
constexpr int32_t PROGRAM_VERSION = 1;
constexpr int32_t CONSTANT_ALIGN_FLOATS = 16;
constexpr int32_t ARENA_ALIGN_FLOATS = 16;

}  // namespace mbn
