// CPU feature detection (instruction set AND operating-system register-state support) and the list of
// kernel tables this binary carries, best first.
#pragma once
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace mbn {

struct IsaEntry {
  const char* name;
  const KernelTable* (*table)();
  bool cpu_ok;           // this CPU + OS can execute it
  const char* why_not;   // when !cpu_ok
};

// Every ISA compiled into this binary, best first, with whether this machine can run it.
const std::vector<IsaEntry>& isa_entries();

// The table for `name` if compiled in and runnable; otherwise null and `error` says why.
const KernelTable* find_isa(const std::string& name, std::string& error);

}  // namespace mbn
