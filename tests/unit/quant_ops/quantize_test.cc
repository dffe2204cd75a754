// QuantizeLinear / DequantizeLinear against hand-computed values and an
// independent per-element reference (exact: integer results must match
// bit for bit; float results of DequantizeLinear are one multiply, exact).
#include <cmath>

#include "exporters/onnx/onnx_exporter.h"
#include "unit/ops_tensor/helpers.h"
#include "importers/onnx/onnx_importer.h"

namespace ef::test {
namespace {

Tensor i8s(Shape s, std::vector<int8_t> v) { return Tensor::from<int8_t>(std::move(s), std::span<const int8_t>(v)); }
Tensor u8s(Shape s, std::vector<uint8_t> v) { return Tensor::from<uint8_t>(std::move(s), std::span<const uint8_t>(v)); }
Tensor i32s(Shape s, std::vector<int32_t> v) { return Tensor::from<int32_t>(std::move(s), std::span<const int32_t>(v)); }

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturatesInt8) {
  // x / 0.5 = 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4, then + zp 1; big values saturate.
  Tensor x = f32s({8}, {1.25f, 1.75f, -1.25f, -1.75f, 0.f, 1000.f, -1000.f, 0.26f});
  auto y = run_op("QuantizeLinear", {In::rt(x), In::k(scalar_f32(0.5f)), In::k(i8s({}, {1}))})[0];
  ASSERT_EQ(y.dtype(), DType::i8);
  const int8_t want[8] = {3, 5, -1, -3, 1, 127, -128, 2};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y.data_as<int8_t>()[i], want[i]) << i;
}

TEST(QuantizeLinear, Uint8WithoutZeroPointDefaultsToUint8) {
  Tensor x = f32s({4}, {-1.f, 0.5f, 1.5f, 300.f});
  auto y = run_op("QuantizeLinear", {In::rt(x), In::k(scalar_f32(1.f))})[0];
  ASSERT_EQ(y.dtype(), DType::u8);
  const uint8_t want[4] = {0, 0, 2, 255};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y.data_as<uint8_t>()[i], want[i]) << i;
}

TEST(QuantizeLinear, PerAxisMatchesReference) {
  Tensor x = rand_f32({2, 3, 4, 5}, -4.f, 4.f);
  Tensor s = f32s({3}, {0.02f, 0.05f, 0.1f});
  Tensor z = u8s({3}, {128, 100, 7});
  Attrs a;
  a.set("axis", int64_t(1));
  auto y = run_op("QuantizeLinear", {In::rt(x), In::k(s), In::k(z)}, a, 1, 2)[0];
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int c = int((i / 20) % 3);
    double v = std::nearbyint(double(x.data_as<float>()[i]) / s.data_as<float>()[c]) + z.data_as<uint8_t>()[c];
    v = std::clamp(v, 0.0, 255.0);
    ASSERT_EQ(y.data_as<uint8_t>()[i], uint8_t(v)) << i;
  }
}

