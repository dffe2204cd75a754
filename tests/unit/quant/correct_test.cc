// Sequential correction (--correct bias|weights) on a small graph where
// int8 rounding has a known bias: every input value sits 0.4 of a step
// above the int8 grid, so quantization lowers each one by 0.4 steps and the
// convolutions' outputs by 0.4 steps times their weight sums. Two stacked
// convolutions: a one-shot correction (both layers' measured output shifts
// applied at once) would count conv a's shift twice (a's own correction, and
// again in b's, measured before a was fixed) and leave b about as far off as
// without correction, in the other direction.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/quantize.h"

namespace ef::quant {
namespace {

constexpr float kStep = 0.01f;  // the input's int8 scale: calibrated range [0, 255 * kStep]

struct Net {
  Graph g;
  std::vector<float> wa, wb;  // for the expected shift
};

// x [1,4,8,8] -> conv a (1x1, 4->4) -> y1 -> conv b (3x3, 4->4, pad 1) -> y2 -> conv c (1x1, 4->2) -> z
Net net() {
  Net n;
  Graph& g = n.g;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> m(25, 127);
  // On the int8 grid (each output channel's largest weight 1, scale 1/127):
  // weight rounding adds nothing, all error comes from the inputs. Conv a
  // ignores input channel 0, where the frames put the range's ends.
  auto weights = [&](const std::string& name, Shape s) {
    std::vector<float> w(size_t(numel(s)));
    const size_t per = size_t(numel(s) / s[0]);
    for (size_t i = 0; i < w.size(); ++i) w[i] = i % per == 1 ? 1.f : float(m(rng)) / 127.f;
    if (name == "wa")
      for (size_t i = 0; i < w.size(); i += per) w[i] = 0.f;
    return std::make_pair(g.add_const(name, Tensor::from<float>(s, std::span<const float>(w))), w);
  };
  const int x = g.add_value("x", DType::f32, {1, 4, 8, 8}, true);
  g.inputs = {x};
  const int y1 = g.add_value("y1", DType::f32, {1, 4, 8, 8}, true);
  const int y2 = g.add_value("y2", DType::f32, {1, 4, 8, 8}, true);
  const int z = g.add_value("z", DType::f32, {1, 2, 8, 8}, true);
  auto [wa, wav] = weights("wa", {4, 4, 1, 1});
  n.wa = wav;
  g.add_node("Conv", "a", {x, wa}, {y1});
  auto [wb, wbv] = weights("wb", {4, 4, 3, 3});
  n.wb = wbv;
  Attrs pad;
  pad.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node("Conv", "b", {y1, wb}, {y2}, pad);
  g.add_node("Conv", "c", {y2, weights("wc", {2, 4, 1, 1}).first}, {z});
  g.outputs = {z};
  g.relink();
  return n;
}

// Frame f: value(rng) at every element, and the range's ends 0 and
// 255 * kStep at two pixels of channel 0 so that every frame calibrates alike.
using ValueFn = float (*)(std::mt19937&);
FillFn frames(unsigned seed, ValueFn value) {
  return [seed, value](size_t f, Session& s) {
    std::mt19937 rng(seed + unsigned(f));
    Tensor& t = s.input(0);
    float* d = t.data_as<float>();
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = value(rng);
    d[0] = 0.f, d[1] = 255 * kStep;
  };
}
// 0.4 of a step above the grid: int8 rounds every value down by 0.4 kStep.
float biased(std::mt19937& rng) { return (float(std::uniform_int_distribution<int>(1, 254)(rng)) + 0.4f) * kStep; }
// 1.2 or 2.4 steps: int8 rounds them to 1 and 2 steps, a gain of 1/1.2 no
// bias can undo (the error grows with the value).
float gained(std::mt19937& rng) { return float(std::uniform_int_distribution<int>(1, 2)(rng)) * 1.2f * kStep; }

// Per channel of conv output `value` (before its own Q/DQ) over held-out
// frames: mean and mean square of quantized - float.
struct Error2 {
  std::vector<double> mean = std::vector<double>(4, 0.0), mse = std::vector<double>(4, 0.0);
};
Error2 output_error(const Graph& fp, const Graph& qdq, const std::string& value, ValueFn input) {
  CompileOptions fo, qo;
  fo.optimize = qo.optimize = false;
  fo.keep_values = qo.keep_values = {value};
  Session fs(Model::from_graph(fp), fo), qs(Model::from_graph(qdq), qo);
  const FillFn fill = frames(1000, input);
  Error2 e;
  int64_t count = 0;
  for (size_t f = 0; f < 20; ++f) {
    fill(f, fs);
    fill(f, qs);
    fs.run();
    qs.run();
    const Tensor a = fs.value(value), b = qs.value(value);
    const bool last = a.shape().back() == 4;
    const int64_t inner = last ? 1 : 64;
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double d = double(b.data_as<float>()[i]) - a.data_as<float>()[i];
      e.mean[last ? i % 4 : (i / inner) % 4] += d;
      e.mse[last ? i % 4 : (i / inner) % 4] += d * d;
    }
    count += a.numel() / 4;
  }
  for (int c = 0; c < 4; ++c) e.mean[c] /= double(count), e.mse[c] /= double(count);
  return e;
}

Error2 corrected_error(Correct c, const std::string& value, ValueFn input, double ridge = Options{}.ridge) {
  Net n = net();
  Options o;
  o.equalize = false;
  o.correct = c;
  o.ridge = ridge;
  const Plan p = plan(n.g, o);
  const Calibration cal = calibrate(n.g, p, 16, frames(0, input), o);
  const Corrected r = correct(n.g, p, cal.stats, o, 16, frames(0, input));
  EXPECT_EQ(r.layers, c == Correct::none ? 0 : 2);  // a and b; c writes the graph output (float)
  EXPECT_EQ(r.levels, c == Correct::none ? 0 : 2);
  return output_error(n.g, build_qdq(r.graph, p, cal.stats, o), value, input);
}

TEST(Correct, BiasCorrectionRemovesTheRoundingBiasLayerByLayer) {
  const std::vector<double> none = corrected_error(Correct::none, "y2", biased).mean;
  const Net n = net();
  for (int c = 0; c < 4; ++c) {
    // Without correction: y1 channel i is low by 0.4 kStep sum_j wa[i][j], and
    // y2 by sum over b's taps of wb times that; zero padding leaves (22/24)^2
    // of the 3x3 taps inside the 8x8 map on average.
    double expected = 0;
    for (int i = 0; i < 4; ++i) {
      double wa = 0, wb = 0;
      for (int j = 0; j < 4; ++j) wa += n.wa[size_t(i * 4 + j)];
      for (int k = 0; k < 9; ++k) wb += n.wb[size_t((c * 4 + i) * 9 + k)];
      expected -= 0.4 * kStep * wa * wb * (22.0 / 24) * (22.0 / 24);
    }
    EXPECT_NEAR(none[c], expected, 0.2 * std::fabs(expected)) << "channel " << c;
  }
  for (Correct mode : {Correct::bias, Correct::weights}) {
    const std::vector<double> e = corrected_error(mode, "y2", biased).mean;
    for (int c = 0; c < 4; ++c)
      EXPECT_LT(std::fabs(e[c]), 0.1 * std::fabs(none[c])) << correct_name(mode) << " channel " << c;
  }
}

// A gain error (inputs 1.2 and 2.4 steps read as 1 and 2): the bias fixes
// the mean only; the least-squares refit scales the weights by 1.2 (still
// on the int8 grid, with a scale 1.2 times larger) and removes the error
// (input channel 0, with the range's ends read exactly, keeps weight 0).
// The ridge, one for all inputs relative to their mean energy, is lowered:
// the range's ends give channel 0 about 280 times the others' energy, and
// the default 1e-3 would shrink channels 1-3's weights by about 7 %.
TEST(Correct, WeightRefitRemovesAGainErrorTheBiasCannot) {
  const Error2 none = corrected_error(Correct::none, "y1", gained);
  const Error2 bias = corrected_error(Correct::bias, "y1", gained);
  const Error2 weights = corrected_error(Correct::weights, "y1", gained, 1e-6);
  for (int c = 0; c < 4; ++c) {
    EXPECT_LT(bias.mse[c], 0.5 * none.mse[c]) << "channel " << c;  // the mean part goes
    EXPECT_LT(weights.mse[c], 0.05 * bias.mse[c]) << "channel " << c;
  }
}

TEST(Correct, ParseNames) {
  EXPECT_EQ(parse_correct("bias"), Correct::bias);
  EXPECT_EQ(parse_correct("weights"), Correct::weights);
  EXPECT_EQ(parse_correct("none"), Correct::none);
  try {
    parse_correct("adaround");
    FAIL() << "unknown --correct value accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'adaround'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef::quant
