// Accuracy-driven mixed precision (--keep-float auto, --target; mixed.h):
// target parsing and checks against hand-set report values, the count search
// against a known threshold, and the ranking and choice on a small graph
// whose harmful layer is known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/mixed.h"
#include "support/errors.h"

namespace ef::quant {
namespace {

using test::error_of;

TEST(Mixed, ParsesTargetsAndNamesWhatIsWrong) {
  const Target t = parse_target("iou=0.98");
  EXPECT_EQ(t.metric, "iou");
  EXPECT_DOUBLE_EQ(t.value, 0.98);
  EXPECT_EQ(t.kind(), "segmentation");
  EXPECT_EQ(parse_target("score=0.02").kind(), "detection scores");
  EXPECT_EQ(parse_target("top1=0.99").kind(), "classifier");
  EXPECT_EQ(parse_target("snr=30").kind(), "");
  EXPECT_NE(error_of([] { parse_target("iou"); }).find("no '='"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("map=0.5"); }).find("unknown metric 'map'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("iou=high"); }).find("'high' is not a number"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("iou=0.98x"); }).find("is not a number"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("snr="); }).find("is not a number"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("iou=1.5"); }).find("fraction in (0, 1]"), std::string::npos);
  EXPECT_NE(error_of([] { parse_target("score=-0.1"); }).find("[0, 1)"), std::string::npos);
}

OutputAgreement output(const std::string& kind, int frames) {
  OutputAgreement o{"out_" + kind, kind, {}};
  o.frames = frames;
  return o;
}

TEST(Mixed, ChecksTargetsOnTheWorstOutputOfTheirKind) {
  auto a = output("segmentation", 4), b = output("segmentation", 4), d = output("detection scores", 4);
  a.iou_sum = 3.96, b.iou_sum = 3.9;  // means 0.99 and 0.975
  d.top_frames = 3, d.top_diff_max = 0.03;
  const std::vector<OutputAgreement> outs = {a, b, d};
  TargetCheck c = check_target(parse_target("iou=0.97"), outs);
  EXPECT_TRUE(c.met);
  EXPECT_NEAR(c.value, 0.975, 1e-12);
  EXPECT_FALSE(check_target(parse_target("iou=0.98"), outs).met);
  c = check_target(parse_target("score=0.02"), outs);
  EXPECT_FALSE(c.met);
  EXPECT_NEAR(c.value, 0.03, 1e-12);
  EXPECT_TRUE(check_target(parse_target("score=0.03"), outs).met);
  // SNR: every float output; 10 log10(100 / 1) = 20 dB.
  for (auto* o : {&a, &b, &d}) o->err.ref2 = 100, o->err.err2 = 1;
  c = check_target(parse_target("snr=20"), {a, b, d});
  EXPECT_TRUE(c.met);
  EXPECT_NEAR(c.value, 20.0, 1e-9);
  EXPECT_NE(error_of([&] { check_target(parse_target("top1=0.9"), outs); }).find("has no classifier output"),
            std::string::npos);
  d.top_frames = 0;
  EXPECT_NE(error_of([&] { check_target(parse_target("score=0.02"), {d}); }).find("detects nothing"),
            std::string::npos);
  EXPECT_NE(describe(parse_target("iou=0.98"), 0.975).find("mask IoU mean 0.9750 (target >= 0.98)"),
            std::string::npos);
}

TEST(Mixed, SearchFindsTheSmallestCountWithFewTries) {
  for (size_t need = 1; need <= 40; ++need) {
    int tries = 0;
    const size_t k = smallest_meeting(40, [&](size_t n) { return ++tries, n >= need; });
    EXPECT_EQ(k, need);
    EXPECT_LE(tries, 2 * 6 + 1) << need;  // doubling to 64 > 40, then bisection
  }
  int tries = 0;
  EXPECT_EQ(smallest_meeting(10, [&](size_t) { return ++tries, false; }), 10u);  // never met: the cap
  EXPECT_EQ(smallest_meeting(0, [](size_t) { return true; }), 0u);
  EXPECT_EQ(bisect_meeting(0, 30, [](size_t n) { return n >= 17; }), 17u);
}

// x [1,4,8,8] on the int8 grid -> conv a (1x1, weights on the grid) -> y ->
// conv b (1x1, weights half a step off the grid) -> z (output, float).
// Quantized alone, a adds only y's rounding; b adds y's rounding and its
// weights' rounding, so b is the harmful layer.
Graph net() {
  Graph g;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> m(20, 120);
  auto weights = [&](const std::string& name, float off) {
    std::vector<float> w(16);
    for (size_t i = 0; i < w.size(); ++i) w[i] = i % 4 == i / 4 ? 1.f : (float(m(rng)) + off) / 127.f;
    return g.add_const(name, Tensor::from<float>({4, 4, 1, 1}, std::span<const float>(w)));
  };
  const int x = g.add_value("x", DType::f32, {1, 4, 8, 8}, true);
  const int y = g.add_value("y", DType::f32, {1, 4, 8, 8}, true);
  const int z = g.add_value("z", DType::f32, {1, 4, 8, 8}, true);
  g.inputs = {x};
  g.add_node("Conv", "a", {x, weights("wa", 0.f)}, {y});
  g.add_node("Conv", "b", {y, weights("wb", 0.5f)}, {z});
  g.outputs = {z};
  g.relink();
  return g;
}

void fill(size_t f, Session& s) {
  std::mt19937 rng(11 + unsigned(f));
  Tensor& t = s.input(0);
  float* d = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = float(std::uniform_int_distribution<int>(0, 255)(rng)) / 64.f;
  d[0] = 0.f, d[1] = 255.f / 64.f;  // every frame spans the same range: x stays on its int8 grid
}

TEST(Mixed, RanksTheLayerWhoseQuantizationHurtsAndKeepsItFloatForATarget) {
  Graph g = net();
  Options o;
  o.equalize = false;  // a's weights stay on the int8 grid
  const Plan p = plan(g, o);
  ASSERT_EQ(p.layers.size(), 2u);
  const Calibration cal = calibrate(g, p, 8, fill, o);
  const Reference ref(g, 8, fill, 1);

  // Nothing quantized: the outputs are the float ones exactly.
  double harm = -1;
  auto same = compare(build_qdq(g, Plan{}, cal.stats, o), ref, 1, "", &harm);
  EXPECT_EQ(harm, 0.0);
  EXPECT_GE(same[0].err.snr_db(), 200.0);

  const auto r = rank_layers(g, p, cal.stats, o, ref, "", 1);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "b");
  EXPECT_GT(r[0].harm, 3 * r[1].harm) << r[0].harm << " " << r[1].harm;  // weight rounding on top of y's
  EXPECT_GT(r[1].harm, 0.0);

  // A target between every-layer-int8 and b-float: exactly b is kept float.
  auto snr_with = [&](std::vector<std::string> keep) {
    Options ok = o;
    ok.keep_float = keep;
    return compare(build_qdq(g, plan(g, ok), cal.stats, ok), ref, 1)[0].err.snr_db();
  };
  const double all = snr_with({}), b_float = snr_with({"b"});
  ASSERT_GT(b_float, all + 3) << "the test graph lost its harmful layer: " << all << " " << b_float;
  const Target t{"snr", (all + b_float) / 2};
  const Choice c = choose_float_layers(g, g, p, cal.stats, o, ref, t, 10, 1);
  ASSERT_EQ(c.keep, std::vector<std::string>{"b"});
  EXPECT_TRUE(c.search.met);
  EXPECT_NEAR(c.search.all_int8, all, 1e-9);
  EXPECT_NE(error_of([&] { check_applies(parse_target("iou=0.9"), g); }).find("has no segmentation output"),
            std::string::npos);  // z [1,4,8,8] is no mask
  check_applies(t, g);
  // Met by every layer int8: nothing kept, nothing ranked.
  EXPECT_TRUE(choose_float_layers(g, g, p, cal.stats, o, ref, Target{"snr", all - 1}, 10, 1).keep.empty());
  // Without a target (--keep-float auto:1): the most harmful.
  EXPECT_EQ(choose_float_layers(g, g, p, cal.stats, o, ref, std::nullopt, 1, 1).keep, std::vector<std::string>{"b"});

  // The search with a refinement (--correct): `keep_all` builds the layers
  // asked for float, `late` only once both are (below, every layer int8).
  auto keep_all = [&](const std::vector<std::string>& keep) {
    Options ok = o;
    ok.keep_float = keep;
    return build_qdq(g, plan(g, ok), cal.stats, ok);
  };
  auto late = [&](const std::vector<std::string>& keep) {
    return keep_all(keep.size() < 2 ? std::vector<std::string>{} : keep);
  };
  Mixed m = search_mixed(r, t, 2, late, ref, 1, {}, keep_all);  // 2 by the plain build, 1 by the refined one
  EXPECT_EQ(m.kept, 1u);
  EXPECT_TRUE(m.met);
  m = search_mixed(r, t, 2, keep_all, ref, 1, {}, late);  // the refined build misses at 1: upwards, to 2
  EXPECT_EQ(m.kept, 2u);
  EXPECT_TRUE(m.met);
}

}  // namespace
}  // namespace ef::quant