TEST(DequantizeLinear, PerTensorPerAxisAndInt32Bias) {
  auto y = run_op("DequantizeLinear", {In::rt(i8s({4}, {-128, -1, 0, 127})), In::k(scalar_f32(0.5f)),
                                       In::k(i8s({}, {-1}))})[0];
  const float want[4] = {-63.5f, 0.f, 0.5f, 64.f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y.data_as<float>()[i], want[i]);

  Attrs a;
  a.set("axis", int64_t(0));
  auto w = run_op("DequantizeLinear", {In::k(i8s({2, 2}, {1, -2, 3, -4})), In::k(f32s({2}, {0.5f, 0.25f}))}, a)[0];
  const float ww[4] = {0.5f, -1.f, 0.75f, -1.f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(w.data_as<float>()[i], ww[i]);

  auto b = run_op("DequantizeLinear", {In::rt(i32s({3}, {-100000, 0, 77})), In::k(scalar_f32(0.001f))})[0];
  EXPECT_FLOAT_EQ(b.data_as<float>()[0], -100.f);
  EXPECT_FLOAT_EQ(b.data_as<float>()[2], 0.077f);
}

TEST(QuantizeLinear, RoundTripThroughDequantizeIsWithinHalfAStep) {
  Tensor x = rand_f32({1000}, -2.f, 2.f);
  std::vector<Tensor> feeds{x};
  Graph g;
  int xi = g.add_value("x", DType::f32, {1000}, true);
  g.inputs = {xi};
  int s = g.add_const("s", scalar_f32(0.02f));
  int z = g.add_const("z", i8s({}, {3}));
  int q = g.add_value("q"), y = g.add_value("y");
  g.add_node("QuantizeLinear", "q", {xi, s, z}, {q});
  g.add_node("DequantizeLinear", "dq", {q, s, z}, {y});
  g.outputs = {y};
  Session sess(Model::from_graph(g));
  auto out = sess.run(feeds)[0];
  for (int i = 0; i < 1000; ++i) EXPECT_LE(std::fabs(out.data_as<float>()[i] - x.data_as<float>()[i]), 0.01f + 1e-6f);
}

TEST(QuantizeLinear, OnnxExportImportKeepsQdq) {
  Graph g;
  int xi = g.add_value("x", DType::f32, {1, 3, 4, 4}, true);
  g.inputs = {xi};
  int s = g.add_const("s", scalar_f32(0.05f));
  int z = g.add_const("z", u8s({}, {128}));
  int ws = g.add_const("ws", f32s({2}, {0.01f, 0.02f}));
  int w = g.add_const("w", rand_int<int8_t>({2, 3, 1, 1}, -127, 127));
  Attrs a0;
  a0.set("axis", int64_t(0));
  int q = g.add_value("q"), d = g.add_value("d"), wd = g.add_value("wd"), y = g.add_value("y");
  g.add_node("QuantizeLinear", "q", {xi, s, z}, {q});
  g.add_node("DequantizeLinear", "dq", {q, s, z}, {d});
  g.add_node("DequantizeLinear", "dqw", {w, ws}, {wd}, a0);
  g.add_node("Conv", "conv", {d, wd}, {y});
  g.outputs = {y};
  std::string bytes = export_onnx_bytes(g);
  Graph back = import_onnx_bytes(bytes.data(), bytes.size(), "qdq.onnx");
  int nq = 0, ndq = 0;
  for (const Node& n : back.nodes) nq += n.op == "QuantizeLinear", ndq += n.op == "DequantizeLinear";
  EXPECT_EQ(nq, 1);
  EXPECT_EQ(ndq, 2);
  Tensor x = rand_f32({1, 3, 4, 4}, -3.f, 3.f);
  Session a(Model::from_graph(g)), b(Model::from_graph(back));
  auto ya = a.run({x})[0].clone();
  auto yb = b.run({x})[0];
  for (int64_t i = 0; i < ya.numel(); ++i) EXPECT_EQ(ya.data_as<float>()[i], yb.data_as<float>()[i]);
}

TEST(QuantizeLinear, BadParametersAreNamed) {
  Tensor x = rand_f32({2, 3});
  EXPECT_NE(compile_error("QuantizeLinear", {In::rt(x), In::k(scalar_f32(0.f))}).find("must be finite and > 0"),
            std::string::npos);
  EXPECT_NE(compile_error("QuantizeLinear", {In::rt(x), In::k(f32s({4}, {1, 1, 1, 1}))}).find("has 4 values but axis 1"),
            std::string::npos);
  EXPECT_NE(compile_error("QuantizeLinear", {In::rt(x), In::k(scalar_f32(1.f)), In::k(i32s({}, {0}))})
                .find("must be int8 or uint8"),
            std::string::npos);
  EXPECT_NE(compile_error("QuantizeLinear", {In::rt(x), In::rt(scalar_f32(1.f))}).find("must be a constant"),
            std::string::npos);
  EXPECT_NE(compile_error("DequantizeLinear", {In::rt(x), In::k(scalar_f32(1.f))}).find("must be int8, uint8 or int32"),
            std::string::npos);
  EXPECT_NE(compile_error("DequantizeLinear", {In::rt(i8s({2}, {1, 2})), In::k(scalar_f32(1.f)), In::k(u8s({}, {0}))})
                .find("is uint8 but must be int8"),
            std::string::npos);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace {
// Long per-tensor tensors take the 16-lane path: still exactly the scalar rule,
// ties (x / scale = k + 0.5) included.
TEST(QuantizeLinear, VectorPathEqualsScalarRule) {
  Tensor x(DType::f32, {1003});
  for (int i = 0; i < 1003; ++i) x.data_as<float>()[i] = float(i - 500) * 0.25f;
  for (DType t : {DType::i8, DType::u8}) {
    Tensor z(t, {});
    auto y = run_op("QuantizeLinear", {In::rt(x), In::k(scalar_f32(0.5f)), In::k(z)})[0];
    auto d = run_op("DequantizeLinear", {In::rt(y), In::k(scalar_f32(0.5f)), In::k(z)})[0];
    int32_t lo = t == DType::i8 ? -128 : 0, hi = t == DType::i8 ? 127 : 255;
    for (int i = 0; i < 1003; ++i) {
      const int32_t want = int32_t(std::clamp(std::nearbyint(x.data_as<float>()[i] / 0.5f), float(lo), float(hi)));
      const int32_t got = t == DType::i8 ? int32_t(y.data_as<int8_t>()[i]) : int32_t(y.data_as<uint8_t>()[i]);
      ASSERT_EQ(got, want) << i;
      ASSERT_EQ(d.data_as<float>()[i], float(want) * 0.5f) << i;
    }
  }
}
}  // namespace
}  // namespace ef::test
