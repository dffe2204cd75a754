// Builds the QDQ graph: int8 weights and int32 biases behind
// DequantizeLinear, QuantizeLinear -> DequantizeLinear on activations.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "quant/quantize.h"
#include "graph/passes/passes.h"

namespace ef::quant {

std::string dequantized_name(const std::string& name) { return name + "_dequantized"; }

namespace {

// Output-channel axis of a weighted layer's weights, or -1 for per tensor.
int weight_axis(const Graph& g, const Node& n, bool per_channel) {
  if (!per_channel) return -1;
  if (n.op == "Conv") return 0;
  if (n.op == "ConvTranspose") return n.attrs.i("group", 1) == 1 ? 1 : -1;  // IOHW: O/group per group
  if (n.op == "Gemm") return n.attrs.i("transB", 0) ? 0 : 1;
  return 1;  // MatMul [K, N]
}

// Number of output channels of a weighted layer.
int64_t out_channels(const Node& n, const Tensor& w) {
  if (n.op == "Conv") return w.dim(0);
  if (n.op == "ConvTranspose") return w.dim(1) * n.attrs.i("group", 1);
  if (n.op == "Gemm" && n.attrs.i("transB", 0)) return w.dim(0);
  return w.dim(1);
}

}  // namespace

QuantizedWeights quantize_weights(const Graph& g, const Node& n, const Tensor& w, bool per_channel) {
  QuantizedWeights r;
  r.axis = weight_axis(g, n, per_channel);
  const int64_t channels = r.axis >= 0 ? w.dim(r.axis) : 1;
  int64_t inner = 1;
  for (int d = r.axis + 1; d < w.rank() && r.axis >= 0; ++d) inner *= w.dim(d);
  auto channel = [&](int64_t i) { return r.axis >= 0 ? (i / inner) % channels : 0; };
  const float* wd = w.data_as<float>();
  std::vector<float> absmax(size_t(channels), 0.f);
  for (int64_t i = 0; i < w.numel(); ++i) absmax[channel(i)] = std::max(absmax[channel(i)], std::fabs(wd[i]));
  r.scale.resize(size_t(channels));
  for (int64_t c = 0; c < channels; ++c) r.scale[c] = weight_scale(absmax[c]);
  r.q.resize(size_t(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i)
    r.q[i] = int8_t(std::clamp(std::nearbyint(wd[i] / r.scale[channel(i)]), -127.f, 127.f));
  return r;
}

Graph fold_constant_dequantize(Graph q) {
  OptimizeReport unused;
  fold_const_dequantize(q, unused);
  q.compact();
  q.relink();
  return q;
}

bool shares_input_params(const Graph& g, const Node& n) {
  if (n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty()) return false;
  static const std::set<std::string> moves = {"MaxPool",   "Reshape",      "Flatten",      "Squeeze",
                                              "Unsqueeze", "Transpose",    "Identity",     "Slice",
                                              "DepthToSpace", "SpaceToDepth"};
  if (moves.count(n.op)) return !n.attrs.has("activation") && n.outputs.size() == 1;
  if (n.op == "Resize") {  // linear/nearest interpolation stays within the input's range
    const std::string mode = n.attrs.s("mode", "nearest");
    return (mode == "linear" || mode == "nearest") && !n.attrs.has("activation") && n.outputs.size() == 1;
  }
  if (n.op != "Pad" || n.attrs.s("mode", "constant") != "constant" || Graph::has_input(n, 3)) return false;
  if (!Graph::has_input(n, 2)) return true;
  const Value& v = g.in(n, 2);
  return v.is_const() && v.dtype == DType::f32 && v.data.numel() == 1 && *v.data.data_as<float>() == 0.f;
}

namespace {

class Builder {
 public:
  Builder(Graph& q) : q_(q) {}

  template <class T>
  int constant(const std::string& name, Shape shape, const std::vector<T>& v) {
    return q_.add_const(q_.unique_name(name), Tensor::from<T>(std::move(shape), std::span<const T>(v)));
  }

  // DequantizeLinear(x_q, scale, zp) -> new float value of `shape`.
  int dequantize(const std::string& base, int xq, int scale, int zp, const Shape& shape, int axis) {
    int out = q_.add_value(q_.unique_name(base + "_dequantized"), DType::f32, shape, true);
    Attrs a;
    if (axis >= 0) a.set("axis", int64_t(axis));
    q_.add_node("DequantizeLinear", q_.unique_name(base + "_DequantizeLinear"), {xq, scale, zp}, {out}, a);
    return out;
  }

  // Activation v: every use now reads DQ(Q(v)).
  void activation(int v, ActQParams p) {
    const std::string name = q_.values[v].name;
    const Shape shape = q_.values[v].shape;
    int scale = constant<float>(name + "_scale", {}, {p.scale});
    int zp = constant<int8_t>(name + "_zero_point", {}, {int8_t(p.zero_point)});
    int xq = q_.add_value(q_.unique_name(name + "_quantized"), DType::i8, shape, true);
    int out = q_.add_value(q_.unique_name(dequantized_name(name)), DType::f32, shape, true);
    q_.replace_uses(v, out);
    q_.add_node("QuantizeLinear", q_.unique_name(name + "_QuantizeLinear"), {v, scale, zp}, {xq});
    q_.add_node("DequantizeLinear", q_.unique_name(name + "_DequantizeLinear"), {xq, scale, zp}, {out});
  }

  // Weights and bias of weighted layer `ni` whose input has scale sx.
  void weights(int ni, float sx, bool per_channel) {
    const Node n = q_.nodes[ni];
    const Value& wv = q_.values[n.inputs[1]];
    const Tensor w = wv.data;
    const std::string wname = wv.name;
    const QuantizedWeights qw = quantize_weights(q_, n, w, per_channel);
    const int axis = qw.axis;
    const int64_t channels = int64_t(qw.scale.size());
    const std::vector<float>& scale = qw.scale;
    const Shape vshape = axis >= 0 ? Shape{channels} : Shape{};
    int wqv = constant<int8_t>(wname + "_quantized", w.shape(), qw.q);
    int ws = constant<float>(wname + "_scale", vshape, scale);
    int wz = constant<int8_t>(wname + "_zero_point", vshape, std::vector<int8_t>(size_t(channels), 0));
    int wdq = dequantize(wname, wqv, ws, wz, w.shape(), axis);
    q_.nodes[ni].inputs[1] = wdq;

    if (n.op == "MatMul" || !Graph::has_input(n, 2)) return;
    const Value& bv = q_.values[n.inputs[2]];
    const Tensor b = bv.data;
    const std::string bname = bv.name;
    const int64_t oc = out_channels(n, w);
    // Per output channel: ConvTranspose with groups has per-group channel blocks.
    std::vector<float> bscale(static_cast<size_t>(oc));
    std::vector<int32_t> bq(static_cast<size_t>(oc));
    for (int64_t c = 0; c < oc; ++c) {
      bscale[c] = sx * scale[axis >= 0 ? c % channels : 0];
      const float bf = b.data_as<float>()[b.numel() == 1 ? 0 : c];
      const double r = std::nearbyint(double(bf) / double(bscale[c]));
      bq[c] = int32_t(std::clamp(r, double(std::numeric_limits<int32_t>::min()),
                                 double(std::numeric_limits<int32_t>::max())));
    }
    int bqv = constant<int32_t>(bname + "_quantized", {oc}, bq);
    int bs = constant<float>(bname + "_scale", {oc}, bscale);
    int bz = constant<int32_t>(bname + "_zero_point", {oc}, std::vector<int32_t>(size_t(oc), 0));
    q_.nodes[ni].inputs[2] = dequantize(bname, bqv, bs, bz, {oc}, 0);
  }

 private:
  Graph& q_;
};

}  // namespace

Graph build_qdq(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats, const Options& o) {
  Graph q = g;
  std::map<int, ActQParams> act;
  for (int v : p.tensors) {
    auto it = stats.find(v);
    if (it == stats.end() || !it->second.seen())
      throw Error("quantize: no calibration statistics for tensor '" + g.values[v].name + "'");
    act[v] = activation_qparams(it->second.range(o.method, o.percentile));
  }
  // Ops that only move or select values (MaxPool, zero Pad, Reshape, ...)
  // give their output the input's parameters: the int8 runtime then moves
  // int8 bytes through them with no requantization (max and copies commute
  // with dequantization), as ONNX Runtime's quantizer does. Their output
  // range lies inside the input's (plus 0, which every range holds).
  for (const Node& n : g.nodes)
    if (!n.dead && shares_input_params(g, n) && act.count(n.inputs[0]) && act.count(n.outputs[0]))
      act[n.outputs[0]] = act[n.inputs[0]];
  Builder b(q);
  for (int i : p.layers)
    if (is_weighted(g.nodes[i].op)) b.weights(i, act.at(g.nodes[i].inputs[0]).scale, o.per_channel);
  for (int v : p.tensors) b.activation(v, act.at(v));
  q.topo_sort();
  return q;
}

}  // namespace ef::quant
