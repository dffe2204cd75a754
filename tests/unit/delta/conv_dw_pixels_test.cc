// ConvDwF32::run_pixels (delta execution's depthwise on runs of changed
// pixels) against a naive depthwise convolution: runs that start and end
// anywhere, cross rows and touch the padded borders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/kernels/conv_dw_f32.h"

namespace ef {
namespace {

struct DwCase {
  int64_t h, w, c, k, s;
  bool hardswish;  // else relu6 (fused clamp); hardswish runs as a separate pass on the pixels computed
};

class ConvDwPixels : public ::testing::TestWithParam<DwCase> {};

TEST_P(ConvDwPixels, RunsOfPixelsEqualNaive) {
  if (!ConvGemmF32::supported()) GTEST_SKIP() << "no AVX-512";
  const DwCase d = GetParam();
  ConvGemmGeom g;
  g.ih = d.h, g.iw = d.w, g.cin = g.cout = d.c, g.kh = g.kw = d.k, g.sh = g.sw = d.s;
  g.pt = g.pl = d.k / 2;
  g.oh = (d.h + 2 * g.pt - d.k) / d.s + 1, g.ow = (d.w + 2 * g.pl - d.k) / d.s + 1;
  ASSERT_TRUE(ConvDwF32::fits(g));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(size_t(d.h * d.w * d.c)), w(size_t(d.c * d.k * d.k)), b(size_t(d.c));
  for (auto* v : {&x, &w, &b})
    for (float& f : *v) f = u(rng);
  // naive: y[oy][ox][c] = b[c] + sum x[iy][ix][c] * w[c][ky][kx], then the activation
  std::vector<float> want(size_t(g.oh * g.ow * d.c));
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t c = 0; c < d.c; ++c) {
        double acc = b[size_t(c)];
        for (int64_t ky = 0; ky < d.k; ++ky)
          for (int64_t kx = 0; kx < d.k; ++kx) {
            const int64_t iy = oy * d.s - g.pt + ky, ix = ox * d.s - g.pl + kx;
            if (iy >= 0 && iy < d.h && ix >= 0 && ix < d.w)
              acc += double(x[size_t((iy * d.w + ix) * d.c + c)]) * w[size_t((c * d.k + ky) * d.k + kx)];
          }
        want[size_t((oy * g.ow + ox) * d.c + c)] =
            float(d.hardswish ? acc * std::clamp(acc + 3, 0.0, 6.0) / 6 : std::clamp(acc, 0.0, 6.0));
      }
  FusedActivation act;
  if (d.hardswish) act.kind = FusedActivation::hardswish;
  else act.kind = FusedActivation::clip, act.min = 0, act.max = 6;
  ConvDwF32 k(g, w.data(), b.data(), act);
  const float sentinel = 1234.f;
  std::vector<float> y(want.size(), sentinel);
  k.setup(x.data(), y.data());
  // runs of 1..2 rows + 3 pixels with gaps of 0..4 pixels between them
  const int64_t pixels = g.oh * g.ow;
  std::vector<char> done(size_t(pixels), 0);
  std::uniform_int_distribution<int64_t> len(1, 2 * g.ow + 3), gap(0, 4);
  for (int64_t p = gap(rng); p < pixels; p += gap(rng)) {
    const int64_t n = std::min(len(rng), pixels - p);
    k.run_pixels(p, n);
    for (int64_t q = p; q < p + n; ++q) done[size_t(q)] = 1;
    p += n;
  }
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < d.c; ++c) {
      const float got = y[size_t(p * d.c + c)];
      if (done[size_t(p)])
        ASSERT_NEAR(got, want[size_t(p * d.c + c)], 1e-4f) << "pixel " << p << " channel " << c;
      else
        ASSERT_EQ(got, sentinel) << "pixel " << p << " was not asked for";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvDwPixels,
                         ::testing::Values(DwCase{13, 17, 32, 3, 1, false}, DwCase{14, 19, 16, 3, 2, true},
                                           DwCase{11, 12, 48, 5, 1, true}, DwCase{15, 13, 16, 5, 2, false},
                                           DwCase{12, 23, 8, 3, 1, true}, DwCase{9, 14, 24, 5, 1, false},
                                           DwCase{10, 11, 6, 3, 2, true}, DwCase{8, 21, 20, 3, 1, false}));

}  // namespace
}  // namespace ef
