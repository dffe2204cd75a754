// Elementwise activations and unary math against std:: formulas.
#include <functional>

#include "helpers.h"

namespace ef::test {
namespace {

struct UnaryCase {
  const char* op;
  std::function<float(float)> ref;
  Attrs attrs;
  float lo = -6, hi = 6;
  float tol = 2e-6f;
};

std::vector<UnaryCase> unary_cases() {
  Attrs leaky, elu, hsig, selu;
  leaky.set("alpha", 0.13f);
  elu.set("alpha", 0.7f);
  hsig.set("alpha", 0.25f);
  hsig.set("beta", 0.4f);
  return {
      {"Relu", [](float x) { return x > 0 ? x : 0.f; }, {}},
      {"LeakyRelu", [](float x) { return x >= 0 ? x : 0.13f * x; }, leaky},
      {"LeakyRelu", [](float x) { return x >= 0 ? x : 0.01f * x; }, {}},
      {"Sigmoid", [](float x) { return float(1 / (1 + std::exp(-double(x)))); }, {}, -12, 12, 1e-5f},
      {"HardSigmoid", [](float x) { return std::clamp(0.25f * x + 0.4f, 0.f, 1.f); }, hsig},
      {"HardSwish", [](float x) { return x * std::clamp(x / 6 + 0.5f, 0.f, 1.f); }, {}, -6, 6, 1e-5f},
      {"Tanh", [](float x) { return float(std::tanh(double(x))); }, {}, -10, 10, 1e-6f},
      {"Elu", [](float x) { return x >= 0 ? x : float(0.7 * (std::exp(double(x)) - 1)); }, elu, -6, 6, 1e-5f},
      {"Selu", [](float x) { return float(1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (std::exp(double(x)) - 1))); }, {}, -6, 6, 1e-5f},
      {"Softplus", [](float x) { return float(std::log(1 + std::exp(double(x)))); }, {}, -20, 20, 1e-5f},
      {"Exp", [](float x) { return float(std::exp(double(x))); }, {}, -5, 5, 1e-6f},
      {"Log", [](float x) { return float(std::log(double(x))); }, {}, 0.01f, 50, 1e-6f},
      {"Sqrt", [](float x) { return float(std::sqrt(double(x))); }, {}, 0, 50},
      {"Reciprocal", [](float x) { return 1 / x; }, {}, 0.1f, 5},
      {"Erf", [](float x) { return float(std::erf(double(x))); }, {}, -3, 3},
      {"Neg", [](float x) { return -x; }, {}},
      {"Abs", [](float x) { return std::fabs(x); }, {}},
      {"Floor", [](float x) { return std::floor(x); }, {}},
      {"Ceil", [](float x) { return std::ceil(x); }, {}},
      {"Round", [](float x) { return std::nearbyint(x); }, {}},
      {"Sign", [](float x) { return float((x > 0) - (x < 0)); }, {}},
  };
}

TEST(Activation, UnaryOpsMatchReferenceOnOddShapes) {
  int k = 0;
  for (const UnaryCase& c : unary_cases())
    for (Shape s : {Shape{}, Shape{1}, Shape{7}, Shape{3, 5, 17}, Shape{2, 3, 33, 35}, Shape{1, 1, 1, 1, 1, 70001}}) {
      const int threads = 1 + (k++ % 2);
      {
        Tensor x = rand_f32(s, c.lo, c.hi);
        if (std::string(c.op) == "Round" && x.numel() > 2) {  // exact halves: round half to even
          x.data_as<float>()[0] = 2.5f;
          x.data_as<float>()[1] = -0.5f;
        }
        Tensor want(DType::f32, s);
        for (int64_t i = 0; i < x.numel(); ++i) want.data_as<float>()[i] = c.ref(x.data_as<float>()[i]);
        auto y = run_op(c.op, {In::rt(x)}, c.attrs, 1, threads);
        expect_close(y[0], want, c.tol, std::string(c.op) + shape_str(s) + " threads=" + std::to_string(threads));
      }
    }
}

TEST(Activation, TanhApproximationIsAccurateOverTheWholeRange) {
  // dense sweep including tiny, large and saturated values
  std::vector<float> v;
  for (float x = -20.f; x <= 20.f; x += 0.00137f) v.push_back(x);
  for (float x : {0.f, -0.f, 1e-8f, -3e-4f, 4e-4f, 9.f, -9.f, 1e30f, -1e30f}) v.push_back(x);
  Tensor x = Tensor::from<float>({int64_t(v.size())}, std::span<const float>(v));
  auto y = run_op("Tanh", {In::rt(x)});
  for (size_t i = 0; i < v.size(); ++i)
    ASSERT_NEAR(y[0].data_as<float>()[i], std::tanh(double(v[i])), 1e-6) << v[i];
}

TEST(Activation, IntegerReluNegAbs) {
  Tensor x = rand_int<int64_t>({4, 9}, -100, 100);
  auto relu = run_op("Relu", {In::rt(x)});
  auto neg = run_op("Neg", {In::rt(x)});
  auto abs = run_op("Abs", {In::rt(x)});
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t v = x.data_as<int64_t>()[i];
    EXPECT_EQ(relu[0].data_as<int64_t>()[i], std::max<int64_t>(v, 0));
    EXPECT_EQ(neg[0].data_as<int64_t>()[i], -v);
    EXPECT_EQ(abs[0].data_as<int64_t>()[i], std::abs(v));
  }
}

