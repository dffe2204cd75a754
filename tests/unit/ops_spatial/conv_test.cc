// Conv and ConvTranspose against naive NCHW references (double accumulation).
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include <algorithm>
#include <cmath>

#include "spatial_util.h"

namespace ef::test {
namespace {

struct ConvP {
  int64_t n = 1, c = 3, h = 7, w = 9, m = 4, kh = 3, kw = 3, group = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  bool bias = true;
};

// y[n,m,oy,ox] = b[m] + sum_{ic,ky,kx} x[n, g*Cg+ic, oy*s-p+ky*d, ...] * w[m, ic, ky, kx]
Tensor conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, const ConvP& p) {
  const int64_t Cg = p.c / p.group, Mg = p.m / p.group;
  const int64_t oh = (p.h + p.pt + p.pb - (p.kh - 1) * p.dh - 1) / p.sh + 1;
  const int64_t ow = (p.w + p.pl + p.pr - (p.kw - 1) * p.dw - 1) / p.sw + 1;
  Tensor y(DType::f32, {p.n, p.m, oh, ow});
  const float* X = x.data_as<float>();
  const float* W = w.data_as<float>();
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t m = 0; m < p.m; ++m)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double s = b ? b->data_as<float>()[m] : 0.0;
          const int64_t g = m / Mg;
          for (int64_t ic = 0; ic < Cg; ++ic)
            for (int64_t ky = 0; ky < p.kh; ++ky)
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                int64_t iy = oy * p.sh - p.pt + ky * p.dh, ix = ox * p.sw - p.pl + kx * p.dw;
                if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                s += double(X[((n * p.c + g * Cg + ic) * p.h + iy) * p.w + ix]) *
                     W[((m * Cg + ic) * p.kh + ky) * p.kw + kx];
              }
          y.data_as<float>()[((n * p.m + m) * oh + oy) * ow + ox] = float(s);
        }
  return y;
}

// A fused activation ("activation" attr, as conv nodes carry it) applied to
// the reference output in double precision; clip uses [-1, 1.5].
void activate_ref(Tensor& t, const std::string& act) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    float& f = t.data_as<float>()[i];
    const double v = f;
    if (act == "relu") f = float(std::max(v, 0.0));
    if (act == "relu6") f = float(std::clamp(v, 0.0, 6.0));
    if (act == "clip") f = float(std::clamp(v, -1.0, 1.5));
    if (act == "hardswish") f = float(v * std::clamp(v + 3.0, 0.0, 6.0) / 6.0);
    if (act == "sigmoid") f = float(1.0 / (1.0 + std::exp(-v)));
    if (act == "tanh") f = float(std::tanh(v));
    if (act == "leaky_relu") f = float(v < 0 ? 0.2 * v : v);
  }
}

// Sets the "activation" attr (and its parameters) as activate_ref expects.
void set_activation(Attrs& a, const std::string& act) {
  if (act.empty()) return;
  a.set("activation", act);
  if (act == "clip") a.set("act_min", -1.f), a.set("act_max", 1.5f);
  if (act == "leaky_relu") a.set("act_alpha", 0.2f);
}

Attrs conv_attrs(const ConvP& p) {
  Attrs a = nhwc_attrs();
  a.set("strides", std::vector<int64_t>{p.sh, p.sw});
  a.set("dilations", std::vector<int64_t>{p.dh, p.dw});
  a.set("pads", std::vector<int64_t>{p.pt, p.pl, p.pb, p.pr});
  a.set("group", p.group);
  return a;
}

RunResult run_conv(const ConvP& p, const Tensor& x, const Tensor& w, const Tensor& b, Attrs a, int threads,
                   bool const_w = true) {
  std::vector<In> ins = {rt("x", to_nhwc(x)), const_w ? cst("w", w) : rt("w", w)};
  if (p.bias) ins.push_back(cst("b", b));
  return run_op("Conv", ins, a, threads);
}

// Sets EF_CONV_GEMM (which dense-conv path is chosen) for one test.
struct ConvGemmMode {
  explicit ConvGemmMode(const char* mode) { setenv("EF_CONV_GEMM", mode, 1); }
  ~ConvGemmMode() { unsetenv("EF_CONV_GEMM"); }
};

