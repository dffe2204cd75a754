// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool against naive NCHW
// references with PyTorch's semantics (ceil_mode: the last window starts
// inside the input or its leading padding; count_include_pad counts padding
// up to the padded border but not the ceil overhang).
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include <algorithm>

#include "spatial_util.h"

namespace ef::test {
namespace {

struct PoolP {
  int64_t n = 1, c = 3, h = 7, w = 8, kh = 3, kw = 3, sh = 2, sw = 2, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  bool ceil = false, include_pad = false;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, bool ceil) {
  double v = double(in + p0 + p1 - (k - 1) * d - 1) / double(s);
  int64_t o = int64_t(ceil ? std::ceil(v) : std::floor(v)) + 1;
  if (ceil && (o - 1) * s >= in + p0) --o;
  return o;
}

Tensor pool_ref(const Tensor& x, const PoolP& p, bool is_max) {
  const int64_t oh = out_size(p.h, p.kh, p.sh, p.dh, p.pt, p.pb, p.ceil);
  const int64_t ow = out_size(p.w, p.kw, p.sw, p.dw, p.pl, p.pr, p.ceil);
  Tensor y(DType::f32, {p.n, p.c, oh, ow});
  const float* X = x.data_as<float>();
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t c = 0; c < p.c; ++c)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double m = -INFINITY, s = 0;
          int64_t valid = 0;
          const int64_t y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
          for (int64_t ky = 0; ky < p.kh; ++ky)
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              int64_t iy = y0 + ky * p.dh, ix = x0 + kx * p.dw;
              if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
              double v = X[((n * p.c + c) * p.h + iy) * p.w + ix];
              m = std::max(m, v);
              s += v;
              ++valid;
            }
          double r;
          if (is_max) {
            r = m;
          } else if (p.include_pad) {  // PyTorch: window clipped to the padded input
            int64_t hend = std::min(y0 + p.kh, p.h + p.pb), wend = std::min(x0 + p.kw, p.w + p.pr);
            r = s / double((hend - y0) * (wend - x0));
          } else {
            r = s / double(valid);
          }
          y.data_as<float>()[((n * p.c + c) * oh + oy) * ow + ox] = float(r);
        }
  return y;
}

Attrs pool_attrs(const PoolP& p, bool is_max) {
  Attrs a = nhwc_attrs();
  a.set("kernel_shape", std::vector<int64_t>{p.kh, p.kw});
  a.set("strides", std::vector<int64_t>{p.sh, p.sw});
  if (is_max) a.set("dilations", std::vector<int64_t>{p.dh, p.dw});
  a.set("pads", std::vector<int64_t>{p.pt, p.pl, p.pb, p.pr});
  a.set("ceil_mode", int64_t(p.ceil));
  if (!is_max) a.set("count_include_pad", int64_t(p.include_pad));
  return a;
}

TEST(Pool, RandomMaxAndAverageMatchReference) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  int xnn_used = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const bool is_max = iter % 2 == 0;
    PoolP p;
    p.n = pick(1, 2), p.c = pick(1, 9);
    p.kh = pick(1, 4), p.kw = pick(1, 4);
    if (p.kh * p.kw == 1) p.kw = 2;
    p.sh = pick(1, 3), p.sw = pick(1, 3);
    if (is_max && iter % 6 == 0) p.dh = pick(1, 2), p.dw = pick(1, 2);
    // PyTorch requires pad <= kernel/2
    p.pt = pick(0, int(p.kh / 2)), p.pb = pick(0, int(p.kh / 2));
    p.pl = pick(0, int(p.kw / 2)), p.pr = pick(0, int(p.kw / 2));
    p.ceil = iter % 3 == 1;
    p.include_pad = iter % 4 == 1;
    p.h = pick(int((p.kh - 1) * p.dh + 1), 12), p.w = pick(int((p.kw - 1) * p.dw + 1), 13);
    Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 900 + iter);
    Tensor want = pool_ref(x, p, is_max);
    SCOPED_TRACE("iter " + std::to_string(iter) + (is_max ? " max" : " avg") + (p.ceil ? " ceil" : "") +
                 (p.include_pad ? " include_pad" : ""));
    auto r = run_op(is_max ? "MaxPool" : "AveragePool", {rt("x", to_nhwc(x))}, pool_attrs(p, is_max), 1 + iter % 2);
    xnn_used += r.impl == "xnnpack";
    EXPECT_TRUE(close(to_nchw(r.y), want));
  }
  EXPECT_GT(xnn_used, 20);
}

