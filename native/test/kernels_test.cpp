// Native kernel tests without Node (the ASan+UBSan target): every op of the contract on every ISA this
// CPU runs, over MobileNet-like and edge shapes x activations, against a naive double-precision
// reference written here from the contract. `--bench` times the MobileNetV2 layer shapes instead.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../contract.h"
#include "../cpu.h"
#include "../executable.h"

using namespace mbn;

namespace {

struct Case {
  int op, act;
  int H, W, C, Cout, K, S, padT, padL, N;
  float lo, hi;
  int paramLen;  // affine
};

int out_dim(int in, int k, int s, int pad_before, int pad_after) { return (in + pad_before + pad_after - k) / s + 1; }

// Builds a one-step program; arena layout: [in0][in1][out] per image.
struct Built {
  std::vector<int32_t> program;
  std::vector<float> constants;
  int outH, outW, outC;
  int in_len, in1_len, out_len;
};

Built build(const Case& c) {
  Built b{};
  int outH = c.H, outW = c.W, outC = c.C;
  int padB = 0, padR = 0;
  if (c.op == OP_conv2d || c.op == OP_dwconv) {
    // TF SAME-like: extra padding at the bottom/right
    int totH = std::max((( c.H + c.S - 1) / c.S - 1) * c.S + c.K - c.H, 0);
    int totW = std::max(((c.W + c.S - 1) / c.S - 1) * c.S + c.K - c.W, 0);
    padB = c.padT >= 0 ? totH - c.padT : 0;
    padR = c.padL >= 0 ? totW - c.padL : 0;
    if (padB < 0) padB = 0;
    if (padR < 0) padR = 0;
    outH = out_dim(c.H, c.K, c.S, c.padT, padB);
    outW = out_dim(c.W, c.K, c.S, c.padL, padR);
  }
  if (c.op == OP_conv2d || c.op == OP_pwconv) outC = c.Cout;
  if (c.op == OP_gavgpool) outH = outW = 1;
  b.outH = outH;
  b.outW = outW;
  b.outC = outC;
  b.in_len = c.H * c.W * c.C;
  b.in1_len = (c.op == OP_add) ? b.in_len : (c.op == OP_scale ? c.C : 0);
  b.out_len = outH * outW * outC;
  auto al = [](int n) { return (n + 15) / 16 * 16; };
  int in0 = 0, in1 = al(b.in_len), out = in1 + al(b.in1_len), arena = out + al(b.out_len);
  b.program.assign(HEADER_WORDS + STEP_WORDS, 0);
  int32_t* h = b.program.data();
  h[H_magic] = PROGRAM_MAGIC;
  h[H_version] = PROGRAM_VERSION;
  h[H_stepCount] = 1;
  h[H_arenaFloatsPerImage] = arena;
  h[H_inputOffset] = 0;
  h[H_inputFloatsPerImage] = in1 + al(b.in1_len);  // input covers in0 and in1
  h[H_outputCount] = 1;
  h[H_outputs] = out;
  h[H_outputs + 1] = b.out_len;
  int32_t* p = h + HEADER_WORDS;
  p[P_op] = c.op;
  p[P_act] = c.act;
  p[P_in0] = in0;
  p[P_in1] = b.in1_len ? in1 : -1;
  p[P_out] = out;
  p[P_inH] = c.H;
  p[P_inW] = c.W;
  p[P_inC] = c.C;
  p[P_outH] = outH;
  p[P_outW] = outW;
  p[P_outC] = outC;
  p[P_kH] = p[P_kW] = (c.op == OP_conv2d || c.op == OP_dwconv) ? c.K : 1;
  p[P_strideH] = p[P_strideW] = (c.op == OP_conv2d || c.op == OP_dwconv) ? c.S : 1;
  p[P_padTop] = std::max(c.padT, 0);
  p[P_padLeft] = std::max(c.padL, 0);
  std::memcpy(&p[P_min], &c.lo, 4);
  std::memcpy(&p[P_max], &c.hi, 4);
  float beta = 1.0f;
  std::memcpy(&p[P_beta], &beta, 4);
  std::mt19937 rng(c.op * 1000 + c.C + c.H);
  std::uniform_real_distribution<float> u(-1, 1);
  size_t wlen = 0, blen = 0;
  if (c.op == OP_conv2d) wlen = (size_t)c.Cout * c.K * c.K * c.C, blen = c.Cout;
  if (c.op == OP_dwconv) wlen = (size_t)c.K * c.K * c.C, blen = c.C;
  if (c.op == OP_pwconv) wlen = (size_t)c.Cout * c.C, blen = c.Cout;
  if (c.op == OP_affine) wlen = blen = c.paramLen, p[P_paramLen] = c.paramLen;
  if (wlen) {
    p[P_weights] = 0;
    p[P_bias] = al((int)wlen);
    b.constants.resize(al((int)wlen) + blen);
    for (float& v : b.constants) v = u(rng);
  } else {
    p[P_weights] = p[P_bias] = -1;
    b.constants.resize(1);
  }
  return b;
}

double epi(double x, int act, double lo, double hi) {
  if (act == ACT_hswish) x = x * std::min(std::max(x / 6 + 0.5, 0.0), 1.0);
  else if (act == ACT_hsigmoid) x = std::min(std::max(x / 6 + 0.5, 0.0), 1.0);
  else if (act == ACT_sigmoid) x = 1 / (1 + std::exp(-x));
  return x < lo ? lo : (x > hi ? hi : x);
}

// Naive reference over the batch; also returns sum |products| per output for the tolerance.
void reference(const Case& c, const Built& b, const std::vector<float>& in, std::vector<double>& y,
               std::vector<double>& mag) {
  const int32_t* p = b.program.data() + HEADER_WORDS;
  const float* k = b.constants.data();
  int N = c.N, H = c.H, W = c.W, C = c.C, OH = b.outH, OW = b.outW, OC = b.outC;
  // at batch N a tensor at per-image offset o holds its N images back to back from o*N
  y.assign((size_t)N * b.out_len, 0);
  mag.assign(y.size(), 0);
  for (int n = 0; n < N; n++) {
    const float* x = in.data() + (size_t)p[P_in0] * N + (size_t)n * b.in_len;
    const float* x1 = in.data() + (size_t)std::max(p[P_in1], 0) * N + (size_t)n * b.in1_len;
    for (int oy = 0; oy < OH; oy++)
      for (int ox = 0; ox < OW; ox++)
        for (int co = 0; co < OC; co++) {
          double acc = 0, m = 0;
          size_t oi = (size_t)n * b.out_len + ((size_t)oy * OW + ox) * OC + co;
          switch (c.op) {
            case OP_conv2d:
            case OP_dwconv: {
              bool dw = c.op == OP_dwconv;
              acc = k[p[P_bias] + co];
              m = std::fabs(acc);
              for (int ky = 0; ky < c.K; ky++)
                for (int kx = 0; kx < c.K; kx++) {
                  int iy = oy * c.S - p[P_padTop] + ky, ix = ox * c.S - p[P_padLeft] + kx;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  if (dw) {
                    double t = (double)x[(iy * W + ix) * C + co] * k[(ky * c.K + kx) * C + co];
                    acc += t, m += std::fabs(t);
                  } else
                    for (int ci = 0; ci < C; ci++) {
                      double t = (double)x[(iy * W + ix) * C + ci] * k[((co * c.K + ky) * c.K + kx) * C + ci];
                      acc += t, m += std::fabs(t);
                    }
                }
              break;
            }
            case OP_pwconv:
              acc = k[p[P_bias] + co];
              m = std::fabs(acc);
              for (int ci = 0; ci < C; ci++) {
                double t = (double)x[(oy * W + ox) * C + ci] * k[co * C + ci];
                acc += t, m += std::fabs(t);
              }
              break;
            case OP_add: {
              size_t i = ((size_t)oy * W + ox) * C + co;
              acc = (double)x[i] + x1[i];
              m = std::fabs(x[i]) + std::fabs(x1[i]);
              break;
            }
            case OP_gavgpool:
              for (int i = 0; i < H * W; i++) acc += x[i * C + co], m += std::fabs(x[i * C + co]);
              acc /= H * W;
              m /= H * W;
              break;
            case OP_scale: {
              size_t i = ((size_t)oy * W + ox) * C + co;
              acc = (double)x[i] * x1[co];
              m = std::fabs(acc);
              break;
            }
            case OP_softmax: {
              const float* r = x + ((size_t)oy * W + ox) * C;
              double top = -INFINITY, sum = 0;
              for (int i = 0; i < C; i++) top = std::max(top, (double)r[i]);
              for (int i = 0; i < C; i++) sum += std::exp(r[i] - top);
              acc = std::exp(r[co] - top) / sum;
              m = acc * C;
              break;
            }
            case OP_affine: {
              size_t i = ((size_t)oy * W + ox) * C + co;
              int j = c.paramLen == 1 ? 0 : co;
              acc = (double)x[i] * k[p[P_weights] + j] + k[p[P_bias] + j];
              m = std::fabs(x[i] * k[p[P_weights] + j]) + std::fabs(k[p[P_bias] + j]);
              break;
            }
          }
          y[oi] = epi(acc, c.act, c.lo, c.hi);
          mag[oi] = m;
        }
  }
}

const char* OPN[] = {"?", "conv2d", "dwconv", "pwconv", "add", "gavgpool", "scale", "softmax", "affine"};

std::string describe(const Case& c, const char* isa, int threads) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s[%s x%d] N=%d in=%dx%dx%d cout=%d k=%d s=%d pad=%d,%d act=%d clamp=[%g,%g]",
                OPN[c.op], isa, threads, c.N, c.H, c.W, c.C, c.Cout, c.K, c.S, c.padT, c.padL, c.act, c.lo, c.hi);
  return buf;
}

