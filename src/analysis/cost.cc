#include <cmath>
#include <cstdio>

#include "edgeflow/analysis.h"

namespace ef {

namespace {
int64_t bytes_of(const Value& v) { return numel(v.shape) * int64_t(dtype_size(v.dtype)); }

// Elementwise ops: one flop per output element (activations a few more, but
// one is the convention most cost tools use). Quantize/Dequantize: one
// scale (and round) per element.
bool is_elementwise(const std::string& op) {
  static const char* ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Relu", "LeakyRelu", "PRelu",
                              "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Exp", "Log",
                              "Sqrt", "Neg", "Abs", "Erf", "Where", "Equal", "Less", "Greater",
                              "QuantizeLinear", "DequantizeLinear"};
  for (auto* o : ops)
    if (op == o) return true;
  return false;
}

// A quantized operator (ONNX QOperator / com.microsoft forms) costs what its
// float operator does: QLinearConv -> Conv, QGemm -> Gemm, QLinearAdd -> Add...
std::string float_op(const std::string& op) {
  if (op == "QGemm") return "Gemm";
  if (op.rfind("QLinear", 0) == 0) return op.substr(7);
  return op;
}

// Where the data, weight and bias operands sit (-1: none).
struct Operands {
  int w = -1, bias = -1;
};
Operands operands(const std::string& op) {
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm") return {1, 2};
  if (op == "MatMul") return {1, -1};
  if (op == "QLinearConv") return {3, 8};
  if (op == "QGemm") return {3, 6};
  if (op == "QLinearMatMul") return {3, -1};
  return {};
}

bool counts_as_param(const Node& n, const std::string& op, int i, const Operands& ops) {
  if (i == ops.w || i == ops.bias) return true;
  if (op == "BatchNormalization") return i == 1 || i == 2;  // scale, shift; mean/var are statistics
  // A weight stored quantized and dequantized at run time (QDQ form).
  if (n.op == "DequantizeLinear") return i == 0;
  // Per-channel constants of elementwise layers (e.g. a folded scale).
  return op == "PRelu" || op == "Add" || op == "Mul" || op == "Sub" || op == "Div";
}
}  // namespace

NodeCost node_cost(const Graph& g, const Node& n) {
  NodeCost c;
  const std::string op = float_op(n.op);
  const Operands ops = operands(n.op);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i] < 0) continue;
    const Value& v = g.values[n.inputs[i]];
    if (v.is_const()) {
      c.weight_bytes += bytes_of(v);
      // Shape-like operands (Reshape shape, Resize scales, Slice starts, ...),
      // scales and zero points are not parameters.
      const bool numeric = v.dtype == DType::f32 || v.dtype == DType::f16 || v.dtype == DType::i8 ||
                           v.dtype == DType::u8 || (v.dtype == DType::i32 && int(i) == ops.bias) ||
                           (v.dtype == DType::i32 && n.op == "DequantizeLinear");
      const bool scalar_qparam = n.op != "DequantizeLinear" && op != n.op && int(i) != ops.w && int(i) != ops.bias;
      if (numeric && !scalar_qparam && counts_as_param(n, op, int(i), ops)) c.params += v.data.numel();
    } else {
      c.in_bytes += bytes_of(v);
    }
  }
  for (int o : n.outputs) c.out_bytes += bytes_of(g.values[o]);
  if (n.outputs.empty()) return c;
  const Value& y = g.values[n.outputs[0]];
  const int64_t out_n = numel(y.shape);
  auto ksize = [&]() {
    int64_t k = 1;
    for (auto d : n.attrs.ints("kernel_shape")) k *= d;
    return k;
  };
  if (ops.w >= 0 && Graph::has_input(n, size_t(ops.w))) {
    const Value& x = g.in(n, 0);
    const Value& w = g.in(n, size_t(ops.w));
    if (op == "Conv") {  // OIHW: every output sums over I/g * kh * kw
      int64_t per_out = 1;
      for (size_t i = 1; i < w.shape.size(); ++i) per_out *= w.shape[i];
      c.macs = out_n * per_out;
    } else if (op == "ConvTranspose") {  // I, O/g, kh, kw: every input scatters into O/g * kh * kw
      int64_t per_in = 1;
      for (size_t i = 1; i < w.shape.size(); ++i) per_in *= w.shape[i];
      c.macs = numel(x.shape) * per_in;
    } else if (op == "Gemm") {
      c.macs = out_n * (n.attrs.i("transA", 0) ? x.shape.at(0) : x.shape.at(1));
    } else if (op == "MatMul") {
      c.macs = out_n * (x.shape.empty() ? 1 : x.shape.back());
    }
  }
  c.flops = 2 * c.macs;
  if (c.macs) {
    if (ops.bias >= 0 && Graph::has_input(n, size_t(ops.bias))) c.flops += out_n;
  } else if (is_elementwise(op)) {
    c.flops = out_n;
  } else if (op == "MaxPool" || op == "AveragePool") {
    c.flops = out_n * ksize();
  } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "ReduceMean" || op == "ReduceSum" ||
             op == "ReduceMax") {
    c.flops = numel(g.in(n, 0).shape);
  } else if (op == "BatchNormalization") {
    c.flops = 2 * out_n;
  } else if (op == "Softmax") {
    c.flops = 5 * out_n;
  } else if (op == "Resize") {
    c.flops = n.attrs.s("mode", "nearest") == "linear" ? 8 * out_n : 0;
  }
  if (n.attrs.has("activation")) c.flops += out_n;
  return c;
}

ModelCost model_cost(const Graph& g) {
  ModelCost m;
  for (const Node& n : g.nodes) {
    NodeCost c = node_cost(g, n);
    m.total.params += c.params;
    m.total.macs += c.macs;
    m.total.flops += c.flops;
    m.total.weight_bytes += c.weight_bytes;
    m.total.in_bytes += c.in_bytes;
    m.total.out_bytes += c.out_bytes;
    m.nodes.push_back(c);
  }
  return m;
}

std::string compute_precision(const Graph& g, const Node& n) {
  bool f16 = false;
  for (int v : n.inputs) {
    if (v < 0) continue;
    DType t = g.values[v].dtype;
    if (t == DType::i8 || t == DType::u8) return "int8";
    f16 = f16 || t == DType::f16;
  }
  return f16 ? "fp16" : "fp32";
}

std::string human_count(double v) {
  char b[32];
  if (std::fabs(v) >= 1e9) std::snprintf(b, sizeof b, "%.2f G", v / 1e9);
  else if (std::fabs(v) >= 1e6) std::snprintf(b, sizeof b, "%.2f M", v / 1e6);
  else if (std::fabs(v) >= 1e3) std::snprintf(b, sizeof b, "%.2f K", v / 1e3);
  else std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

std::string human_bytes(double v) {
  char b[32];
  if (v >= 1 << 30) std::snprintf(b, sizeof b, "%.2f GiB", v / (1 << 30));
  else if (v >= 1 << 20) std::snprintf(b, sizeof b, "%.2f MiB", v / (1 << 20));
  else if (v >= 1 << 10) std::snprintf(b, sizeof b, "%.1f KiB", v / (1 << 10));
  else std::snprintf(b, sizeof b, "%.0f B", v);
  return b;
}

}  // namespace ef
