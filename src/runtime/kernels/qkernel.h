// Shared pieces of the quantized kernels (qconv.cc, qlinear.cc, qbinary.cc,
// qunary.cc, qpool.cc): reading an operator's constant scale/zero point, the
// int8 clamp range of a fused activation, and ONNX-style requantization.
#pragma once
#include <cmath>
#include <cstdint>

#include "graph/ops/quant_util.h"
#include "runtime/kernel.h"

namespace ef {

// Per-tensor scale and zero point of operand inputs (scale_in, scale_in + 1).
struct QScalar {
  float scale = 1.f;
  int32_t zp = 0;
};
inline QScalar qscalar(const KernelContext& c, size_t scale_in, DType t, const char* what) {
  QuantParams p = const_qparams(c.graph, c.node, scale_in, scale_in + 1, -1, {}, t,
                                c.graph.describe(c.node) + ": " + what);
  return {p.scale[0], p.zero_point[0]};
}

// The quantized range [lo, hi] a fused relu/relu6/clip leaves (whole range
// without one). Other activations cannot be fused into a quantized op.
inline bool act_range(const FusedActivation& a, QScalar y, DType t, int32_t& lo, int32_t& hi) {
  qrange(t, lo, hi);
  if (a.kind == FusedActivation::none) return true;
  if (a.kind != FusedActivation::relu && a.kind != FusedActivation::clip) return false;
  int32_t l, h;
  qrange(t, l, h);
  if (std::isfinite(a.min)) lo = std::max(lo, quantize_value(a.min, y.scale, y.zp, l, h));
  if (std::isfinite(a.max)) hi = std::min(hi, quantize_value(a.max, y.scale, y.zp, l, h));
  return lo <= hi;
}

// round_half_even(acc * multiplier) + zp, clamped: the requantization of an
// int32 accumulator (ONNX Runtime's and XNNPACK's "fp32" requantization).
inline int32_t requantize(int32_t acc, float multiplier, int32_t zp, int32_t lo, int32_t hi) {
  float v = std::nearbyint(float(acc) * multiplier) + float(zp);
  v = v > float(lo) ? v : float(lo);
  v = v < float(hi) ? v : float(hi);
  return int32_t(v);
}

// A residual Add fused into QLinearConv (fuse_qdq.cc): the conv's int8 output
// c (zero point removed) plus the residual r (zero point removed), each with
// its scale / the sum's scale: round_half_even(fma(r, r_mult, c * c_mult)) + zp, clamped.
inline int32_t requantize_sum(int32_t c, float c_mult, int32_t r, float r_mult, int32_t zp, int32_t lo, int32_t hi) {
  float v = std::nearbyint(std::fma(float(r), r_mult, float(c) * c_mult)) + float(zp);
  v = v > float(lo) ? v : float(lo);
  v = v < float(hi) ? v : float(hi);
  return int32_t(v);
}

// QuantizeLinear to int8, per tensor (quantize.cc; quantize_value's x / scale
// rounded half to even, + zp, saturated), each byte XOR flip:
// y[i] = quantize_value(x[i], scale, zp, -128, 127) ^ flip, i < n. flip 0x80
// writes x + 128 as unsigned bytes, the VNNI GEMM's padded input (qconv.cc).
void quantize_i8(const float* x, int8_t* y, int64_t n, float scale, int32_t zp, uint8_t flip);

}  // namespace ef