TEST(Activation, ClipWithOptionalConstantBounds) {
  Tensor x = rand_f32({3, 7, 5}, -10, 10);
  struct B {
    bool has_min, has_max;
    float lo, hi;
  };
  for (B b : {B{true, true, -1.5f, 2.f}, B{false, true, 0, 6.f}, B{true, false, -0.5f, 0}, B{false, false, 0, 0}}) {
    std::vector<In> ins = {In::rt(x), b.has_min ? In::k(scalar_f32(b.lo)) : In::none()};
    if (b.has_max) ins.push_back(In::k(scalar_f32(b.hi)));
    for (int threads : {1, 2}) {
      auto y = run_op("Clip", ins, {}, 1, threads);
      Tensor want(DType::f32, x.shape());
      for (int64_t i = 0; i < x.numel(); ++i) {
        float v = x.data_as<float>()[i];
        if (b.has_min) v = std::max(v, b.lo);
        if (b.has_max) v = std::min(v, b.hi);
        want.data_as<float>()[i] = v;
      }
      expect_close(y[0], want, 0, "Clip");
    }
  }
  // runtime bounds and int64 data
  Tensor xi = rand_int<int64_t>({50}, -20, 20);
  auto yi = run_op("Clip", {In::rt(xi), In::rt(scalar_i64(-3)), In::rt(scalar_i64(4))});
  for (int64_t i = 0; i < xi.numel(); ++i)
    EXPECT_EQ(yi[0].data_as<int64_t>()[i], std::clamp<int64_t>(xi.data_as<int64_t>()[i], -3, 4));
}

TEST(Activation, PReluBroadcastsItsSlope) {
  struct C {
    Shape x, slope;
  };
  for (C c : {C{{2, 5, 4, 3}, {5, 1, 1}}, C{{2, 4, 3, 5}, {5}}, C{{2, 4, 3, 5}, {1, 1, 5}}, C{{3, 7}, {1}},
              C{{2, 3, 4}, {3, 4}}, C{{2, 3, 4}, {2, 1, 4}}})
    for (bool konst : {true, false})
      for (int threads : {1, 2}) {
        Tensor x = rand_f32(c.x), s = rand_f32(c.slope, 0.f, 1.f);
        auto y = run_op("PRelu", {In::rt(x), konst ? In::k(s) : In::rt(s)}, {}, 1, threads);
        Tensor want(DType::f32, c.x);
        for (int64_t i = 0; i < x.numel(); ++i) {
          float v = x.data_as<float>()[i];
          float sl = s.data_as<float>()[bcast_index(unravel(i, c.x), c.slope, c.x)];
          want.data_as<float>()[i] = v >= 0 ? v : v * sl;
        }
        expect_close(y[0], want, 1e-6f, "PRelu x" + shape_str(c.x) + " slope" + shape_str(c.slope));
      }
  std::string err = compile_error("PRelu", {In::rt(rand_f32({2, 3})), In::k(rand_f32({4}))});
  EXPECT_NE(err.find("the_PRelu"), std::string::npos) << err;
}

}  // namespace
}  // namespace ef::test
