// One NHWC Conv layer (mobilenet_v2's and resnet18's shapes, and the
// MediaPipe models' typical ones) compiled three ways in one process and run
// interleaved (A,B,C,A,B,C...): FP32 (the engine's own FP32 kernel), FP16
// weights with float32 arithmetic (--fp16-compute f32) and with float16
// arithmetic (--fp16-compute f16, AVX512-FP16). Median per variant of the
// calling thread's CPU time (1 thread; less sensitive to a busy machine) or
// wall time (2+ threads); the f16 column's kernel is named.
//
//   build/bench/fp16/bench_fp16_layers [--threads N] [--runs R] [--only NAME]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeflow/session.h"

namespace {

struct Case {
  const char* name;
  int64_t hw, cin, cout, k, s;
};

double now(clockid_t c) {
  timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

ef::Model conv_model(const Case& c) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  ef::Graph g;
  const int x = g.add_value("x", ef::DType::f32, {1, c.hw, c.hw, c.cin}, true);
  g.inputs.push_back(x);
  ef::Tensor w(ef::DType::f32, {c.cout, c.cin, c.k, c.k}), b(ef::DType::f32, {c.cout});
  for (int64_t i = 0; i < w.numel(); ++i) w.data_as<float>()[i] = u(rng) * 0.1f;
  for (int64_t i = 0; i < b.numel(); ++i) b.data_as<float>()[i] = u(rng);
  const int wv = g.add_const("w", std::move(w)), bv = g.add_const("b", std::move(b));
  const int y = g.add_value("y");
  ef::Attrs a;
  const int64_t p = c.k / 2;
  a.set("layout", std::string("NHWC"));
  a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
  a.set("strides", std::vector<int64_t>{c.s, c.s});
  a.set("pads", std::vector<int64_t>{p, p, p, p});
  a.set("activation", std::string("relu"));
  g.add_node("Conv", "conv", {x, wv, bv}, {y}, a);
  g.outputs.push_back(y);
  return ef::Model::from_graph(std::move(g));
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, runs = 50;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_fp16_layers: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  const Case cases[] = {
      {"mv2 1x1 32->16 @112", 112, 32, 16, 1, 1},    {"mv2 1x1 16->96 @112", 112, 16, 96, 1, 1},
      {"mv2 1x1 144->24 @56", 56, 144, 24, 1, 1},    {"mv2 1x1 24->144 @56", 56, 24, 144, 1, 1},
      {"mv2 1x1 32->192 @28", 28, 32, 192, 1, 1},    {"mv2 1x1 192->32 @28", 28, 192, 32, 1, 1},
      {"mv2 1x1 64->384 @14", 14, 64, 384, 1, 1},    {"mv2 1x1 384->64 @14", 14, 384, 64, 1, 1},
      {"mv2 1x1 96->576 @14", 14, 96, 576, 1, 1},    {"mv2 1x1 160->960 @7", 7, 160, 960, 1, 1},
      {"mv2 1x1 960->320 @7", 7, 960, 320, 1, 1},    {"mv2 1x1 320->1280 @7", 7, 320, 1280, 1, 1},
      {"r18 3x3 64->64 @56", 56, 64, 64, 3, 1},      {"r18 3x3 128->128 @28", 28, 128, 128, 3, 1},
      {"r18 3x3 256->256 @14", 14, 256, 256, 3, 1},  {"r18 3x3 512->512 @7", 7, 512, 512, 3, 1},
      {"selfie 1x1 16->64 @64", 64, 16, 64, 1, 1},   {"selfie 1x1 24->96 @32", 32, 24, 96, 1, 1},
      {"blazeface 1x1 24->24 @64", 64, 24, 24, 1, 1}, {"blazeface 1x1 48->96 @16", 16, 48, 96, 1, 1},
  };
  const clockid_t clk = threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  std::printf("%-28s %9s %9s %9s %8s %8s  %s  (%s, %d thread(s), median of %d)\n", "layer", "fp32 ms",
              "f16w/f32", "f16/f16", "f32a/32", "f16a/32", "f16 kernel", threads > 1 ? "wall" : "thread CPU",
              threads, runs);
  for (const Case& c : cases) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    ef::Model m = conv_model(c);
    std::vector<ef::Session> s;
    for (auto [p, fc] : {std::pair{ef::Precision::fp32, ef::Fp16Compute::automatic},
                         std::pair{ef::Precision::fp16, ef::Fp16Compute::f32},
                         std::pair{ef::Precision::fp16, ef::Fp16Compute::f16}})
      s.emplace_back(m, ef::CompileOptions{.threads = threads, .precision = p, .fp16_compute = fc});
    for (auto& ss : s) {
      ef::Tensor& x = ss.input(0);
      for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = float(i % 7) * 0.25f - 0.75f;
      for (int i = 0; i < 3; ++i) ss.run();
    }
    std::vector<double> ms[3];
    for (int r = 0; r < runs; ++r)
      for (int v = 0; v < 3; ++v) {
        const double t0 = now(clk);
        s[v].run();
        ms[v].push_back(now(clk) - t0);
      }
    double med[3];
    for (int v = 0; v < 3; ++v) {
      std::nth_element(ms[v].begin(), ms[v].begin() + ms[v].size() / 2, ms[v].end());
      med[v] = ms[v][ms[v].size() / 2];
    }
    std::string impl;
    for (const auto& l : s[2].profile())
      if (l.op == "Conv") impl = l.impl;
    std::printf("%-28s %9.3f %9.3f %9.3f %8.2f %8.2f  %s\n", c.name, med[0], med[1], med[2], med[1] / med[0],
                med[2] / med[0], impl.c_str());
  }
  return 0;
}
