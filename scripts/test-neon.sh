#!/usr/bin/env sh
# Cross-builds the native kernel tests for AArch64 (NEON + scalar) and runs them under qemu-user:
# `npm run test:neon`. Needs the Debian packages g++-aarch64-linux-gnu and qemu-user.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/neon
aarch64-linux-gnu-g++ -std=c++17 -O2 -static -pthread -Wall -DMBN_HAVE_NEON \
  native/test/kernels_test.cpp native/cpu.cpp native/executable.cpp native/isa/scalar.cpp native/isa/neon.cpp \
  -o build/neon/kernels_test
qemu-aarch64 build/neon/kernels_test
