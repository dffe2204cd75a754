// Delta execution against dense execution of the same graph.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "edgeflow/session.h"
#include "delta_test_util.h"

namespace ef {
namespace {

struct ConvCfg {
  int64_t h, w, cin, cout, k, stride, dil, pad, group;
  std::string act;
};

// x[1,h,w,cin] (NHWC) -> Conv(+act) -> Conv 1x1 -> y
Graph conv_graph(const ConvCfg& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.3f);
  Graph g;
  int x = g.add_value("x", DType::f32, {1, c.h, c.w, c.cin}, true);
  Tensor w(DType::f32, {c.cout, c.cin / c.group, c.k, c.k}), b(DType::f32, {c.cout});
  for (int64_t i = 0; i < w.numel(); ++i) w.data_as<float>()[i] = nd(rng);
  for (int64_t i = 0; i < b.numel(); ++i) b.data_as<float>()[i] = nd(rng);
  int wv = g.add_const("w", w), bv = g.add_const("b", b);
  int y = g.add_value("y");
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
  a.set("strides", std::vector<int64_t>{c.stride, c.stride});
  a.set("dilations", std::vector<int64_t>{c.dil, c.dil});
  a.set("pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
  a.set("group", c.group);
  if (!c.act.empty()) a.set("activation", c.act);
  g.add_node("Conv", "conv", {x, wv, bv}, {y}, a);
  Tensor w2(DType::f32, {5, c.cout, 1, 1});
  for (int64_t i = 0; i < w2.numel(); ++i) w2.data_as<float>()[i] = nd(rng);
  int w2v = g.add_const("w2", w2), z = g.add_value("z");
  Attrs a2;
  a2.set("layout", std::string("NHWC"));
  a2.set("kernel_shape", std::vector<int64_t>{1, 1});
  g.add_node("Conv", "pw", {y, w2v}, {z}, a2);
  g.inputs = {x};
  g.outputs = {z};
  return g;
}

// A static random background with a small square moving across it.
Tensor frame(const ConvCfg& c, int t, float noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Tensor f(DType::f32, {1, c.h, c.w, c.cin});
  float* d = f.data_as<float>();
  for (int64_t i = 0; i < f.numel(); ++i) d[i] = u(rng);
  std::mt19937 nr(seed * 7919 + unsigned(t));
  std::normal_distribution<float> nd(0.f, noise > 0 ? noise : 1.f);
  int64_t x0 = (t * 2) % c.w, y0 = (t * 3) % c.h;
  for (int64_t y = y0; y < std::min(c.h, y0 + 5); ++y)
    for (int64_t x = x0; x < std::min(c.w, x0 + 4); ++x)
      for (int64_t k = 0; k < c.cin; ++k) d[(y * c.w + x) * c.cin + k] = 2.0f;
  if (noise > 0)
    for (int64_t i = 0; i < f.numel(); ++i) d[i] += nd(nr);
  return f;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data_as<float>()[i] - b.data_as<float>()[i]));
  return m;
}

class DeltaExact : public ::testing::TestWithParam<ConvCfg> {};

// Threshold 0: every non-zero residual is integrated, so delta equals dense.
TEST_P(DeltaExact, EqualsDenseOverASequence) {
  const ConvCfg c = GetParam();
  Graph g = conv_graph(c, 3);
  Session dense(Model::from_graph(g));
  CompileOptions o = delta_test::sparse_delta();
  Session delta(Model::from_graph(g), o);
  for (int t = 0; t < 12; ++t) {
    Tensor f = frame(c, t, 0, 11);
    Tensor want = dense.run({f})[0].clone();
    const Tensor& got = delta.run({f})[0];
    EXPECT_LT(max_abs_diff(want, got), 1e-4f) << "frame " << t;
  }
  DeltaStats s = delta.delta_stats();
  EXPECT_EQ(s.frames, 12);
  EXPECT_LT(s.executed_macs, s.dense_macs_per_frame * 12 / 2) << "a moving square should need far fewer MACs";
  ASSERT_EQ(s.layers.size(), 2u);
  EXPECT_TRUE(s.layers[0].delta);
  EXPECT_EQ(s.layers[0].dense_runs, 1);  // only the first frame
}

