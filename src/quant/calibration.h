// Activation statistics for post-training quantization, and the int8
// parameters derived from them.
//
// Calibration runs the float model over the frames twice: pass 1 records
// each tensor's min and max; pass 2 (percentile and mse only) fills a
// histogram of `bins` equal bins over [min, max]. A range is then chosen:
//   minmax      [min, max]
//   percentile  both tails: [P_(100-p), P_p] of all values (p = 99.99 by
//               default), read off the histogram with linear interpolation
//               inside a bin
//   mse         the clip [lo, hi] (lo on a grid from min to 0, hi from max to
//               0) that minimises the expected squared error of int8
//               quantization (clipping + rounding) over the histogram
// Activations are asymmetric int8: the range is widened to contain 0, then
// scale = (hi - lo) / 255 and zero_point = round(-128 - lo / scale), so 0 is
// exact (zero padding, ReLU).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ef::quant {

enum class Method { minmax, percentile, mse };
Method parse_method(const std::string& s);  // throws ef::Error naming the value
const char* method_name(Method m);

struct Range {
  float lo = 0, hi = 0;
};

struct ActQParams {
  float scale = 1;
  int32_t zero_point = 0;  // int8, in [-128, 127]
};
// Asymmetric int8 parameters for real values in r (widened to contain 0).
ActQParams activation_qparams(Range r);
// Symmetric int8 scale for weights with largest magnitude absmax (zero point 0,
// values in [-127, 127]); 1 for an all-zero channel.
float weight_scale(float absmax);

class TensorStats {
 public:
  // Pass 1.
  void add_minmax(const float* x, int64_t n);
  bool seen() const { return count_ > 0; }
  float min() const { return min_; }
  float max() const { return max_; }
  // Pass 2: a histogram over [min, max] (call after pass 1).
  void begin_histogram(int bins);
  void add_histogram(const float* x, int64_t n);
  const std::vector<double>& histogram() const { return hist_; }

  // The clipping range for a method (percentile in (0, 100]).
  Range range(Method m, double percentile = 99.99) const;

 private:
  float min_ = 0, max_ = 0;
  int64_t count_ = 0;
  std::vector<double> hist_;
  double lo_ = 0, width_ = 0;  // histogram origin and bin width
  double quantile(double q) const;  // q in [0, 1]
  Range mse_range() const;
};

// Expected squared error of quantizing the histogram with range r (bin
// centres stand for their values). Exposed for tests.
double quantization_mse(const std::vector<double>& hist, double lo, double width, Range r);

}  // namespace ef::quant
