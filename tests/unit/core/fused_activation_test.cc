// FusedActivation::apply (the activation kernels apply after XNNPACK/own
// GEMMs; vectorised) against double-precision formulas, on values from -100
// to 100 plus zeros and lengths that are not multiples of the vector width.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "edgeflow/graph.h"
#include "runtime/kernel.h"

namespace ef {
namespace {

std::vector<float> inputs() {
  std::vector<float> x;
  for (int i = -20000; i <= 20000; i += 7) x.push_back(float(i) * 0.005f);  // -100 .. 100
  x.push_back(0.f);
  x.push_back(-0.f);
  x.push_back(1e-30f);
  x.push_back(-1e-30f);
  return x;  // 5719 values: not a multiple of 16
}

void check(const std::string& act, double (*want)(double), double rel, double abs) {
  Node n;
  n.name = "n";
  n.attrs.set("activation", act);
  const FusedActivation a = FusedActivation::from(n);
  std::vector<float> x = inputs(), y = x;
  a.apply(y.data(), y.size());
  int bad = 0;
  for (size_t i = 0; i < x.size() && bad < 5; ++i) {
    const double w = want(double(x[i]));
    if (!(std::fabs(double(y[i]) - w) <= abs + rel * std::fabs(w))) {
      ++bad;
      ADD_FAILURE() << act << "(" << x[i] << ") = " << y[i] << ", want " << w;
    }
  }
}

TEST(FusedActivation, SigmoidMatchesDoublePrecision) {
  // float's own rounding is 6e-8 relative; the vector exp adds about as much.
  check("sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, 3e-7, 1e-37);
}

TEST(FusedActivation, SigmoidKeepsNaNAndSaturatesAtInfinity) {
  Node n;
  n.name = "n";
  n.attrs.set("activation", std::string("sigmoid"));
  std::vector<float> y(37, std::nanf(""));  // vector blocks and a tail
  y[3] = INFINITY, y[20] = -INFINITY, y[36] = 2.f;
  FusedActivation::from(n).apply(y.data(), y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    if (i == 3) EXPECT_EQ(y[i], 1.f);
    else if (i == 20) EXPECT_LE(std::fabs(y[i]), 1e-37f);
    else if (i == 36) EXPECT_NEAR(y[i], 1.0 / (1.0 + std::exp(-2.0)), 1e-7);
    else EXPECT_TRUE(std::isnan(y[i])) << i << ": " << y[i];
  }
}

TEST(FusedActivation, ClampsAndHardSwishMatch) {
  check("relu", [](double v) { return v > 0 ? v : 0.0; }, 0, 0);
  check("relu6", [](double v) { return std::min(std::max(v, 0.0), 6.0); }, 0, 0);
  check("hardswish", [](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; }, 2e-7, 1e-30);
  check("leaky_relu", [](double v) { return v >= 0 ? v : 0.01 * v; }, 1e-7, 1e-37);
  check("tanh", [](double v) { return std::tanh(v); }, 2e-7, 1e-37);
}

}  // namespace
}  // namespace ef
