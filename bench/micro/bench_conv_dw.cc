// Depthwise convolution: the own AVX-512 kernel (conv_dw_f32.h) against
// XNNPACK's on the MediaPipe models' layer shapes (NHWC, multiplier 1,
// TFLite SAME padding), alternating run by run: median of the calling
// thread's CPU time (1 thread) or wall time (2+ threads), GFLOP/s, and the
// ratio XNNPACK / own (> 1: own faster). conv.cc's dw_wins holds the rule
// this measures. `runs/px`: the own kernel's run_pixels (delta execution's
// depthwise) on every other run of 8 output pixels (half the map), its cost
// per pixel over run()'s.
//
//   build/bench/micro/bench_conv_dw [--threads N] [--runs R] [--only TEXT]
#include <pthreadpool.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/conv_dw_f32.h"
#include "runtime/kernels/xnn_util.h"

namespace {

// channels, output size (square unless w given), kernel, stride.
struct Case {
  int64_t c, oh, k, s, ow = 0;
};

double now(clockid_t c) {
  timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t threads = 1;
  int runs = 30;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_conv_dw: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (!ef::xnn_available()) {
    std::fprintf(stderr, "bench_conv_dw: XNNPACK unavailable\n");
    return 1;
  }
  const Case cases[] = {
      {8, 256, 3, 1},  {8, 128, 3, 1},  {8, 96, 3, 1},    {4, 24, 3, 2},    {12, 48, 3, 1},   {16, 128, 3, 1},
      {16, 48, 3, 1},  {16, 64, 3, 2},  {24, 112, 3, 1},  {24, 48, 3, 1},   {24, 28, 3, 2},   {32, 96, 3, 1},
      {32, 96, 5, 1},  {32, 48, 3, 2},  {32, 48, 5, 2},   {32, 24, 3, 1},   {36, 32, 3, 1},   {48, 48, 3, 1},
      {48, 12, 3, 1},  {64, 48, 3, 1},  {64, 48, 5, 1},   {64, 56, 3, 2},   {64, 24, 3, 1},   {64, 24, 3, 2},
      {88, 32, 3, 1},  {96, 56, 3, 1},  {96, 12, 3, 1},   {96, 6, 3, 1},    {128, 24, 3, 1},  {128, 24, 5, 1},
      {128, 12, 3, 2}, {144, 56, 3, 1}, {144, 28, 5, 2},  {192, 12, 3, 1},  {240, 28, 5, 1},  {240, 14, 3, 2},
      {256, 12, 5, 1}, {256, 6, 5, 1},  {384, 6, 3, 1},   {480, 14, 3, 1},  {480, 14, 5, 1},  {672, 14, 5, 1},
      {672, 7, 5, 2},  {1152, 7, 5, 1}, {1152, 7, 3, 1},  {16, 72, 3, 1, 128},
  };
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  const clockid_t clk = threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::printf("%-26s %9s %9s %9s %9s %7s %8s  (%s, %zu thread(s), median of %d)\n", "layer", "xnn ms", "own ms",
              "xnn GF/s", "own GF/s", "xnn/own", "runs/px", threads > 1 ? "wall" : "thread CPU", threads, runs);
  for (const Case& c : cases) {
    ef::ConvGemmGeom g;
    g.cin = g.cout = c.c, g.kh = g.kw = c.k, g.sh = g.sw = c.s;
    g.oh = c.oh, g.ow = c.ow ? c.ow : c.oh;
    g.ih = g.oh * c.s, g.iw = g.ow * c.s;  // TFLite SAME: out = ceil(in / s)
    const int64_t pad_h = std::max<int64_t>(0, (g.oh - 1) * c.s + c.k - g.ih), pad_w = std::max<int64_t>(0, (g.ow - 1) * c.s + c.k - g.iw);
    g.pt = pad_h / 2, g.pl = pad_w / 2;
    char name[64];
    std::snprintf(name, sizeof name, "C%lld %lldx%lld k%lld s%lld", (long long)c.c, (long long)g.oh,
                  (long long)g.ow, (long long)c.k, (long long)c.s);
    if (!only.empty() && std::string(name).find(only) == std::string::npos) continue;
    std::vector<float> w(size_t(c.c * c.k * c.k)), b(size_t(c.c));
    std::vector<float> x(size_t(g.ih * g.iw * c.c)), y(size_t(g.oh * g.ow * c.c));
    for (auto& v : w) v = u(rng);
    for (auto& v : b) v = u(rng);
    for (auto& v : x) v = u(rng);
    xnn_operator_t op = nullptr;
    ef::xnn_check(xnn_create_convolution2d_nhwc_f32(uint32_t(g.pt), uint32_t(pad_w - g.pl), uint32_t(pad_h - g.pt),
                                                    uint32_t(g.pl), uint32_t(c.k), uint32_t(c.k), uint32_t(c.s),
                                                    uint32_t(c.s), 1, 1, uint32_t(c.c), 1, 1, size_t(c.c), size_t(c.c),
                                                    w.data(), b.data(), 0.f, 6.f, 0, &op),
                  "create_convolution2d_nhwc_f32", name);
    ef::XnnOp xop(op);
    ef::xnn_check(xnn_setup_convolution2d_nhwc_f32(op, 1, size_t(g.ih), size_t(g.iw), x.data(), y.data(), pool),
                  "setup_convolution2d_nhwc_f32", name);
    ef::FusedActivation relu6;
    relu6.kind = ef::FusedActivation::clip, relu6.min = 0.f, relu6.max = 6.f;
    ef::ConvDwF32 own(g, w.data(), b.data(), relu6);
    std::vector<float> y2(y.size());
    own.setup(x.data(), y2.data());
    for (int i = 0; i < 3; ++i) xnn_run_operator(op, pool), own.run(pool);
    float diff = 0.f;
    for (size_t i = 0; i < y.size(); ++i) diff = std::max(diff, std::abs(y[i] - y2[i]));
    const int64_t pixels = g.oh * g.ow;
    std::vector<double> tx, to, tr;
    for (int i = 0; i < runs; ++i) {
      double t0 = now(clk);
      xnn_run_operator(op, pool);
      tx.push_back(now(clk) - t0);
      t0 = now(clk);
      own.run(pool);
      to.push_back(now(clk) - t0);
      t0 = now(clk);
      for (int64_t p = 0; p < pixels; p += 16) own.run_pixels(p, std::min<int64_t>(8, pixels - p));
      tr.push_back(now(clk) - t0);
    }
    const double mx = median(tx), mo = median(to), flop = 2.0 * g.oh * g.ow * c.c * c.k * c.k;
    const double half = double((pixels / 16) * 8 + std::min<int64_t>(8, pixels % 16)) / double(pixels);
    std::printf("%-26s %9.4f %9.4f %9.1f %9.1f %7.2f %8.2f%s\n", name, mx, mo, flop / mx * 1e-6, flop / mo * 1e-6,
                mx / mo, median(tr) / half / mo, diff > 1e-4f ? "  MISMATCH" : "");
  }
  if (pool) pthreadpool_destroy(pool);
  return 0;
}
