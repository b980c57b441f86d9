// Program validation (every offset and shape checked against the arena and constants, so a bad program
// is an error message, never an out-of-bounds write), weight packing, and the step loop of one run.
#include "executable.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "contract.h"

namespace mbn {

constexpr int MAX_FUSED_KERNEL = 64;  // the block kernel's ring has one row per kernel row
// Tasks per thread, claimed dynamically (a thread that runs late just claims nothing). Measured: 2
// per thread balanced no better on a shared machine and costs fused blocks their ring restarts, so 1.
// Scratch is per task (tasks of one step may run at once on any thread).
constexpr int kTasksPerThread = 1;
int max_tasks_for(int threads) { return threads == 1 ? 1 : kTasksPerThread * threads; }

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

bool AlignedBuffer::resize(size_t floats) {
  std::free(data_);
  data_ = nullptr;
  size_ = 0;
  // 64 spare floats: vector loads of a tensor's last block never leave the allocation
  size_t bytes = ((floats + 64) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) return false;
  std::memset(p, 0, bytes);
  data_ = static_cast<float*>(p);
  size_ = floats;
  return true;
}

namespace {

std::string at(size_t i, const char* what) { return "step " + std::to_string(i) + ": " + what; }

bool in_range(long long off, long long len, long long limit) { return off >= 0 && len >= 0 && off + len <= limit; }

}  // namespace

std::unique_ptr<Executable> Executable::compile(const int32_t* program, size_t words, const float* constants,
                                                size_t nconst, const KernelTable* table, int threads,
                                                std::string& error, const char* fuse_policy) {
  if (words < (size_t)HEADER_WORDS) {
    error = "expected a program of at least " + std::to_string(HEADER_WORDS) + " int32 words, received " + std::to_string(words);
    return nullptr;
  }
  if (program[H_magic] != PROGRAM_MAGIC || program[H_version] != PROGRAM_VERSION) {
    error = "expected program magic 0x314e424d version 1, received magic " + std::to_string(program[H_magic]) +
            " version " + std::to_string(program[H_version]);
    return nullptr;
  }
  const long long steps = program[H_stepCount];
  if (steps < 0 || (size_t)(HEADER_WORDS + steps * STEP_WORDS) != words) {
    error = "expected " + std::to_string(HEADER_WORDS) + " + stepCount x " + std::to_string(STEP_WORDS) +
            " words, received " + std::to_string(words) + " words for stepCount " + std::to_string(steps);
    return nullptr;
  }
  if (threads < 1 || threads > 256) {
    error = "expected threads in [1, 256], received " + std::to_string(threads);
    return nullptr;
  }
  const long long arena = program[H_arenaFloatsPerImage];
  const long long input_off = program[H_inputOffset], input_len = program[H_inputFloatsPerImage];
  const int nout = program[H_outputCount];
  if (arena <= 0 || !in_range(input_off, input_len, arena) || input_len <= 0 || nout < 1 || nout > MAX_OUTPUTS) {
    error = "expected a positive arena holding the input and 1.." + std::to_string(MAX_OUTPUTS) +
            " outputs, received arena " + std::to_string(arena) + ", input at " + std::to_string(input_off) + "+" +
            std::to_string(input_len) + ", " + std::to_string(nout) + " outputs";
    return nullptr;
  }
  std::unique_ptr<Executable> exe(new Executable(table, threads));
  exe->arena_floats_ = (int32_t)arena;
  exe->input_offset_ = (int32_t)input_off;
  exe->input_floats_ = (int32_t)input_len;
  for (int k = 0; k < nout; k++) {
    int32_t off = program[H_outputs + 2 * k], len = program[H_outputs + 2 * k + 1];
    if (!in_range(off, len, arena) || len <= 0) {
      error = "output " + std::to_string(k) + " at " + std::to_string(off) + "+" + std::to_string(len) +
              " lies outside the arena of " + std::to_string(arena) + " floats";
      return nullptr;
    }
    exe->outputs_.push_back({off, len});
  }
  exe->constants_.assign(constants, constants + nconst);
  const float* K = exe->constants_.data();
  const long long NC = (long long)nconst;

  size_t packed_total = 0, scratch = 0;
  std::vector<size_t> packed_at;
  for (long long i = 0; i < steps; i++) {
    const int32_t* w = program + HEADER_WORDS + i * STEP_WORDS;
    StepDesc s{};
    s.op = w[P_op];
    s.act = w[P_act];
    s.in0 = w[P_in0];
    s.in1 = w[P_in1];
    s.out = w[P_out];
    s.inH = w[P_inH];
    s.inW = w[P_inW];
    s.inC = w[P_inC];
    s.outH = w[P_outH];
    s.outW = w[P_outW];
    s.outC = w[P_outC];
    s.kH = w[P_kH];
    s.kW = w[P_kW];
    s.strideH = w[P_strideH];
    s.strideW = w[P_strideW];
    s.padTop = w[P_padTop];
    s.padLeft = w[P_padLeft];
    s.paramLen = w[P_paramLen];
    std::memcpy(&s.min, &w[P_min], 4);
    std::memcpy(&s.max, &w[P_max], 4);
    std::memcpy(&s.beta, &w[P_beta], 4);
    s.res = -1;
    s.act2 = ACT_none;
    s.min2 = -INFINITY;
    s.max2 = INFINITY;
    if (s.op < 1 || s.op >= OP_SLOTS) {
      error = at(i, "unknown op code ") + std::to_string(s.op) + " (expected 1..9: conv2d, dwconv, pwconv, add, gavgpool, scale, softmax, affine, lookup)";
      return nullptr;
    }
    if (s.act < ACT_none || s.act > ACT_sigmoid) {
      error = at(i, "unknown activation code ") + std::to_string(s.act) + " (expected 0..3)";
      return nullptr;
    }
    if (std::isnan(s.min) || std::isnan(s.max) || s.min > s.max) {
      error = at(i, "expected a clamp with min <= max");
      return nullptr;
    }
    const long long in_len = (long long)s.inH * s.inW * s.inC, out_len = (long long)s.outH * s.outW * s.outC;
    if (s.inH <= 0 || s.inW <= 0 || s.inC <= 0 || s.outH <= 0 || s.outW <= 0 || s.outC <= 0) {
      error = at(i, "expected positive input and output shapes");
      return nullptr;
    }
    if (!in_range(s.in0, in_len, arena) || !in_range(s.out, out_len, arena)) {
      error = at(i, "input or output tensor lies outside the arena");
      return nullptr;
    }
    bool shapes_ok = true, has_weights = false;
    long long wlen = 0, blen = 0;
    switch (s.op) {
      case OP_conv2d:
      case OP_dwconv:
        shapes_ok = s.kH > 0 && s.kW > 0 && s.kH <= 64 && s.kW <= 64 && s.strideH > 0 && s.strideW > 0 &&
                    s.padTop >= 0 && s.padLeft >= 0 &&
                    (s.op == OP_conv2d || s.outC == s.inC);
        has_weights = true;
        wlen = (long long)s.kH * s.kW * s.inC * (s.op == OP_conv2d ? s.outC : 1);
        blen = s.outC;
        break;
      case OP_pwconv:
        shapes_ok = s.outH == s.inH && s.outW == s.inW;
        has_weights = true;
        wlen = (long long)s.inC * s.outC;
        blen = s.outC;
        break;
      case OP_add:
        shapes_ok = out_len == in_len && in_range(s.in1, in_len, arena);
        break;
      case OP_gavgpool:
        shapes_ok = s.outH == 1 && s.outW == 1 && s.outC == s.inC;
        break;
      case OP_scale:
        shapes_ok = out_len == in_len && s.outC == s.inC && in_range(s.in1, s.inC, arena);
        break;
      case OP_softmax:
        shapes_ok = out_len == in_len && s.outC == s.inC;
        break;
      case OP_affine:
        shapes_ok = out_len == in_len && s.outC == s.inC && (s.paramLen == 1 || s.paramLen == s.inC) &&
                    in_range(w[P_weights], s.paramLen, NC) && in_range(w[P_bias], s.paramLen, NC);
        if (shapes_ok) {
          s.raw_weights = K + w[P_weights];
          s.raw_bias = K + w[P_bias];
        }
        break;
      case OP_lookup:
        // table of paramLen values and the index map [mul, add]
        shapes_ok = out_len == in_len && s.outC == s.inC && s.paramLen >= 1 &&
                    in_range(w[P_weights], s.paramLen, NC) && in_range(w[P_bias], 2, NC);
        if (shapes_ok) {
          s.raw_weights = K + w[P_weights];
          s.raw_bias = K + w[P_bias];
        }
        break;
    }
    if (!shapes_ok) {
      error = at(i, "inconsistent shapes or parameters for op ") + std::to_string(s.op);
      return nullptr;
    }
    if (has_weights) {
      if (!in_range(w[P_weights], wlen, NC) || !in_range(w[P_bias], blen, NC)) {
        error = at(i, "weights or bias lie outside the constants (") + std::to_string(nconst) + " floats)";
        return nullptr;
      }
      s.raw_weights = K + w[P_weights];
      s.raw_bias = K + w[P_bias];
    }
    const OpKernel& k = table->ops[s.op];
    packed_at.push_back(packed_total);
    packed_total += (k.packed_floats(s) + 15) / 16 * 16;
    scratch = std::max(scratch, (k.scratch_floats(s) + 15) / 16 * 16);
    exe->steps_.push_back(s);
  }
  exe->absorb_adds(fuse_policy);
  exe->plan_fusion(fuse_policy);
  for (const Unit& u : exe->units_) {
    if (u.count > 1) {
      const StepDesc* expand = u.count == 3 ? &exe->steps_[u.first] : nullptr;
      const StepDesc& dw = exe->steps_[u.first + u.count - 2];
      scratch = std::max(scratch, (table->block.scratch_floats(expand, dw) + 15) / 16 * 16);
    }
    if (u.trailing && threads > 1) {
      const StepDesc& p = exe->steps_[u.first + u.count - 1];
      exe->spill_per_image_ = std::max(exe->spill_per_image_, (size_t)p.outH * p.outW * p.outC);
    }
  }
  if (!exe->packed_.resize(packed_total) || !exe->scratch_.resize(scratch * max_tasks_for(threads))) {
    error = "out of memory packing " + std::to_string(packed_total) + " floats of weights";
    return nullptr;
  }
  exe->scratch_per_thread_ = scratch;
  for (size_t i = 0; i < exe->steps_.size(); i++) {
    StepDesc& s = exe->steps_[i];
    const OpKernel& k = table->ops[s.op];
    if (k.packed_floats(s) > 0) {
      float* dst = exe->packed_.data() + packed_at[i];
      k.pack(s, s.raw_weights, s.raw_bias, dst);
      s.packed = dst;
    }
  }
  if (!exe->reserve(1, error)) return nullptr;
  return exe;
}

bool Executable::reserve(int batch, std::string& error) {
  if (batch <= arena_batch_) return true;
  if (batch < 1 || (long long)batch * arena_floats_ > (1LL << 34)) {
    error = "batch " + std::to_string(batch) + " needs an arena larger than 64 GiB";
    return false;
  }
  if (!arena_.resize((size_t)arena_floats_ * batch) || !spill_.resize(spill_per_image_ * batch)) {
    error = "out of memory allocating the arena for batch " + std::to_string(batch);
    arena_batch_ = 0;
    return false;
  }
  arena_batch_ = batch;
  return true;
}

namespace {

struct Region {
  long long off, len;
};
bool overlaps(Region a, Region b) { return a.off < b.off + b.len && b.off < a.off + a.len; }
long long in_len(const StepDesc& s) { return (long long)s.inH * s.inW * s.inC; }
long long out_len(const StepDesc& s) { return (long long)s.outH * s.outW * s.outC; }
void step_reads(const StepDesc& s, Region* r, int* n) {
  *n = 0;
  r[(*n)++] = {s.in0, in_len(s)};
  if (s.op == OP_add) r[(*n)++] = {s.in1, in_len(s)};
  if (s.res >= 0) r[(*n)++] = {s.res, out_len(s)};
  if (s.op == OP_scale) r[(*n)++] = {s.in1, s.inC};
}

}  // namespace

int Executable::fused_units(int count) const {
  int n = 0;
  for (const Unit& u : units_) n += u.count == count;
  return n;
}

// True when nothing reads `region` from step `from` on before a step writes over it, and it is no output.
// Reads that lie wholly inside `rewritten` (memory the caller's unit stores anew) do not count.
bool Executable::dead_from(long long off, long long len, size_t from, long long rw_off, long long rw_len) const {
  const Region region{off, len};
  auto inside_rewritten = [&](Region r) { return rw_len > 0 && rw_off <= r.off && r.off + r.len <= rw_off + rw_len; };
  for (size_t j = from; j < steps_.size(); j++) {
    if (absorbed_[j]) continue;
    Region r[3];
    int n;
    step_reads(steps_[j], r, &n);
    for (int k = 0; k < n; k++)
      if (overlaps(region, r[k]) && !inside_rewritten(r[k])) return false;
    if (overlaps(region, {steps_[j].out, out_len(steps_[j])})) return true;
  }
  // not overwritten by the end: the caller reads the outputs
  for (const Output& o : outputs_)
    if (overlaps(region, {o.offset, o.floats}) && !inside_rewritten({o.offset, o.floats})) return false;
  return true;
}

// Folds `pwconv; add(pwconv output, r)` into the pwconv: it stores its result plus r (then the add's own
// epilogue) at the add's output. One pass over the tensor and one thread join fewer per residual
// connection (MobileNetV2 has 10), with the add's float operations unchanged. Only where the pwconv's
// own output is dead after the add (or is the add's output), the add's output does not overlap the
// pwconv's input (tasks would overwrite rows others still read) and r is either exactly the add's output
// (in place) or apart from it.
void Executable::absorb_adds(const char* policy) {
  absorbed_.assign(steps_.size(), false);
  if (policy && std::strcmp(policy, "off") == 0) return;
  for (size_t i = 0; i + 1 < steps_.size(); i++) {
    StepDesc &p = steps_[i], &a = steps_[i + 1];
    if (p.op != OP_pwconv || a.op != OP_add || p.res >= 0 || in_len(a) != out_len(p)) continue;
    if (a.in0 != p.out && a.in1 != p.out) continue;
    const int32_t r = a.in0 == p.out ? a.in1 : a.in0;
    const long long n = out_len(p);
    const Region A{a.out, n}, R{r, n};
    if (r == p.out || overlaps(A, {p.in0, in_len(p)}) || (overlaps(A, R) && a.out != r)) continue;
    if (a.out != p.out && !dead_from(p.out, n, i + 2)) continue;  // in place over p.out: nothing else to check
    p.res = r;
    p.act2 = a.act;
    p.min2 = a.min;
    p.max2 = a.max;
    p.out = a.out;
    absorbed_[i + 1] = true;
  }
}

// For blocks whose output reuses their input's memory (the planner gives a dead input's memory to the
// project output, e.g. MobileNetV2 block_1: its 56x56x24 output goes where its 112x112x16 input was):
// true when one task storing output rows [0, qend) in order never writes over input rows it has yet to
// read, nor over input rows from `guard_row` on (global input row over the batch; another task's).
static bool trailing_safe(const StepDesc& e, const StepDesc& d, const StepDesc& p, int N, long long qend,
                          long long guard_row) {
  const long long I = (long long)e.in0 * N, P = (long long)p.out * N;
  const long long in_row = (long long)e.inW * e.inC, out_row = (long long)p.outW * p.outC;
  if (qend > 0 && P + qend * out_row > I + guard_row * in_row) return false;
  for (long long q = 0; q < qend; q++) {
    const long long n = q / d.outH, oy = q % d.outH;
    const long long last = std::min<long long>(d.inH - 1, oy * d.strideH - d.padTop + d.kH - 1);
    // input rows after `last` of image n, and all later images, are still unread when row q is stored
    if (P + (q + 1) * out_row > I + (n * e.inH + last + 1) * in_row) return false;
  }
  return true;
}

// Tasks a trailing block runs on at this batch size (1, or 2 with the second spilling), 0 = run unfused.
int Executable::trailing_tasks(const Unit& u, int batch) const {
  // a pair's depthwise reads its own input rows: it is its own "expand" here
  const StepDesc &d = steps_[u.first + u.count - 2], &p = steps_[u.first + u.count - 1];
  const StepDesc& e = u.count == 3 ? steps_[u.first] : d;
  const long long rows = (long long)batch * d.outH, in_rows = (long long)batch * e.inH;
  // planning (spill not sized yet) or the spill holds this batch's output
  const bool spill_ok = spill_per_image_ == 0 || spill_.size() >= (size_t)batch * spill_per_image_;
  if (pool_.threads() > 1 && rows >= 2 && spill_ok) {
    const long long q0 = rows / 2;  // task 1's rows are [q0, rows), as block_run splits them
    const long long n = q0 / d.outH, oy = q0 % d.outH;
    const long long first = n * e.inH + std::max<long long>(0, oy * d.strideH - d.padTop);
    if (trailing_safe(e, d, p, batch, q0, first)) return 2;
  }
  return trailing_safe(e, d, p, batch, rows, in_rows) ? 1 : 0;
}

// A pwconv -> dwconv -> pwconv block at step i (3, or 0 = none); sets *trailing when its output overlaps
// its input. Without `all`, only chains whose expanded tensor is too big for L2 (that is where
// materializing it costs memory traffic) and that really expand.
int Executable::block_at(size_t i, bool all, bool* trailing) const {
  *trailing = false;
  if (i + 2 >= steps_.size() || absorbed_[i]) return 0;
  const StepDesc &e = steps_[i], &d = steps_[i + 1], &p = steps_[i + 2];
  bool fuse = e.op == OP_pwconv && d.op == OP_dwconv && p.op == OP_pwconv && d.in0 == e.out && p.in0 == d.out &&
              e.outH == d.inH && e.outW == d.inW && e.outC == d.inC && p.inH == d.outH && p.inW == d.outW &&
              p.inC == d.outC && d.kH <= MAX_FUSED_KERNEL && (all || (out_len(e) >= 150000 && e.outC >= 2 * e.inC));
  // an output over the block's own input: only where its rows trail (trailing_tasks; batch 1 here,
  // rechecked per batch at run time)
  *trailing = fuse && overlaps({p.out, out_len(p)}, {e.in0, in_len(e)});
  if (*trailing) fuse = trailing_tasks({(int)i, 3, true}, 1) > 0;
  return fuse && intermediates_dead(i, 2, i + 3) ? 3 : 0;
}

// A dwconv -> pwconv pair at step i whose depthwise output is too big to stay in L2 (that round trip is
// what fusing saves); trailing rows as for blocks when its output overlaps its input.
bool Executable::pair_at(size_t i, bool all, bool* trailing) const {
  *trailing = false;
  if (i + 1 >= steps_.size() || absorbed_[i]) return false;
  const StepDesc &d = steps_[i], &p = steps_[i + 1];
  bool fuse = d.op == OP_dwconv && p.op == OP_pwconv && p.in0 == d.out && p.inH == d.outH && p.inW == d.outW &&
              p.inC == d.outC && d.kH <= MAX_FUSED_KERNEL && (all || out_len(d) >= 150000);
  *trailing = fuse && overlaps({p.out, out_len(p)}, {d.in0, in_len(d)});
  if (*trailing) fuse = trailing_tasks({(int)i, 2, true}, 1) > 0;
  return fuse && intermediates_dead(i, 1, i + 2);
}

// The outputs of steps [i, i + count) are dead after the fused unit ending before step `next`: its final
// output covers them, or no later read comes before a later write.
bool Executable::intermediates_dead(size_t i, int count, size_t next) const {
  const StepDesc& last = steps_[next - 1];
  const Region out{last.out, out_len(last)};
  for (int t = 0; t < count; t++) {
    const Region mid{steps_[i + t].out, out_len(steps_[i + t])};
    const bool covered = out.off <= mid.off && mid.off + mid.len <= out.off + out.len;
    if (!covered && !dead_from(mid.off, mid.len, next, out.off, out.len)) return false;
  }
  return true;
}

// Groups the steps into units: fused blocks and pairs whose intermediates nobody else reads (offsets are
// per image and scale uniformly with the batch, so per-image overlap tests hold for every batch size).
// policy: "off" = never fuse, "all" = every legal chain (tests), default = where it saves memory traffic
// (see block_at, pair_at). Greedy over the program; a pair yields to a block starting at its own pwconv
// (MobileNetV1's dw1 -> [pw1 -> dw2 -> pw2]: the block keeps the larger tensor in cache).
void Executable::plan_fusion(const char* policy) {
  const bool off = policy && std::strcmp(policy, "off") == 0, all = policy && std::strcmp(policy, "all") == 0;
  const size_t S = steps_.size();
  units_.clear();
  for (size_t i = 0; i < S;) {
    if (absorbed_[i]) {  // runs inside the pwconv before it
      i++;
      continue;
    }
    bool trailing = false, next_trailing = false;
    int count = off ? 1 : block_at(i, all, &trailing);
    if (!off && count == 0) count = pair_at(i, all, &trailing) && block_at(i + 1, all, &next_trailing) == 0 ? 2 : 1;
    units_.push_back({(int)i, count, count > 1 && trailing});
    i += count;
  }
}

void Executable::block_entry(void* ctx, int task) {
  Executable* self = static_cast<Executable*>(ctx);
  const StepDesc* s = self->job_step_;
  float* scratch = self->scratch_.data() + self->scratch_per_thread_ * task;
  const StepDesc* expand = self->job_count_ == 3 ? s++ : nullptr;  // a pair starts at its dwconv
  self->table_->block.run(expand, &s[0], &s[1], self->job_batch_, self->arena_.data(), task, self->job_tasks_, scratch,
                          task == 1 ? self->job_spill_ : nullptr);
}

const float* Executable::output(int k, int batch) const {
  return arena_.data() + (size_t)outputs_[k].offset * batch;
}

void Executable::task_entry(void* ctx, int task) {
  Executable* self = static_cast<Executable*>(ctx);
  const StepDesc& s = *self->job_step_;
  float* scratch = self->scratch_.data() + self->scratch_per_thread_ * task;
  self->table_->ops[s.op].run(s, self->job_batch_, self->arena_.data(), task, self->job_tasks_, scratch);
}

long long Executable::load_input(int batch, const float* input) {
  const size_t n = (size_t)input_floats_ * batch;
  // one pass copies and checks: all-ones exponent = NaN or +-Infinity; an integer OR over the bits
  // vectorizes (a float sum would not)
  uint32_t exponents = 0;
  const uint32_t* src = reinterpret_cast<const uint32_t*>(input);
  uint32_t* bits = reinterpret_cast<uint32_t*>(arena_.data() + (size_t)input_offset_ * batch);
  for (size_t i = 0; i < n; i++) {
    const uint32_t b = src[i];
    bits[i] = b;
    exponents |= ((b & 0x7f800000u) == 0x7f800000u);
  }
  if (!exponents) return -1;
  for (size_t i = 0; i < n; i++)
    if ((bits[i] & 0x7f800000u) == 0x7f800000u) return (long long)i;
  return -1;
}

void Executable::run(int batch, const float* input, double* step_ms) {
  if (input) load_input(batch, input);
  job_batch_ = batch;
  for (const Unit& u : units_) {
    auto t0 = std::chrono::steady_clock::now();
    const StepDesc& s = steps_[u.first];
    const int trailing = u.count > 1 && u.trailing ? trailing_tasks(u, batch) : -1;
    if (u.count > 1 && trailing != 0) {
      job_step_ = &s;
      job_count_ = u.count;
      const StepDesc& dw = steps_[u.first + u.count - 2];
      job_tasks_ = trailing > 0 ? trailing : std::max(1, std::min(max_tasks_for(pool_.threads()), batch * dw.outH));
      job_spill_ = trailing == 2 ? spill_.data() : nullptr;
      pool_.run(job_tasks_, block_entry, this);
      if (trailing == 2) {
        // task 1 stored rows [rows / 2, rows) in the spill; every input row has been read by now
        const StepDesc& p = steps_[u.first + u.count - 1];
        const size_t rows = (size_t)batch * steps_[u.first + u.count - 2].outH, row_floats = (size_t)p.outW * p.outC;
        std::memcpy(arena_.data() + (size_t)p.out * batch + rows / 2 * row_floats, spill_.data(),
                    sizeof(float) * (rows - rows / 2) * row_floats);
      }
    } else {
      for (int k = 0; k < u.count; k++) {
        const StepDesc& sk = steps_[u.first + k];
        job_step_ = &sk;
        int tasks = std::min(max_tasks_for(pool_.threads()), table_->ops[sk.op].max_tasks(sk, batch));
        job_tasks_ = tasks < 1 ? 1 : tasks;
        pool_.run(job_tasks_, task_entry, this);
      }
    }
    // a fused block's time is reported on its first step, 0 on the others
    if (step_ms) {
      // an absorbed add after this unit reports 0: its time is inside the pwconv's
      if ((size_t)(u.first + u.count) < steps_.size() && absorbed_[u.first + u.count]) step_ms[u.first + u.count] = 0;
      step_ms[u.first] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      for (int k = 1; k < u.count; k++) step_ms[u.first + k] = 0;
    }
  }
}

}  // namespace mbn