int run_case(const Case& c, const IsaEntry& isa, int threads) {
  Built b = build(c);
  std::string err;
  auto exe = Executable::compile(b.program.data(), b.program.size(), b.constants.data(), b.constants.size(),
                                 isa.table(), threads, err);
  if (!exe) {
    std::printf("FAIL compile %s: %s\n", describe(c, isa.name, threads).c_str(), err.c_str());
    return 1;
  }
  if (!exe->reserve(c.N, err)) {
    std::printf("FAIL reserve %s\n", err.c_str());
    return 1;
  }
  size_t per = b.program[H_inputFloatsPerImage];
  std::vector<float> in(per * c.N);
  std::mt19937 rng(12345 + c.C);
  std::normal_distribution<float> g(0, 2);
  for (float& v : in) v = g(rng);
  // the batch layout in the arena is N images of the whole input region back to back
  exe->run(c.N, in.data(), nullptr);
  std::vector<double> ref, mag;
  reference(c, b, in, ref, mag);
  const float* out = exe->output(0, c.N);
  for (size_t i = 0; i < ref.size(); i++) {
    double reduction = (c.op == OP_conv2d) ? c.K * c.K * c.C : (c.op == OP_dwconv) ? c.K * c.K : (c.op == OP_pwconv) ? c.C : (c.op == OP_gavgpool ? c.H * c.W : 2);
    double tol = 1e-6 + 4 * (reduction + 4) * 1.2e-7 * (mag[i] + std::fabs(ref[i]));
    if (!(std::fabs(out[i] - ref[i]) <= tol)) {
      std::printf("FAIL %s: output %zu = %.8g, reference %.8g (tolerance %.3g)\n", describe(c, isa.name, threads).c_str(), i,
                  out[i], ref[i], tol);
      return 1;
    }
  }
  return 0;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  const float INF = INFINITY;
  struct Clamp { int act; float lo, hi; };
  const Clamp acts[] = {{ACT_none, -INF, INF}, {ACT_none, 0, 6}, {ACT_hswish, -INF, INF}, {ACT_hsigmoid, -INF, INF}, {ACT_sigmoid, -INF, INF}};
  for (const Clamp& a : acts) {
    // pwconv: MobileNet shapes and edges (Cout not a multiple of the tile, 1 channel, FC); K = 512/1024
    // take the padded-row path (at N = 3 the 7x7x1024 rows span two cache chunks)
    int pw[][4] = {{7, 7, 160, 960}, {14, 14, 96, 24}, {1, 1, 64, 1000}, {3, 5, 1, 1}, {5, 3, 17, 33}, {13, 1, 15, 16}, {2, 2, 33, 47},
                   {7, 7, 1024, 80}, {3, 3, 512, 64}};
    for (auto& s : pw) for (int N : {1, 3}) v.push_back({OP_pwconv, a.act, s[0], s[1], s[2], s[3], 1, 1, 0, 0, N, a.lo, a.hi, 0});
    // dwconv: 3x3/5x5 at stride 1/2 and other kernels; odd sizes; C = 1, 15, 16, 17
    int dw[][6] = {{14, 14, 32, 3, 1, 1}, {15, 15, 17, 3, 2, 0}, {16, 16, 16, 3, 2, 0}, {9, 11, 15, 5, 1, 2}, {11, 9, 33, 5, 2, 1},
                   {1, 1, 8, 3, 1, 1}, {7, 7, 1, 3, 1, 1}, {8, 6, 20, 7, 1, 3}, {6, 7, 5, 2, 2, 0}, {4, 4, 16, 5, 1, 2}};
    for (auto& s : dw) for (int N : {1, 2}) v.push_back({OP_dwconv, a.act, s[0], s[1], s[2], s[2], s[3], s[4], s[5], s[5], N, a.lo, a.hi, 0});
    int cv[][6] = {{17, 17, 3, 32, 3, 2}, {8, 8, 3, 16, 3, 2}, {5, 6, 4, 7, 3, 1}, {9, 9, 2, 33, 5, 2}, {1, 1, 3, 5, 3, 1}};
    for (auto& s : cv) for (int N : {1, 2}) v.push_back({OP_conv2d, a.act, s[0], s[1], s[2], s[3], s[4], s[5], s[4] / 2 - (s[5] == 2), (s[4] - 1) / 2, N, a.lo, a.hi, 0});
    int el[][3] = {{7, 7, 24}, {1, 1, 1}, {3, 5, 17}, {2, 2, 1000}};
    for (auto& s : el) for (int N : {1, 2}) {
      v.push_back({OP_add, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, 0});
      v.push_back({OP_gavgpool, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, 0});
      v.push_back({OP_scale, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, 0});
      v.push_back({OP_softmax, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, 0});
      v.push_back({OP_affine, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, 1});
      v.push_back({OP_affine, a.act, s[0], s[1], s[2], 0, 1, 1, 0, 0, N, a.lo, a.hi, s[2]});
    }
  }
  return v;
}

