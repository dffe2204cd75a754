// Calibration statistics against naive references: min/max over all values,
// percentiles of the sorted values, the MSE search against a brute-force
// grid over the true (not histogrammed) values, and the int8 parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "edgeflow/tensor.h"
#include "quant/calibration.h"

namespace ef::quant {
namespace {

// Three "frames" of a skewed activation (ReLU-like with a long tail).
std::vector<std::vector<float>> frames(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.5f, 1.f);
  std::exponential_distribution<float> tail(0.2f);
  std::vector<std::vector<float>> f(3);
  for (auto& v : f) {
    v.resize(20000);
    for (auto& x : v) x = std::max(0.f, n(rng)) + (rng() % 200 == 0 ? tail(rng) : 0.f) - 0.25f;
  }
  return f;
}

TensorStats collect(const std::vector<std::vector<float>>& f, int bins) {
  TensorStats s;
  for (auto& v : f) s.add_minmax(v.data(), int64_t(v.size()));
  s.begin_histogram(bins);
  for (auto& v : f) s.add_histogram(v.data(), int64_t(v.size()));
  return s;
}

std::vector<float> all(const std::vector<std::vector<float>>& f) {
  std::vector<float> a;
  for (auto& v : f) a.insert(a.end(), v.begin(), v.end());
  return a;
}

// Mean squared error of fake-quantizing every value with range r (naive).
double naive_mse(const std::vector<float>& x, Range r) {
  ActQParams p = activation_qparams(r);
  double e = 0;
  for (float v : x) {
    float q = std::clamp(std::nearbyint(v / p.scale) + float(p.zero_point), -128.f, 127.f);
    double d = double(v) - double((q - float(p.zero_point)) * p.scale);
    e += d * d;
  }
  return e / double(x.size());
}

TEST(Calibration, MinMaxMatchesNaive) {
  auto f = frames(1);
  auto a = all(f);
  TensorStats s = collect(f, 2048);
  EXPECT_EQ(s.min(), *std::min_element(a.begin(), a.end()));
  EXPECT_EQ(s.max(), *std::max_element(a.begin(), a.end()));
  Range r = s.range(Method::minmax);
  EXPECT_EQ(r.lo, s.min());
  EXPECT_EQ(r.hi, s.max());
}

TEST(Calibration, NonFiniteValuesAreIgnored) {
  std::vector<float> v = {1.f, NAN, -2.f, INFINITY, 3.f};
  TensorStats s;
  s.add_minmax(v.data(), 5);
  EXPECT_EQ(s.min(), -2.f);
  EXPECT_EQ(s.max(), 3.f);
}

TEST(Calibration, PercentileMatchesSortedValuesWithinABin) {
  auto f = frames(2);
  auto a = all(f);
  std::sort(a.begin(), a.end());
  TensorStats s = collect(f, 2048);
  const double bin = (double(s.max()) - s.min()) / 2048;
  for (double p : {99.0, 99.9, 99.99}) {
    Range r = s.range(Method::percentile, p);
    const double tail = (100.0 - p) / 100.0;
    const float lo = a[size_t(tail * double(a.size()))], hi = a[size_t((1.0 - tail) * double(a.size() - 1))];
    EXPECT_NEAR(r.lo, lo, bin) << p;
    EXPECT_NEAR(r.hi, hi, bin) << p;
    EXPECT_LT(r.hi, s.max()) << p;  // the tail is cut
  }
}

TEST(Calibration, MseRangeIsNearTheBruteForceOptimum) {
  auto f = frames(3);
  auto a = all(f);
  TensorStats s = collect(f, 2048);
  Range r = s.range(Method::mse);
  // Brute force on the true values: hi over a fine grid, lo fixed at min (lo
  // barely matters here: the negative side is a narrow band).
  double best = naive_mse(a, {s.min(), s.max()});
  for (int k = 1; k <= 400; ++k) best = std::min(best, naive_mse(a, {s.min(), s.max() * float(k) / 400.f}));
  const double got = naive_mse(a, r);
  EXPECT_LE(got, best * 1.05) << "mse range [" << r.lo << ", " << r.hi << "]";
  EXPECT_LT(got, naive_mse(a, {s.min(), s.max()}));  // better than min/max on a long tail
  EXPECT_LT(r.hi, s.max());
}

TEST(Calibration, HistogramMseAgreesWithNaiveMse) {
  auto f = frames(4);
  auto a = all(f);
  TensorStats s = collect(f, 2048);
  const double w = (double(s.max()) - s.min()) / 2048;
  for (float frac : {1.f, 0.5f, 0.2f}) {
    Range r{s.min(), s.max() * frac};
    const double h = quantization_mse(s.histogram(), s.min(), w, r) / double(a.size());
    EXPECT_NEAR(h, naive_mse(a, r), 0.1 * naive_mse(a, r)) << frac;
  }
}

TEST(Calibration, ActivationParamsKeepZeroExactAndCoverTheRange) {
  for (Range r : {Range{-1.f, 3.f}, Range{0.f, 6.f}, Range{2.f, 5.f}, Range{-4.f, -1.f}, Range{-0.375f, 53.f}}) {
    ActQParams p = activation_qparams(r);
    ASSERT_GT(p.scale, 0.f);
    ASSERT_GE(p.zero_point, -128);
    ASSERT_LE(p.zero_point, 127);
    const float lo = std::min(0.f, r.lo), hi = std::max(0.f, r.hi);
    EXPECT_NEAR((-128 - p.zero_point) * p.scale, lo, p.scale) << r.lo << " " << r.hi;
    EXPECT_NEAR((127 - p.zero_point) * p.scale, hi, p.scale) << r.lo << " " << r.hi;
  }
  // A post-ReLU range puts zero at -128: ReLU is exactly representable.
  EXPECT_EQ(activation_qparams({0.f, 6.f}).zero_point, -128);
  EXPECT_FLOAT_EQ(activation_qparams({0.f, 6.f}).scale, 6.f / 255.f);
  EXPECT_EQ(activation_qparams({0.f, 0.f}).scale, 1.f);  // constant zero: any scale
  EXPECT_FLOAT_EQ(weight_scale(2.54f), 0.02f);
  EXPECT_EQ(weight_scale(0.f), 1.f);
}

TEST(Calibration, MethodNames) {
  EXPECT_EQ(parse_method("mse"), Method::mse);
  EXPECT_EQ(parse_method("percentile"), Method::percentile);
  EXPECT_EQ(parse_method("minmax"), Method::minmax);
  try {
    parse_method("entropy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'entropy'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef::quant
