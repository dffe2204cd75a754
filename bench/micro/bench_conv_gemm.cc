// The own AVX-512 convolution GEMM (conv_gemm_f32.h) on resnet18's and
// mobilenet_v2's layer shapes: median over runs of the calling thread's CPU
// time (1 thread; less sensitive to a busy machine than wall time) or wall
// time (2+ threads), and GFLOP/s.
//
//   build/bench/micro/bench_conv_gemm [--threads N] [--runs R] [--only NAME] [--cold 1]
//
// --cold 1: read 64 MB between runs (untimed) so the weights come from
// memory, as in a whole model whose weights do not fit the caches.
#include <pthreadpool.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/conv_gemm_f32.h"

namespace {

struct Case {
  const char* name;
  ef::ConvGemmGeom g;
};

ef::ConvGemmGeom conv(int64_t hw, int64_t cin, int64_t cout, int64_t k, int64_t s) {
  ef::ConvGemmGeom g;
  g.ih = g.iw = hw, g.cin = cin, g.cout = cout, g.kh = g.kw = k, g.sh = g.sw = s;
  g.pt = g.pl = k / 2;
  g.oh = g.ow = (hw + 2 * (k / 2) - k) / s + 1;
  return g;
}

double now(clockid_t c) {
  timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  size_t threads = 1;
  int runs = 30;
  std::string only;
  bool cold = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    else if (!std::strcmp(argv[i], "--cold")) cold = std::stoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr, "bench_conv_gemm: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  const Case cases[] = {
      {"r18.conv1 7x7s2 3->64 @224", conv(224, 3, 64, 7, 2)},
      {"r18.layer1 3x3 64->64 @56", conv(56, 64, 64, 3, 1)},
      {"r18.layer2 3x3 128->128 @28", conv(28, 128, 128, 3, 1)},
      {"r18.layer3 3x3 256->256 @14", conv(14, 256, 256, 3, 1)},
      {"r18.layer4.0.conv1 3x3s2 256->512 @14", conv(14, 256, 512, 3, 2)},
      {"r18.layer4 3x3 512->512 @7", conv(7, 512, 512, 3, 1)},
      {"mv2 1x1 64->384 @14", conv(14, 64, 384, 1, 1)},
      {"mv2 1x1 96->576 @14", conv(14, 96, 576, 1, 1)},
      {"mv2 1x1 160->960 @7", conv(7, 160, 960, 1, 1)},
      {"mv2 1x1 960->320 @7", conv(7, 960, 320, 1, 1)},
      {"mv2 1x1 320->1280 @7", conv(7, 320, 1280, 1, 1)},
      {"mv2 1x1 32->16 @112", conv(112, 32, 16, 1, 1)},
      {"mv2 1x1 144->24 @56", conv(56, 144, 24, 1, 1)},
  };
  std::vector<float> flush(cold ? (64u << 20) / sizeof(float) : 0, 1.f);
  volatile float sink = 0.f;
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  const clockid_t clk = threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::printf("%-40s %10s %9s  (%s, %zu thread(s), median of %d)\n", "layer", "ms", "GFLOP/s",
              threads > 1 ? "wall" : "thread CPU", threads, runs);
  for (const Case& c : cases) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    const auto& g = c.g;
    std::vector<float> w(size_t(g.cout * g.cin * g.kh * g.kw)), b(size_t(g.cout));
    std::vector<float> x(size_t(g.ih * g.iw * g.cin)), y(size_t(g.oh * g.ow * g.cout));
    for (auto& v : w) v = u(rng);
    for (auto& v : b) v = u(rng);
    for (auto& v : x) v = u(rng);
    ef::ConvGemmF32 k(g, w.data(), b.data(), -1e30f, 1e30f);
    k.setup(x.data(), y.data(), threads);
    for (int i = 0; i < 3; ++i) k.run(pool);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      if (cold) {
        float sum = 0.f;
        for (size_t j = 0; j < flush.size(); j += 16) sum += flush[j];
        sink = sink + sum;
      }
      const double t0 = now(clk);
      k.run(pool);
      ms.push_back(now(clk) - t0);
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    const double med = ms[ms.size() / 2];
    const double flop = 2.0 * g.oh * g.ow * g.cout * g.cin * g.kh * g.kw;
    std::printf("%-40s %10.3f %9.1f\n", c.name, med, flop / med * 1e-6);
  }
  if (pool) pthreadpool_destroy(pool);
  return 0;
}