// Rejects corrupt programs with a message instead of touching memory out of bounds.
int bad_programs(const IsaEntry& isa) {
  int failures = 0;
  Case c{OP_pwconv, 0, 4, 4, 8, 8, 1, 1, 0, 0, 1, -INFINITY, INFINITY, 0};
  auto expect_error = [&](const char* what, auto mutate) {
    Built b = build(c);
    mutate(b);
    std::string err;
    auto exe = Executable::compile(b.program.data(), b.program.size(), b.constants.data(), b.constants.size(), isa.table(), 1, err);
    if (exe || err.empty()) {
      std::printf("FAIL bad program accepted: %s\n", what);
      failures++;
    }
  };
  expect_error("unknown op", [](Built& b) { b.program[HEADER_WORDS + P_op] = 99; });
  expect_error("bad magic", [](Built& b) { b.program[H_magic] = 1; });
  expect_error("output outside arena", [](Built& b) { b.program[HEADER_WORDS + P_out] = 1 << 20; });
  expect_error("weights outside constants", [](Built& b) { b.program[HEADER_WORDS + P_weights] = 1 << 20; });
  expect_error("negative shape", [](Built& b) { b.program[HEADER_WORDS + P_inC] = -3; });
  expect_error("truncated", [](Built& b) { b.program.resize(HEADER_WORDS + 3); });
  return failures;
}

