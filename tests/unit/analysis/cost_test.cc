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

}  // namespace ef
