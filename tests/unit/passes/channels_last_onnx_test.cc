// ONNX written from channels-last graphs (converted TFLite models) wraps
// every spatial op in Transpose pairs; the layout pass removes them all.
#include <cmath>

#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

TEST(ToNhwc, RemovesTransposePairsOfChannelsLastOnnx) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, 6, 7, 3}, true);
  g.inputs = {x};
  auto node = [&](const std::string& op, std::vector<int> ins, Attrs a = {}) {
    int y = g.add_value(op + std::to_string(g.nodes.size()));
    g.add_node(op, op + "_" + std::to_string(g.nodes.size()), std::move(ins), {y}, std::move(a));
    return y;
  };
  Attrs to_nchw, to_nhwc, pads;
  to_nchw.set("perm", std::vector<int64_t>{0, 3, 1, 2});
  to_nhwc.set("perm", std::vector<int64_t>{0, 2, 3, 1});
  pads.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  int c1 = node("Transpose", {node("Conv", {node("Transpose", {x}, to_nchw), g.add_const("w1", rand_f32({4, 3, 3, 3}))}, pads)}, to_nhwc);
  int r = node("Relu", {c1});
  int c2 = node("Transpose", {node("Conv", {node("Transpose", {r}, to_nchw), g.add_const("w2", rand_f32({5, 4, 1, 1}))})}, to_nhwc);
  g.outputs = {c2};
  CompileOptions plain;
  plain.optimize = false;
  Session ref(Model::from_graph(g), plain), opt(Model::from_graph(g));
  for (const Node& n : opt.graph().nodes) EXPECT_NE(n.op, "Transpose") << n.name;
  Tensor in = rand_f32({1, 6, 7, 3});
  Tensor a = ref.run({in})[0].clone(), b = opt.run({in})[0];
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data_as<float>()[i], b.data_as<float>()[i], 1e-4f);
}

}  // namespace
}  // namespace ef::test
