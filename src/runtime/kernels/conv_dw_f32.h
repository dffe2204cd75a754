// Own float32 depthwise convolution (NHWC, group == channels, depth
// multiplier 1, square 3x3 or 5x5 kernels, stride 1 or 2, no dilation) with
// AVX-512, for the few-channel layers where XNNPACK's 2022 depthwise
// microkernels (one output pixel at a time, channel tiles of 16) run at
// 10-30 GFLOP/s. At stride 1 the output row is processed in groups of P
// pixels whose P * channels floats fill whole vectors (8 channels: 2 pixels
// in one zmm; 24: 2 pixels in three), each reading contiguous input; at
// stride 2 one pixel is ceil(channels / 16) vectors, the last masked. Eight
// groups accumulate at once (bias first, taps unrolled); the clamp is fused,
// other activations run on the row while it is in L1. Threads split rows.
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

 private:
  template <int K>
  __attribute__((target("avx512f,fma"))) void row(int64_t r) const;
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
