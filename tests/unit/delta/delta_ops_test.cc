// Sparse forms of Pad, DepthToSpace/SpaceToDepth, MaxPool/AveragePool,
// the standalone activations, PRelu and channel Concat: at threshold 0,
// delta execution equals dense execution over a frame sequence (a block
// moving across tile borders of odd-sized maps), and each op really runs
// sparsely (recomputes only part of its output).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "edgeflow/session.h"
#include "delta_test_util.h"

namespace ef {
namespace {

struct OpCase {
  std::string name;
  int64_t h, w, c, oc;  // input map and the op's output channels
  // Adds the op reading `y` (the conv output; x is the graph input); returns its output.
  std::function<int(Graph&, int x, int y)> add;
};
void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

using delta_test::nhwc;
using delta_test::rand_const;

int conv(Graph& g, const std::string& name, int in, int64_t cin, int64_t cout, int64_t k) {
  Attrs a = nhwc();
  a.set("kernel_shape", std::vector<int64_t>{k, k});
  a.set("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
  int y = g.add_value(name);
  g.add_node("Conv", name, {in, rand_const(g, name + "_w", {cout, cin, k, k}, 1), rand_const(g, name + "_b", {cout}, 2)},
             {y}, a);
  return y;
}

// x -> conv 3x3 -> OP -> conv 1x1 -> z
Graph op_graph(const OpCase& c) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, c.h, c.w, c.c}, true);
  int y = conv(g, "c1", x, c.c, c.c, 3);
  int o = c.add(g, x, y);
  g.inputs = {x};
  g.outputs = {conv(g, "c2", o, c.oc, 5, 1)};
  return g;
}

// A still random background with a bright 5x4 block moving 3 rows, 2 columns a frame.
Tensor moving_block(const OpCase& c, int t) {
  Tensor f(DType::f32, {1, c.h, c.w, c.c});
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-1, 1);
  float* d = f.data_as<float>();
  for (int64_t i = 0; i < f.numel(); ++i) d[i] = u(rng);
  const int64_t y0 = (3 * t) % c.h, x0 = (2 * t + 1) % c.w;
  for (int64_t y = y0; y < std::min(c.h, y0 + 5); ++y)
    for (int64_t x = x0; x < std::min(c.w, x0 + 4); ++x)
      for (int64_t k = 0; k < c.c; ++k) d[(y * c.w + x) * c.c + k] = 2.f;
  return f;
}

std::function<int(Graph&, int, int)> unary(const std::string& op, Attrs a = {}, std::vector<int> extra = {}) {
  return [=](Graph& g, int, int y) {
    int o = g.add_value("op");
    std::vector<int> in{y};
    in.insert(in.end(), extra.begin(), extra.end());
    g.add_node(op, "op", in, {o}, a);
    return o;
  };
}

// act(y) + y: y has two consumers, so the activation stays a node of its own
// (not fused into the convolution).
std::function<int(Graph&, int, int)> activation(const std::string& op, Attrs a = {}, std::vector<int> extra = {}) {
  return [=](Graph& g, int x, int y) {
    int o = unary(op, a, extra)(g, x, y), r = g.add_value("res");
    g.add_node("Add", "res", {o, y}, {r});
    return r;
  };
}

std::function<int(Graph&, int, int)> pad(std::vector<int64_t> pads, float value) {
  return [=](Graph& g, int, int y) {
    Tensor p(DType::i64, {8}), v(DType::f32, {1});
    std::copy(pads.begin(), pads.end(), p.data_as<int64_t>());
    v.data_as<float>()[0] = value;
    int o = g.add_value("op");
    g.add_node("Pad", "op", {y, g.add_const("pads", p), g.add_const("value", v)}, {o}, nhwc());
    return o;
  };
}

Attrs pool(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> p, std::vector<int64_t> d = {1, 1}) {
  Attrs a = nhwc();
  a.set("kernel_shape", k), a.set("strides", s), a.set("pads", p), a.set("dilations", d);
  return a;
}

Attrs with(Attrs a, const std::string& k, int64_t v) {
  a.set(k, v);
  return a;
}

Attrs block(int64_t b, const std::string& mode = "DCR") {
  Attrs a = nhwc();
  a.set("blocksize", b), a.set("mode", mode);
  return a;
}

class DeltaOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(DeltaOps, Threshold0EqualsDenseAndRunsSparsely) {
  const OpCase& c = GetParam();
  Graph g = op_graph(c);
  Session dense(Model::from_graph(g));
  CompileOptions o = delta_test::sparse_delta();
  Session delta(Model::from_graph(g), o);
  const int frames = 12;
  for (int t = 0; t < frames; ++t) {
    Tensor f = moving_block(c, t);
    Tensor want = dense.run({f})[0].clone();
    const Tensor& got = delta.run({f})[0];
    float worst = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
      worst = std::max(worst, std::fabs(want.data_as<float>()[i] - got.data_as<float>()[i]));
    EXPECT_LT(worst, 1e-4f) << c.name << " frame " << t;
  }
  DeltaStats s = delta.delta_stats();
  EXPECT_TRUE(s.notes.empty()) << s.notes[0];
  bool found = false;
  for (auto& l : s.layers)
    if (l.name == "op") {
      found = true;
      EXPECT_TRUE(l.delta) << c.name << " has no sparse form";
      EXPECT_EQ(l.dense_runs, 1) << c.name;  // the first frame only
      EXPECT_LT(l.changed_fraction / frames, 0.6) << c.name << " rewrote most of its output every frame";
    }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(
    Ops, DeltaOps,
    ::testing::Values(
        OpCase{"PadHWC", 17, 23, 4, 7, pad({0, 1, 2, 1, 0, 3, 0, 2}, 0.5f)},
        // a non-zero value: a zero H/W Pad before a Conv is moved into the Conv (fuse_pad_conv)
        OpCase{"PadHW", 16, 15, 3, 3, pad({0, 0, 1, 0, 0, 1, 1, 0}, 0.25f)},
        OpCase{"DepthToSpaceDCR", 15, 17, 8, 2, unary("DepthToSpace", block(2))},
        OpCase{"DepthToSpaceCRD", 15, 17, 8, 2, unary("DepthToSpace", block(2, "CRD"))},
        OpCase{"DepthToSpace3", 17, 19, 9, 1, unary("DepthToSpace", block(3))},
        OpCase{"SpaceToDepth", 14, 18, 3, 12, unary("SpaceToDepth", block(2))},
        OpCase{"MaxPool3s2p1", 17, 23, 4, 4, unary("MaxPool", pool({3, 3}, {2, 2}, {1, 1, 1, 1}))},
        OpCase{"MaxPool2s2Floor", 17, 23, 4, 4, unary("MaxPool", pool({2, 2}, {2, 2}, {0, 0, 0, 0}))},
        OpCase{"MaxPool3s2Ceil", 16, 17, 4, 4,
               unary("MaxPool", with(pool({3, 3}, {2, 2}, {0, 0, 0, 0}), "ceil_mode", 1))},
        OpCase{"MaxPoolDilated", 19, 18, 3, 3, unary("MaxPool", pool({3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}))},
        OpCase{"AvgPool3s1p1", 17, 23, 4, 4, unary("AveragePool", pool({3, 3}, {1, 1}, {1, 1, 1, 1}))},
        OpCase{"AvgPool2s2IncludePad", 16, 18, 4, 4,
               unary("AveragePool", with(pool({2, 2}, {2, 2}, {0, 0, 0, 0}), "count_include_pad", 1))},
        OpCase{"Relu", 17, 23, 4, 4, activation("Relu")},
        OpCase{"Clip", 17, 23, 4, 4,
               [](Graph& g, int, int y) {
                 Tensor lo(DType::f32, {}), hi(DType::f32, {});
                 lo.data_as<float>()[0] = -0.3f, hi.data_as<float>()[0] = 0.4f;
                 return activation("Clip", {}, {g.add_const("lo", lo), g.add_const("hi", hi)})(g, 0, y);
               }},
        OpCase{"LeakyRelu", 17, 23, 4, 4,
               [](Graph& g, int, int y) {
                 Attrs a;
                 a.set("alpha", 0.2f);
                 return activation("LeakyRelu", a)(g, 0, y);
               }},
        OpCase{"HardSwish", 17, 23, 4, 4, activation("HardSwish")},
        OpCase{"Sigmoid", 17, 23, 4, 4, activation("Sigmoid")},
        OpCase{"Tanh", 17, 23, 4, 4, activation("Tanh")},
        OpCase{"PRelu", 17, 23, 4, 4,
               [](Graph& g, int, int y) { return activation("PRelu", {}, {rand_const(g, "slope", {1, 1, 4}, 9)})(g, 0, y); }},
        OpCase{"ConcatChannels", 17, 23, 3, 6,
               [](Graph& g, int x, int y) {
                 Attrs a;
                 a.set("axis", int64_t(3));
                 int o = g.add_value("op");
                 g.add_node("Concat", "op", {y, x}, {o}, a);
                 return o;
               }}),
    [](const ::testing::TestParamInfo<OpCase>& i) { return i.param.name; });

}  // namespace
}  // namespace ef

namespace ef {
namespace {
// TFLite models pad the frame explicitly before a strided first convolution:
// the padded frame carries the camera noise, so its gate uses the input
// threshold (here: large, so a small change is held back), not the
// convolution threshold (0).
TEST(DeltaOps, InputThresholdGatesThePaddedFrame) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, 16, 16, 3}, true);
  Tensor p(DType::i64, {8});
  const int64_t pads[8] = {0, 1, 1, 0, 0, 1, 1, 0};
  std::copy(pads, pads + 8, p.data_as<int64_t>());
  int xp = g.add_value("xp"), y = g.add_value("y");
  g.add_node("Pad", "pad", {x, g.add_const("pads", p)}, {xp}, delta_test::nhwc());
  Attrs a = delta_test::nhwc();
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  g.add_node("Conv", "conv", {xp, delta_test::rand_const(g, "w", {4, 3, 3, 3}, 1)}, {y}, a);
  g.inputs = {x};
  g.outputs = {y};
  for (float input_threshold : {1e3f, -1.f}) {  // -1: the convolution threshold applies
    CompileOptions o;
    o.delta.enabled = true;
    o.delta.auto_fallback = false;
    o.delta.threshold = 0;
    o.delta.input_threshold = input_threshold;
    Session delta(Model::from_graph(g), o);
    Tensor f(DType::f32, {1, 16, 16, 3});
    std::fill(f.data_as<float>(), f.data_as<float>() + f.numel(), 0.5f);
    delta.run({f});
    f.data_as<float>()[(5 * 16 + 7) * 3] += 0.01f;
    delta.run({f});
    int64_t conv_macs = 0, dense_macs = 0;
    for (auto& l : delta.delta_stats().layers)
      if (l.name == "conv") conv_macs = l.executed_macs, dense_macs = l.dense_macs;
    if (input_threshold > 0) EXPECT_EQ(conv_macs, dense_macs) << "the small change passed the input gate";
    else EXPECT_GT(conv_macs, dense_macs) << "threshold 0 held the change back";
  }
}
}  // namespace
}  // namespace ef
