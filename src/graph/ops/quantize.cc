// Shape inference for QuantizeLinear and DequantizeLinear (opset 13: scale
// and zero point scalar, or 1-D per-axis along attr `axis`, default 1).
// QuantizeLinear: float32 -> the zero point's type (uint8 without one).
// DequantizeLinear: int8/uint8/int32 -> float32.
#include "graph/ops/infer_util.h"
#include "graph/ops/quant_util.h"

namespace ef {
namespace {

void quantize(Graph& g, Node& n) {
  if (n.inputs.size() < 2) throw Error("expects inputs x, y_scale[, y_zero_point]");
  const Value& x = g.in(n, 0);
  if (x.dtype != DType::f32) throw Error("input '" + x.name + "' must be float32, not " + dtype_name(x.dtype));
  const DType qt = Graph::has_input(n, 2) ? g.in(n, 2).dtype : DType::u8;
  if (qt != DType::i8 && qt != DType::u8)
    throw Error("zero point '" + g.in(n, 2).name + "' must be int8 or uint8, not " + dtype_name(qt));
  check_qparams(g, n, 1, 2, n.attrs.i("axis", 1), x.shape, qt, "output");
  set_output(g, n, 0, qt, x.shape);
}

void dequantize(Graph& g, Node& n) {
  if (n.inputs.size() < 2) throw Error("expects inputs x, x_scale[, x_zero_point]");
  const Value& x = g.in(n, 0);
  if (x.dtype != DType::i8 && x.dtype != DType::u8 && x.dtype != DType::i32)
    throw Error("input '" + x.name + "' must be int8, uint8 or int32, not " + dtype_name(x.dtype));
  check_qparams(g, n, 1, 2, n.attrs.i("axis", 1), x.shape, x.dtype, "input");
  set_output(g, n, 0, DType::f32, x.shape);
}

}  // namespace

EF_REGISTER_SCHEMA("QuantizeLinear", quantize);
EF_REGISTER_SCHEMA("DequantizeLinear", dequantize);
}  // namespace ef