// pwconv -> dwconv -> pwconv as three steps: the fused block (policy "all") must equal the steps run
// one by one (policy "off", whose kernels the single-op cases above check against the reference).
// in_place: the output reuses the input's memory (as the planner does for MobileNetV2 block_1): fused
// on one task, or two with the second spilling its rows (kept unfused where rows would overtake input).
int fused_block(const IsaEntry& isa, int threads, int H, int W, int C, int X, int Cout, int K, int S, int N,
                bool in_place = false, bool trails = true) {
  const int pad = (K - 1) / 2, OH = (H + 2 * pad - K) / S + 1, OW = (W + 2 * pad - K) / S + 1;
  auto al = [](int n) { return (n + 15) / 16 * 16; };
  const int in = 0, ex = al(std::max(H * W * C, OH * OW * Cout)), dw = ex + al(H * W * X);
  const int out = in_place ? in : dw + al(OH * OW * X), arena = in_place ? dw + al(OH * OW * X) : out + al(OH * OW * Cout);
  std::vector<int32_t> prog(HEADER_WORDS + 3 * STEP_WORDS, 0);
  prog[H_magic] = PROGRAM_MAGIC;
  prog[H_version] = PROGRAM_VERSION;
  prog[H_stepCount] = 3;
  prog[H_arenaFloatsPerImage] = arena;
  prog[H_inputFloatsPerImage] = H * W * C;
  prog[H_outputCount] = 1;
  prog[H_outputs] = out;
  prog[H_outputs + 1] = OH * OW * Cout;
  std::vector<float> k;
  std::mt19937 rng(C * 31 + X);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto constant = [&](size_t n) {
    int off = (int)k.size();
    for (size_t i = 0; i < n; i++) k.push_back(u(rng));
    while (k.size() % 16) k.push_back(0);
    return off;
  };
  const float lo = 0, hi = 6, inf = INFINITY, ninf = -INFINITY;
  auto step = [&](int i, int op, int i0, int o, int ih, int iw, int ic, int oh, int ow, int oc, int kk, int st, int pd, float mn, float mx) {
    int32_t* p = prog.data() + HEADER_WORDS + i * STEP_WORDS;
    p[P_op] = op, p[P_in0] = i0, p[P_in1] = -1, p[P_out] = o;
    p[P_inH] = ih, p[P_inW] = iw, p[P_inC] = ic, p[P_outH] = oh, p[P_outW] = ow, p[P_outC] = oc;
    p[P_kH] = p[P_kW] = kk, p[P_strideH] = p[P_strideW] = st, p[P_padTop] = p[P_padLeft] = pd;
    p[P_weights] = constant((size_t)(op == OP_dwconv ? kk * kk * ic : ic * oc));
    p[P_bias] = constant(oc);
    std::memcpy(&p[P_min], &mn, 4);
    std::memcpy(&p[P_max], &mx, 4);
  };
  step(0, OP_pwconv, in, ex, H, W, C, H, W, X, 1, 1, 0, lo, hi);
  step(1, OP_dwconv, ex, dw, H, W, X, OH, OW, X, K, S, pad, lo, hi);
  step(2, OP_pwconv, dw, out, OH, OW, X, OH, OW, Cout, 1, 1, 0, ninf, inf);
  std::string err;
  auto fused = Executable::compile(prog.data(), prog.size(), k.data(), k.size(), isa.table(), threads, err, "all");
  auto plain = Executable::compile(prog.data(), prog.size(), k.data(), k.size(), isa.table(), threads, err, "off");
  const int expect_blocks = in_place && !trails ? 0 : 1;
  if (!fused || !plain || fused->fused_blocks() != expect_blocks || !fused->reserve(N, err) || !plain->reserve(N, err)) {
    std::printf("FAIL fused block setup [%s] %s\n", isa.name, err.c_str());
    return 1;
  }
  std::vector<float> x((size_t)N * H * W * C);
  for (float& v : x) v = u(rng);
  fused->run(N, x.data(), nullptr);
  plain->run(N, x.data(), nullptr);
  for (size_t i = 0; i < fused->output_floats(0, N); i++) {
    float a = fused->output(0, N)[i], b = plain->output(0, N)[i];
    if (!(std::fabs(a - b) <= 1e-5f * (1 + std::fabs(b)))) {
      std::printf("FAIL fused block [%s x%d] N=%d %dx%dx%d->%d dw%dx%d/s%d ->%d%s: output %zu = %.8g, unfused %.8g\n", isa.name, threads, N, H,
                  W, C, X, K, K, S, Cout, in_place ? " in place" : "", i, a, b);
      return 1;
    }
  }
  return 0;
}

