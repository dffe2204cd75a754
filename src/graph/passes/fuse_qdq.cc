// QDQ -> quantized operators. A QDQ graph (QuantizeLinear/DequantizeLinear
// around float operators, as ONNX Runtime's quantizer and `edgeflow quantize`
// write it, and as the importers express QOperator ONNX and int8 TFLite)
// would run float kernels between dequantize and quantize. This pass, run
// after the layout pass (so every op already carries its NHWC layout):
//   0. merges QuantizeLinear nodes of one value with equal parameters;
//   1. uint8 activations become int8 (q - 128, zero point - 128: exact), the
//      form XNNPACK's int8 kernels take; a per-tensor QuantizeLinear of a
//      Transpose (of a graph input, made by the layout pass) moves above it;
//   2. sinks DequantizeLinear below data-movement ops (Reshape, Transpose,
//      Concat of equal parameters, Pad, Slice, DepthToSpace...) and MaxPool,
//      which then move int8 bytes: op(DQ(q)) == DQ(op(q)) exactly; and below
//      a Resize whose output is requantized with the input's parameters
//      (Q(Resize(DQ(q))) == Resize on q, rounded: the weights sum to 1);
//   3. fuses DQ -> op -> Q into one quantized operator where an int8 kernel
//      exists: Conv (+ relu/relu6/clip) -> QLinearConv, Gemm -> QGemm (also
//      DQ -> Conv/Gemm with a float output, on VNNI CPUs: QLinearConv/QGemm
//      without y_scale),
//      MatMul -> QLinearMatMul, Add/Mul -> QLinearAdd/QLinearMul,
//      GlobalAveragePool (and AveragePool over the whole image), Sigmoid,
//      HardSwish, HardSigmoid, LeakyRelu -> QLinear*;
//      then a QLinearAdd of a QLinearConv's output (read by the Add alone;
//      conv on the VNNI GEMM, or depthwise with <= 16 channels) and another
//      int8 value r becomes that QLinearConv with r and the Add's output
//      parameters as inputs 9-13: the kernel's epilogue adds r to the int8
//      conv output as QLinearAdd would (the Add's pass over memory is
//      saved). A conv with its own activation only under an Add without one
//      that reads the conv as its second operand, Add(r, relu(conv)): then
//      residual_after_activation = 1 and QLinearAdd's rounding is the
//      kernel's exactly (the selfie models' depthwise blocks); after step 4
//      an r that is a channel Pad with r's zero point (BlazeFace) is
//      replaced by the Pad's input, whose missing channels the kernel reads
//      as r_zp, and an r that is a 2x2 stride-2 MaxPool by the MaxPool's
//      input, whose windows the kernel maxes;
//   4. drops Q(DQ(q)) pairs with equal parameters;
//   5. folds DequantizeLinear of constants that are left (weights of ops
//      that stay float) into float32 constants.
// Ops with no int8 kernel stay float between their DQ and Q.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "graph/ops/quant_util.h"
#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"
#include "runtime/kernels/qconv.h"
#include "runtime/kernels/qgemm_vnni.h"

namespace ef {

namespace {
using namespace passes;

// A per-tensor quantized operand: the int8/uint8 value and its parameters.
struct QOperand {
  int q = -1, scale = -1, zp = -1;
  float s = 1.f;
  int32_t z = 0;
  DType t = DType::i8;
  bool same(const QOperand& o) const { return s == o.s && z == o.z && t == o.t; }
};

class Fuser {
 public:
  Fuser(Graph& g, OptimizeReport& r) : g_(g), r_(r) {}