INSTANTIATE_TEST_SUITE_P(Configs, DeltaExact,
                         ::testing::Values(ConvCfg{17, 23, 3, 8, 3, 1, 1, 1, 1, "relu"},
                                           ConvCfg{20, 21, 4, 6, 3, 2, 1, 1, 1, ""},
                                           ConvCfg{19, 19, 5, 7, 3, 1, 2, 2, 1, "hardswish"},
                                           ConvCfg{16, 17, 8, 8, 3, 1, 1, 1, 8, "relu6"},
                                           ConvCfg{15, 18, 6, 6, 5, 2, 1, 2, 6, ""},
                                           ConvCfg{13, 14, 4, 9, 1, 1, 1, 0, 1, "sigmoid"},
                                           // depthwise by ConvDwF32: whole vectors (s2, k5), pixel groups (24 ch)
                                           ConvCfg{17, 19, 32, 32, 3, 2, 1, 1, 32, "relu6"},
                                           ConvCfg{18, 21, 16, 16, 5, 1, 1, 2, 16, "hardswish"},
                                           ConvCfg{15, 16, 24, 24, 3, 1, 1, 1, 24, ""},
                                           // depthwise it does not take: multiplier 2, dilation 2
                                           ConvCfg{27, 25, 4, 8, 3, 1, 2, 2, 4, "relu"}));

// With a threshold the error stays bounded over 300 noisy frames: the
// integrated input is stored, so sub-threshold changes accumulate instead of
// drifting.
TEST(Delta, ThresholdErrorStaysBoundedOver300Frames) {
  ConvCfg c{24, 24, 3, 8, 3, 1, 1, 1, 1, "relu"};
  Graph g = conv_graph(c, 5);
  Session dense(Model::from_graph(g));
  CompileOptions o;
  o.delta.enabled = true;
  o.delta.auto_fallback = false;  // exercise the delta path on every frame
  o.delta.threshold = 0.05f;
  Session delta(Model::from_graph(g), o);
  float first_half = 0, second_half = 0;
  for (int t = 0; t < 300; ++t) {
    Tensor f = frame(c, t, 0.002f, 13);
    Tensor want = dense.run({f})[0].clone();
    float e = max_abs_diff(want, delta.run({f})[0]);
    (t < 150 ? first_half : second_half) = std::max(t < 150 ? first_half : second_half, e);
  }
  EXPECT_LT(second_half, 0.25f);
  EXPECT_LT(second_half, first_half * 2 + 0.02f) << "error grows over time (drift)";
  DeltaStats s = delta.delta_stats();
  EXPECT_LT(s.executed_macs, s.dense_macs_per_frame * 300 / 2);
}

TEST(Delta, RefreshRunsDenselyEveryNFrames) {
  ConvCfg c{16, 16, 3, 4, 3, 1, 1, 1, 1, ""};
  Graph g = conv_graph(c, 7);
  CompileOptions o = delta_test::sparse_delta();
  o.delta.refresh_every = 5;
  Session delta(Model::from_graph(g), o);
  for (int t = 0; t < 20; ++t) delta.run({frame(c, t, 0, 1)});
  // frame 1 (first) + frames 5, 10, 15, 20
  EXPECT_EQ(delta.delta_stats().layers[0].dense_runs, 5);
}

TEST(Delta, FrameSkipReusesOutputsWhenNothingChanged) {
  ConvCfg c{16, 16, 3, 4, 3, 1, 1, 1, 1, ""};
  Graph g = conv_graph(c, 9);
  CompileOptions o;
  o.delta.enabled = true;
  o.delta.auto_fallback = false;  // exercise the delta path on every frame
  o.delta.frame_skip = 1e-3f;
  Session delta(Model::from_graph(g), o);
  Tensor f = frame(c, 0, 0, 1);
  Tensor first = delta.run({f})[0].clone();
  const Tensor& again = delta.run({f})[0];
  EXPECT_EQ(max_abs_diff(first, again), 0.f);
  delta.run({frame(c, 3, 0, 1)});
  DeltaStats s = delta.delta_stats();
  EXPECT_EQ(s.frames, 3);
  EXPECT_EQ(s.frames_skipped, 1);
}

TEST(Delta, ResetMakesTheNextFrameDense) {
  ConvCfg c{16, 16, 3, 4, 3, 1, 1, 1, 1, ""};
  Graph g = conv_graph(c, 9);
  CompileOptions o = delta_test::sparse_delta();
  Session delta(Model::from_graph(g), o);
  delta.run({frame(c, 0, 0, 1)});
  delta.run({frame(c, 1, 0, 1)});
  delta.reset_delta();
  delta.run({frame(c, 2, 0, 2)});  // a different scene
  EXPECT_EQ(delta.delta_stats().layers[0].dense_runs, 2);
  Session dense(Model::from_graph(g));
  EXPECT_LT(max_abs_diff(dense.run({frame(c, 2, 0, 2)})[0], delta.outputs()[0]), 1e-4f);
}