TEST(Conv, RandomConfigurationsMatchReference) {
  ConvGemmMode xnnpack_only("0");
  std::mt19937 rng(42);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 40; ++iter) {
    ConvP p;
    p.n = pick(1, 2);
    int kind = iter % 4;  // 0 dense, 1 grouped, 2 depthwise, 3 depthwise with multiplier
    int64_t gch = pick(1, 4);
    if (kind == 0) p.group = 1, p.c = pick(1, 7), p.m = pick(1, 9);
    if (kind == 1) p.group = pick(2, 3), p.c = p.group * gch, p.m = p.group * pick(1, 3);
    if (kind == 2) p.c = pick(2, 9), p.group = p.c, p.m = p.c;
    if (kind == 3) p.c = pick(2, 5), p.group = p.c, p.m = p.c * 2;
    p.kh = pick(1, 5), p.kw = pick(1, 5);
    p.sh = pick(1, 3), p.sw = pick(1, 3);
    p.dh = pick(1, 2), p.dw = pick(1, 2);
    p.pt = pick(0, 2), p.pl = pick(0, 2), p.pb = pick(0, 2), p.pr = pick(0, 2);
    p.h = pick((p.kh - 1) * p.dh + 1, 13), p.w = pick((p.kw - 1) * p.dw + 1, 14);
    p.bias = iter % 3 != 0;
    Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 100 + iter);
    Tensor w = random_tensor({p.m, p.c / p.group, p.kh, p.kw}, 200 + iter);
    Tensor b = random_tensor({p.m}, 300 + iter);
    Tensor want = conv_ref(x, w, p.bias ? &b : nullptr, p);
    int threads = iter % 2 ? 2 : 1;
    auto r = run_conv(p, x, w, b, conv_attrs(p), threads);
    SCOPED_TRACE("iter " + std::to_string(iter) + " group " + std::to_string(p.group) + " k " + std::to_string(p.kh) +
                 "x" + std::to_string(p.kw) + " s " + std::to_string(p.sh) + "," + std::to_string(p.sw) + " d " +
                 std::to_string(p.dh) + "," + std::to_string(p.dw));
    EXPECT_EQ(r.impl, "xnnpack");
    EXPECT_TRUE(close(to_nchw(r.y), want));
    // the own kernel (runtime weights) on the same problem
    auto r2 = run_conv(p, x, w, b, conv_attrs(p), threads, /*const_w=*/false);
    EXPECT_EQ(r2.impl, "ref");
    EXPECT_TRUE(close(to_nchw(r2.y), want));
  }
}

// Dense convs with 1-4 output channels (heatmap heads) run as row dot
// products: interior pixels vectorised, border pixels checked; strides, pads,
// rows of 1-4 vectors with a partial last one, relu6 fused.
TEST(Conv, FewOutputChannelsMatchReference) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 24; ++iter) {
    ConvP p;
    p.m = 1 + iter % 4;
    p.c = iter < 4 ? 8 : pick(1, 20);
    p.kh = pick(2, 5), p.kw = pick(1, std::max<int>(1, std::min<int>(5, int(64 / p.c))));
    if (p.kw * p.c > 64) p.kw = 1;
    p.sh = pick(1, 2), p.sw = pick(1, 2);
    p.pt = pick(0, 2), p.pl = pick(0, 2), p.pb = pick(0, 2), p.pr = pick(0, 2);
    p.h = pick(p.kh, 20), p.w = pick(p.kw, 23);
    p.bias = iter % 3 != 0;
    Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 1100 + iter);
    Tensor w = random_tensor({p.m, p.c, p.kh, p.kw}, 1200 + iter);
    Tensor b = random_tensor({p.m}, 1300 + iter);
    Tensor want = conv_ref(x, w, p.bias ? &b : nullptr, p);
    for (int64_t i = 0; i < want.numel(); ++i) want.data_as<float>()[i] = std::clamp(want.data_as<float>()[i], 0.f, 6.f);
    Attrs a = conv_attrs(p);
    a.set("activation", std::string("relu6"));
    SCOPED_TRACE("iter " + std::to_string(iter) + " m " + std::to_string(p.m) + " c " + std::to_string(p.c) + " k " +
                 std::to_string(p.kh) + "x" + std::to_string(p.kw));
    auto r = run_conv(p, x, w, b, a, 1 + iter % 2);
    EXPECT_EQ(r.impl, "own-fewout");
    EXPECT_TRUE(close(to_nchw(r.y), want));
  }
}

