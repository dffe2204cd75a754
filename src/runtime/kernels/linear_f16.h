// Conv (NHWC, one group), Gemm and MatMul with float16 weights (--precision
// fp16): what the two kernels share. linear_f16.cc builds an F16Layer from
// the node and picks the kernel (CompileOptions::fp16_compute):
//   * f16 arithmetic (linear_f16_fma.cc): AVX512-FP16 FMAs on float16
//     activations, where the CPU has AVX512-FP16;
//   * f32 arithmetic (linear_f16.cc): weights widened to float32 on the fly.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/kernel.h"

namespace ef {

// An NHWC convolution; Gemm/MatMul are a 1x1 one over M "pixels".
struct ConvGeom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int64_t taps() const { return kh * kw; }
  // Input pixel offset (in elements) of output (b, oy, ox) at tap t, or -1
  // when the tap falls in the padding.
  int64_t src_offset(int64_t b, int64_t oy, int64_t ox, int64_t t) const {
    const int64_t iy = oy * sh - pt + (t / kw) * dh, ix = ox * sw - pl + (t % kw) * dw;
    if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) return -1;
    return ((b * ih + iy) * iw + ix) * cin;
  }
};

struct F16Layer {
  ConvGeom g;
  // Weight bits for output o, input channel ci, tap t (kh*kw index).
  std::function<uint16_t(int64_t o, int64_t ci, int64_t t)> w;
  std::vector<float> bias;  // per output, or empty
  FusedActivation act;
  pthreadpool_t pool = nullptr;

  int64_t panels(int64_t width) const { return (g.cout + width - 1) / width; }
  // The weights in panels of `width` output channels, [panel][tap][ci][width]
  // (zeros past cout), and the bias padded to whole panels.
  std::vector<uint16_t> packed(int64_t width) const {
    const int64_t taps = g.taps(), np = panels(width);
    std::vector<uint16_t> p(size_t(np * taps * g.cin * width), 0);  // f16 zero = 0 bits
    for (int64_t q = 0; q < np; ++q)
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t ci = 0; ci < g.cin; ++ci)
          for (int64_t j = 0; j < width && q * width + j < g.cout; ++j)
            p[size_t(((q * taps + t) * g.cin + ci) * width + j)] = w(q * width + j, ci, t);
    return p;
  }
  std::vector<float> padded_bias(int64_t width) const {
    std::vector<float> b(size_t(panels(width) * width), 0.f);
    std::copy(bias.begin(), bias.end(), b.begin());
    return b;
  }
};

// The AVX512-FP16 kernel sums kF16Block products in float16 (in the order
// tap by tap, input channel by channel, blocks continuing across taps), then
// adds each block's sum into a float32 sum that starts at the bias.
constexpr int64_t kF16Block = 32;

// The AVX512-FP16 kernel (nullptr when the CPU lacks AVX512-FP16).
std::unique_ptr<Kernel> make_linear_f16_fma(const F16Layer& l);
// AVX512-FP16 (and AVX512-BW) present, and EF_DISABLE_AVX512FP16 not set.
bool cpu_has_avx512fp16();

}  // namespace ef