TEST(Pool, CountIncludePadWithCeilMode) {
  PoolP p;
  p.c = 2, p.h = 6, p.w = 6, p.kh = 3, p.kw = 3, p.sh = 2, p.sw = 2, p.pt = 1, p.pl = 1, p.pb = 1, p.pr = 1;
  p.ceil = true;
  for (bool inc : {false, true}) {
    p.include_pad = inc;
    Tensor x = random_tensor({1, 2, 6, 6}, 5);
    auto r = run_op("AveragePool", {rt("x", to_nhwc(x))}, pool_attrs(p, false));
    EXPECT_TRUE(close(to_nchw(r.y), pool_ref(x, p, false))) << "count_include_pad " << inc;
  }
}

TEST(Pool, GlobalPools) {
  for (int threads : {1, 2}) {
    Tensor x = random_tensor({2, 5, 7, 3}, 17);  // NCHW
    Tensor avg(DType::f32, {2, 5, 1, 1}), mx(DType::f32, {2, 5, 1, 1});
    for (int64_t i = 0; i < 10; ++i) {
      double s = 0, m = -INFINITY;
      for (int64_t p = 0; p < 21; ++p) {
        s += x.data_as<float>()[i * 21 + p];
        m = std::max<double>(m, x.data_as<float>()[i * 21 + p]);
      }
      avg.data_as<float>()[i] = float(s / 21);
      mx.data_as<float>()[i] = float(m);
    }
    auto ra = run_op("GlobalAveragePool", {rt("x", to_nhwc(x))}, nhwc_attrs(), threads);
    EXPECT_EQ(ra.impl, "xnnpack");
    EXPECT_TRUE(close(to_nchw(ra.y), avg));
    auto rm = run_op("GlobalMaxPool", {rt("x", to_nhwc(x))}, nhwc_attrs(), threads);
    EXPECT_TRUE(close(to_nchw(rm.y), mx));
  }
}

TEST(Pool, NchwGraphs) {
  PoolP p;
  p.n = 2, p.c = 5, p.h = 9, p.w = 10, p.kh = 3, p.kw = 2, p.sh = 2, p.sw = 2, p.pt = 1, p.pb = 1, p.ceil = true;
  Tensor x = random_tensor({2, 5, 9, 10}, 61);
  for (bool is_max : {true, false}) {
    Attrs a = pool_attrs(p, is_max);
    a.erase("layout");
    auto r = run_op(is_max ? "MaxPool" : "AveragePool", {rt("x", x)}, a, 2);
    EXPECT_TRUE(close(r.y, pool_ref(x, p, is_max))) << is_max;
  }
  // 1-D pools [N, C, L] run through the NCHW adapter
  PoolP q;
  q.n = 2, q.c = 3, q.h = 1, q.w = 11, q.kh = 1, q.kw = 3, q.sh = 1, q.sw = 2, q.pl = 1, q.pr = 1;
  q.include_pad = true;
  Tensor x1 = random_tensor({2, 3, 1, 11}, 62);
  Attrs a;
  a.set("kernel_shape", std::vector<int64_t>{3});
  a.set("strides", std::vector<int64_t>{2});
  a.set("pads", std::vector<int64_t>{1, 1});
  a.set("count_include_pad", int64_t(1));
  Tensor want = pool_ref(x1, q, false);
  auto r = run_op("AveragePool", {rt("x", x1.reshaped({2, 3, 11}))}, a);
  EXPECT_TRUE(close(r.y, want.reshaped({2, 3, want.dim(3)})));
  Tensor gx = random_tensor({2, 4, 7}, 63);
  auto rg = run_op("GlobalMaxPool", {rt("x", gx)}, {});
  ASSERT_EQ(rg.y.shape(), (Shape{2, 4, 1}));
  for (int64_t i = 0; i < 8; ++i) {
    float m = -INFINITY;
    for (int64_t k = 0; k < 7; ++k) m = std::max(m, gx.data_as<float>()[i * 7 + k]);
    EXPECT_EQ(rg.y.data_as<float>()[i], m);
  }
}

TEST(Pool, AutoPadSameUpper) {
  PoolP p;
  p.c = 3, p.h = 7, p.w = 8, p.kh = 3, p.kw = 3, p.sh = 2, p.sw = 2;
  // out = ceil(7/2)=4, total = 3*2+3-7 = 2 -> 1/1; W: out 4, total 6+3-8=1 -> 0/1
  PoolP q = p;
  q.pt = 1, q.pb = 1, q.pl = 0, q.pr = 1;
  Tensor x = random_tensor({1, 3, 7, 8}, 23);
  Attrs a = nhwc_attrs();
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("auto_pad", std::string("SAME_UPPER"));
  EXPECT_TRUE(close(to_nchw(run_op("MaxPool", {rt("x", to_nhwc(x))}, a).y), pool_ref(x, q, true)));
  EXPECT_TRUE(close(to_nchw(run_op("AveragePool", {rt("x", to_nhwc(x))}, a).y), pool_ref(x, q, false)));
}

}  // namespace
}  // namespace ef::test