// One convolution (bias included iff p.bias) with fused activation `act`
// at 1 and 2 threads against the reference, run on kernel `impl`; weights
// in [-wmax, wmax].
void expect_conv_matches(const ConvP& p, uint32_t seed, float wmax, const std::string& impl,
                         const std::string& act = "") {
  Tensor x = random_tensor({p.n, p.c, p.h, p.w}, seed);
  Tensor w = random_tensor({p.m, p.c / p.group, p.kh, p.kw}, seed + 1, -wmax, wmax);
  Tensor b = random_tensor({p.m}, seed + 2);
  Tensor want = conv_ref(x, w, p.bias ? &b : nullptr, p);
  activate_ref(want, act);
  Attrs a = conv_attrs(p);
  set_activation(a, act);
  for (int threads : {1, 2}) {
    SCOPED_TRACE("n " + std::to_string(p.n) + " c " + std::to_string(p.c) + " m " + std::to_string(p.m) +
                 " group " + std::to_string(p.group) + " hw " + std::to_string(p.h) + "x" + std::to_string(p.w) +
                 " k " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s " + std::to_string(p.sh) + "," +
                 std::to_string(p.sw) + " d " + std::to_string(p.dh) + " pads " + std::to_string(p.pt) +
                 std::to_string(p.pl) + std::to_string(p.pb) + std::to_string(p.pr) + " bias " +
                 std::to_string(p.bias) + " act '" + act + "' threads " + std::to_string(threads));
    auto r = run_conv(p, x, w, b, a, threads);
    EXPECT_EQ(r.impl, impl);
    EXPECT_TRUE(close(to_nchw(r.y), want));
  }
}

// The own AVX-512 implicit GEMM (EF_CONV_GEMM=all forces it for every dense
// conv): channel counts around its 64-channel panels, 16-lane masks and
// 128-deep K blocks (whole taps below, slices of one tap above), few pixels
// (threads split channels) and many (threads split pixels), fused clamps and
// a separate activation pass. Weights in [-0.2, 0.2] keep sums near 1, so the
// folder's tolerance holds for K up to ~1400.
TEST(Conv, OwnGemmMatchesReference) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the GEMM path is not used";
  ConvGemmMode gemm_everywhere("all");
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  const int64_t channels[] = {1, 3, 16, 17, 63, 64, 65, 127, 128, 129, 150, 200, 256, 300};
  const char* acts[] = {"", "relu", "relu6", "hardswish"};
  for (int iter = 0; iter < 36; ++iter) {
    ConvP p;
    p.n = pick(1, 2);
    p.c = channels[pick(0, 13)], p.m = channels[pick(0, 13)];
    p.kh = pick(1, 3), p.kw = pick(1, 3);
    p.sh = pick(1, 2), p.sw = pick(1, 2);
    p.dh = pick(1, 2), p.dw = pick(1, 2);
    p.pt = pick(0, 2), p.pl = pick(0, 2), p.pb = pick(0, 2), p.pr = pick(0, 2);
    const int64_t big = iter % 3 == 0 ? 13 : 5;  // many pixels, or few
    p.h = pick((p.kh - 1) * p.dh + 1, big), p.w = pick((p.kw - 1) * p.dw + 1, big + 1);
    p.bias = iter % 4 != 1;
    expect_conv_matches(p, 500 + 3 * iter, 0.2f, "gemm-avx512", acts[iter % 4]);
  }
}

// Depthwise convolutions on the own kernel (conv_dw_f32.h; EF_CONV_GEMM=all
// takes it wherever it fits): channel counts that pack 8, 16, 4 or 2
// pixels into whole vectors at stride 1 (2, 3, 8, 12, 24, 40), that fill
// them (16, 32, 64: the row window, padding as masked vectors) or leave a
// masked tail (17, 36, 100, 150); 3x3 and 5x5, strides 1 and 2, odd sizes,
// rows of fewer and more than eight pixels (window blocks of 8, 4, 2, 1),
// asymmetric and zero padding, batch 2, every fused activation, without
// bias; 1 and 2 threads. Configurations it does not take (depth
// multiplier 2, dilation 2, a 3x5 kernel, stride 3) still match on XNNPACK.
TEST(Conv, OwnDepthwiseMatchesReference) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the depthwise kernel is not used";
  ConvGemmMode own_everywhere("all");
  std::mt19937 rng(23);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  const int64_t channels[] = {2, 3, 8, 12, 16, 17, 24, 32, 36, 40, 64, 100, 150};
  const char* acts[] = {"", "relu", "relu6", "clip", "hardswish", "sigmoid", "tanh", "leaky_relu"};
  for (int iter = 0; iter < 52; ++iter) {
    ConvP p;
    p.n = iter % 7 == 3 ? 2 : 1;
    p.c = p.m = p.group = channels[iter % 13];
    p.kh = p.kw = iter % 3 == 2 ? 5 : 3;
    p.sh = p.sw = 1 + (iter / 13) % 2;
    if (iter % 5 == 4) p.pt = p.pl = p.pb = p.pr = 0;
    else p.pt = pick(0, 2), p.pl = pick(0, 2), p.pb = pick(0, 2), p.pr = pick(0, 2);
    p.bias = iter % 4 != 1;
    const int kind = iter >= 48 ? iter - 48 : -1;  // the last four: configurations the kernel refuses
    if (kind == 0) p.m = 2 * p.c;
    if (kind == 1) p.dh = p.dw = 2;
    if (kind == 2) p.kh = 3, p.kw = 5;
    if (kind == 3) p.sh = p.sw = 3;
    p.h = pick((p.kh - 1) * p.dh + 1, 11), p.w = pick((p.kw - 1) * p.dw + 1, iter < 26 ? 40 : 13);
    expect_conv_matches(p, 2000 + 3 * iter, 1.f, kind < 0 ? "own-dw" : "xnnpack", acts[iter % 8]);
  }
}