  int run() {
    g_.topo_sort();
    merge_duplicate_quantize();
    to_int8();
    for (size_t i = 0, n = g_.nodes.size(); i < n; ++i)
      if (!g_.nodes[i].dead && g_.nodes[i].op == "QuantizeLinear") lift(int(i));
    const size_t n0 = g_.nodes.size();
    for (size_t i = 0; i < n0; ++i) {
      if (g_.nodes[i].dead) continue;
      const std::string op = g_.nodes[i].op;
      if (kMove.count(op) || op == "Concat" || op == "Pad" || op == "MaxPool" || op == "Resize") sink(int(i));
    }
    for (size_t i = 0; i < n0; ++i) {
      if (g_.nodes[i].dead) continue;
      const std::string& op = g_.nodes[i].op;
      if (op == "Conv") fuse_conv(int(i));
      else if (op == "Gemm" || op == "MatMul") fuse_linear(int(i));
      else if (op == "Add" || op == "Mul") fuse_binary(int(i));
      else if (op == "GlobalAveragePool" || op == "AveragePool" || op == "Sigmoid" || op == "HardSwish" ||
               op == "HardSigmoid" || op == "LeakyRelu")
        fuse_unary(int(i));
    }
    if (vnni_available())
      for (size_t i = 0; i < g_.nodes.size(); ++i)
        if (!g_.nodes[i].dead && g_.nodes[i].op == "QLinearAdd") fuse_residual(int(i));
    cancel_pairs();
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!g_.nodes[i].dead && g_.nodes[i].op == "QLinearConv" && Graph::has_input(g_.nodes[i], 9)) {
        fold_residual_pad(int(i));
        fold_residual_maxpool(int(i));
      }
    changes_ += fold_const_dequantize(g_, r_);  // 5.
    g_.topo_sort();
    g_.compact();
    return changes_;
  }

 private:
  Graph& g_;
  OptimizeReport& r_;
  int changes_ = 0;
  const std::set<std::string> kMove = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose",
                                       "Slice",   "DepthToSpace", "SpaceToDepth", "Identity"};

