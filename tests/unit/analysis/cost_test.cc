// The cost model against hand calculations.
#include <gtest/gtest.h>

#include "edgeflow/analysis.h"

namespace ef {

namespace {
// x[1,cin,h,w] -> Conv 3x3 pad 1 (no bias) -> BatchNormalization.
Graph conv_bn(int64_t cin, int64_t cout, int64_t hw) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, cin, hw, hw}, true);
  int w = g.add_const("w", Tensor(DType::f32, {cout, cin, 3, 3}));
  int y = g.add_value("y");
  Attrs a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node("Conv", "conv", {x, w}, {y}, a);
  std::vector<int> bn_in = {y};
  for (const char* n : {"scale", "shift", "mean", "var"}) bn_in.push_back(g.add_const(n, Tensor(DType::f32, {cout})));
  int z = g.add_value("z");
  g.add_node("BatchNormalization", "bn", bn_in, {z});
  g.inputs = {x};
  g.outputs = {z};
  infer_shapes(g);
  return g;
}
}  // namespace

TEST(Cost, ConvBnParametersMatchHandCount) {
  // 3x3x32x64 weights + 64 scale + 64 shift = 18,560 (BN mean/var are not parameters).
  EXPECT_EQ(model_cost(conv_bn(32, 64, 8)).total.params, 18560);
  // 3x3x64x128 + 2*128 = 73,984.
  EXPECT_EQ(model_cost(conv_bn(64, 128, 8)).total.params, 73984);
}

TEST(Cost, ConvMacsAreOutputsTimesReceptiveField) {
  Graph g = conv_bn(32, 64, 56);
  ModelCost c = model_cost(g);
  EXPECT_EQ(c.nodes[0].macs, int64_t(56) * 56 * 64 * (32 * 3 * 3));
  EXPECT_EQ(c.nodes[1].macs, 0);
  EXPECT_EQ(c.nodes[0].in_bytes, 56 * 56 * 32 * 4);
  EXPECT_EQ(c.nodes[0].out_bytes, 56 * 56 * 64 * 4);
  EXPECT_EQ(c.nodes[0].weight_bytes, 64 * 32 * 9 * 4);
}

TEST(Cost, GemmMacs) {
  Graph g;
  int a = g.add_value("a", DType::f32, {4, 1280}, true);
  int b = g.add_const("b", Tensor(DType::f32, {1000, 1280}));
  int c = g.add_const("c", Tensor(DType::f32, {1000}));
  int y = g.add_value("y");
  Attrs at;
  at.set("transB", int64_t(1));
  g.add_node("Gemm", "fc", {a, b, c}, {y}, at);
  g.inputs = {a};
  g.outputs = {y};
  infer_shapes(g);
  auto cost = model_cost(g);
  EXPECT_EQ(cost.total.macs, 4LL * 1000 * 1280);
  EXPECT_EQ(cost.total.params, 1000LL * 1280 + 1000);
}

TEST(Cost, QuantizedConvCostsWhatItsFloatConvDoes) {
  // QLinearConv x u8[1,16,8,8], w i8[32,16,3,3] per-channel, bias i32[32], pad 1.
  Graph g;
  auto scalar = [&](const char* name, DType t) { return g.add_const(name, Tensor(t, {})); };
  int x = g.add_value("x", DType::u8, {1, 16, 8, 8}, true);
  Tensor xs(DType::f32, {}), ws(DType::f32, {32}), ys(DType::f32, {});
  xs.data_as<float>()[0] = 0.02f;
  ys.data_as<float>()[0] = 0.05f;
  for (int i = 0; i < 32; ++i) ws.data_as<float>()[i] = 0.01f;
  std::vector<int> in = {x, g.add_const("xs", xs), scalar("xz", DType::u8), g.add_const("w", Tensor(DType::i8, {32, 16, 3, 3})),
                         g.add_const("ws", ws), g.add_const("wz", Tensor(DType::i8, {32})), g.add_const("ys", ys),
                         scalar("yz", DType::u8), g.add_const("b", Tensor(DType::i32, {32}))};
  int y = g.add_value("y");
  Attrs a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node("QLinearConv", "qconv", in, {y}, a);
  g.inputs = {x};
  g.outputs = {y};
  infer_shapes(g);
  NodeCost c = node_cost(g, g.nodes[0]);
  EXPECT_EQ(c.params, 32 * 16 * 9 + 32);  // weights + bias; scales and zero points are not parameters
  EXPECT_EQ(c.macs, 64 * 32 * 144);
  EXPECT_EQ(c.flops, 2 * 64 * 32 * 144 + 64 * 32);
  EXPECT_EQ(c.in_bytes, 1024);   // one byte per activation
  EXPECT_EQ(c.out_bytes, 2048);
  // 4,608 B int8 weights + 128 B bias + scales/zero points (4 + 1 + 128 + 32 + 4 + 1)
  EXPECT_EQ(c.weight_bytes, 4608 + 128 + 170);
  EXPECT_EQ(compute_precision(g, g.nodes[0]), "int8");
}

TEST(Cost, DequantizedWeightsAreParameters) {
  // QDQ form: DequantizeLinear(int8 constant [64,32,1,1]) feeding a Conv counts 2,048 parameters.
  Graph g;
  Tensor s(DType::f32, {});
  s.data_as<float>()[0] = 0.1f;
  int w = g.add_value("wf");
  g.add_node("DequantizeLinear", "dq", {g.add_const("wq", Tensor(DType::i8, {64, 32, 1, 1})), g.add_const("s", s)}, {w});
  int x = g.add_value("x", DType::f32, {1, 32, 4, 4}, true);
  int y = g.add_value("y");
  Attrs a;
  a.set("kernel_shape", std::vector<int64_t>{1, 1});
  g.add_node("Conv", "conv", {x, w}, {y}, a);
  g.inputs = {x};
  g.outputs = {y};
  infer_shapes(g);
  ModelCost c = model_cost(g);
  EXPECT_EQ(c.nodes[0].params, 2048);
  EXPECT_EQ(c.nodes[0].flops, 2048);  // one scale per element
  EXPECT_EQ(c.nodes[1].macs, 16 * 64 * 32);
  EXPECT_EQ(c.total.params, 2048);
}

}  // namespace ef
