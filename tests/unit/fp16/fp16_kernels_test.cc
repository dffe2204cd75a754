// --precision fp16: Conv/Gemm/MatMul weights stored as float16 and run by
// kernels/linear_f16.cc, with float32 arithmetic (weights widened on the fly;
// --fp16-compute f32, and the fallback without AVX512-FP16) or float16
// arithmetic (linear_f16_fma.cc, AVX512-FP16; --fp16-compute f16).
//
// References (naive, double accumulation) and tolerances, per output y with
// K products x_k * w_k and S = sum_k |x_k * w_k|:
// float32 arithmetic
//   * same f16-rounded weights:  |y - ref| <= 2 K 2^-24 S + 1e-6
//     (float32 accumulation of K terms; the standard gamma_K bound, doubled)
//   * original f32 weights:      |y - ref| <= 2^-11 S + 2^-25 sum_k |x_k| + the above
//     (each weight rounded to f16: relative 2^-11 for normal values,
//     absolute 2^-25 for subnormals)
// float16 arithmetic
//   * a simulation of the kernel's rounding: x and w rounded to f16, each
//     FMA rounded to f16 within blocks of kF16Block products (same order),
//     block sums added in float32 to the bias: |y - sim| <= 2^-10 P + 1e-6,
//     P = sum over blocks of the block's largest |partial sum| (one f16 ulp
//     per block: the simulation rounds double -> float -> half, which can
//     differ from the FMA's single rounding at a tie)
//   * the exact result with the original f32 weights: |y - ref| <=
//     (2 + kF16Block) 2^-11 S + 2^-25 (sum|x| + sum|w|) + 1e-6 (x and w each
//     rounded to f16, then f16 accumulation over at most kF16Block terms)
#include <cmath>

#include "graph/passes/passes.h"
#include "runtime/kernels/linear_f16.h"
#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

float round_f16(float v) { return half_to_float(float_to_half(v)); }

struct F16Run {
  Tensor y;
  OptimizeReport report;
  std::vector<DType> weight_dtypes;  // input 1 of every Conv/Gemm/MatMul in the compiled graph
  std::vector<std::string> impls;  // of those nodes' kernels
};

