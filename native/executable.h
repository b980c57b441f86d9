// A compiled program on one ISA: validated steps, weights packed once into the kernels' layouts, a
// 64-byte aligned arena (grown only between runs), per-thread scratch and its own thread pool.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "pool.h"

namespace mbn {

// 64-byte aligned float buffer (malloc'd once; never resized during a run).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  bool resize(size_t floats);  // discards contents; false when out of memory
  float* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  float* data_ = nullptr;
  size_t size_ = 0;
};

class Executable {
 public:
  // Validates and packs; fuse_policy: null/"auto", "all" or "off" (see plan_fusion). On failure returns null and sets `error` (what is wrong, at which step).
  static std::unique_ptr<Executable> compile(const int32_t* program, size_t program_words,
                                             const float* constants, size_t constant_floats,
                                             const KernelTable* table, int threads, std::string& error,
                                             const char* fuse_policy = nullptr);

  // Makes the arena big enough for `batch` images (call between runs only).
  bool reserve(int batch, std::string& error);
  // One inference over `batch` images; input = batch x input_floats(), or null when load_input()
  // already placed it. step_ms may be null.
  void run(int batch, const float* input, double* step_ms);
  // Copies the input into the arena and returns the index of its first NaN or +-Infinity, or -1 when every
  // value is finite: the check rides on the copy so JS need not scan the tensor a second time. The addon
  // calls it on the JS thread, so the worker never touches JS memory.
  long long load_input(int batch, const float* input);

  int threads() const { return pool_.threads(); }
  const char* isa() const { return table_->isa; }
  size_t step_count() const { return steps_.size(); }
  int fused_blocks() const { return fused_units(3); }
  int fused_pairs() const { return fused_units(2); }  // dwconv -> pwconv pairs
  // residual adds that run inside the pwconv before them (absorb_adds)
  int absorbed_adds() const { return (int)std::count(absorbed_.begin(), absorbed_.end(), true); }
  size_t input_floats() const { return (size_t)input_floats_; }
  int output_count() const { return (int)outputs_.size(); }
  // Output k of the last run: pointer into the arena and floats for `batch` images.
  const float* output(int k, int batch) const;
  size_t output_floats(int k, int batch) const { return (size_t)outputs_[k].floats * batch; }

 private:
  Executable(const KernelTable* table, int threads) : table_(table), pool_(threads) {}
  static void task_entry(void* ctx, int task);

  // Steps [first, first + count) run as one unit: count 1 = one op, 2 = a fused dwconv -> pwconv pair,
  // 3 = a fused pwconv -> dwconv -> pwconv block.
  // trailing: the block's output overlaps its input. Legal on one task whose output rows stay behind
  // the input rows it has yet to read, or on two tasks where the second spills its rows to spill_
  // (copied into place after the join) and the first's rows stay behind the second's input (both
  // checked per batch size at run time: trailing_tasks).
  struct Unit {
    int first, count;
    bool trailing;
  };
  void plan_fusion(const char* policy);
  int fused_units(int count) const;
  int block_at(size_t i, bool all, bool* trailing) const;
  bool pair_at(size_t i, bool all, bool* trailing) const;
  bool intermediates_dead(size_t i, int count, size_t next) const;
  void absorb_adds(const char* policy);
  bool dead_from(long long off, long long len, size_t from, long long rw_off = 0, long long rw_len = 0) const;
  std::vector<bool> absorbed_;  // steps whose work runs inside the step before (absorb_adds)
  static void block_entry(void* ctx, int task);

  const KernelTable* table_;
  std::vector<StepDesc> steps_;
  std::vector<Unit> units_;
  AlignedBuffer packed_;
  std::vector<float> constants_;  // private copy: affine reads planned constants at run time
  AlignedBuffer arena_;
  AlignedBuffer scratch_;
  size_t scratch_per_thread_ = 0;
  AlignedBuffer spill_;          // the spilling task's output rows of a trailing block
  size_t spill_per_image_ = 0;   // floats per image spill_ must hold (0: no trailing block)
  int trailing_tasks(const Unit& u, int batch) const;
  int arena_batch_ = 0;
  int32_t arena_floats_ = 0;
  int32_t input_offset_ = 0;
  int32_t input_floats_ = 0;
  struct Output {
    int32_t offset, floats;
  };
  std::vector<Output> outputs_;
  ThreadPool pool_;
  // current job (valid during run only)
  const StepDesc* job_step_ = nullptr;
  int job_batch_ = 0;
  int job_tasks_ = 0;
  int job_count_ = 0;  // steps in the current fused unit (2: dwconv -> pwconv pair, 3: block)
  float* job_spill_ = nullptr;  // task 1 of a two-task trailing block stores here
};

}  // namespace mbn
