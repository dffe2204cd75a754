// Shape inference for the quantized operators (ONNX QOperator forms; the
// com.microsoft ones as ONNX Runtime defines them; QLinearHardSwish and
// QLinearHardSigmoid are edgeflow's). Every scale/zero-point pair is checked; the output shape is
// the float operator's, computed by that operator's own schema on the
// tensor inputs, so the two never disagree. Activations are int8 or uint8.
//
//   QLinearConv   x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B int32]
//                 (y_scale and y_zp both absent: float output, as QGemm's)
//                 [, r, r_scale, r_zp, sum_scale, sum_zp]: edgeflow's fusion of a
//                 following QLinearAdd: the output is QLinearAdd(conv output
//                 at y_scale/y_zp, r) at sum_scale/sum_zp, then the activation;
//                 r may have fewer channels than the output (the rest read as r_zp);
//                 attribute residual_after_activation = 1: the activation clamps the
//                 conv output before the sum instead (an Add after the conv's own relu);
//                 x float32 (edgeflow's, fuse_quantize_conv.cc): x is quantized with
//                 x_scale / x_zp (whose type is x's) as QuantizeLinear does
//   QLinearMatMul a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
//   QGemm         a, a_scale, a_zp, b, b_scale, b_zp[, C int32][, y_scale, y_zp]: float output
//                 (acc + C) * a_scale * b_scale[n] without y_scale and y_zp
//   QLinearAdd / QLinearMul   a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
//                 QLinearMul [, r, r_scale, r_zp, sum_scale, sum_zp]: edgeflow's fusion
//                 of a following QLinearAdd (fuse_qmul_add.cc), as QLinearConv's: the
//                 output is QLinearAdd(product at y_scale/y_zp, r) at sum_scale/sum_zp
//                 (attribute residual_first = 1: QLinearAdd(r, product)), then the activation
//   QLinearGlobalAveragePool / QLinearSigmoid / QLinearHardSwish / QLinearHardSigmoid / QLinearLeakyRelu
//                 x, x_scale, x_zp, y_scale, y_zp
//   QLinearConcat y_scale, y_zp, then (x, x_scale, x_zp) per input
#include <algorithm>

#include "graph/ops/infer_util.h"
#include "graph/ops/quant_util.h"

