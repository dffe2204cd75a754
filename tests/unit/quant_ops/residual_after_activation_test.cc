// QLinearAdd(r, QLinearConv(x) with its own relu), no activation on the Add,
// folded by fuse_qdq into the conv with residual r and
// residual_after_activation = 1 (the selfie models' Add(x, relu(depthwise(x)))):
// the kernels clamp the conv output, then add r with QLinearAdd's arithmetic,
// so the fused graph must equal the unfused pair (optimize = false) exactly:
// depthwise with 16 and 13 channels (own kernel), r the conv's own input or
// another value; a 1x1 conv on the VNNI GEMM; 1 and 2 threads. Not folded:
// the conv as the Add's first operand (QLinearAdd would round the two terms'
// sum the other way round), an Add with its own relu (two clamps), a
// depthwise conv of 24 channels (no own kernel takes its residual), one of
// 16 channels whose bias leaves the float-FMA kernel's exact range (the
// residual would put it on the reference kernel).
#include "runtime/kernels/qgemm_vnni.h"
#include "unit/quant_ops/fusion_run.h"

namespace ef::test {
namespace {

struct Case {
  Shape x;            // NHWC
  int64_t k = 3, group = 1, cout = 0;
  bool r_is_x = true;  // r: the conv's input, else a second graph input of the output's shape
  bool conv_first = false;
  const char* add_act = "";
  bool huge_bias = false;  // channel 0's bias beyond 2^24: the float-FMA kernel would not be exact
};

Graph conv_add(const Case& c) {
  Graph g;
  auto add = [&](const char* name, Tensor t) { return g.add_const(g.unique_name(name), std::move(t)); };
  auto zp = [&](int v) {
    Tensor z(DType::i8, {});
    *z.data_as<int8_t>() = int8_t(v);
    return add("z", std::move(z));
  };
  const int64_t cin = c.x[3], cout = c.cout ? c.cout : cin;
  const Shape ys{c.x[0], c.x[1], c.x[2], cout};
  const int x = g.add_value("x", DType::i8, c.x, true);
  g.inputs = {x};
  int r = x;
  if (!c.r_is_x) g.inputs.push_back(r = g.add_value("r", DType::i8, ys, true));
  std::vector<float> ws;
  std::vector<int32_t> bias;
  for (int64_t o = 0; o < cout; ++o) ws.push_back(0.002f + 0.001f * float(o % 5)), bias.push_back(int32_t(o * 41 - 300));
  if (c.huge_bias) bias[0] = 20'000'000;
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
  a.set("pads", std::vector<int64_t>(4, c.k / 2));
  a.set("group", c.group);
  a.set("activation", std::string("relu"));
  const int cv = g.add_value("c"), y = g.add_value("y");
  g.add_node("QLinearConv", "conv",
             {x, add("xs", scalar_f32(0.05f)), zp(3), add("w", rand_int<int8_t>({cout, cin / c.group, c.k, c.k}, -127, 127)),
              add("ws", Tensor::from<float>({cout}, std::span<const float>(ws))), add("wz", Tensor(DType::i8, {cout})),
              add("ys", scalar_f32(0.04f)), zp(-5), add("b", Tensor::from<int32_t>({cout}, std::span<const int32_t>(bias)))},
             {cv}, a);
  const std::vector<int> conv_in = {cv, add("cs", scalar_f32(0.04f)), zp(-5)},
                         r_in = {r, add("rs", scalar_f32(c.r_is_x ? 0.05f : 0.03f)), zp(c.r_is_x ? 3 : 7)};
  std::vector<int> ins = c.conv_first ? conv_in : r_in;
  const std::vector<int>& second = c.conv_first ? r_in : conv_in;
  ins.insert(ins.end(), second.begin(), second.end());
  ins.insert(ins.end(), {add("ss", scalar_f32(0.07f)), zp(-2)});
  Attrs aa;
  if (*c.add_act) aa.set("activation", std::string(c.add_act));
  g.add_node("QLinearAdd", "add", ins, {y}, aa);
  g.outputs = {y};
  return g;
}

FusionRun run(const Graph& g, const std::vector<Tensor>& in, bool optimize, int threads) {
  return run_fusion(g, in, optimize, threads, "QLinearAdd");
}

std::vector<Tensor> inputs(const Graph& g) {
  std::vector<Tensor> in;
  for (int v : g.inputs) in.push_back(rand_int<int8_t>(g.values[v].shape, -128, 127));
  return in;
}

TEST(ResidualAfterActivation, FusedEqualsUnfusedPair) {
  if (!vnni_available()) GTEST_SKIP() << "folded only where an own kernel takes the residual";
  int k = 0;
  for (const Case& c : {Case{{1, 13, 21, 16}, 3, 16}, Case{{2, 7, 9, 13}, 3, 13}, Case{{1, 9, 10, 16}, 5, 16, 0, false},
                        Case{{1, 6, 7, 24}, 1, 1, 20, false}})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("case " + std::to_string(k++));
      const Graph g = conv_add(c);
      const std::vector<Tensor> in = inputs(g);
      const FusionRun fused = run(g, in, true, threads);
      EXPECT_EQ(fused.count, 0) << "the QLinearAdd was not folded into the QLinearConv";
      expect_equal<int8_t>(fused.y, run(g, in, false, threads).y, "fused vs unfused");
    }
}

TEST(ResidualAfterActivation, NotFoldedWhereTheKernelCouldNotMatchThePair) {
  int k = 0;
  for (const Case& c : {Case{{1, 5, 6, 16}, 3, 16, 0, true, true}, Case{{1, 5, 6, 16}, 3, 16, 0, true, false, "relu"},
                        Case{{1, 5, 6, 24}, 3, 24}, Case{{1, 5, 6, 16}, 3, 16, 0, true, false, "", true}}) {
    SCOPED_TRACE("case " + std::to_string(k++));
    const Graph g = conv_add(c);
    const std::vector<Tensor> in = inputs(g);
    const FusionRun kept = run(g, in, true, 1);
    EXPECT_EQ(kept.count, 1);
    expect_equal<int8_t>(kept.y, run(g, in, false, 1).y, "optimized vs not");
  }
}

}  // namespace
}  // namespace ef::test
