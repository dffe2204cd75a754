#include "importers/onnx/qoperator.h"

#include <set>

namespace ef {

bool is_qoperator(const std::string& op, const std::string& domain) {
  static const std::set<std::string> onnx = {"QLinearConv", "QLinearMatMul"};
  static const std::set<std::string> ms = {"QLinearAdd",     "QLinearMul",       "QLinearGlobalAveragePool",
                                           "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat",
                                           "QGemm",          "QLinearAveragePool"};
  const bool default_domain = domain.empty() || domain == "ai.onnx";
  return (default_domain && onnx.count(op)) || (domain == "com.microsoft" && ms.count(op));
}

namespace {

struct Expander {
  QOperatorSink& s;
  const std::string& name;
  const std::vector<int>& ins;

  int in(size_t i) const { return i < ins.size() ? ins[i] : -1; }
  [[noreturn]] void fail(const std::string& m) const { throw Error("node '" + name + "': " + m); }
  void need(size_t n) const {
    for (size_t i = 0; i < n; ++i)
      if (in(i) < 0 && i != 2) fail("required input " + std::to_string(i) + " is missing");
  }

  int node(const std::string& op, std::vector<int> xs, Attrs a = {}, int out = -1) {
    if (out < 0) out = s.new_value(name + "/" + op);
    while (!xs.empty() && xs.back() < 0) xs.pop_back();
    s.g.add_node(op, s.new_node_name(name + "/" + op), std::move(xs), {out}, std::move(a));
    return out;
  }
  // DequantizeLinear of input x with its scale/zero point; per-axis along `axis` when the scale is 1-D.
  int dq(size_t x, size_t scale, size_t zp, int64_t axis = 1) {
    Attrs a;
    a.set("axis", axis);
    return node("DequantizeLinear", {in(x), in(scale), in(zp)}, a);
  }
  void q(int x, size_t scale, size_t zp, int out) { node("QuantizeLinear", {x, in(scale), in(zp)}, {}, out); }

  const Tensor& const_f32(size_t i, const char* what) {
    if (in(i) < 0 || !s.g.values[in(i)].is_const() || s.g.values[in(i)].dtype != DType::f32)
      fail(std::string(what) + " (input " + std::to_string(i) + ") must be a float32 constant");
    return s.g.values[in(i)].data;
  }
  // DequantizeLinear of an int32 bias at scale a_scale * b_scale (per channel).
  int bias(size_t b, size_t a_scale, size_t w_scale) {
    const Tensor &as = const_f32(a_scale, "input scale"), &ws = const_f32(w_scale, "weight scale");
    Tensor sc(DType::f32, {ws.numel()});
    for (int64_t c = 0; c < ws.numel(); ++c) sc.data_as<float>()[c] = as.data_as<float>()[0] * ws.data_as<float>()[c];
    if (ws.numel() == 1) sc = sc.reshaped({});
    Attrs a;
    a.set("axis", int64_t(0));
    return node("DequantizeLinear", {in(b), s.new_const(name + "/bias_scale", sc)}, a);
  }
};

}  // namespace

void expand_qoperator(QOperatorSink& s, const std::string& op, const std::string& name, const std::vector<int>& ins,
                      const std::vector<int>& outs, Attrs attrs) {
  Expander e{s, name, ins};
  if (outs.size() != 1) e.fail("expects one output");
  const int y = outs[0];
  if (op == "QLinearConv") {
    e.need(8);
    std::vector<int> xs = {e.dq(0, 1, 2), e.dq(3, 4, 5, 0)};
    if (e.in(8) >= 0) xs.push_back(e.bias(8, 1, 4));
    e.q(e.node("Conv", xs, attrs), 6, 7, y);
  } else if (op == "QLinearMatMul") {
    e.need(8);
    e.q(e.node("MatMul", {e.dq(0, 1, 2), e.dq(3, 4, 5, 1)}), 6, 7, y);
  } else if (op == "QGemm") {
    e.need(6);
    if (e.in(7) < 0) e.fail("QGemm without y_scale (float output) is not supported");
    const int64_t axis = attrs.i("transB", 0) ? 0 : 1;
    std::vector<int> xs = {e.dq(0, 1, 2), e.dq(3, 4, 5, axis)};
    if (e.in(6) >= 0) xs.push_back(e.bias(6, 1, 4));
    e.q(e.node("Gemm", xs, attrs), 7, 8, y);
  } else if (op == "QLinearAdd" || op == "QLinearMul") {
    e.need(7);
    e.q(e.node(op == "QLinearAdd" ? "Add" : "Mul", {e.dq(0, 1, 2), e.dq(3, 4, 5)}), 6, 7, y);
  } else if (op == "QLinearConcat") {
    if (ins.size() < 5 || (ins.size() - 2) % 3 != 0)
      e.fail("expects y_scale, y_zero_point and (x, scale, zero point) triples");
    std::vector<int> xs;
    for (size_t k = 2; k < ins.size(); k += 3) xs.push_back(e.dq(k, k + 1, k + 2));
    e.q(e.node("Concat", xs, attrs), 0, 1, y);
  } else {  // one input: X, X_scale, X_zero_point, Y_scale, Y_zero_point
    e.need(4);
    const std::string f = op.substr(std::string("QLinear").size());
    if (attrs.i("channels_last", 0)) attrs.set("layout", std::string("NHWC"));
    attrs.erase("channels_last");
    e.q(e.node(f, {e.dq(0, 1, 2)}, attrs), 3, 4, y);
  }
}

}  // namespace ef