// 1x1 convolutions multiply long runs of changed pixels in place (here
// whole rows: one run crosses row ends) and gather the short ones; the
// hardswish runs as a separate pass on both. Threshold 0: equals dense.
TEST(Delta, PointwiseLongAndShortRunsEqualDense) {
  ConvCfg c{40, 45, 24, 16, 1, 1, 1, 0, 1, "hardswish"};
  Graph g = conv_graph(c, 12);
  Session dense(Model::from_graph(g));
  Session delta(Model::from_graph(g), delta_test::sparse_delta());
  Tensor f = frame(c, 0, 0, 5);
  for (int t = 0; t < 10; ++t) {
    float* d = f.data_as<float>();
    const int64_t row = (t * 7) % (c.h - 3);
    for (int64_t i = row * c.w * c.cin; i < (row + 3) * c.w * c.cin; ++i) d[i] += 0.5f;  // 3 rows: a 135-pixel run
    for (int64_t k = 0; k < c.cin; ++k) d[((t % 30 + 5) * c.w + (t * 11) % c.w) * c.cin + k] -= 1.f;  // one pixel
    Tensor want = dense.run({f})[0].clone();
    EXPECT_LT(max_abs_diff(want, delta.run({f})[0]), 1e-4f) << "frame " << t;
  }
  const DeltaStats s = delta.delta_stats();
  EXPECT_EQ(s.layers[0].dense_runs, 1);
  EXPECT_LT(s.layers[0].executed_macs, s.layers[0].dense_macs * 3) << "10 frames of ~4 rows of 40 should cost < 3 dense frames";
}

// A convolution that ran both ways on incremental frames reports where its
// dense kernel became faster (a measured fraction, not the 2 of "unknown").
TEST(Delta, BreakEvenIsMeasuredOnceBothPathsRan) {
  ConvCfg c{32, 32, 8, 16, 3, 1, 1, 1, 1, "relu"};
  Graph g = conv_graph(c, 6);
  CompileOptions o = delta_test::sparse_delta();
  o.delta.dense_above = 0.5f;
  o.delta.measured_breakeven = true;
  Session delta(Model::from_graph(g), o);
  Tensor f = frame(c, 0, 0, 3);
  delta.run({f});
  EXPECT_EQ(delta.delta_stats().layers[0].breakeven, 2.0);
  for (int t = 1; t < 9; ++t) {
    float* d = f.data_as<float>();
    // odd frames: the top 30 % of the rows change (sparse); even frames: all (dense)
    const int64_t rows = t % 2 ? c.h * 3 / 10 : c.h;
    for (int64_t i = 0; i < rows * c.w * c.cin; ++i) d[i] += 0.25f;
    delta.run({f});
  }
  const double be = delta.delta_stats().layers[0].breakeven;
  EXPECT_GT(be, 0.0);
  EXPECT_LT(be, 2.0);
}

}  // namespace
}  // namespace ef

namespace ef {
namespace {
// Auto fallback starts with plain (dense) frames to learn the dense time;
// whichever mode runs, the outputs track dense execution.
TEST(Delta, AutoFallbackStartsDenseAndStaysExact) {
  ConvCfg c{18, 18, 3, 6, 3, 1, 1, 1, 1, "relu"};
  Graph g = conv_graph(c, 4);
  Session dense(Model::from_graph(g));
  CompileOptions o;
  o.delta.enabled = true;  // auto_fallback is on by default
  o.delta.fallback_frames = 4;
  Session delta(Model::from_graph(g), o);
  for (int t = 0; t < 20; ++t) {
    Tensor f = frame(c, t, 0, 21);
    Tensor want = dense.run({f})[0].clone();
    EXPECT_LT(max_abs_diff(want, delta.run({f})[0]), 1e-4f) << "frame " << t;
    if (t == 2) EXPECT_EQ(delta.delta_stats().frames_dense_fallback, 3);
  }
  DeltaStats s = delta.delta_stats();
  EXPECT_GT(s.dense_ms, 0);
  EXPECT_GE(s.frames_dense_fallback, 3);
}
}  // namespace
}  // namespace ef

