// Reshape/Flatten/Squeeze/Unsqueeze/Identity/Dropout, Shape/Size, Constant,
// ConstantOfShape, Range, Cast, reductions, and the constant folding of a
// PyTorch-style shape computation chain.
#include "helpers.h"

namespace ef::test {
namespace {

TEST(ShapeOps, ReshapeZeroMinusOneAndAllowzero) {
  Tensor x = rand_int<int64_t>({2, 3, 4}, 0, 1000);
  struct C {
    std::vector<int64_t> spec;
    Shape want;
  };
  for (C c : {C{{0, -1}, {2, 12}}, C{{-1}, {24}}, C{{4, 0, 2}, {4, 3, 2}}, C{{2, 3, 2, 2}, {2, 3, 2, 2}},
              C{{0, 0, 4}, {2, 3, 4}}}) {
    auto y = run_op("Reshape", {In::rt(x), In::k(i64s(c.spec))});
    ASSERT_EQ(y[0].shape(), c.want) << shape_str(c.spec);
    EXPECT_EQ(std::memcmp(y[0].data(), x.data(), x.nbytes()), 0);
  }
  // allowzero: 0 is a real zero dim
  Attrs az;
  az.set("allowzero", int64_t(1));
  Tensor e(DType::f32, {0, 3});
  auto y = run_op("Reshape", {In::rt(e), In::k(i64s({3, 0}))}, az);
  EXPECT_EQ(y[0].shape(), (Shape{3, 0}));
  // errors name the node and the shapes
  std::string err = compile_error("Reshape", {In::rt(x), In::k(i64s({5, -1}))});
  EXPECT_NE(err.find("the_Reshape"), std::string::npos) << err;
  EXPECT_NE(err.find("[2,3,4]"), std::string::npos) << err;
  err = compile_error("Reshape", {In::rt(x), In::k(i64s({2, 3, 5}))});
  EXPECT_NE(err.find("the_Reshape"), std::string::npos) << err;
  err = compile_error("Reshape", {In::rt(x), In::k(i64s({-1, -1}))});
  EXPECT_NE(err.find("more than one -1"), std::string::npos) << err;
  err = compile_error("Reshape", {In::rt(x), In::rt(i64s({6, 4}))});
  EXPECT_NE(err.find("must be a constant"), std::string::npos) << err;
}

TEST(ShapeOps, FlattenSqueezeUnsqueezeCopyEveryDtype) {
  for (DType dt : {DType::f32, DType::u8, DType::i64, DType::boolean}) {
    Tensor x(dt, {2, 1, 3, 1});
    for (size_t i = 0; i < x.nbytes(); ++i) x.data_as<uint8_t>()[i] = uint8_t(dt == DType::boolean ? i % 2 : i * 7);
    Attrs f;
    f.set("axis", int64_t(-1));
    auto fl = run_op("Flatten", {In::rt(x)}, f);
    EXPECT_EQ(fl[0].shape(), (Shape{6, 1}));
    auto sq = run_op("Squeeze", {In::rt(x), In::k(i64s({1, -1}))});
    EXPECT_EQ(sq[0].shape(), (Shape{2, 3}));
    auto sq_all = run_op("Squeeze", {In::rt(x)});
    EXPECT_EQ(sq_all[0].shape(), (Shape{2, 3}));
    auto us = run_op("Unsqueeze", {In::rt(x), In::k(i64s({0, -1}))});
    EXPECT_EQ(us[0].shape(), (Shape{1, 2, 1, 3, 1, 1}));
    for (auto* t : {&fl[0], &sq[0], &sq_all[0], &us[0]}) EXPECT_EQ(std::memcmp(t->data(), x.data(), x.nbytes()), 0);
  }
  Tensor x = rand_f32({2, 3});
  std::string err = compile_error("Squeeze", {In::rt(x), In::k(i64s({0}))});
  EXPECT_NE(err.find("the_Squeeze"), std::string::npos) << err;
  err = compile_error("Unsqueeze", {In::rt(x), In::k(i64s({5}))});
  EXPECT_NE(err.find("the_Unsqueeze"), std::string::npos) << err;
  EXPECT_NE(err.find("out of range"), std::string::npos) << err;
  Attrs f;
  f.set("axis", int64_t(4));
  err = compile_error("Flatten", {In::rt(x)}, f);
  EXPECT_NE(err.find("the_Flatten"), std::string::npos) << err;
}

TEST(ShapeOps, IdentityAndDropoutWithMask) {
  Tensor x = rand_f32({3, 5});
  auto id = run_op("Identity", {In::rt(x)});
  expect_close(id[0], x, 0, "Identity");
  auto dr = run_op("Dropout", {In::rt(x)}, {}, 2);
  expect_close(dr[0], x, 0, "Dropout");
  ASSERT_EQ(dr[1].dtype(), DType::boolean);
  for (int64_t i = 0; i < 15; ++i) EXPECT_TRUE(dr[1].data_as<bool>()[i]);
}

TEST(ShapeOps, ShapeSizeAndConstants) {
  Tensor x = rand_f32({2, 3, 5, 7});
  auto s = run_op("Shape", {In::rt(x)});
  expect_equal<int64_t>(s[0], i64s({2, 3, 5, 7}), "Shape");
  Attrs se;
  se.set("start", int64_t(1));
  se.set("end", int64_t(-1));
  auto s2 = run_op("Shape", {In::rt(x)}, se);
  expect_equal<int64_t>(s2[0], i64s({3, 5}), "Shape start/end");
  auto sz = run_op("Size", {In::rt(x)});
  expect_equal<int64_t>(sz[0], scalar_i64(210), "Size");

  Attrs c;
  c.set("value", f32s({2, 2}, {1, 2, 3, 4}));
  auto k = run_op("Constant", {}, c);
  expect_close(k[0], f32s({2, 2}, {1, 2, 3, 4}), 0, "Constant value");
  Attrs ci;
  ci.set("value_ints", std::vector<int64_t>{4, -1});
  expect_equal<int64_t>(run_op("Constant", {}, ci)[0], i64s({4, -1}), "Constant value_ints");
  Attrs cf;
  cf.set("value_float", 2.5f);
  expect_close(run_op("Constant", {}, cf)[0], scalar_f32(2.5f), 0, "Constant value_float");

  Attrs cs;
  cs.set("value", Tensor::from<int64_t>({1}, std::span<const int64_t>(std::vector<int64_t>{7})));
  auto fill = run_op("ConstantOfShape", {In::k(i64s({2, 3}))}, cs);
  ASSERT_EQ(fill[0].shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(fill[0].data_as<int64_t>()[i], 7);
  auto zeros = run_op("ConstantOfShape", {In::k(i64s({4}))});
  expect_close(zeros[0], f32s({4}, {0, 0, 0, 0}), 0, "ConstantOfShape default");

  expect_equal<int64_t>(run_op("Range", {In::k(scalar_i64(10)), In::k(scalar_i64(1)), In::k(scalar_i64(-3))})[0],
                        i64s({10, 7, 4}), "Range int64 negative delta");
  expect_close(run_op("Range", {In::k(scalar_f32(0.5f)), In::k(scalar_f32(2.f)), In::k(scalar_f32(0.5f))})[0],
               f32s({3}, {0.5f, 1.f, 1.5f}), 1e-7f, "Range f32");
}

TEST(ShapeOps, CastBetweenAllTypes) {
  std::vector<float> vals = {0.f, 1.f, -1.f, 2.75f, -2.75f, 100.f, 0.5f};
  Tensor x = f32s({7}, vals);
  struct T {
    int64_t onnx;
    DType dt;
  };
  for (T t : {T{1, DType::f32}, T{2, DType::u8}, T{3, DType::i8}, T{6, DType::i32}, T{7, DType::i64},
              T{9, DType::boolean}, T{10, DType::f16}}) {
    Attrs a;
    a.set("to", t.onnx);
    Tensor src = x;
    if (t.dt == DType::u8) src = f32s({7}, {0.f, 1.f, 3.f, 2.75f, 200.f, 100.f, 0.5f});
    auto y = run_op("Cast", {In::rt(src)}, a);
    ASSERT_EQ(y[0].dtype(), t.dt);
    for (int64_t i = 0; i < 7; ++i) {
      float v = src.data_as<float>()[i];
      switch (t.dt) {
        case DType::f32: EXPECT_EQ(y[0].data_as<float>()[i], v); break;
        case DType::u8: EXPECT_EQ(y[0].data_as<uint8_t>()[i], uint8_t(std::trunc(v))); break;
        case DType::i8: EXPECT_EQ(y[0].data_as<int8_t>()[i], int8_t(std::trunc(v))); break;
        case DType::i32: EXPECT_EQ(y[0].data_as<int32_t>()[i], int32_t(std::trunc(v))); break;
        case DType::i64: EXPECT_EQ(y[0].data_as<int64_t>()[i], int64_t(std::trunc(v))); break;
        case DType::boolean: EXPECT_EQ(y[0].data_as<bool>()[i], v != 0); break;
        case DType::f16: EXPECT_EQ(half_to_float(y[0].data_as<uint16_t>()[i]), v); break;
      }
    }
    // and back to float32
    Attrs back;
    back.set("to", int64_t(1));
    auto z = run_op("Cast", {In::rt(y[0])}, back);
    ASSERT_EQ(z[0].dtype(), DType::f32);
  }
  // int64 -> int32 -> int64 and bool -> int64
  Tensor xi = i64s({-5, 0, 7, 123456});
  Attrs to32;
  to32.set("to", int64_t(6));
  auto y32 = run_op("Cast", {In::rt(xi)}, to32);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y32[0].data_as<int32_t>()[i], int32_t(xi.data_as<int64_t>()[i]));
  Attrs bad;
  bad.set("to", int64_t(8));  // string
  std::string err = compile_error("Cast", {In::rt(xi)}, bad);
  EXPECT_NE(err.find("the_Cast"), std::string::npos) << err;
}

Tensor ref_reduce(const Tensor& x, std::vector<int64_t> axes, bool keep, const std::string& kind) {
  const Shape& s = x.shape();
  size_t r = s.size();
  std::vector<bool> red(r, axes.empty());
  for (int64_t a : axes) red[a < 0 ? a + r : a] = true;
  Shape kept(r);
  for (size_t d = 0; d < r; ++d) kept[d] = red[d] ? 1 : s[d];
  std::vector<double> acc(size_t(numel(kept)), kind == "max" ? -1e300 : 0.0);
  std::vector<int64_t> cnt(acc.size(), 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto idx = unravel(i, s);
    for (size_t d = 0; d < r; ++d)
      if (red[d]) idx[d] = 0;
    int64_t o = ravel(idx, kept);
    double v = x.data_as<float>()[i];
    acc[o] = kind == "max" ? std::max(acc[o], v) : acc[o] + v;
    ++cnt[o];
  }
  Shape out;
  for (size_t d = 0; d < r; ++d)
    if (!red[d] || keep) out.push_back(kept[d]);
  Tensor y(DType::f32, out);
  for (size_t i = 0; i < acc.size(); ++i) y.data_as<float>()[i] = float(kind == "mean" ? acc[i] / cnt[i] : acc[i]);
  return y;
}

TEST(Reduce, MeanSumMaxOverAxes) {
  struct C {
    Shape s;
    std::vector<int64_t> axes;
  };
  for (C c : {C{{2, 3, 17, 19}, {2, 3}}, C{{2, 17, 19, 3}, {1, 2}}, C{{2, 3, 4}, {}}, C{{5, 6, 7}, {0}},
              C{{5, 6, 7}, {-1, 0}}, C{{3, 4, 5, 6, 7}, {1, 3}}, C{{1, 1000, 3}, {1}}, C{{7}, {0}}})
    for (bool keep : {true, false})
      for (const char* kind : {"mean", "sum", "max"})
        for (int threads : {1, 2}) {
          Tensor x = rand_f32(c.s);
          Attrs a;
          if (!c.axes.empty()) a.set("axes", c.axes);
          a.set("keepdims", int64_t(keep));
          std::string op = std::string("Reduce") + (kind[0] == 'm' ? (kind[1] == 'e' ? "Mean" : "Max") : "Sum");
          auto y = run_op(op, {In::rt(x)}, a, 1, threads);
          // float32 summation error bound: count * eps * max|x| (|x| <= 3)
          Tensor want = ref_reduce(x, c.axes, keep, kind);
          const float count = float(x.numel() / std::max<int64_t>(want.numel(), 1));
          const float tol = 1e-5f + (kind[1] == 'u' ? count * 3 * 1.2e-7f : 0.f);
          expect_close(y[0], want, tol,
                       op + shape_str(c.s) + " axes " + shape_str(c.axes) + (keep ? " keep" : ""));
        }
  // ReduceSum opset 13: axes as an input; int64 data
  Tensor xi = rand_int<int64_t>({3, 4}, -50, 50);
  auto s = run_op("ReduceSum", {In::rt(xi), In::k(i64s({1}))});
  ASSERT_EQ(s[0].shape(), (Shape{3, 1}));
  for (int r = 0; r < 3; ++r) {
    int64_t want = 0;
    for (int c = 0; c < 4; ++c) want += xi.data_as<int64_t>()[r * 4 + c];
    EXPECT_EQ(s[0].data_as<int64_t>()[r], want);
  }
  Attrs bad;
  bad.set("axes", std::vector<int64_t>{3});
  std::string err = compile_error("ReduceMean", {In::rt(rand_f32({2, 3}))}, bad);
  EXPECT_NE(err.find("the_ReduceMean"), std::string::npos) << err;
}

// A PyTorch-style x.view(x.size(0), -1) computation on a static shape must be
// folded away entirely by the session.
TEST(Folding, ShapeGatherUnsqueezeConcatReshapeChainBecomesConstant) {
  Graph g;
  int x = g.add_value("x", DType::f32, {2, 3, 4, 5}, true);
  int shp = g.add_value("shape"), d0 = g.add_value("d0"), u0 = g.add_value("u0"), cat = g.add_value("cat");
  int y = g.add_value("y"), z = g.add_value("z");
  int idx = g.add_const("zero", scalar_i64(0));
  int ax = g.add_const("axes0", i64s({0}));
  int minus1 = g.add_const("minus1", i64s({-1}));
  g.add_node("Shape", "shape", {x}, {shp});
  Attrs ga;
  ga.set("axis", int64_t(0));
  g.add_node("Gather", "gather", {shp, idx}, {d0}, ga);
  g.add_node("Unsqueeze", "unsqueeze", {d0, ax}, {u0});
  Attrs ca;
  ca.set("axis", int64_t(0));
  g.add_node("Concat", "concat", {u0, minus1}, {cat}, ca);
  g.add_node("Reshape", "reshape", {x, cat}, {y});
  g.add_node("Relu", "relu", {y}, {z});
  g.inputs = {x};
  g.outputs = {z};
  for (int threads : {1, 2}) {
    CompileOptions o;
    o.threads = threads;
    Session s(Model::from_graph(g), o);
    for (const Node& n : s.graph().nodes) {
      EXPECT_NE(n.op, "Shape");
      EXPECT_NE(n.op, "Gather");
      EXPECT_NE(n.op, "Unsqueeze");
      EXPECT_NE(n.op, "Concat");
    }
    EXPECT_GE(s.report().folded, 4);
    Tensor in = rand_f32({2, 3, 4, 5});
    const auto& out = s.run({in});
    ASSERT_EQ(out[0].shape(), (Shape{2, 60}));
    for (int64_t i = 0; i < in.numel(); ++i) EXPECT_EQ(out[0].data_as<float>()[i], std::max(in.data_as<float>()[i], 0.f));
  }
}

}  // namespace
}  // namespace ef::test