F16Run run_fp16(const std::string& op, const std::vector<In>& ins, Attrs attrs, int threads = 1,
                Fp16Compute mode = Fp16Compute::f32) {
  std::vector<Tensor> feeds;
  Graph g = one_node(op, ins, 1, std::move(attrs), &feeds);
  CompileOptions o;
  o.threads = threads;
  o.precision = Precision::fp16;
  o.fp16_compute = mode;
  o.profile = true;
  Session s(Model::from_graph(std::move(g)), o);
  F16Run r;
  r.y = s.run(feeds)[0].clone();
  r.report = s.report();
  for (const Node& n : s.graph().nodes)
    if (n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul") r.weight_dtypes.push_back(s.graph().in(n, 1).dtype);
  for (const auto& l : s.profile())
    if (l.op == "Conv" || l.op == "Gemm" || l.op == "MatMul") r.impls.push_back(l.impl);
  return r;
}

// y, S (sum |x w|), A (sum |x|) per output, in double.
// ... and for float16 arithmetic, the simulated kernel output and P (sum
// over blocks of the largest |partial sum|), and sum |w|.
struct Ref {
  std::vector<double> y, s, a, sim, p, aw;
  int64_t k = 0;
};

// One output of the float16 kernel, simulated: products in kernel order.
struct F16Sim {
  float sum;
  float acc = 0;
  double peak = 0, p = 0;
  int64_t filled = 0;
  explicit F16Sim(float bias) : sum(bias) {}
  void add(float x, float w) {
    acc = round_f16(float(double(round_f16(x)) * double(round_f16(w)) + double(acc)));
    peak = std::max(peak, double(std::fabs(acc)));
    if (++filled == kF16Block) flush();
  }
  void flush() {
    sum += acc, p += peak;
    acc = 0, peak = 0, filled = 0;
  }
  float result() {
    flush();
    return sum;
  }
};

bool cpu_f16() { return cpu_has_avx512fp16(); }

// float16 arithmetic against the simulation and against the exact result.
void expect_f16_math(const Tensor& got, const Ref& r, const std::string& what) {
  ASSERT_EQ(size_t(got.numel()), r.y.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < r.y.size(); ++i) {
    const double y = got.data_as<float>()[i];
    const double tol_sim = std::ldexp(1.0, -10) * r.p[i] + 1e-6;
    const double tol_exact = (2.0 + double(kF16Block)) * std::ldexp(1.0, -11) * r.s[i] +
                             std::ldexp(1.0, -25) * (r.a[i] + r.aw[i]) + 1e-6;
    if (!(std::fabs(y - r.sim[i]) <= tol_sim) && bad++ < 5)
      ADD_FAILURE() << what << ": at " << i << " got " << y << ", simulated " << r.sim[i] << " (tol " << tol_sim << ")";
    if (!(std::fabs(y - r.y[i]) <= tol_exact) && bad++ < 5)
      ADD_FAILURE() << what << ": at " << i << " got " << y << ", exact " << r.y[i] << " (tol " << tol_exact << ")";
  }
}

void expect_within(const Tensor& got, const Ref& r, bool f32_weights, const std::string& what) {
  ASSERT_EQ(size_t(got.numel()), r.y.size()) << what;
  const double acc = 2.0 * double(r.k) * std::ldexp(1.0, -24);
  int bad = 0;
  for (size_t i = 0; i < r.y.size(); ++i) {
    double tol = acc * r.s[i] + 1e-6;
    if (f32_weights) tol += std::ldexp(1.0, -11) * r.s[i] + std::ldexp(1.0, -25) * r.a[i];
    const double d = std::fabs(double(got.data_as<float>()[i]) - r.y[i]);
    if (!(d <= tol) && bad++ < 5)
      ADD_FAILURE() << what << ": at " << i << " got " << got.data_as<float>()[i] << ", want " << r.y[i]
                    << " (tol " << tol << ")";
  }
}

struct ConvCase {
  int64_t n, h, w, cin, cout, k, stride, pad, dil;
  bool bias;
};

// Naive NCHW convolution (ONNX semantics), weights optionally f16-rounded.
Ref ref_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b, bool round, int64_t oh,
             int64_t ow) {
  Ref r;
  r.k = c.cin * c.k * c.k;
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t o = 0; o < c.cout; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double y = b ? b->data_as<float>()[o] : 0, s = 0, a = 0, aw = 0;
          F16Sim sim(b ? b->data_as<float>()[o] : 0.f);
          for (int64_t ky = 0; ky < c.k; ++ky)
            for (int64_t kx = 0; kx < c.k; ++kx)
              for (int64_t i = 0; i < c.cin; ++i) {
                const int64_t iy = oy * c.stride - c.pad + ky * c.dil, ix = ox * c.stride - c.pad + kx * c.dil;
                const bool in = iy >= 0 && ix >= 0 && iy < c.h && ix < c.w;
                const float xf = in ? x.data_as<float>()[((n * c.cin + i) * c.h + iy) * c.w + ix] : 0.f;
                float wv = w.data_as<float>()[((o * c.cin + i) * c.k + ky) * c.k + kx];
                sim.add(xf, wv);  // padding taps too: the kernel multiplies zeros
                if (!in) continue;
                const double xv = xf;
                if (round) wv = round_f16(wv);
                y += xv * wv, s += std::fabs(xv * wv), a += std::fabs(xv), aw += std::fabs(wv);
              }
          r.y.push_back(y), r.s.push_back(s), r.a.push_back(a), r.aw.push_back(aw);
          r.sim.push_back(sim.result()), r.p.push_back(sim.p);
        }
  return r;
}

class ConvF16 : public testing::TestWithParam<ConvCase> {};

