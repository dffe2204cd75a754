// QLinearConv's operands as its kernels read them (qconv.cc: VNNI GEMM,
// XNNPACK, reference; qdwconv_vnni.cc: depthwise). The VNNI GEMM, the
// reference and the depthwise kernel for <= 16 channels take a residual
// (inputs 9-13); only the VNNI GEMM and the reference a float input.
#pragma once
#include <vector>

#include "runtime/kernels/qkernel.h"

namespace ef {

struct QConvGeom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0, group = 1;
};

// Everything a QLinearConv kernel needs, read once from the node.
struct QConvSpec {
  QConvGeom g;
  QScalar x, y;
  QuantParams w;         // per-tensor or per output channel
  const Tensor* weights;  // OIHW
  std::vector<int32_t> bias;
  std::vector<float> mult;  // per output channel: x_scale * w_scale[o] / y_scale
  int32_t lo = -128, hi = 127;
  DType xt, wt, yt;  // xt: of x's zero point when x is float (x_float)
  // x is float32 (fuse_quantize_conv.cc: a QuantizeLinear folded in): the
  // kernel quantizes it with x's scale and zero point as QuantizeLinear does.
  bool x_float = false;
  // Inputs 9-13 (an Add fused by fuse_qdq): residual r, its scale and zero
  // point, the sum's scale and zero point. The conv's int8 output (y, clamped
  // to [lo, hi]) and r are added as QLinearAdd does (requantize_sum,
  // qkernel.h), the sum clamped to [sum_lo, sum_hi]. The fused activation
  // sets sum_lo / sum_hi, or with attribute residual_after_activation (an
  // Add after the conv's own activation) lo / hi.
  bool residual = false;
  bool residual_pool = false;  // r is the 2x2 stride-2 max of input 9 (a MaxPool folded by fuse_qdq)
  QScalar r, sum;
  int32_t sum_lo = -128, sum_hi = 127;
};

// Reads node c into s; false if the node is not an NHWC 4-D convolution
// (then no QLinearConv kernel here applies). Throws ef::Error on bad operands.
bool read_qconv_spec(const KernelContext& c, QConvSpec& s);

// QLinearConv node n runs on the VNNI GEMM (make_qconv_vnni): ungrouped,
// NHWC, int8 input (or float with an int8 zero point: fuse_quantize_conv),
// int8 weights with zero points 0, int8 or float output, a VNNI CPU.
bool qconv_vnni_takes(const Graph& g, const Node& n);

// QLinearConv node n (NHWC, int8 weights) would run on the own depthwise
// kernel for <= 16 channels, which also takes a residual (not pooled;
// qdwconv_vnni.cc), with one fused in (fuse_qdq).
bool qdwconv_takes_residual(const Graph& g, const Node& n);

}  // namespace ef