int bench() {
  struct L { const char* name; int op, H, W, C, Cout, K, S, pad; };
  const L layers[] = {{"stem 224x224x3->32 s2", OP_conv2d, 224, 224, 3, 32, 3, 2, 0},
                      {"dw3x3 112x112x96 s2", OP_dwconv, 112, 112, 96, 96, 3, 2, 0},
                      {"dw3x3 56x56x144 s1", OP_dwconv, 56, 56, 144, 144, 3, 1, 1},
                      {"dw3x3 14x14x576 s1", OP_dwconv, 14, 14, 576, 576, 3, 1, 1},
                      {"dw3x3 7x7x960 s1", OP_dwconv, 7, 7, 960, 960, 3, 1, 1},
                      {"dw3x3 112x112x32 s1", OP_dwconv, 112, 112, 32, 32, 3, 1, 1},
                      {"dw3x3 56x56x128 s1", OP_dwconv, 56, 56, 128, 128, 3, 1, 1},
                      {"dw3x3 14x14x512 s1", OP_dwconv, 14, 14, 512, 512, 3, 1, 1},
                      {"dw3x3 14x14x496 s1", OP_dwconv, 14, 14, 496, 496, 3, 1, 1},
                      {"dw3x3 16x16x512 s1", OP_dwconv, 16, 16, 512, 512, 3, 1, 1},
                      {"pw 112x112 16->96", OP_pwconv, 112, 112, 16, 96, 1, 1, 0},
                      {"pw 56x56 144->24", OP_pwconv, 56, 56, 144, 24, 1, 1, 0},
                      {"pw 56x56 24->144", OP_pwconv, 56, 56, 24, 144, 1, 1, 0},
                      {"pw 14x14 96->576", OP_pwconv, 14, 14, 96, 576, 1, 1, 0},
                      {"pw 7x7 960->160", OP_pwconv, 7, 7, 960, 160, 1, 1, 0},
                      {"pw 7x7 320->1280", OP_pwconv, 7, 7, 320, 1280, 1, 1, 0},
                      {"pw 14x14 512->512", OP_pwconv, 14, 14, 512, 512, 1, 1, 0},
                      {"pw 7x7 1024->1024", OP_pwconv, 7, 7, 1024, 1024, 1, 1, 0},
                      {"pw 56x56 128->128", OP_pwconv, 56, 56, 128, 128, 1, 1, 0},
                      {"fc 1280->1000", OP_pwconv, 1, 1, 1280, 1000, 1, 1, 0}};
  const char* only = std::getenv("MOBILENET_NATIVE_ISA");
  for (const IsaEntry& isa : isa_entries()) {
    if (!isa.cpu_ok || std::strcmp(isa.name, "scalar") == 0 || (only && std::strcmp(only, isa.name))) continue;
    for (int threads : {1, 2})
      for (const L& l : layers) {
        Case c{l.op, 0, l.H, l.W, l.C, l.Cout, l.K, l.S, l.pad, l.pad, 1, 0, 6, 0};
        Built b = build(c);
        std::string err;
        auto exe = Executable::compile(b.program.data(), b.program.size(), b.constants.data(), b.constants.size(), isa.table(), threads, err);
        std::vector<float> in(b.program[H_inputFloatsPerImage], 0.5f);
        std::vector<double> t;
        for (int r = 0; r < 60; r++) {
          double ms;
          exe->run(1, in.data(), &ms);
          if (r >= 10) t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        double macs = (double)b.out_len * (l.op == OP_conv2d ? l.K * l.K * l.C : l.op == OP_dwconv ? l.K * l.K : l.C);
        std::printf("%-7s x%d %-24s min %8.1f us  median %8.1f us  %6.1f GFLOP/s (median)\n", isa.name, threads, l.name,
                    t[0] * 1000, t[t.size() / 2] * 1000, 2 * macs / (t[t.size() / 2] * 1e6));
      }
  }
  return 0;
}

std::vector<char> read_file(const char* path) {
  std::vector<char> v;
  FILE* f = std::fopen(path, "rb");
  if (!f) return v;
  std::fseek(f, 0, SEEK_END);
  v.resize(std::ftell(f));
  std::fseek(f, 0, SEEK_SET);
  if (std::fread(v.data(), 1, v.size(), f) != v.size()) v.clear();
  std::fclose(f);
  return v;
}

// Times a whole planned model dumped by the TS side (<prefix>.program / .constants / .names).
int bench_plan(const char* prefix, int threads, int runs) {
  std::string p = prefix;
  std::vector<char> prog = read_file((p + ".program").c_str()), cons = read_file((p + ".constants").c_str()),
                    names = read_file((p + ".names").c_str());
  const char* only = std::getenv("MOBILENET_NATIVE_ISA");
  std::string err;
  const KernelTable* table = find_isa(only ? only : isa_entries()[0].name, err);
  if (!table || prog.empty()) {
    std::printf("cannot load %s: %s\n", prefix, err.c_str());
    return 1;
  }
  auto compile = [&](const char* fuse) {
    return Executable::compile(reinterpret_cast<const int32_t*>(prog.data()), prog.size() / 4,
                               reinterpret_cast<const float*>(cons.data()), cons.size() / 4, table, threads, err, fuse);
  };
  const char* fuse = std::getenv("MOBILENET_NATIVE_FUSE");
  std::string policy = fuse ? fuse : "";
  auto exe = compile(fuse);
  auto plain = compile("off");
  if (!exe || !plain) {
    std::printf("compile failed: %s\n", err.c_str());
    return 1;
  }
  std::vector<float> in(exe->input_floats());
  for (size_t i = 0; i < in.size(); i++) in[i] = (float)std::sin(i * 0.37);
  // fused blocks must give the unfused answer
  plain->run(1, in.data(), nullptr);
  exe->run(1, in.data(), nullptr);
  double num = 0, den = 0;
  for (int k = 0; k < exe->output_count(); k++)
    for (size_t i = 0; i < exe->output_floats(k, 1); i++) {
      num = std::max(num, (double)std::fabs(exe->output(k, 1)[i] - plain->output(k, 1)[i]));
      den = std::max(den, (double)std::fabs(plain->output(k, 1)[i]));
    }
  std::printf("%d fused blocks (policy '%s'); rel difference to unfused %.3g\n", exe->fused_blocks(), policy.c_str(), num / den);
  if (!(num <= 1e-5 * den)) return 1;
  size_t S = exe->step_count();
  std::vector<double> step(S), best(S, 1e9), total;
  for (int r = 0; r < runs + 10; r++) {
    auto t0 = std::chrono::steady_clock::now();
    exe->run(1, in.data(), step.data());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r < 10) continue;
    total.push_back(ms);
    for (size_t i = 0; i < S; i++) best[i] = std::min(best[i], step[i]);
  }
  std::sort(total.begin(), total.end());
  double sum_best = 0;
  std::string all(names.begin(), names.end());
  size_t pos = 0;
  for (size_t i = 0; i < S; i++) {
    size_t nl = all.find('\n', pos);
    std::string line = all.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? all.size() : nl + 1;
    sum_best += best[i];
    double macs = std::atof(line.substr(line.rfind(' ') + 1).c_str());
    if (std::getenv("MBN_STEPS")) std::printf("  %-60s %8.1f us %6.1f GFLOP/s\n", line.c_str(), best[i] * 1000, 2 * macs / (best[i] * 1e6));
  }
  std::printf("%s isa=%s threads=%d median %.3f ms min %.3f ms (sum of per-step minima %.3f ms)\n", prefix, exe->isa(), threads,
              total[total.size() / 2], total[0], sum_best);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) return bench();
  if (argc > 2 && std::strcmp(argv[1], "--plan") == 0)
    return bench_plan(argv[2], argc > 3 ? std::atoi(argv[3]) : 1, argc > 4 ? std::atoi(argv[4]) : 100);
  int failures = 0, total = 0;
  std::vector<Case> all = cases();
  for (const IsaEntry& isa : isa_entries()) {
    if (!isa.cpu_ok) {
      std::printf("skip %s: %s\n", isa.name, isa.why_not);
      continue;
    }
    for (int threads : {1, 2})
      for (const Case& c : all) {
        failures += run_case(c, isa, threads);
        total++;
      }
    failures += bad_programs(isa);
    for (int threads : {1, 2, 3}) {
      failures += fused_block(isa, threads, 9, 7, 5, 30, 7, 3, 1, 2);
      failures += fused_block(isa, threads, 10, 11, 16, 96, 24, 3, 2, 1);
      failures += fused_block(isa, threads, 7, 9, 3, 17, 33, 5, 2, 3);
      failures += fused_block(isa, threads, 1, 1, 8, 48, 8, 3, 1, 2);
      // in place: these trail their input; stride 1 with Cout > C would overtake it (never fused)
      for (int n : {1, 3}) {
        failures += fused_block(isa, threads, 12, 10, 16, 96, 24, 3, 2, n, true);
        failures += fused_block(isa, threads, 8, 8, 8, 48, 8, 3, 1, n, true);
        failures += fused_block(isa, threads, 8, 8, 8, 48, 24, 3, 1, n, true, false);
      }
      total += 4;
    }
    std::printf("%s: %zu cases x 2 thread counts done\n", isa.name, all.size());
  }
  std::printf("%d of %d kernel cases failed\n", failures, total);
  return failures ? 1 : 0;
}
