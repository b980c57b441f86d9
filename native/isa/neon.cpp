// The neon translation unit: the one place compiled with this ISA's flags. It instantiates every
// kernel of native/kernels/*.inc against native/simd/neon.h inside namespace mbn::neon.
#include <math.h>
#include <string.h>

#include "../contract.h"
#include "../kernels/kernels.h"
#include "../simd/neon.h"

#define MBN_STR_neon "neon"

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