TEST_P(ConvF16, MatchesNaiveReference) {
  const ConvCase& c = GetParam();
  Tensor x = rand_f32({c.n, c.cin, c.h, c.w}, -2.f, 2.f);
  Tensor w = rand_f32({c.cout, c.cin, c.k, c.k}, -1.f, 1.f);
  Tensor b = rand_f32({c.cout}, -1.f, 1.f);
  const int64_t span = c.dil * (c.k - 1) + 1;
  const int64_t oh = (c.h + 2 * c.pad - span) / c.stride + 1, ow = (c.w + 2 * c.pad - span) / c.stride + 1;
  Attrs at;
  at.set("strides", std::vector<int64_t>{c.stride, c.stride});
  at.set("pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
  at.set("dilations", std::vector<int64_t>{c.dil, c.dil});
  std::vector<In> ins{In::rt(x), In::k(w)};
  if (c.bias) ins.push_back(In::k(b));
  const Ref same = ref_conv(c, x, w, c.bias ? &b : nullptr, true, oh, ow);
  const Ref exact = ref_conv(c, x, w, c.bias ? &b : nullptr, false, oh, ow);
  for (int threads : {1, 2}) {
    const std::string what = "threads=" + std::to_string(threads);
    F16Run r = run_fp16("Conv", ins, at, threads, Fp16Compute::f32);
    ASSERT_EQ(r.weight_dtypes, std::vector<DType>{DType::f16});
    EXPECT_EQ(r.impls, std::vector<std::string>{"f16w-avx512"});
    ASSERT_EQ(r.y.shape(), (Shape{c.n, c.cout, oh, ow}));
    expect_within(r.y, same, false, "same f16 weights, " + what);
    expect_within(r.y, exact, true, "f32 weights, " + what);
    if (!cpu_f16()) continue;
    r = run_fp16("Conv", ins, at, threads, Fp16Compute::f16);
    EXPECT_EQ(r.impls, std::vector<std::string>{"f16-avx512fp16"});
    ASSERT_EQ(r.y.shape(), (Shape{c.n, c.cout, oh, ow}));
    expect_f16_math(r.y, exact, "f16 arithmetic, " + what);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvF16,
                         testing::Values(ConvCase{1, 7, 9, 16, 5, 3, 1, 1, 1, true},     // cout < 16
                                         ConvCase{2, 8, 8, 16, 33, 1, 1, 0, 1, true},    // 1x1, batch 2, tail panel
                                         ConvCase{1, 11, 10, 24, 32, 3, 2, 1, 1, false}, // stride 2
                                         ConvCase{1, 9, 9, 20, 17, 3, 1, 2, 2, true},    // dilation 2
                                         ConvCase{1, 5, 6, 70, 48, 5, 1, 2, 1, true},    // K = 1750
                                         ConvCase{1, 4, 19, 96, 70, 1, 1, 0, 1, true})); // 3 panels of 32, pixel tail

// Gemm (transB 0/1, bias broadcast with beta) and MatMul (3-D A).
Ref ref_linear(const Tensor& a, const Tensor& b, bool tb, const std::vector<float>& bias, bool round, int64_t M,
               int64_t K, int64_t N) {
  Ref r;
  r.k = K;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      double y = bias.empty() ? 0 : bias[size_t(j)], s = 0, ab = 0, aw = 0;
      F16Sim sim(bias.empty() ? 0.f : bias[size_t(j)]);
      for (int64_t k = 0; k < K; ++k) {
        const double xv = a.data_as<float>()[m * K + k];
        float wv = b.data_as<float>()[tb ? j * K + k : k * N + j];
        sim.add(float(xv), wv);
        if (round) wv = round_f16(wv);
        y += xv * wv, s += std::fabs(xv * wv), ab += std::fabs(xv), aw += std::fabs(wv);
      }
      r.y.push_back(y), r.s.push_back(s), r.a.push_back(ab), r.aw.push_back(aw);
      r.sim.push_back(sim.result()), r.p.push_back(sim.p);
    }
  return r;
}

TEST(GemmF16, MatchesNaiveReference) {
  const int64_t M = 3, K = 75, N = 37;
  for (bool tb : {false, true}) {
    Tensor a = rand_f32({M, K});
    Tensor b = rand_f32(tb ? Shape{N, K} : Shape{K, N}, -1.f, 1.f);
    Tensor c = rand_f32({N}, -1.f, 1.f);
    Attrs at;
    at.set("transB", int64_t(tb));
    at.set("beta", 0.5f);
    F16Run r = run_fp16("Gemm", {In::rt(a), In::k(b), In::k(c)}, at);
    ASSERT_EQ(r.weight_dtypes, std::vector<DType>{DType::f16});
    std::vector<float> bias(static_cast<size_t>(N));
    for (int64_t j = 0; j < N; ++j) bias[size_t(j)] = 0.5f * c.data_as<float>()[j];
    const Ref exact = ref_linear(a, b, tb, bias, false, M, K, N);
    expect_within(r.y, ref_linear(a, b, tb, bias, true, M, K, N), false, "Gemm same f16 weights");
    expect_within(r.y, exact, true, "Gemm f32 weights");
    if (!cpu_f16()) continue;
    r = run_fp16("Gemm", {In::rt(a), In::k(b), In::k(c)}, at, 2, Fp16Compute::f16);
    EXPECT_EQ(r.impls, std::vector<std::string>{"f16-avx512fp16"});
    expect_f16_math(r.y, exact, "Gemm f16 arithmetic");
  }
}

TEST(MatMulF16, MatchesNaiveReference) {
  const int64_t K = 20, N = 19;
  Tensor a = rand_f32({2, 5, K});
  Tensor b = rand_f32({K, N}, -1.f, 1.f);
  F16Run r = run_fp16("MatMul", {In::rt(a), In::k(b)}, {});
  ASSERT_EQ(r.weight_dtypes, std::vector<DType>{DType::f16});
  ASSERT_EQ(r.y.shape(), (Shape{2, 5, N}));
  const Ref exact = ref_linear(a, b, false, {}, false, 10, K, N);
  expect_within(r.y, ref_linear(a, b, false, {}, true, 10, K, N), false, "MatMul same f16 weights");
  expect_within(r.y, exact, true, "MatMul f32 weights");
  if (!cpu_f16()) return;
  r = run_fp16("MatMul", {In::rt(a), In::k(b)}, {}, 1, Fp16Compute::f16);
  EXPECT_EQ(r.impls, std::vector<std::string>{"f16-avx512fp16"});
  expect_f16_math(r.y, exact, "MatMul f16 arithmetic");
}

// --fp16-compute auto picks float16 arithmetic where it pays (>= 64 output
// channels, >= 32 products per output) and the CPU has AVX512-FP16; without
// it (EF_DISABLE_AVX512FP16=1, as on an older CPU) auto falls back to the
// f32-arithmetic kernel, and f16 is an error naming the layer and the reason.
TEST(Fp16Compute, AutoChoosesByShapeAndCpu) {
  Tensor x = rand_f32({1, 32, 5, 5});
  auto impl = [&](int64_t cout, Fp16Compute mode) {
    return run_fp16("Conv", {In::rt(x), In::k(rand_f32({cout, 32, 1, 1}))}, {}, 1, mode).impls.at(0);
  };
  const std::string f16 = cpu_f16() ? "f16-avx512fp16" : "f16w-avx512";
  EXPECT_EQ(impl(64, Fp16Compute::automatic), f16);
  EXPECT_EQ(impl(32, Fp16Compute::automatic), "f16w-avx512");  // 32 channels: widening is faster
  EXPECT_EQ(impl(64, Fp16Compute::f32), "f16w-avx512");
  setenv("EF_DISABLE_AVX512FP16", "1", 1);
  EXPECT_EQ(impl(64, Fp16Compute::automatic), "f16w-avx512");
  try {
    impl(64, Fp16Compute::f16);
    ADD_FAILURE() << "fp16_compute f16 without AVX512-FP16 did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs AVX512-FP16"), std::string::npos) << e.what();
  }
  unsetenv("EF_DISABLE_AVX512FP16");
}

