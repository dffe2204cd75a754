#include "quant/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeflow/tensor.h"

namespace ef::quant {

Method parse_method(const std::string& s) {
  if (s == "minmax") return Method::minmax;
  if (s == "percentile") return Method::percentile;
  if (s == "mse") return Method::mse;
  throw Error("--method: unknown calibration method '" + s + "' (expected minmax, percentile or mse)");
}

const char* method_name(Method m) {
  switch (m) {
    case Method::minmax: return "minmax";
    case Method::percentile: return "percentile";
    case Method::mse: return "mse";
  }
  return "?";
}

ActQParams activation_qparams(Range r) {
  const double lo = std::min(0.0, double(r.lo)), hi = std::max(0.0, double(r.hi));
  ActQParams p;
  if (hi - lo <= 0 || !std::isfinite(hi - lo)) return p;  // a constant zero tensor: any scale works
  p.scale = float((hi - lo) / 255.0);
  p.zero_point = int32_t(std::clamp(std::nearbyint(-128.0 - lo / p.scale), -128.0, 127.0));
  return p;
}

float weight_scale(float absmax) { return absmax > 0 && std::isfinite(absmax) ? absmax / 127.f : 1.f; }

void TensorStats::add_minmax(const float* x, int64_t n) {
  if (n <= 0) return;
  float lo = count_ ? min_ : std::numeric_limits<float>::infinity();
  float hi = count_ ? max_ : -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) continue;  // NaN/Inf say nothing about the range
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return;  // nothing finite
  min_ = lo;
  max_ = hi;
  count_ += n;
}

void TensorStats::begin_histogram(int bins) {
  hist_.assign(size_t(std::max(bins, 1)), 0.0);
  lo_ = min_;
  width_ = (double(max_) - double(min_)) / double(hist_.size());
}

void TensorStats::add_histogram(const float* x, int64_t n) {
  if (hist_.empty()) return;
  const int64_t nb = int64_t(hist_.size());
  if (width_ <= 0) {  // a constant tensor: everything in one bin
    hist_[0] += double(n);
    return;
  }
  const double inv = 1.0 / width_;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    int64_t b = int64_t((double(x[i]) - lo_) * inv);
    hist_[size_t(std::clamp<int64_t>(b, 0, nb - 1))] += 1.0;
  }
}

double TensorStats::quantile(double q) const {
  double total = 0;
  for (double c : hist_) total += c;
  if (total <= 0 || width_ <= 0) return q < 0.5 ? min_ : max_;
  const double target = q * total;
  double acc = 0;
  for (size_t b = 0; b < hist_.size(); ++b) {
    if (acc + hist_[b] >= target && hist_[b] > 0) {
      const double frac = (target - acc) / hist_[b];  // values spread evenly inside the bin
      return lo_ + (double(b) + frac) * width_;
    }
    acc += hist_[b];
  }
  return max_;
}

double quantization_mse(const std::vector<double>& hist, double lo, double width, Range r) {
  const ActQParams p = activation_qparams(r);
  // The representable interval, as activation_qparams widened it.
  const double qlo = (-128.0 - p.zero_point) * p.scale, qhi = (127.0 - p.zero_point) * p.scale;
  const double round_err = double(p.scale) * p.scale / 12.0;  // uniform rounding error inside the range
  double err = 0;
  for (size_t b = 0; b < hist.size(); ++b) {
    if (hist[b] == 0) continue;
    const double x = lo + (double(b) + 0.5) * width;
    const double d = x < qlo ? qlo - x : x > qhi ? x - qhi : 0.0;
    err += hist[b] * (d > 0 ? d * d : round_err);
  }
  return err;
}

Range TensorStats::mse_range() const {
  Range best{min_, max_};
  if (width_ <= 0) return best;
  double best_err = quantization_mse(hist_, lo_, width_, best);
  // Coordinate search: shrink hi towards 0 with lo fixed, then lo, twice.
  const int steps = 128;
  for (int round = 0; round < 2; ++round)
    for (int side = 0; side < 2; ++side) {
      const float end = side == 0 ? max_ : min_;
      if ((side == 0 && end <= 0) || (side == 1 && end >= 0)) continue;
      for (int k = 1; k <= steps; ++k) {
        Range c = best;
        const float v = end * float(k) / float(steps);
        (side == 0 ? c.hi : c.lo) = v;
        const double e = quantization_mse(hist_, lo_, width_, c);
        if (e < best_err) best_err = e, best = c;
      }
    }
  return best;
}

Range TensorStats::range(Method m, double percentile) const {
  if (m == Method::minmax || hist_.empty()) return {min_, max_};
  if (m == Method::percentile) {
    const double tail = (100.0 - std::clamp(percentile, 50.0, 100.0)) / 100.0;
    return {float(quantile(tail)), float(quantile(1.0 - tail))};
  }
  return mse_range();
}

}  // namespace ef::quant