// Without EF_CONV_GEMM the measured rule (conv.cc dw_wins) picks the
// kernel: own-dw for few channels and 5x5 layers, XNNPACK for 3x3 stride 1
// with 384+ channels and stride 2 with 192+.
TEST(Conv, DepthwiseKernelChosenByMeasuredRule) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the depthwise kernel is not used";
  struct Case {
    int64_t c, hw, k, s;
    const char* impl;
  };
  const Case cases[] = {{8, 12, 3, 1, "own-dw"},     {64, 9, 3, 2, "own-dw"},    {480, 7, 5, 1, "own-dw"},
                        {384, 6, 3, 1, "xnnpack"},  {192, 9, 3, 2, "xnnpack"}};
  uint32_t seed = 2400;
  for (const Case& cs : cases) {
    ConvP p;
    p.c = p.m = p.group = cs.c, p.h = p.w = cs.hw, p.kh = p.kw = cs.k, p.sh = p.sw = cs.s;
    p.pt = p.pl = p.pb = p.pr = cs.k / 2;
    expect_conv_matches(p, seed += 3, 1.f, cs.impl, "relu6");
  }
}

// Weights too big for L2 (the next block is prefetched while one runs) and
// both step orders: K-block-major (many pixels, deep K: the input rows of a
// pixel block exceed L2) and panel-major (few pixels, channels split across
// threads), with a partial last panel and a partial last pixel tile.
TEST(Conv, OwnGemmLargeWeightsBothBlockOrders) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the GEMM path is not used";
  ConvGemmMode gemm_everywhere("all");
  struct Shape2 {
    int64_t c, m, hw, k;
  };
  // The last: 3 panels for 2 threads, so each panel's pixels are split too.
  const Shape2 shapes[] = {{520, 130, 15, 3}, {520, 200, 6, 3}, {1100, 90, 17, 1}, {300, 150, 5, 3}};
  uint32_t seed = 900;
  for (const Shape2& s : shapes) {
    ConvP p;
    p.c = s.c, p.m = s.m, p.h = p.w = s.hw, p.kh = p.kw = s.k;
    p.pt = p.pl = p.pb = p.pr = s.k / 2;
    expect_conv_matches(p, seed += 3, 0.03f, "gemm-avx512");
  }
}

// Few input channels: one indirection entry per kernel row (kw * cin
// contiguous floats) read from a zero-bordered copy of the input when the
// row leaves the image (left pad, or right pad / overhang), else from the
// input itself; batch 2 and odd sizes.
TEST(Conv, OwnGemmRowModeMatchesReference) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the GEMM path is not used";
  ConvGemmMode gemm_everywhere("all");
  struct Case {
    int64_t n, c, m, h, w, k, s, pt, pl, pb, pr;
  };
  const Case cases[] = {
      {1, 3, 64, 23, 19, 7, 2, 3, 3, 3, 3},  // resnet's first layer, small
      {2, 1, 20, 11, 13, 5, 1, 0, 0, 0, 0},  // no padding: rows read in place
      {1, 15, 70, 9, 10, 3, 2, 0, 0, 1, 1},  // right padding only
      {2, 8, 33, 8, 7, 3, 1, 1, 2, 0, 1},    // asymmetric
  };
  uint32_t seed = 950;
  for (const Case& c : cases) {
    ConvP p;
    p.n = c.n, p.c = c.c, p.m = c.m, p.h = c.h, p.w = c.w, p.kh = p.kw = c.k, p.sh = p.sw = c.s;
    p.pt = c.pt, p.pl = c.pl, p.pb = c.pb, p.pr = c.pr;
    expect_conv_matches(p, seed += 3, 0.2f, "gemm-avx512");
  }
}