TEST(Fp16Weights, BytesExactlyHalvedAndFp32Untouched) {
  Tensor x = rand_f32({1, 16, 6, 6});
  Tensor w = rand_f32({7, 16, 3, 3});
  Attrs at;
  at.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  std::vector<Tensor> feeds;
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    feeds.clear();
    Graph g = one_node("Conv", {In::rt(x), In::k(w)}, 1, at, &feeds);
    CompileOptions o;
    o.precision = p;
    Session s(Model::from_graph(std::move(g)), o);
    for (const Node& n : s.graph().nodes)
      if (n.op == "Conv") {
        const Value& v = s.graph().in(n, 1);
        EXPECT_EQ(v.dtype, p == Precision::fp16 ? DType::f16 : DType::f32);
        EXPECT_EQ(v.data.nbytes(), p == Precision::fp16 ? w.nbytes() / 2 : w.nbytes());
        if (p == Precision::fp16)
          for (int64_t i = 0; i < w.numel(); ++i)
            ASSERT_EQ(v.data.data_as<uint16_t>()[i], float_to_half(w.data_as<float>()[i])) << "weight " << i;
      }
  }
}

// A Conv whose weights feed another op too keeps float32 (and says so).
TEST(Fp16Weights, SharedWeightsKeepFloat32) {
  Graph g;
  const int x = g.add_value("x", DType::f32, {1, 16, 4, 4}, true);
  g.inputs.push_back(x);
  const int w = g.add_const("w", rand_f32({3, 16, 1, 1}));
  const int y1 = g.add_value("y1"), y2 = g.add_value("y2");
  g.add_node("Conv", "c1", {x, w}, {y1}, {});
  g.add_node("Conv", "c2", {x, w}, {y2}, {});
  g.outputs = {y1, y2};
  CompileOptions o;
  o.precision = Precision::fp16;
  Session s(Model::from_graph(std::move(g)), o);
  int convs = 0;
  for (const Node& n : s.graph().nodes)
    if (n.op == "Conv") {
      EXPECT_EQ(s.graph().in(n, 1).dtype, DType::f32) << n.name;
      ++convs;
    }
  EXPECT_EQ(convs, 2);
  bool logged = false;
  for (const auto& l : s.report().log) logged = logged || l.find("shared with another consumer") != std::string::npos;
  EXPECT_TRUE(logged);
}

// Fewer than 16 input channels (an RGB stem): float32 weights, f32 kernels.
TEST(Fp16Weights, FewInputChannelsKeepFloat32) {
  Tensor x = rand_f32({1, 3, 8, 8});
  Tensor w = rand_f32({24, 3, 5, 5});
  F16Run r = run_fp16("Conv", {In::rt(x), In::k(w)}, {});
  EXPECT_EQ(r.weight_dtypes, std::vector<DType>{DType::f32});
  Tensor a = rand_f32({2, 15});
  r = run_fp16("MatMul", {In::rt(a), In::k(rand_f32({15, 4}))}, {});
  EXPECT_EQ(r.weight_dtypes, std::vector<DType>{DType::f32});
}

}  // namespace
}  // namespace ef::test
