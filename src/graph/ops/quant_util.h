// Quantization arithmetic shared by the quantized operators' shape inference,
// the QDQ fusion pass and the reference kernels (ONNX semantics:
// q = saturate(round_half_even(x / scale) + zero_point), x = (q - zero_point) * scale).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "edgeflow/graph.h"

namespace ef {

// Integer range of a quantized dtype (i8, u8, i32).
void qrange(DType t, int32_t& lo, int32_t& hi);

// ONNX QuantizeLinear of one value: x / scale rounded half to even, plus the
// zero point, saturated to [lo, hi]. NaN maps to lo.
inline int32_t quantize_value(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  float v = std::nearbyint(x / scale) + float(zp);
  v = v > float(lo) ? v : float(lo);
  v = v < float(hi) ? v : float(hi);
  return int32_t(v);
}

// Scale and zero point of a QuantizeLinear/DequantizeLinear-style operand:
// inputs `scale_in` (float, scalar or 1-D) and `zp_in` (optional, scalar or
// 1-D of dtype `qtype`), both constants. A 1-D scale with more than one
// element is per-axis along `axis` of shape `x` (checked). `what` names the
// operand in messages.
QuantParams const_qparams(const Graph& g, const Node& n, size_t scale_in, size_t zp_in, int64_t axis, const Shape& x,
                          DType qtype, const std::string& what);

// Shape/dtype checks of a scale/zero-point pair without requiring constants:
// throws naming the operand when they are malformed.
void check_qparams(const Graph& g, const Node& n, size_t scale_in, size_t zp_in, int64_t axis, const Shape& x,
                   DType qtype, const std::string& what);

// Reference (de)quantization of whole tensors (per-tensor or per-axis).
Tensor dequantize_tensor(const Tensor& q, const QuantParams& p);
Tensor quantize_tensor(const Tensor& x, const QuantParams& p, DType qtype);

// Channel of element i for per-axis params over `shape` (0 when per-tensor):
// elements are grouped as [outer, channels, inner].
struct AxisWalk {
  int64_t channels = 1, inner = 1;
  AxisWalk(const Shape& shape, const QuantParams& p);
  int64_t channel(int64_t i) const { return channels == 1 ? 0 : (i / inner) % channels; }
};

}  // namespace ef