  int producer(int v, const char* op) const {
    if (v < 0) return -1;
    const int p = g_.values[v].producer;
    return p >= 0 && !g_.nodes[p].dead && g_.nodes[p].op == op ? p : -1;
  }
  std::vector<int> users(int v) const {
    std::vector<int> u;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!g_.nodes[i].dead)
        for (int in : g_.nodes[i].inputs)
          if (in == v) {
            u.push_back(int(i));
            break;
          }
    return u;
  }
  bool scalar_const(int v) const { return passes::scalar_const(g_, v); }

  // Zero point value of a Q/DQ node, made explicit (uint8 zero when omitted).
  int zp_of(const Node& n, DType t) {
    if (Graph::has_input(n, 2)) return n.inputs[2];
    return g_.add_const(g_.unique_name(n.name + "_zero_point"), Tensor(t, {}));
  }
  bool read_operand(const Node& n, int qv, QOperand& o) {
    if (!scalar_const(n.inputs.at(1)) || (Graph::has_input(n, 2) && !scalar_const(n.inputs[2]))) return false;
    o.q = qv;
    o.t = g_.values[qv].dtype;
    if (o.t != DType::i8 && o.t != DType::u8) return false;
    o.scale = n.inputs[1];
    o.zp = zp_of(n, o.t);
    o.s = *g_.values[o.scale].data.data_as<float>();
    const Tensor& z = g_.values[o.zp].data;
    o.z = o.t == DType::i8 ? int32_t(*z.data_as<int8_t>()) : int32_t(*z.data_as<uint8_t>());
    return o.s > 0 && std::isfinite(o.s);
  }
  // v = DequantizeLinear(q) with per-tensor constant parameters.
  bool dq_input(int v, QOperand& o) {
    const int p = producer(v, "DequantizeLinear");
    return p >= 0 && read_operand(g_.nodes[p], g_.nodes[p].inputs[0], o);
  }
  // v is read only by one QuantizeLinear (per-tensor) and is no graph output.
  bool q_output(int v, QOperand& o, int& qnode) {
    if (is_graph_output(g_, v)) return false;
    auto u = users(v);
    if (u.size() != 1 || g_.nodes[u[0]].op != "QuantizeLinear" || g_.nodes[u[0]].inputs[0] != v) return false;
    qnode = u[0];
    return read_operand(g_.nodes[qnode], g_.nodes[qnode].outputs[0], o);
  }

  int const_like(const std::string& base, Tensor t) { return g_.add_const(g_.unique_name(base), std::move(t)); }
  int i8_scalar(const std::string& base, int32_t v, DType t) {
    Tensor z(t, {});
    if (t == DType::i8) *z.data_as<int8_t>() = int8_t(v);
    else *z.data_as<uint8_t>() = uint8_t(v);
    return const_like(base, z);
  }

  // 0. QuantizeLinear nodes of one value with equal parameters become one
  // (quantizers that quantize a tensor and its transposed copy separately
  // leave such pairs once the layout pass has removed the transposes).
  void merge_duplicate_quantize() {
    int n = 0;
    std::map<int, std::vector<int>> by_input;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!g_.nodes[i].dead && g_.nodes[i].op == "QuantizeLinear") by_input[g_.nodes[i].inputs[0]].push_back(int(i));
    for (auto& [v, qs] : by_input)
      for (size_t a = 0; a < qs.size(); ++a) {
        Node& keep = g_.nodes[qs[a]];
        QOperand ka;
        if (keep.dead || !read_operand(keep, keep.outputs[0], ka)) continue;
        for (size_t b = a + 1; b < qs.size(); ++b) {
          Node& dup = g_.nodes[qs[b]];
          QOperand kb;
          if (dup.dead || !read_operand(dup, dup.outputs[0], kb) || !ka.same(kb) || is_graph_output(g_, dup.outputs[0]))
            continue;
          dup.dead = true;
          g_.replace_uses(dup.outputs[0], keep.outputs[0]);
          ++n;
        }
      }
    if (n) log(r_, "fuse_qdq: " + std::to_string(n) + " duplicate QuantizeLinear node(s) merged");
    changes_ += n;
  }

  // 1. uint8 Q -> int8 (q - 128) when every reader is a DequantizeLinear.
  void to_int8() {
    int n = 0;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      Node& q = g_.nodes[i];
      if (q.dead || q.op != "QuantizeLinear" || q.outputs.empty()) continue;
      const int y = q.outputs[0];
      if (g_.values[y].dtype != DType::u8 || is_graph_output(g_, y)) continue;
      if (!scalar_const(q.inputs.at(1)) || (Graph::has_input(q, 2) && !scalar_const(q.inputs[2]))) continue;
      auto u = users(y);
      bool ok = !u.empty();
      for (int k : u) {
        const Node& d = g_.nodes[k];
        ok &= d.op == "DequantizeLinear" && d.inputs[0] == y && scalar_const(d.inputs.at(1)) &&
              (!Graph::has_input(d, 2) || scalar_const(d.inputs[2]));
      }
      if (!ok) continue;
      auto shifted = [&](const Node& nd) {
        const int32_t z = Graph::has_input(nd, 2) ? int32_t(*g_.values[nd.inputs[2]].data.data_as<uint8_t>()) : 0;
        return i8_scalar(nd.name + "_zero_point_s8", z - 128, DType::i8);
      };
      const int qz = shifted(q);
      g_.nodes[i].inputs.resize(3);
      g_.nodes[i].inputs[2] = qz;
      for (int k : u) {
        const int dz = shifted(g_.nodes[k]);
        g_.nodes[k].inputs.resize(3);
        g_.nodes[k].inputs[2] = dz;
      }
      g_.values[y].dtype = DType::i8;
      ++n;
    }
    if (n) log(r_, "fuse_qdq: " + std::to_string(n) + " uint8 activation(s) re-expressed as int8 (q - 128)");
    changes_ += n;
  }

  // 1b. Q(T(x)) -> T(Q(x)) for a Transpose read by a per-tensor Q alone (the
  // layout pass's NCHW -> NHWC Transpose of a float graph input): the
  // transpose then moves a quarter of the bytes.
  void lift(int i) {
    const Node q = g_.nodes[i];
    const int t = producer(q.inputs[0], "Transpose");
    // Per-tensor parameters only: a per-axis axis would move with the transpose.
    if (t < 0 || !scalar_const(q.inputs.at(1)) || (Graph::has_input(q, 2) && !scalar_const(q.inputs[2]))) return;
    const Node mv = g_.nodes[t];
    if (mv.inputs.size() != 1 || users(mv.outputs[0]).size() != 1 || is_graph_output(g_, mv.outputs[0])) return;
    const int y = q.outputs[0];
    const Value& x = g_.values[mv.inputs[0]];
    const int m = g_.add_value(g_.unique_name(g_.values[y].name + "_untransposed"), g_.values[y].dtype, x.shape, x.shape_known);
    g_.nodes[i].inputs[0] = mv.inputs[0];
    g_.nodes[i].outputs[0] = m;
    g_.values[m].producer = i;
    g_.nodes[t].inputs[0] = m;
    g_.nodes[t].outputs[0] = y;
    g_.values[y].producer = t;
    g_.values[mv.outputs[0]].producer = -1;
    log(r_, "fuse_qdq: " + g_.describe(q) + " moved above " + g_.describe(mv) + " (int8 transpose)");
    ++changes_;
  }

  // Adds DQ(m) -> y where y was produced by node `at`; returns the DQ node.
  void dequantize_into(int m, const QOperand& o, int y, const std::string& base) {
    const int d = g_.add_node("DequantizeLinear", g_.unique_name(base + "_dq"), {m, o.scale, o.zp}, {y});
    g_.values[y].producer = d;
  }
  int int8_value(int like, DType t, const std::string& base) {
    const Value v = g_.values[like];
    return g_.add_value(g_.unique_name(base), t, v.shape, v.shape_known);
  }

  // 2. data movement on int8.
  void sink(int i) {
    Node n = g_.nodes[i];
    if (n.outputs.size() != 1 || n.inputs.empty()) return;
    QOperand x;
    if (!dq_input(n.inputs[0], x)) return;
    if (n.op == "Concat") {
      for (size_t k = 1; k < n.inputs.size(); ++k) {
        QOperand o;
        if (!dq_input(n.inputs[k], o) || !o.same(x)) return;
        n.inputs[k] = o.q;
      }
    } else if (n.op == "Pad") {
      if (n.attrs.s("mode", "constant") != "constant") return;
      if (Graph::has_input(n, 2)) {
        const Value& cv = g_.values[n.inputs[2]];
        if (!cv.is_const() || cv.dtype != DType::f32 || cv.data.numel() != 1 || *cv.data.data_as<float>() != 0.f) return;
      }
      if (Graph::has_input(n, 3)) return;
      n.inputs.resize(3);
      n.inputs[2] = i8_scalar(n.name + "_pad_value", x.z, x.t);
    } else if (n.op == "MaxPool") {  // max commutes with a dequantization (scale > 0)
      if (n.attrs.s("layout", "") != "NHWC" || n.attrs.has("activation")) return;
    } else if (n.op == "Resize") {  // interpolation rounds: only where Q(x's parameters) rounds anyway
      if (n.attrs.s("layout", "") != "NHWC" || n.attrs.has("activation")) return;
      for (size_t k = 1; k < n.inputs.size(); ++k)
        if (n.inputs[k] >= 0 && !g_.values[n.inputs[k]].is_const()) return;
      QOperand o;
      int qn;
      if (!q_output(n.outputs[0], o, qn) || !o.same(x)) return;
    } else {
      for (size_t k = 1; k < n.inputs.size(); ++k)
        if (n.inputs[k] >= 0 && !g_.values[n.inputs[k]].is_const()) return;  // only constant shape operands
    }
    n.inputs[0] = x.q;
    const int y = n.outputs[0];
    const int m = int8_value(y, x.t, g_.values[y].name + "_q");
    n.outputs[0] = m;
    g_.nodes[i] = n;
    g_.values[m].producer = i;
    dequantize_into(m, x, y, n.name);
    log(r_, "fuse_qdq: " + g_.describe(n) + " moves int8 data");
    ++changes_;
  }

  // Bias as int32 at scale x_scale * w_scale[c]: from DQ(int32) or float.
  bool bias_i32(int v, float xs, const std::vector<float>& ws, int64_t count, const std::string& base, int& out) {
    out = -1;
    if (v < 0) return true;
    Tensor f;
    if (g_.values[v].is_const() && g_.values[v].dtype == DType::f32) {
      f = g_.values[v].data;
    } else if (int p = producer(v, "DequantizeLinear"); p >= 0) {
      const Node& d = g_.nodes[p];
      const Value& b = g_.in(d, 0);
      if (!b.is_const()) return false;
      for (size_t k = 1; k < d.inputs.size(); ++k)
        if (d.inputs[k] >= 0 && !g_.values[d.inputs[k]].is_const()) return false;
      f = dequantize_tensor(b.data, const_qparams(g_, d, 1, 2, d.attrs.i("axis", 1), b.shape, b.dtype, d.name));
    } else {
      return false;
    }
    if (f.numel() != count) return false;
    Tensor q(DType::i32, {count});
    for (int64_t c = 0; c < count; ++c) {
      const double v2 = std::nearbyint(double(f.data_as<float>()[c]) / (double(xs) * ws[ws.size() > 1 ? c : 0]));
      if (std::fabs(v2) > 2147483647.0) return false;
      q.data_as<int32_t>()[c] = int32_t(v2);
    }
    out = const_like(base + "_bias_q", q);
    return true;
  }

  // Constant weights DQ(w int8/uint8 const), per-tensor or per-channel along `axis`.
  struct Weights {
    int q = -1, scale = -1, zp = -1;
    std::vector<float> s;
  };
  bool dq_weights(int v, int64_t axis, Weights& w) {
    const int p = producer(v, "DequantizeLinear");
    if (p < 0) return false;
    const Node& d = g_.nodes[p];
    const Value& q = g_.in(d, 0);
    if (!q.is_const() || (q.dtype != DType::i8 && q.dtype != DType::u8)) return false;
    for (size_t k = 1; k < d.inputs.size(); ++k)
      if (d.inputs[k] >= 0 && !g_.values[d.inputs[k]].is_const()) return false;
    QuantParams qp = const_qparams(g_, d, 1, 2, d.attrs.i("axis", 1), q.shape, q.dtype, d.name);
    if (qp.scale.size() > 1 && qp.axis != axis) return false;
    w.q = d.inputs[0];
    w.scale = d.inputs[1];
    w.s = qp.scale;
    if (Graph::has_input(d, 2)) {
      w.zp = d.inputs[2];
    } else {
      Tensor z(q.dtype, qp.scale.size() > 1 ? Shape{int64_t(qp.scale.size())} : Shape{});
      w.zp = const_like(d.name + "_zero_point", z);
    }
    return true;
  }

  bool clamp_activation(const Node& n) {
    const std::string a = n.attrs.s("activation", "");
    return a.empty() || a == "relu" || a == "relu6" || a == "clip";
  }

  void replace(int i, int qnode, const std::string& op, std::vector<int> ins, Attrs a, const char* what) {
    const std::string name = g_.nodes[i].name;
    const int y = g_.nodes[qnode].outputs[0];
    g_.nodes[i].dead = true;
    g_.nodes[qnode].dead = true;
    const int k = g_.add_node(op, g_.unique_name(name + "_q"), std::move(ins), {y}, std::move(a));
    g_.values[y].producer = k;
    log(r_, std::string("fuse_qdq: ") + what + " '" + name + "' -> " + op);
    ++changes_;
  }

  // A Conv or Gemm whose output stays float (BlazeFace's score and box heads,
  // mobilenet_v2's classifier: values that reach a graph output) runs on
  // the VNNI GEMM with a float epilogue where that kernel applies: int8
  // activations, symmetric int8 weights, no fused activation.
  bool float_output_fusable(const Node& n, const QOperand& x, const Weights& w) const {
    if (!vnni_available() || n.attrs.has("activation") || x.t != DType::i8 || g_.values[w.q].dtype != DType::i8)
      return false;
    const Tensor& z = g_.values[w.zp].data;
    for (int64_t k = 0; k < z.numel(); ++k)
      if (z.data_as<int8_t>()[k] != 0) return false;
    return true;
  }
  // Node i becomes `op` on ins (no output scale and zero point: float output).
  void replace_float_output(int i, const std::string& op, std::vector<int> ins) {
    const Node n = g_.nodes[i];
    const int out = n.outputs[0];
    g_.nodes[i].dead = true;
    const int k = g_.add_node(op, g_.unique_name(n.name + "_q"), std::move(ins), {out}, n.attrs);
    g_.values[out].producer = k;
    log(r_, "fuse_qdq: " + n.op + " '" + n.name + "' -> " + op + " with float output");
    ++changes_;
  }

  void fuse_conv(int i) {
    const Node n = g_.nodes[i];
    if (n.attrs.s("layout", "") != "NHWC" || !clamp_activation(n)) return;
    QOperand x, y;
    int qn;
    Weights w;
    if (!dq_input(n.inputs[0], x) || !dq_weights(n.inputs.at(1), 0, w)) return;
    const bool quantized_out = q_output(n.outputs[0], y, qn);
    if (!quantized_out && (!float_output_fusable(n, x, w) || n.attrs.i("group", 1) != 1)) return;
    int b = -1;
    const int64_t cout = g_.values[n.outputs[0]].shape.back();
    if (!bias_i32(Graph::has_input(n, 2) ? n.inputs[2] : -1, x.s, w.s, cout, n.name, b)) return;
    if (!quantized_out) {  // QLinearConv without y_scale / y_zp, the bias at input 8
      std::vector<int> ins = {x.q, x.scale, x.zp, w.q, w.scale, w.zp};
      if (b >= 0) ins.insert(ins.end(), {-1, -1, b});
      replace_float_output(i, "QLinearConv", ins);
      return;
    }
    std::vector<int> ins = {x.q, x.scale, x.zp, w.q, w.scale, w.zp, y.scale, y.zp};
    if (b >= 0) ins.push_back(b);
    replace(i, qn, "QLinearConv", ins, n.attrs, "Conv");
  }

  void fuse_linear(int i) {
    const Node n = g_.nodes[i];
    if (!clamp_activation(n)) return;
    const bool gemm = n.op == "Gemm";
    if (gemm && (n.attrs.i("transA", 0) || n.attrs.f("alpha", 1.f) != 1.f || n.attrs.f("beta", 1.f) != 1.f)) return;
    QOperand x, y;
    int qn;
    Weights w;
    const bool transB = gemm && n.attrs.i("transB", 0);
    if (!dq_input(n.inputs[0], x) || !dq_weights(n.inputs.at(1), transB ? 0 : 1, w)) return;
    if (g_.values[w.q].shape.size() != 2) return;
    const int64_t N = g_.values[n.outputs[0]].shape.back();
    if (!q_output(n.outputs[0], y, qn)) {  // QGemm without y_scale (the VNNI GEMM takes K % 4 == 0 there)
      if (!gemm || !float_output_fusable(n, x, w) || g_.values[w.q].shape[transB ? 1 : 0] % 4 != 0) return;
      int b = -1;
      if (!bias_i32(Graph::has_input(n, 2) ? n.inputs[2] : -1, x.s, w.s, N, n.name, b)) return;
      std::vector<int> ins = {x.q, x.scale, x.zp, w.q, w.scale, w.zp};
      if (b >= 0) ins.push_back(b);
      replace_float_output(i, "QGemm", ins);
      return;
    }
    if (!gemm) {
      replace(i, qn, "QLinearMatMul", {x.q, x.scale, x.zp, w.q, w.scale, w.zp, y.scale, y.zp}, n.attrs, "MatMul");
      return;
    }
    int b = -1;
    if (!bias_i32(Graph::has_input(n, 2) ? n.inputs[2] : -1, x.s, w.s, N, n.name, b)) return;
    replace(i, qn, "QGemm", {x.q, x.scale, x.zp, w.q, w.scale, w.zp, b, y.scale, y.zp}, n.attrs, "Gemm");
  }

  void fuse_binary(int i) {
    const Node n = g_.nodes[i];
    if (!clamp_activation(n)) return;
    QOperand a, b, y;
    int qn;
    if (!dq_input(n.inputs[0], a) || !dq_input(n.inputs[1], b) || !q_output(n.outputs[0], y, qn)) return;
    replace(i, qn, n.op == "Add" ? "QLinearAdd" : "QLinearMul", {a.q, a.scale, a.zp, b.q, b.scale, b.zp, y.scale, y.zp},
            n.attrs, n.op.c_str());
  }

  void fuse_unary(int i) {
    const Node n = g_.nodes[i];
    if (n.attrs.has("activation")) return;
    QOperand x, y;
    int qn;
    if (!dq_input(n.inputs[0], x) || !q_output(n.outputs[0], y, qn)) return;
    std::string op = n.op;
    if (op == "AveragePool") {  // one window over the whole image: a global average
      const Shape& xs = g_.values[n.inputs[0]].shape;
      auto k = n.attrs.ints("kernel_shape", {});
      auto p = n.attrs.ints("pads", {0, 0, 0, 0});
      if (xs.size() != 4 || k.size() != 2 || k[0] != xs[1] || k[1] != xs[2] || p != std::vector<int64_t>{0, 0, 0, 0} ||
          n.attrs.i("ceil_mode", 0))
        return;
      op = "GlobalAveragePool";
    }
    if (op == "GlobalAveragePool" && n.attrs.s("layout", "") != "NHWC") return;
    Attrs a;
    if (op == "GlobalAveragePool") a.set("layout", std::string("NHWC"));
    else a = n.attrs;
    replace(i, qn, "QLinear" + op, {x.q, x.scale, x.zp, y.scale, y.zp}, a, n.op.c_str());
  }

  // v is read by node `reader` and otherwise only by DequantizeLinear nodes fusion left unread.
  bool read_only_by(int v, int reader) const {
    auto readers = users(v);
    return std::none_of(readers.begin(), readers.end(), [&](int u) {
      return u != reader && !(g_.nodes[u].op == "DequantizeLinear" && unused(g_, g_.nodes[u].outputs[0]));
    });
  }

  // v = Pad(x) adding channels at the end of the last axis with the value z,
  // read by node `reader` alone: x; else -1.
  int channel_pad_source(int v, int32_t z, int reader) {
    const int p = producer(v, "Pad");
    if (p < 0 || is_graph_output(g_, v) || !read_only_by(v, reader)) return -1;
    const Node& n = g_.nodes[p];
    if (n.attrs.s("mode", "constant") != "constant" || !Graph::has_input(n, 1) || !Graph::has_input(n, 2) ||
        Graph::has_input(n, 3))
      return -1;
    const Value &pv = g_.values[n.inputs[1]], &cv = g_.values[n.inputs[2]];
    if (!pv.is_const() || pv.dtype != DType::i64 || !cv.is_const() || cv.dtype != DType::i8 || cv.data.numel() != 1 ||
        *cv.data.data_as<int8_t>() != z)
      return -1;
    const int64_t rank = int64_t(g_.values[v].shape.size());
    if (pv.data.numel() != 2 * rank) return -1;
    const int64_t* pads = pv.data.data_as<int64_t>();
    for (int64_t k = 0; k + 1 < 2 * rank; ++k)
      if (pads[k] != 0) return -1;
    return pads[2 * rank - 1] > 0 ? n.inputs[0] : -1;
  }

  // 3b. QLinearAdd(QLinearConv(x), r) -> QLinearConv(x, residual r); the
  // conv takes the Add's place in the node order (r is computed before it).
  void fuse_residual(int i) {
    const Node add = g_.nodes[i];
    const int y = add.outputs[0];
    if (!clamp_activation(add) || g_.values[y].dtype != DType::i8) return;
    for (int side = 0; side < 2; ++side) {
      const int cv = add.inputs[side * 3], r = 3 - side * 3;  // conv output; residual operand index
      const int p = producer(cv, "QLinearConv");
      if (p < 0 || add.inputs[r] == cv) continue;  // Add(c, c): c would be gone
      const Node& conv = g_.nodes[p];
      const std::string act = conv.attrs.s("activation", "");
      const bool after = !act.empty() && act != "none";  // residual_after_activation
      if (after && (side == 0 || add.attrs.has("activation"))) continue;
      if (Graph::has_input(conv, 9) || (conv.attrs.i("group", 1) != 1 && !qdwconv_takes_residual(g_, conv))) continue;
      if (g_.values[conv.inputs[3]].dtype != DType::i8 || is_graph_output(g_, cv)) continue;
      if (!read_only_by(cv, i)) continue;
      const Value& rv = g_.values[add.inputs[r]];
      if (rv.dtype != DType::i8 || rv.shape != g_.values[y].shape || g_.values[cv].shape != g_.values[y].shape) continue;
      Node merged = conv;
      merged.inputs.resize(9, -1);
      for (int k : {r, r + 1, r + 2, 6, 7}) merged.inputs.push_back(add.inputs[k]);  // residual, the Add's output parameters
      merged.outputs = add.outputs;
      if (after) merged.attrs.set("residual_after_activation", int64_t(1));
      else copy_activation(add, merged);
      log(r_, "fuse_qdq: " + g_.describe(add) + " folded into " + g_.describe(conv) + " (residual)");
      g_.nodes[p].dead = true;
      g_.nodes[i] = std::move(merged);
      g_.values[y].producer = i;
      ++changes_;
      return;
    }
  }

  // 4b. A residual that is a channel Pad with the residual's zero point
  // (BlazeFace's skip connections into wider blocks) is replaced by the
  // Pad's input: the kernel reads the missing channels as r_zp, and the Pad
  // goes (dead-node elimination).
  void fold_residual_pad(int i) {
    Node& n = g_.nodes[i];
    const int pad = producer(n.inputs[9], "Pad");
    const int x = channel_pad_source(n.inputs[9], *g_.values[n.inputs[11]].data.data_as<int8_t>(), i);
    if (x < 0) return;
    log(r_, "fuse_qdq: " + g_.describe(n) + " reads its residual's channel Pad away");
    n.inputs[9] = x;
    g_.nodes[pad].dead = true;  // read by n alone
    ++changes_;
  }

  // 4c. A residual that is a 2x2 stride-2 MaxPool without padding, read by
  // the conv alone (BlazeFace's stride-2 blocks, after 4b), is replaced by
  // the MaxPool's input: the kernel takes the max of each 2x2 window
  // (attribute residual_pool = 2), and the MaxPool goes.
  void fold_residual_maxpool(int i) {
    Node& n = g_.nodes[i];
    const int v = n.inputs[9], p = producer(v, "MaxPool");
    if (p < 0 || is_graph_output(g_, v) || !read_only_by(v, i) || n.attrs.has("residual_pool") ||
        n.attrs.i("group", 1) != 1)  // the depthwise kernel takes no pooled residual
      return;
    const Node& mp = g_.nodes[p];
    const Shape &xs = g_.values[mp.inputs[0]].shape, &ys = g_.values[v].shape;
    auto all = [&](const char* k, int64_t want) {
      for (int64_t a : mp.attrs.ints(k, {})) if (a != want) return false;
      return true;
    };
    if (mp.attrs.s("layout", "") != "NHWC" || (mp.outputs.size() > 1 && mp.outputs[1] >= 0) || xs.size() != 4 ||
        ys.size() != 4 || mp.attrs.ints("kernel_shape", {}) != std::vector<int64_t>{2, 2} ||
        mp.attrs.ints("strides", {}) != std::vector<int64_t>{2, 2} || !all("pads", 0) || !all("dilations", 1) ||
        xs[0] != ys[0] || xs[1] / 2 != ys[1] || xs[2] / 2 != ys[2] || xs[3] != ys[3])
      return;
    log(r_, "fuse_qdq: " + g_.describe(n) + " reads its residual's 2x2 MaxPool away");
    n.inputs[9] = mp.inputs[0];
    n.attrs.set("residual_pool", int64_t(2));
    g_.nodes[p].dead = true;
    ++changes_;
  }

  // 4. Q(DQ(q)) with equal parameters is q.
  void cancel_pairs() {
    int n = 0;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      Node& q = g_.nodes[i];
      if (q.dead || q.op != "QuantizeLinear") continue;
      QOperand in, out;
      const int y = q.outputs[0];
      if (!dq_input(q.inputs[0], in) || !read_operand(q, y, out) || !in.same(out)) continue;
      if (is_graph_output(g_, y)) continue;  // the output keeps its own value
      q.dead = true;
      g_.replace_uses(y, in.q);
      ++n;
    }
    if (n) log(r_, "fuse_qdq: " + std::to_string(n) + " QuantizeLinear(DequantizeLinear(q)) pair(s) with equal parameters removed");
    changes_ += n;
  }
};
}  // namespace

// 5. DequantizeLinear nodes whose inputs are all constants become float32
// constants (those nobody reads, the weights of a fused op, just go).
int fold_const_dequantize(Graph& g, OptimizeReport& r) {
  int n = 0;
  for (Node& node : g.nodes) {
    if (node.dead || node.op != "DequantizeLinear") continue;
    if (!std::all_of(node.inputs.begin(), node.inputs.end(), [&](int v) { return v < 0 || g.values[v].is_const(); }))
      continue;
    node.dead = true;
    if (unused(g, node.outputs[0])) continue;
    const Value& x = g.in(node, 0);
    QuantParams p = const_qparams(g, node, 1, 2, node.attrs.i("axis", 1), x.shape, x.dtype, g.describe(node));
    Value& y = g.out(node, 0);
    y.data = dequantize_tensor(x.data, p);
    y.shape = y.data.shape();
    y.dtype = DType::f32;
    y.producer = -1;
    ++n;
  }
  if (n) log(r, "fuse_qdq: " + std::to_string(n) + " DequantizeLinear of constants folded to float32");
  return n;
}

int fuse_qdq(Graph& g, OptimizeReport& r) { return Fuser(g, r).run(); }

}  // namespace ef
