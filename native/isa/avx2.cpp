// The avx2 translation unit: the one place compiled with this ISA's flags. It instantiates every
// kernel of native/kernels/*.inc against native/simd/avx2.h inside namespace mbn::avx2.
#include <math.h>
#include <string.h>

#include "../contract.h"
#include "../kernels/kernels.h"
#include "../simd/avx2.h"

#define MBN_STR_avx2 "avx2"

namespace mbn {
namespace MBN_ISA_NS {
namespace {
#include "../kernels/common.inc"
#include "../kernels/pwconv.inc"
#include "../kernels/conv2d.inc"
#include "../kernels/dwconv.inc"
#include "../kernels/add.inc"
#include "../kernels/gavgpool.inc"
#include "../kernels/scale.inc"
#include "../kernels/softmax.inc"
#include "../kernels/affine.inc"
#include "../kernels/lookup.inc"
#include "../kernels/block.inc"
#include "../kernels/peak.inc"
#include "../kernels/table.inc"