// A residual (input 3, set by the fuse_conv_add pass) is added in the
// GEMM's epilogue after all K blocks and before the clamp: odd sizes,
// several K blocks, partial panels and pixel tiles, row mode, channel-split
// tasks (few pixels), with and without bias and relu/relu6, 1 and 2
// threads. With EF_CONV_GEMM=0 the reference kernel takes it (XNNPACK
// cannot add a residual).
TEST(Conv, ResidualAddedBeforeActivation) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the GEMM path is not used";
  struct Case {
    int64_t n, c, m, h, w, k, s;
    bool bias;
    const char* act;
  };
  const Case cases[] = {
      {1, 64, 64, 9, 11, 3, 1, true, "relu"},     // resnet-like, 5 K blocks
      {2, 37, 70, 7, 5, 3, 2, false, ""},         // odd channels: partial panel, 2 K blocks
      {1, 300, 130, 3, 3, 3, 1, true, "relu6"},  // few pixels: tasks split the channels
      {1, 129, 17, 13, 13, 1, 1, true, ""},      // 1x1, one panel of 17, partial tiles
      {1, 3, 65, 15, 17, 7, 2, true, "relu"},    // row mode (first layer)
  };
  uint32_t seed = 1300;
  for (const char* mode : {"", "0"}) {
    ConvGemmMode gemm_mode(mode);
    for (const Case& cs : cases) {
      ConvP p;
      p.n = cs.n, p.c = cs.c, p.m = cs.m, p.h = cs.h, p.w = cs.w, p.kh = p.kw = cs.k, p.sh = p.sw = cs.s;
      p.pt = p.pl = p.pb = p.pr = cs.k / 2;
      p.bias = cs.bias;
      const std::string act = cs.act;
      Tensor x = random_tensor({p.n, p.c, p.h, p.w}, seed += 4);
      Tensor w = random_tensor({p.m, p.c, p.kh, p.kw}, seed + 1, -0.1f, 0.1f);
      Tensor b = random_tensor({p.m}, seed + 2);
      Tensor want = conv_ref(x, w, p.bias ? &b : nullptr, p);
      Tensor r = random_tensor(want.shape(), seed + 3, -2.f, 2.f);
      for (int64_t i = 0; i < want.numel(); ++i) {
        float& v = want.data_as<float>()[i];
        v += r.data_as<float>()[i];
        if (act == "relu") v = std::max(v, 0.f);
        if (act == "relu6") v = std::min(std::max(v, 0.f), 6.f);
      }
      Attrs a = conv_attrs(p);
      if (!act.empty()) a.set("activation", act);
      std::vector<In> ins = {rt("x", to_nhwc(x)), cst("w", w), p.bias ? cst("b", b) : none(), rt("r", to_nhwc(r))};
      for (int threads : {1, 2}) {
        SCOPED_TRACE("EF_CONV_GEMM '" + std::string(mode) + "' c " + std::to_string(p.c) + " m " +
                     std::to_string(p.m) + " hw " + std::to_string(p.h) + "x" + std::to_string(p.w) + " k " +
                     std::to_string(p.kh) + " threads " + std::to_string(threads) + " act " + act);
        auto res = run_op("Conv", ins, a, threads);
        EXPECT_EQ(res.impl, std::string(mode) == "0" ? "ref" : "gemm-avx512");
        EXPECT_TRUE(close(to_nchw(res.y), want));
      }
    }
  }
}

// A residual whose shape is not the output's is refused with a message naming it.
TEST(Conv, ResidualOfWrongShapeIsAnError) {
  ConvP p;
  Tensor x = random_tensor({1, p.c, p.h, p.w}, 1), w = random_tensor({p.m, p.c, 3, 3}, 2);
  Tensor r = random_tensor({1, p.h - 2, p.w - 2, p.m + 1}, 3);
  try {
    run_op("Conv", {rt("x", to_nhwc(x)), cst("w", w), none(), rt("r", r)}, conv_attrs(p));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("residual 'r' has shape"), std::string::npos) << e.what();
  }
}

TEST(Conv, AutoPadModesResolveLikeExplicitPads) {
  ConvP p;
  p.c = 3, p.m = 5, p.h = 8, p.w = 7, p.kh = 3, p.kw = 4, p.sh = 2, p.sw = 2;
  Tensor x = random_tensor({1, 3, 8, 7}, 1);
  Tensor w = random_tensor({5, 3, 3, 4}, 2);
  Tensor b = random_tensor({5}, 3);
  for (std::string mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    SCOPED_TRACE(mode);
    ConvP q = p;
    if (mode != "VALID") {
      // out = ceil(in / s); total = (out-1)*s + k - in; UPPER puts the odd pixel at the end
      int64_t oh = (p.h + 1) / 2, ow = (p.w + 1) / 2;
      int64_t th = std::max<int64_t>(0, (oh - 1) * 2 + 3 - p.h), tw = std::max<int64_t>(0, (ow - 1) * 2 + 4 - p.w);
      bool up = mode == "SAME_UPPER";
      q.pt = up ? th / 2 : th - th / 2, q.pb = th - q.pt;
      q.pl = up ? tw / 2 : tw - tw / 2, q.pr = tw - q.pl;
    }
    Attrs a = nhwc_attrs();
    a.set("strides", std::vector<int64_t>{2, 2});
    a.set("auto_pad", mode);
    auto r = run_conv(p, x, w, b, a, 1);
    EXPECT_TRUE(close(to_nchw(r.y), conv_ref(x, w, &b, q)));
  }
}

