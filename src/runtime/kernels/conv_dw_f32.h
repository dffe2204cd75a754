// Own float32 depthwise convolution (NHWC, group == channels, depth
// multiplier 1, square 3x3 or 5x5 kernels, stride 1 or 2, no dilation) with
// AVX-512, for the layers where XNNPACK's 2022 depthwise microkernels (one
// output pixel at a time, weights and input loaded per tap) run at 10-50
// GFLOP/s. Channels a multiple of 16: blocks of 8 (4, 2, 1) pixels along
// the row, each input vector of a kernel row loaded once for all taps that
// read it, the padding read as masked-off (zero) vectors, so borders need
// no separate path. Other channel counts at stride 1: groups of P pixels
// whose P * channels floats fill whole vectors (8 channels: 2 pixels in one
// zmm; 24: 2 pixels in three), eight groups at once, input loaded per tap;
// otherwise (and at the borders) pixel by pixel, the last vector masked.
// Bias and clamp are fused, other activations run on the row while it is
// in L1. Threads split rows.
#pragma once
#include <pthreadpool.h>

#include <cstdint>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/conv_gemm_f32.h"

namespace ef {

class ConvDwF32 {
 public:
  // The geometry this kernel implements (cout == cin, the caller checks group == cin).
  static bool fits(const ConvGemmGeom& g);
  // w: [channels][kh][kw] (OIHW with I = 1); bias may be null.
  ConvDwF32(const ConvGemmGeom& g, const float* w, const float* bias, FusedActivation act);
  void setup(const float* x, float* y) { x_ = x, y_ = y; }
  void run(pthreadpool_t pool) const;
  // Output pixels [p0, p0 + n) of image 0 only (consecutive in NHWC, across
  // rows too), on the calling thread: delta execution's changed runs.
  void run_pixels(int64_t p0, int64_t n) const;
  size_t bytes() const { return (w_.size() + bias_.size()) * sizeof(float); }  // packed weights and bias

 private:
  // Output row r (n * oh + oy), columns [ox0, ox1).
  template <int K>
  __attribute__((target("avx512f,fma"))) void row(int64_t r, int64_t ox0, int64_t ox1) const;
  ConvGemmGeom g_;
  FusedActivation act_;
  int64_t pix_ = 1;  // output pixels per group
  int64_t nv_ = 1;   // vectors per group: ceil(pix_ * channels / 16)
  std::vector<float> w_;     // [tap][nv_][16], lane l of vector v: channel (16 v + l) % channels (0 past a P = 1 tail)
  std::vector<float> bias_;  // [nv_][16], same lanes
  const float* x_ = nullptr;
  float* y_ = nullptr;
};

}  // namespace ef
