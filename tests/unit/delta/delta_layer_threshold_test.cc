// Per-layer gate thresholds (CompileOptions::delta.layer_thresholds, the file
// `bench --calibrate --per-layer` writes) and the per-layer "why" statistics
// behind `bench --explain`.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "delta_test_util.h"
#include "edgeflow/session.h"

namespace ef {
namespace {

using delta_test::nhwc;
using delta_test::rand_const;

// x [1,16,16,3] -> conv1 (3x3, relu) -> conv2 (3x3) -> y
Graph two_convs() {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, 16, 16, 3}, true);
  int h = g.add_value("h"), y = g.add_value("y");
  Attrs a = nhwc();
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Attrs r = a;
  r.set("activation", std::string("relu"));
  g.add_node("Conv", "conv1", {x, rand_const(g, "w1", {8, 3, 3, 3}, 1)}, {h}, r);
  g.add_node("Conv", "conv2", {h, rand_const(g, "w2", {4, 8, 3, 3}, 2)}, {y}, a);
  g.inputs = {x};
  g.outputs = {y};
  return g;
}

struct TwoFrames {
  int64_t conv1 = 0, conv2 = 0;  // MACs executed in the second frame
  DeltaLayerStats s1, s2;
  float diff = 0;                // max |dense - delta| of the second frame
};

// Two frames: a flat one, then one pixel changed by `step`.
TwoFrames two_frames(const std::map<std::string, float>& layer, float input_threshold, float step) {
  Graph g = two_convs();
  CompileOptions o;
  o.delta.enabled = true;
  o.delta.auto_fallback = false;
  o.delta.threshold = 0;
  o.delta.input_threshold = input_threshold;
  o.delta.layer_thresholds = layer;
  Session delta(Model::from_graph(g), o);
  Session dense(Model::from_graph(g));
  Tensor f(DType::f32, {1, 16, 16, 3});
  std::fill(f.data_as<float>(), f.data_as<float>() + f.numel(), 0.5f);
  delta.run({f});
  f.data_as<float>()[(5 * 16 + 7) * 3] += step;
  delta.run({f});
  TwoFrames r;
  const Tensor& want = dense.run({f})[0];
  for (int64_t i = 0; i < want.numel(); ++i)
    r.diff = std::max(r.diff, std::fabs(want.data_as<float>()[i] - delta.output(0).data_as<float>()[i]));
  for (auto& l : delta.delta_stats().layers) {
    const int64_t second = l.executed_macs - l.dense_macs;  // the first frame ran densely
    if (l.name == "conv1") r.conv1 = second, r.s1 = l;
    if (l.name == "conv2") r.conv2 = second, r.s2 = l;
  }
  return r;
}

TEST(DeltaLayerThresholds, ALayerThresholdHoldsOnlyThatLayersInput) {
  TwoFrames exact = two_frames({}, 0, 0.3f);
  EXPECT_GT(exact.conv1, 0);
  EXPECT_GT(exact.conv2, 0);
  EXPECT_LT(exact.diff, 1e-5f);
  TwoFrames held = two_frames({{"conv2", 1e3f}}, 0, 0.3f);
  EXPECT_EQ(held.conv1, exact.conv1) << "conv1's gate is not conv2's";
  EXPECT_EQ(held.conv2, 0) << "conv2's input change passed its layer threshold";
  EXPECT_GT(held.diff, 1e-4f) << "the held-back change should show in the output";
}

TEST(DeltaLayerThresholds, OverridesTheInputThresholdOnTheFrame) {
  TwoFrames open = two_frames({{"conv1", 0.f}}, 1e3f, 0.3f);  // the layer threshold (0) wins over the input threshold
  EXPECT_GT(open.conv1, 0);
  TwoFrames held = two_frames({{"conv1", 1e3f}}, 0, 0.3f);
  EXPECT_EQ(held.conv1, 0);
  EXPECT_EQ(held.conv2, 0) << "nothing published, nothing reached";
}

TEST(DeltaLayerThresholds, BadNamesAndValuesAreErrors) {
  for (auto [layer, want] : std::vector<std::pair<std::map<std::string, float>, std::string>>{
           {{{"conv7", 1.f}}, "'conv7': no convolution of that name"},
           {{{"conv2", -1.f}}, "'conv2': must be >= 0"}}) {
    try {
      two_frames(layer, 0, 0.3f);
      ADD_FAILURE() << "accepted " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

TEST(DeltaLayerThresholds, FileRoundTripAndBadLinesNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("ef_lt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "t.txt").string();
  save_delta_layer_thresholds(path, {{"conv1", 0.25f}, {"conv2", 4.f}});
  auto t = load_delta_layer_thresholds(path);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_FLOAT_EQ(t["conv1"], 0.25f);
  EXPECT_FLOAT_EQ(t["conv2"], 4.f);
  for (const char* bad : {"conv1 0.5\nconv2\n", "conv1 0.5\nconv2 -3\n", "conv1 0.5\nconv2 1 2\n", "conv1 x\n"}) {
    std::ofstream(path) << "# comment\n" << bad;
    try {
      load_delta_layer_thresholds(path);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path + ":"), std::string::npos) << e.what();
    }
  }
  try {
    load_delta_layer_thresholds((dir / "missing.txt").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// --explain's inputs: what the producer rewrote vs what the gate published
// (over the second frame only: the first is a forced full frame).
TEST(DeltaLayerThresholds, ExplainStatisticsSeparateRewrittenFromPublished) {
  // one changed pixel: the frame gate publishes its 4x4 tile, conv1 (3x3) rewrites 6x6 of conv2's input
  TwoFrames exact = two_frames({}, 0, 0.3f);
  EXPECT_NEAR(exact.s1.input_published, 16.0 / 256, 1e-9);
  EXPECT_NEAR(exact.s2.input_rewritten, 36.0 / 256, 1e-9);
  EXPECT_GT(exact.s2.input_published, 0.0);
  EXPECT_LE(exact.s2.input_published, exact.s2.input_rewritten);
  EXPECT_GT(exact.s2.output_changed, exact.s2.input_published) << "a 3x3 convolution spreads its published change";
  TwoFrames held = two_frames({{"conv2", 1e3f}}, 0, 0.3f);
  EXPECT_NEAR(held.s2.input_rewritten, 36.0 / 256, 1e-9);
  EXPECT_EQ(held.s2.input_published, 0.0);
  EXPECT_EQ(held.s2.output_changed, 0.0);
  EXPECT_EQ(held.s1.global_frames, 0);
}

}  // namespace
}  // namespace ef
