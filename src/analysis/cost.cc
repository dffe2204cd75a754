#include <cmath>
#include <cstdio>

#include "edgeflow/analysis.h"

namespace ef {

namespace {
int64_t bytes_of(const Value& v) { return numel(v.shape) * int64_t(dtype_size(v.dtype)); }

bool is_spatial_nhwc(const Node& n) { return n.attrs.s("layout") == "NHWC"; }

// Elementwise ops: one flop per output element (activations a few more, but
// one is the convention most cost tools use).
bool is_elementwise(const std::string& op) {
  static const char* ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Relu", "LeakyRelu", "PRelu",
                              "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Exp", "Log",
                              "Sqrt", "Neg", "Abs", "Erf", "Where", "Equal", "Less", "Greater"};
  for (auto* o : ops)
    if (op == o) return true;
  return false;
}
}  // namespace

NodeCost node_cost(const Graph& g, const Node& n) {
  NodeCost c;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i] < 0) continue;
    const Value& v = g.values[n.inputs[i]];
    if (v.is_const()) {
      c.weight_bytes += bytes_of(v);
      bool is_param = v.dtype == DType::f32 || v.dtype == DType::f16 || v.dtype == DType::i8 || v.dtype == DType::u8;
      // BatchNormalization: running mean/var are statistics, not parameters.
      if (n.op == "BatchNormalization" && i >= 3) is_param = false;
      // Shape-like operands (Reshape shape, Resize scales, Slice starts, ...) are not parameters.
      if (n.op != "Conv" && n.op != "ConvTranspose" && n.op != "Gemm" && n.op != "MatMul" &&
          n.op != "BatchNormalization" && n.op != "PRelu" && n.op != "Add" && n.op != "Mul" && n.op != "Sub" &&
          n.op != "Div")
        is_param = false;
      if (is_param) c.params += v.data.numel();
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
  if (n.op == "Conv" && n.inputs.size() >= 2) {
    const Value& w = g.in(n, 1);  // OIHW
    int64_t per_out = 1;
    for (size_t i = 1; i < w.shape.size(); ++i) per_out *= w.shape[i];
    c.macs = out_n * per_out;
  } else if (n.op == "ConvTranspose" && n.inputs.size() >= 2) {
    const Value& x = g.in(n, 0);
    const Value& w = g.in(n, 1);  // I, O/g, kh, kw
    int64_t per_in = 1;
    for (size_t i = 1; i < w.shape.size(); ++i) per_in *= w.shape[i];
    c.macs = numel(x.shape) * per_in;
  } else if (n.op == "Gemm" && n.inputs.size() >= 2) {
    const Value& a = g.in(n, 0);
    int64_t k = n.attrs.i("transA", 0) ? a.shape.at(0) : a.shape.at(1);
    c.macs = out_n * k;
  } else if (n.op == "MatMul" && n.inputs.size() >= 2) {
    const Value& a = g.in(n, 0);
    c.macs = out_n * (a.shape.empty() ? 1 : a.shape.back());
  }
  c.flops = 2 * c.macs;
  if (c.macs) {
    if (Graph::has_input(n, 2)) c.flops += out_n;  // bias
  } else if (is_elementwise(n.op)) {
    c.flops = out_n;
  } else if (n.op == "MaxPool" || n.op == "AveragePool") {
    c.flops = out_n * ksize();
  } else if (n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool" || n.op == "ReduceMean" ||
             n.op == "ReduceSum" || n.op == "ReduceMax") {
    c.flops = numel(g.in(n, 0).shape);
  } else if (n.op == "BatchNormalization") {
    c.flops = 2 * out_n;
  } else if (n.op == "Softmax") {
    c.flops = 5 * out_n;
  } else if (n.op == "Resize") {
    c.flops = n.attrs.s("mode", "nearest") == "linear" ? 8 * out_n : 0;
  }
  if (n.attrs.has("activation")) c.flops += out_n;
  (void)is_spatial_nhwc;
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
