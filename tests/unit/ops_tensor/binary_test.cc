// Broadcasting binary ops, comparisons, Where and variadic forms against a
// naive reference (explicit multi-index broadcasting written here).
#include <functional>

#include "helpers.h"

namespace ef::test {
namespace {

template <class T, class R = T>
Tensor ref_binary(const Tensor& a, const Tensor& b, std::function<R(T, T)> f) {
  Shape o = np_broadcast(a.shape(), b.shape());
  Tensor y(dtype_of<R>(), o);
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto idx = unravel(i, o);
    y.data_as<R>()[i] = f(a.data_as<T>()[bcast_index(idx, a.shape(), o)], b.data_as<T>()[bcast_index(idx, b.shape(), o)]);
  }
  return y;
}

// Random broadcastable pairs, ranks 0..6, with odd sizes.
std::vector<std::pair<Shape, Shape>> shape_pairs() {
  std::vector<std::pair<Shape, Shape>> r = {
      {{}, {}}, {{}, {3, 5}}, {{4, 1, 3}, {}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{1, 5, 7, 9}, {1, 1, 1, 9}},
      {{2, 1, 7}, {1, 6, 1}}, {{1, 1, 1, 1, 1, 1}, {3, 1, 2, 1, 5, 1}}, {{40001}, {40001}}, {{3, 1}, {1, 4099}},
      // per-channel vectors (own kernel): vector first; several tasks at 2 threads
      {{1, 1, 1, 16}, {1, 33, 40, 16}}, {{2, 70, 130, 16}, {16}},
      // per-channel vectors of other widths, a few pixels to many
      {{1, 7, 9, 3}, {3}}, {{1, 5, 11, 24}, {1, 1, 1, 24}}, {{1, 1, 1, 40}, {1, 9, 13, 40}},
      {{1, 3, 5, 100}, {100}}, {{1, 2, 3, 1000}, {1000}}, {{1, 4, 4, 257}, {257}}};
  for (int k = 0; k < 12; ++k) {
    Shape o = rand_shape(int(rand_between(0, 6)), 5);
    Shape a = rand_bcast_of(o), b = rand_bcast_of(o);
    if (rand_between(0, 1)) a = o;
    r.push_back({a, b});
  }
  return r;
}

TEST(Binary, FloatArithmeticBroadcastsLikeNumpy) {
  std::vector<std::pair<const char*, std::function<float(float, float)>>> ops = {
      {"Add", [](float a, float b) { return a + b; }},
      {"Sub", [](float a, float b) { return a - b; }},
      {"Mul", [](float a, float b) { return a * b; }},
      {"Div", [](float a, float b) { return a / b; }},
      {"Max", [](float a, float b) { return std::max(a, b); }},
      {"Min", [](float a, float b) { return std::min(a, b); }},
      {"Pow", [](float a, float b) { return float(std::pow(double(a), double(b))); }},
  };
  int k = 0;
  for (auto& [a_shape, b_shape] : shape_pairs())
    for (auto& [op, f] : ops) {
      const int threads = 1 + (k++ % 2);
      {
        bool pw = std::string(op) == "Pow";
        Tensor a = rand_f32(a_shape, pw ? 0.1f : -3.f, 3.f), b = rand_f32(b_shape, pw ? -2.f : 0.5f, 3.f);
        auto y = run_op(op, {In::rt(a), In::rt(b)}, {}, 1, threads);
        expect_close(y[0], ref_binary<float>(a, b, f), pw ? 1e-5f : 1e-6f,
                     std::string(op) + shape_str(a_shape) + shape_str(b_shape) + " t" + std::to_string(threads));
        // constant second operand (weights, biases) too
        auto yk = run_op(op, {In::rt(a), In::k(b)}, {}, 1, threads);
        expect_close(yk[0], y[0], 0, std::string(op) + " const");
      }
    }
}

template <class T>
void int_arith() {
  std::vector<std::pair<const char*, std::function<T(T, T)>>> ops = {
      {"Add", [](T a, T b) { return T(a + b); }}, {"Sub", [](T a, T b) { return T(a - b); }},
      {"Mul", [](T a, T b) { return T(a * b); }}, {"Div", [](T a, T b) { return T(a / b); }},  // C++: truncates
      {"Max", [](T a, T b) { return std::max(a, b); }}, {"Min", [](T a, T b) { return std::min(a, b); }},
  };
  int k = 0;
  for (auto& [a_shape, b_shape] : shape_pairs())
    for (auto& [op, f] : ops) {
      const int threads = 1 + (k++ % 2);
      {
        Tensor a = rand_int<T>(a_shape, -1000, 1000), b = rand_int<T>(b_shape, -9, 9);
        for (int64_t i = 0; i < b.numel(); ++i)
          if (b.data_as<T>()[i] == 0) b.data_as<T>()[i] = 3;
        auto y = run_op(op, {In::rt(a), In::rt(b)}, {}, 1, threads);
        expect_equal<T>(y[0], ref_binary<T>(a, b, f), std::string(op) + " " + dtype_name(dtype_of<T>()) +
                                                           shape_str(a_shape) + shape_str(b_shape));
      }
    }
}
TEST(Binary, Int64ArithmeticForShapeComputations) { int_arith<int64_t>(); }
TEST(Binary, Int32Arithmetic) { int_arith<int32_t>(); }

TEST(Binary, IntegerDivisionTruncatesTowardZero) {
  Tensor a = i64s({7, -7, 7, -7, 0, 9});
  Tensor b = i64s({2, 2, -2, -2, 5, 3});
  auto y = run_op("Div", {In::rt(a), In::rt(b)});
  expect_equal<int64_t>(y[0], i64s({3, -3, -3, 3, 0, 3}), "Div");
}

TEST(Binary, IntegerPowAndMod) {
  Tensor a = i64s({2, -3, 5, 7, -7});
  auto p = run_op("Pow", {In::rt(a), In::k(scalar_i64(3))});
  expect_equal<int64_t>(p[0], i64s({8, -27, 125, 343, -343}), "Pow");
  auto m = run_op("Mod", {In::rt(a), In::k(scalar_i64(3))});
  expect_equal<int64_t>(m[0], i64s({2, 0, 2, 1, 2}), "Mod");  // sign of the divisor
  // float base, integer exponent
  auto pf = run_op("Pow", {In::rt(f32s({3}, {1.5f, -2.f, 4.f})), In::k(scalar_i64(2))});
  expect_close(pf[0], f32s({3}, {2.25f, 4.f, 16.f}), 0, "Pow f32^i64");
}

TEST(Binary, ComparisonsAndWhere) {
  for (auto& [a_shape, b_shape] : shape_pairs()) {
    Tensor a = rand_int<int64_t>(a_shape, -3, 3), b = rand_int<int64_t>(b_shape, -3, 3);
    auto eq = run_op("Equal", {In::rt(a), In::rt(b)});
    auto lt = run_op("Less", {In::rt(a), In::rt(b)});
    auto gt = run_op("Greater", {In::rt(a), In::rt(b)});
    expect_equal<bool>(eq[0], ref_binary<int64_t, bool>(a, b, [](int64_t x, int64_t y) { return x == y; }), "Equal");
    expect_equal<bool>(lt[0], ref_binary<int64_t, bool>(a, b, [](int64_t x, int64_t y) { return x < y; }), "Less");
    expect_equal<bool>(gt[0], ref_binary<int64_t, bool>(a, b, [](int64_t x, int64_t y) { return x > y; }), "Greater");
    // Where(a < b, x, y) with x shaped like a and y like b
    Tensor x = rand_f32(a_shape), yv = rand_f32(b_shape);
    auto w = run_op("Where", {In::rt(lt[0]), In::rt(x), In::rt(yv)}, {}, 1, 2);
    Shape o = np_broadcast(a_shape, b_shape);
    Tensor want(DType::f32, o);
    for (int64_t i = 0; i < want.numel(); ++i) {
      auto idx = unravel(i, o);
      bool c = lt[0].data_as<bool>()[i];
      want.data_as<float>()[i] = c ? x.data_as<float>()[bcast_index(idx, a_shape, o)]
                                   : yv.data_as<float>()[bcast_index(idx, b_shape, o)];
    }
    expect_close(w[0], want, 0, "Where");
  }
}

TEST(Binary, VariadicSumMeanMax) {
  Tensor a = rand_f32({2, 1, 5}), b = rand_f32({3, 1}), c = rand_f32({1, 3, 5});
  Shape o = {2, 3, 5};
  for (const char* op : {"Sum", "Mean", "Max", "Min"})
    for (int threads : {1, 2}) {
      auto y = run_op(op, {In::rt(a), In::rt(b), In::rt(c)}, {}, 1, threads);
      Tensor want(DType::f32, o);
      for (int64_t i = 0; i < want.numel(); ++i) {
        auto idx = unravel(i, o);
        float va = a.data_as<float>()[bcast_index(idx, a.shape(), o)];
        float vb = b.data_as<float>()[bcast_index(idx, b.shape(), o)];
        float vc = c.data_as<float>()[bcast_index(idx, c.shape(), o)];
        std::string s = op;
        want.data_as<float>()[i] = s == "Sum" ? va + vb + vc : s == "Mean" ? (va + vb + vc) / 3
                                   : s == "Max" ? std::max({va, vb, vc}) : std::min({va, vb, vc});
      }
      expect_close(y[0], want, 1e-6f, op);
    }
  auto one = run_op("Sum", {In::rt(a)});
  expect_close(one[0], a, 0, "Sum of one input");
}

TEST(Binary, FusedActivationOnAddAndMax) {
  Tensor a = rand_f32({3, 4, 5}), b = rand_f32({5});
  for (const char* op : {"Add", "Max"})
    for (const char* act : {"relu", "relu6", "sigmoid"}) {
      Attrs at;
      at.set("activation", std::string(act));
      auto y = run_op(op, {In::rt(a), In::k(b)}, at);
      std::function<float(float, float)> f = [&](float x, float z) {
        float v = std::string(op) == "Add" ? x + z : std::max(x, z);
        std::string s = act;
        return s == "relu" ? std::max(v, 0.f) : s == "relu6" ? std::clamp(v, 0.f, 6.f) : 1 / (1 + std::exp(-v));
      };
      Tensor want = ref_binary<float>(a, b, f);
      expect_close(y[0], want, 1e-5f, std::string(op) + "+" + act);
    }
}

TEST(Binary, IncompatibleBroadcastNamesTheNode) {
  std::string err = compile_error("Add", {In::rt(rand_f32({2, 3})), In::rt(rand_f32({4}))});
  EXPECT_NE(err.find("the_Add"), std::string::npos) << err;
  EXPECT_NE(err.find("[2,3]"), std::string::npos) << err;
  err = compile_error("Mul", {In::rt(rand_f32({2, 3})), In::rt(i64s({1, 2, 3}))});
  EXPECT_NE(err.find("the_Mul"), std::string::npos) << err;
}

}  // namespace
}  // namespace ef::test