TEST(Conv, FusedActivationsAreApplied) {
  ConvP p;
  p.c = 4, p.m = 6, p.h = 6, p.w = 5;
  p.pt = p.pl = p.pb = p.pr = 1;
  Tensor x = random_tensor({1, 4, 6, 5}, 7);
  Tensor w = random_tensor({6, 4, 3, 3}, 8);
  Tensor b = random_tensor({6}, 9);
  Tensor base = conv_ref(x, w, &b, p);
  struct Case {
    std::string act;
    float (*f)(float);
  };
  std::vector<Case> cases = {
      {"relu", [](float v) { return std::max(v, 0.f); }},
      {"relu6", [](float v) { return std::min(std::max(v, 0.f), 6.f); }},
      {"sigmoid", [](float v) { return 1.f / (1.f + std::exp(-v)); }},
      {"hardswish", [](float v) { return v * std::min(std::max(v + 3.f, 0.f), 6.f) / 6.f; }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.act);
    Attrs a = conv_attrs(p);
    a.set("activation", c.act);
    Tensor want = base.clone();
    for (int64_t i = 0; i < want.numel(); ++i) want.data_as<float>()[i] = c.f(want.data_as<float>()[i]);
    EXPECT_TRUE(close(to_nchw(run_conv(p, x, w, b, a, 1).y), want));
    EXPECT_TRUE(close(to_nchw(run_conv(p, x, w, b, a, 2, false).y), want));
  }
}

TEST(Conv, OneDimensional) {
  // [N, C, L] conv1d as H=1
  ConvP p;
  p.n = 2, p.c = 3, p.m = 4, p.h = 1, p.w = 11, p.kh = 1, p.kw = 3, p.sw = 2, p.dw = 2, p.pl = 2, p.pr = 1;
  Tensor x = random_tensor({2, 3, 1, 11}, 4);
  Tensor w = random_tensor({4, 3, 1, 3}, 5);
  Tensor b = random_tensor({4}, 6);
  Tensor want = conv_ref(x, w, &b, p);
  Attrs a = nhwc_attrs();
  a.set("strides", std::vector<int64_t>{2});
  a.set("dilations", std::vector<int64_t>{2});
  a.set("pads", std::vector<int64_t>{2, 1});
  auto r = run_op("Conv", {rt("x", to_nhwc(x).reshaped({2, 11, 3})), cst("w", w.reshaped({4, 3, 3})), cst("b", b)}, a);
  EXPECT_TRUE(close(to_nchw(r.y.reshaped({2, 1, r.y.dim(1), 4})), want));
}

// NCHW graphs (no layout attr): 4-D goes through the session's layout pass,
// 3-D (conv1d, which that pass leaves alone) through the NCHW adapter.
TEST(Conv, NchwGraphsRunThroughTheSession) {
  ConvP p;
  p.n = 2, p.c = 4, p.m = 6, p.h = 9, p.w = 8, p.group = 2, p.sh = 2, p.pt = 1, p.pl = 0, p.pb = 2, p.pr = 1;
  Tensor x = random_tensor({2, 4, 9, 8}, 31), w = random_tensor({6, 2, 3, 3}, 32), b = random_tensor({6}, 33);
  Attrs a = conv_attrs(p);
  a.erase("layout");
  for (int threads : {1, 2}) {
    auto r = run_op("Conv", {rt("x", x), cst("w", w), cst("b", b)}, a, threads);
    EXPECT_TRUE(close(r.y, conv_ref(x, w, &b, p)));
  }
  ConvP q;
  q.n = 2, q.c = 3, q.m = 5, q.h = 1, q.w = 13, q.kh = 1, q.kw = 5, q.sw = 2, q.pl = 2, q.pr = 2;
  Tensor x1 = random_tensor({2, 3, 1, 13}, 34), w1 = random_tensor({5, 3, 1, 5}, 35), b1 = random_tensor({5}, 36);
  Attrs a1;
  a1.set("strides", std::vector<int64_t>{2});
  a1.set("pads", std::vector<int64_t>{2, 2});
  for (int threads : {1, 2}) {
    auto r = run_op("Conv", {rt("x", x1.reshaped({2, 3, 13})), cst("w", w1.reshaped({5, 3, 5})), cst("b", b1)}, a1,
                    threads);
    Tensor want = conv_ref(x1, w1, &b1, q);
    EXPECT_TRUE(close(r.y, want.reshaped({2, 5, want.dim(3)})));
    EXPECT_EQ(r.impl, "nchw+xnnpack");
  }
}