namespace ef {
namespace {

bool is_q8(DType t) { return t == DType::i8 || t == DType::u8; }

void need(const Node& n, size_t count) {
  if (n.inputs.size() < count)
    throw Error("expects at least " + std::to_string(count) + " inputs, got " + std::to_string(n.inputs.size()));
}

// An activation operand at `x` with its scale/zp at x+1, x+2 (per-tensor).
DType activation(const Graph& g, const Node& n, size_t x, const std::string& what) {
  if (!Graph::has_input(n, x)) throw Error(what + " (input " + std::to_string(x) + ") is missing");
  const Value& v = g.in(n, x);
  if (!is_q8(v.dtype)) throw Error(what + " '" + v.name + "' must be int8 or uint8, not " + dtype_name(v.dtype));
  check_qparams(g, n, x + 1, x + 2, -1, v.shape, v.dtype, what);
  if (numel(g.in(n, x + 1).shape) != 1) throw Error(what + " scale must be a scalar (per-tensor)");
  return v.dtype;
}

// The output's dtype: that of its zero point (uint8 without one).
DType out_type(const Graph& g, const Node& n, size_t scale, size_t zp) {
  if (!Graph::has_input(n, scale)) throw Error("output scale (input " + std::to_string(scale) + ") is missing");
  const DType t = Graph::has_input(n, zp) ? g.in(n, zp).dtype : DType::u8;
  if (!is_q8(t)) throw Error("output zero point must be int8 or uint8, not " + std::string(dtype_name(t)));
  check_qparams(g, n, scale, zp, -1, {}, t, "output");
  return t;
}

// Runs the float operator's schema on the given tensor inputs and copies its
// attributes back (shape inference may resolve e.g. auto_pad).
void like(Graph& g, Node& n, const std::string& op, std::vector<int> ins, DType out) {
  Node f;
  f.op = op;
  f.name = n.name;
  f.inputs = std::move(ins);
  f.outputs = {n.outputs.at(0)};
  f.attrs = n.attrs;
  find_op_schema(op)->infer(g, f);
  n.attrs = f.attrs;
  Value& y = g.values[n.outputs[0]];
  y.dtype = out;
}

void with_float_inputs(Graph& g, Node& n, const std::string& op, const std::vector<int>& ins, DType t);

void qconv(Graph& g, Node& n) {
  need(n, 6);
  if (g.in(n, 0).dtype == DType::f32) {  // quantized by the conv (fuse_quantize_conv.cc)
    if (!Graph::has_input(n, 2)) throw Error("a float input needs its int8 or uint8 zero point (input 2)");
    if (!is_q8(g.in(n, 2).dtype)) throw Error("input zero point must be int8 or uint8, not " + std::string(dtype_name(g.in(n, 2).dtype)));
    check_qparams(g, n, 1, 2, -1, {}, g.in(n, 2).dtype, "input");
    if (numel(g.in(n, 1).shape) != 1) throw Error("input scale must be a scalar (per-tensor)");
  } else {
    activation(g, n, 0, "input");
  }
  const Value& w = g.in(n, 3);
  if (!is_q8(w.dtype)) throw Error("weights '" + w.name + "' must be int8 or uint8, not " + dtype_name(w.dtype));
  check_qparams(g, n, 4, 5, 0, w.shape, w.dtype, "weights");
  // Without y_scale and y_zp (edgeflow's, as QGemm's): float output (acc + B) * x_scale * w_scale[o].
  const bool float_out = !Graph::has_input(n, 6) && !Graph::has_input(n, 7);
  if (float_out && (Graph::has_input(n, 9) || n.attrs.has("activation")))
    throw Error("a float output (no y_scale) takes no residual and no fused activation");
  const DType t = float_out ? DType::f32 : out_type(g, n, 6, 7);
  std::vector<int> ins = {n.inputs[0], n.inputs[3]};
  if (Graph::has_input(n, 8)) {
    if (g.in(n, 8).dtype != DType::i32) throw Error("bias '" + g.in(n, 8).name + "' must be int32");
    ins.push_back(n.inputs[8]);
  }
  with_float_inputs(g, n, "Conv", ins, t);
  if (n.attrs.i("residual_after_activation", 0) && !Graph::has_input(n, 9))
    throw Error("residual_after_activation needs a residual (inputs 9-13)");
  if (Graph::has_input(n, 9)) {
    if (activation(g, n, 9, "residual") != t) throw Error("residual and output must have the same type");
    // Fewer channels: the rest are r_zp (a folded Pad). residual_pool = 2 (a
    // folded MaxPool, fuse_qdq): the residual is the 2x2 stride-2 max of input 9.
    const Shape &rs = g.in(n, 9).shape, &ys = g.out(n, 0).shape;
    const int64_t pool = n.attrs.i("residual_pool", 1);
    if (pool != 1 && (pool != 2 || ys.size() != 4))
      throw Error("residual_pool must be 2 (a 2x2 stride-2 MaxPool) on a 4-D conv");
    bool ok = rs.size() == ys.size() && rs.back() <= ys.back();
    for (size_t d = 0; ok && d + 1 < ys.size(); ++d)
      ok = (pool == 2 && (d == 1 || d == 2)) ? rs[d] / 2 == ys[d] : rs[d] == ys[d];
    if (!ok)
      throw Error(pool == 2 ? "residual must have twice the output's height and width (floor), and at most its channels"
                            : "residual must have the output's shape (or fewer channels)");
    if (out_type(g, n, 12, 13) != t) throw Error("sum and conv output must have the same type");
  }
}

void with_float_inputs(Graph& g, Node& n, const std::string& op, const std::vector<int>& ins, DType t) {
  std::vector<DType> saved;
  for (int v : ins) saved.push_back(g.values[v].dtype), g.values[v].dtype = DType::f32;
  auto restore = [&] {
    for (size_t k = ins.size(); k-- > 0;) g.values[ins[k]].dtype = saved[k];  // reverse: repeated inputs
  };
  try {
    like(g, n, op, ins, t);
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void qmatmul(Graph& g, Node& n) {
  need(n, 8);
  activation(g, n, 0, "input A");
  const Value& b = g.in(n, 3);
  if (!is_q8(b.dtype)) throw Error("input B '" + b.name + "' must be int8 or uint8, not " + dtype_name(b.dtype));
  check_qparams(g, n, 4, 5, int64_t(b.shape.size()) - 1, b.shape, b.dtype, "input B");
  with_float_inputs(g, n, "MatMul", {n.inputs[0], n.inputs[3]}, out_type(g, n, 6, 7));
}

void qgemm(Graph& g, Node& n) {
  need(n, 6);
  activation(g, n, 0, "input A");
  const Value& b = g.in(n, 3);
  if (!is_q8(b.dtype)) throw Error("input B '" + b.name + "' must be int8 or uint8, not " + dtype_name(b.dtype));
  const int64_t axis = n.attrs.i("transB", 0) ? 0 : 1;
  check_qparams(g, n, 4, 5, axis, b.shape, b.dtype, "input B");
  if (Graph::has_input(n, 6) && g.in(n, 6).dtype != DType::i32) throw Error("bias C must be int32");
  // Without y_scale the output is float (ONNX Runtime's definition): (acc + C) * a_scale * b_scale.
  const bool float_out = !Graph::has_input(n, 7) && !Graph::has_input(n, 8);
  with_float_inputs(g, n, "Gemm", {n.inputs[0], n.inputs[3]}, float_out ? DType::f32 : out_type(g, n, 7, 8));
}

void qbinary(Graph& g, Node& n) {
  need(n, 7);
  activation(g, n, 0, "input A");
  activation(g, n, 3, "input B");
  const DType t = out_type(g, n, 6, 7);
  with_float_inputs(g, n, n.op == "QLinearAdd" ? "Add" : "Mul", {n.inputs[0], n.inputs[3]}, t);
  if (n.op == "QLinearMul" && Graph::has_input(n, 8)) {
    if (activation(g, n, 8, "residual") != t) throw Error("residual and product must have the same type");
    if (g.in(n, 8).shape != g.out(n, 0).shape) throw Error("residual must have the output's shape");
    if (out_type(g, n, 11, 12) != t) throw Error("sum and product must have the same type");
  }
}

void qunary(Graph& g, Node& n) {
  need(n, 4);
  activation(g, n, 0, "input");
  const DType t = out_type(g, n, 3, 4);
  if (n.op == "QLinearGlobalAveragePool") {
    if (n.attrs.i("channels_last", 0)) {  // ONNX Runtime's form: same as edgeflow's layout=NHWC
      n.attrs.erase("channels_last");
      n.attrs.set("layout", std::string("NHWC"));
    }
    with_float_inputs(g, n, "GlobalAveragePool", {n.inputs[0]}, t);
  } else {
    set_output(g, n, 0, t, g.in(n, 0).shape);
  }
}

void qconcat(Graph& g, Node& n) {
  need(n, 5);
  const DType t = out_type(g, n, 0, 1);
  if ((n.inputs.size() - 2) % 3 != 0) throw Error("inputs after y_scale, y_zero_point must come in (x, scale, zero point) triples");
  std::vector<int> xs;
  for (size_t k = 2; k < n.inputs.size(); k += 3) {
    if (activation(g, n, k, "input " + std::to_string(k)) != t)
      throw Error("input '" + g.in(n, k).name + "' and the output must have the same type");
    xs.push_back(n.inputs[k]);
  }
  with_float_inputs(g, n, "Concat", xs, t);
}

}  // namespace

EF_REGISTER_SCHEMA("QLinearConv", qconv);
EF_REGISTER_SCHEMA("QLinearMatMul", qmatmul);
EF_REGISTER_SCHEMA("QGemm", qgemm);
EF_REGISTER_SCHEMA("QLinearAdd", qbinary);
EF_REGISTER_SCHEMA("QLinearMul", qbinary);
EF_REGISTER_SCHEMA("QLinearGlobalAveragePool", qunary);
EF_REGISTER_SCHEMA("QLinearSigmoid", qunary);
EF_REGISTER_SCHEMA("QLinearHardSwish", qunary);
EF_REGISTER_SCHEMA("QLinearLeakyRelu", qunary);
EF_REGISTER_SCHEMA("QLinearHardSigmoid", qunary);
EF_REGISTER_SCHEMA("QLinearConcat", qconcat);
}  // namespace ef