namespace ef {
namespace {
using delta_test::nhwc;
using delta_test::rand_const;

// conv -> SE block (global pool, 1x1 convs on the pooled vector, channel
// scale) -> residual add -> bilinear x2 resize -> transposed conv (k2 s2)
// -> Elu (no sparse form: runs densely, said once).
Graph mixed_graph(const ConvCfg& c) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, c.h, c.w, c.cin}, true);
  auto conv = [&](const std::string& name, int in, int64_t cin, int64_t cout, int64_t k, const std::string& act) {
    Attrs a = nhwc();
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
    if (!act.empty()) a.set("activation", act);
    int y = g.add_value(name);
    g.add_node("Conv", name, {in, rand_const(g, name + "_w", {cout, cin, k, k}, 1), rand_const(g, name + "_b", {cout}, 2)},
               {y}, a);
    return y;
  };
  int y = conv("c1", x, c.cin, 8, 3, "relu");
  int p = g.add_value("pool");
  g.add_node("GlobalAveragePool", "gap", {y}, {p}, nhwc());
  int s = conv("se", conv("sq", p, 8, 4, 1, "relu"), 4, 8, 1, "sigmoid");
  int m = g.add_value("m"), r = g.add_value("r"), u = g.add_value("u"), t = g.add_value("t"), o = g.add_value("o");
  g.add_node("Mul", "scale", {y, s}, {m});
  g.add_node("Add", "res", {m, y}, {r});
  Attrs ra = nhwc();
  ra.set("mode", std::string("linear"));
  Tensor scales(DType::f32, {4});
  float sv[4] = {1, 2, 2, 1};
  std::memcpy(scales.data(), sv, sizeof sv);
  g.add_node("Resize", "up", {r, -1, g.add_const("scales", scales)}, {u}, ra);
  Attrs ta = nhwc();
  ta.set("kernel_shape", std::vector<int64_t>{2, 2});
  ta.set("strides", std::vector<int64_t>{2, 2});
  g.add_node("ConvTranspose", "deconv", {u, rand_const(g, "tw", {8, 3, 2, 2}, 3), rand_const(g, "tb", {3}, 4)}, {t}, ta);
  g.add_node("Elu", "elu", {t}, {o});
  g.inputs = {x};
  g.outputs = {o};
  return g;
}

TEST(Delta, EveryOpOfAMixedGraphEqualsDenseAtThreshold0) {
  ConvCfg c{13, 17, 3, 8, 3, 1, 1, 1, 1, ""};
  Graph g = mixed_graph(c);
  Session dense(Model::from_graph(g));
  CompileOptions o = delta_test::sparse_delta();
  Session delta(Model::from_graph(g), o);
  for (int t = 0; t < 10; ++t) {
    Tensor f = frame(c, t, 0, 11);
    Tensor want = dense.run({f})[0].clone();
    EXPECT_LT(max_abs_diff(want, delta.run({f})[0]), 1e-5f) << "frame " << t;
  }
  DeltaStats s = delta.delta_stats();
  ASSERT_EQ(s.notes.size(), 2u);  // the unsupported op, and the 1x1 convolutions of the SE block
  EXPECT_NE(s.notes[0].find("Elu"), std::string::npos) << s.notes[0];
  for (auto& l : s.layers)
    if (l.op == "Mul" || l.op == "Add" || l.op == "Resize" || l.op == "ConvTranspose" || l.op == "GlobalAveragePool" ||
        l.name == "c1")
      EXPECT_TRUE(l.delta) << l.name;
}

// Gates on the SE scale: a global threshold larger than any change keeps the
// integrated scale, so only the moving square's pixels are recomputed.
TEST(Delta, GlobalGateKeepsTheIntegratedChannelScale) {
  ConvCfg c{24, 24, 3, 8, 3, 1, 1, 1, 1, ""};
  Graph g = mixed_graph(c);
  CompileOptions o;
  o.delta.enabled = true;
  o.delta.auto_fallback = false;
  o.delta.global_threshold = 10.f;
  Session delta(Model::from_graph(g), o);
  for (int t = 0; t < 6; ++t) delta.run({frame(c, t, 0, 11)});
  for (auto& l : delta.delta_stats().layers)
    if (l.name == "scale") EXPECT_LT(l.changed_fraction / 6, 0.6) << "the channel scale change spread everywhere";
}
}  // namespace
}  // namespace ef