// ---- ConvTranspose: scatter reference
struct DeconvP {
  int64_t n = 1, c = 4, h = 5, w = 6, m = 3, kh = 3, kw = 3, group = 1;
  int64_t sh = 2, sw = 2, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0, oph = 0, opw = 0;
};

Tensor deconv_ref(const Tensor& x, const Tensor& w, const Tensor* b, const DeconvP& p) {
  const int64_t Cg = p.c / p.group, Mg = p.m / p.group;
  const int64_t oh = p.sh * (p.h - 1) + p.oph + (p.kh - 1) * p.dh + 1 - p.pt - p.pb;
  const int64_t ow = p.sw * (p.w - 1) + p.opw + (p.kw - 1) * p.dw + 1 - p.pl - p.pr;
  std::vector<double> acc(size_t(p.n * p.m * oh * ow), 0.0);
  const float* X = x.data_as<float>();
  const float* W = w.data_as<float>();  // [C][Mg][kh][kw]
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t ci = 0; ci < p.c; ++ci)
      for (int64_t iy = 0; iy < p.h; ++iy)
        for (int64_t ix = 0; ix < p.w; ++ix) {
          const double v = X[((n * p.c + ci) * p.h + iy) * p.w + ix];
          const int64_t g = ci / Cg;
          for (int64_t mo = 0; mo < Mg; ++mo)
            for (int64_t ky = 0; ky < p.kh; ++ky)
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                int64_t oy = iy * p.sh - p.pt + ky * p.dh, ox = ix * p.sw - p.pl + kx * p.dw;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                acc[size_t(((n * p.m + g * Mg + mo) * oh + oy) * ow + ox)] +=
                    v * W[((ci * Mg + mo) * p.kh + ky) * p.kw + kx];
              }
        }
  Tensor y(DType::f32, {p.n, p.m, oh, ow});
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t m = (i / (oh * ow)) % p.m;
    y.data_as<float>()[i] = float(acc[size_t(i)] + (b ? b->data_as<float>()[m] : 0.f));
  }
  return y;
}

TEST(ConvTranspose, RandomConfigurationsMatchReference) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 30; ++iter) {
    DeconvP p;
    p.n = pick(1, 2);
    p.group = iter % 3 == 0 ? pick(2, 3) : 1;
    p.c = p.group * pick(1, 4);
    p.m = p.group * pick(1, 4);
    if (iter % 5 == 4) p.group = p.c, p.m = p.c;  // depthwise
    p.kh = pick(1, 4), p.kw = pick(1, 4);
    p.sh = pick(1, 3), p.sw = pick(1, 3);
    p.dh = pick(1, 2), p.dw = pick(1, 2);
    p.h = pick(1, 7), p.w = pick(1, 8);
    p.pt = pick(0, std::min<int>(2, (p.kh - 1) * p.dh)), p.pb = pick(0, std::min<int>(2, (p.kh - 1) * p.dh));
    p.pl = pick(0, std::min<int>(2, (p.kw - 1) * p.dw)), p.pr = pick(0, std::min<int>(2, (p.kw - 1) * p.dw));
    p.oph = pick(0, int(std::max(p.sh, p.dh)) - 1), p.opw = pick(0, int(std::max(p.sw, p.dw)) - 1);
    Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 500 + iter);
    Tensor w = random_tensor({p.c, p.m / p.group, p.kh, p.kw}, 600 + iter);
    Tensor b = random_tensor({p.m}, 700 + iter);
    Tensor want = deconv_ref(x, w, &b, p);
    Attrs a = nhwc_attrs();
    a.set("strides", std::vector<int64_t>{p.sh, p.sw});
    a.set("dilations", std::vector<int64_t>{p.dh, p.dw});
    a.set("pads", std::vector<int64_t>{p.pt, p.pl, p.pb, p.pr});
    a.set("output_padding", std::vector<int64_t>{p.oph, p.opw});
    a.set("group", p.group);
    SCOPED_TRACE("iter " + std::to_string(iter));
    int threads = iter % 2 ? 2 : 1;
    auto r = run_op("ConvTranspose", {rt("x", to_nhwc(x)), cst("w", w), cst("b", b)}, a, threads);
    EXPECT_TRUE(close(to_nchw(r.y), want));
    if (p.oph < p.sh && p.opw < p.sw)
      EXPECT_TRUE(r.impl == "xnnpack" || r.impl == "xnn-1x1+d2s" || r.impl == "avx512-direct") << r.impl;
    auto r2 = run_op("ConvTranspose", {rt("x", to_nhwc(x)), rt("w", w), cst("b", b)}, a, threads);
    EXPECT_EQ(r2.impl, "ref");
    EXPECT_TRUE(close(to_nchw(r2.y), want));
  }
}

