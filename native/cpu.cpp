// CPU detection with OS support: CPUID says what the core implements, XGETBV says whether the OS saves
// the YMM/ZMM register state on context switches. Both must agree before an ISA is offered.
#include "cpu.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define MBN_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace mbn {
namespace {

#if defined(MBN_X86)
struct X86Features {
  bool avx2_fma = false;
  bool avx512 = false;
  bool os_ymm = false;
  bool os_zmm = false;
};

void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, (int)leaf, (int)sub);
  for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
#endif
}

X86Features detect() {
  X86Features f;
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned max_leaf = r[0];
  if (max_leaf < 1) return f;
  cpuid(1, 0, r);
  bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
  if (!osxsave || !avx) return f;
  unsigned long long xcr0 = xgetbv0();
  f.os_ymm = (xcr0 & 0x6) == 0x6;            // XMM + YMM state
  f.os_zmm = f.os_ymm && (xcr0 & 0xE0) == 0xE0;  // opmask + ZMM_Hi256 + Hi16_ZMM state
  if (max_leaf < 7) return f;
  cpuid(7, 0, r);
  bool avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1, avx512dq = (r[1] >> 17) & 1,
       avx512bw = (r[1] >> 30) & 1, avx512vl = (r[1] >> 31) & 1;
  f.avx2_fma = avx2 && fma && f.os_ymm;
  f.avx512 = f.avx2_fma && avx512f && avx512dq && avx512bw && avx512vl && f.os_zmm;
  return f;
}
#endif

std::vector<IsaEntry> build_entries() {
  std::vector<IsaEntry> v;
#if defined(MBN_X86)
  X86Features f = detect();
#endif
#if defined(MBN_HAVE_AVX512)
  v.push_back({"avx512", mbn_table__avx512, f.avx512,
               f.avx512 ? "" : (f.os_zmm || !f.avx2_fma ? "the CPU lacks AVX-512 F/DQ/BW/VL" : "the OS does not enable ZMM state (XGETBV)")});
#endif
#if defined(MBN_HAVE_AVX2)
  v.push_back({"avx2", mbn_table__avx2, f.avx2_fma, f.avx2_fma ? "" : "the CPU or OS lacks AVX2+FMA (CPUID/XGETBV)"});
#endif
#if defined(MBN_HAVE_NEON)
  v.push_back({"neon", mbn_table__neon, true, ""});
#endif
  v.push_back({"scalar", mbn_table__scalar, true, ""});
  return v;
}

}  // namespace

const std::vector<IsaEntry>& isa_entries() {
  static const std::vector<IsaEntry> entries = build_entries();  // immutable after thread-safe init
  return entries;
}

const KernelTable* find_isa(const std::string& name, std::string& error) {
  std::string compiled;
  for (const IsaEntry& e : isa_entries()) {
    compiled += (compiled.empty() ? "" : ", ") + std::string(e.name);
    if (name != e.name) continue;
    if (!e.cpu_ok) {
      error = "ISA '" + name + "' is compiled in but cannot run here: " + e.why_not;
      return nullptr;
    }
    return e.table();
  }
  error = "ISA '" + name + "' is not compiled into this binary (it has: " + compiled + ")";
  return nullptr;
}

}  // namespace mbn