// Kernel = stride (MediaPipe's segmentation heads): with at most 16 outputs
// per input pixel the direct AVX-512 kernel (16 pixels per vector, rows of
// more than 16 pixels, odd channel counts, a padded border cropped, 1 and 2
// threads), else a 1x1 conv to KH*KW*M channels and a depth-to-space scatter.
TEST(ConvTranspose, KernelEqualToStrideRunsDirectOrAsOneByOneConv) {
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  int iter = 0;
  for (int64_t k : {2, 3})
    for (int64_t m : {1, 2, 5})
      for (int64_t c : {3, 16, 21})
        for (int64_t pad : {0, 1}) {
          DeconvP p;
          p.n = 1 + iter % 2, p.c = c, p.m = m, p.h = 5, p.w = iter % 3 ? 19 : 11, p.kh = p.kw = p.sh = p.sw = k;
          p.pt = p.pl = pad, p.pb = 0, p.pr = pad;
          Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 800 + iter);
          Tensor w = random_tensor({p.c, p.m, k, k}, 900 + iter);
          Tensor b = random_tensor({p.m}, 1000 + iter);
          Attrs a = nhwc_attrs();
          a.set("strides", std::vector<int64_t>{k, k});
          a.set("pads", std::vector<int64_t>{p.pt, p.pl, p.pb, p.pr});
          const bool sigmoid = iter % 4 != 3;
          if (sigmoid) a.set("activation", std::string("sigmoid"));
          Tensor want = deconv_ref(x, w, &b, p);
          if (sigmoid)
            for (int64_t i = 0; i < want.numel(); ++i) want.data_as<float>()[i] = 1.f / (1.f + std::exp(-want.data_as<float>()[i]));
          SCOPED_TRACE("k " + std::to_string(k) + " m " + std::to_string(m) + " c " + std::to_string(c) + " pad " +
                       std::to_string(pad));
          auto r = run_op("ConvTranspose", {rt("x", to_nhwc(x)), cst("w", w), cst("b", b)}, a, 1 + iter++ % 2);
          EXPECT_EQ(r.impl, avx512 && k * k * m <= 16 ? "avx512-direct" : "xnn-1x1+d2s");
          EXPECT_TRUE(close(to_nchw(r.y), want));
        }
}

TEST(ConvTranspose, NchwGraph) {
  DeconvP p;
  p.c = 4, p.m = 6, p.group = 2, p.h = 5, p.w = 4, p.kh = 4, p.kw = 4, p.pt = p.pl = p.pb = p.pr = 1;
  Tensor x = random_tensor({1, 4, 5, 4}, 41), w = random_tensor({4, 3, 4, 4}, 42), b = random_tensor({6}, 43);
  Attrs a;
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("group", int64_t(2));
  auto r = run_op("ConvTranspose", {rt("x", x), cst("w", w), cst("b", b)}, a, 2);
  EXPECT_TRUE(close(r.y, deconv_ref(x, w, &b, p)));
}

TEST(ConvTranspose, OutputShapeAttributeSetsPadsAndAdjustment) {
  // in 5x5, k3, s2: full size 11. output_shape 10x12 -> pads total 1 (end) and
  // adjustment 1 on W (ONNX Runtime convention for NOTSET: odd pixel at end).
  DeconvP p;
  p.c = 2, p.m = 3, p.h = 5, p.w = 5;
  Tensor x = random_tensor({1, 2, 5, 5}, 11);
  Tensor w = random_tensor({2, 3, 3, 3}, 12);
  Attrs a = nhwc_attrs();
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("output_shape", std::vector<int64_t>{10, 12});
  auto r = run_op("ConvTranspose", {rt("x", to_nhwc(x)), cst("w", w)}, a);
  DeconvP q = p;
  q.pb = 1, q.opw = 1;
  EXPECT_TRUE(close(to_nchw(r.y), deconv_ref(x, w, nullptr, q)));
}

}  // namespace
}  // namespace ef::test
