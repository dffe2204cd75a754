// Layout lowering: NCHW -> NHWC once at the graph's edges.
//
// Every value is either held in its original (ONNX, NCHW) order or
// "permuted": a 4-D value stored as NHWC (Transpose perm [0,2,3,1] of its
// logical NCHW self). Walking the nodes in topological order:
//   * spatial ops take their 4-D activation input permuted and get
//     layout=NHWC; their outputs are permuted;
//   * layout-free ops reading a permuted value are rewritten in place (axes
//     remapped, constant operands expanded/permuted) and produce permuted
//     values;
//   * everything else (Reshape, Flatten, MatMul, unknown ops ...) gets its
//     permuted inputs converted back, by a Reshape when only size-1
//     dimensions move, else by a Transpose;
//   * graph outputs that end permuted get a final conversion, so the names,
//     shapes and layout the user sees never change.
// A value is converted at most once in each direction (cached). Nodes that
// already carry layout=NHWC (TFLite) are left as they are.
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/ops/infer_util.h"
#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

namespace {
using namespace passes;

constexpr int64_t kCL[4] = {0, 2, 3, 1};  // NCHW -> NHWC; stored[i] = logical[kCL[i]]
constexpr int64_t kCF[4] = {0, 3, 1, 2};  // NHWC -> NCHW; logical axis a is stored at kCF[a]

Shape permute(const Shape& s, const int64_t* p) {
  Shape r(4);
  for (int i = 0; i < 4; ++i) r[i] = s[p[i]];
  return r;
}

// True if transposing a tensor of shape `src` by `p` keeps its memory order
// (only size-1 dimensions move).
bool only_unit_dims_move(const Shape& src, const int64_t* p) {
  int64_t last = -1;
  for (int i = 0; i < 4; ++i)
    if (src[p[i]] != 1) {
      if (p[i] < last) return false;
      last = p[i];
    }
  return true;
}

// 4-D transpose of a constant of any dtype: out[i] = in[...] with out dim i = in dim p[i].
Tensor transpose_tensor(const Tensor& t, const int64_t* p) {
  const Shape& s = t.shape();
  Shape os = permute(s, p);
  Tensor o(t.dtype(), os);
  o.quant = t.quant;
  if (o.quant.axis >= 0 && o.quant.axis < 4) o.quant.axis = int(kCF[o.quant.axis]);  // per-channel axis moves too
  const size_t esz = dtype_size(t.dtype());
  int64_t st[4];
  st[3] = 1;
  for (int i = 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  const auto* src = static_cast<const uint8_t*>(t.data());
  auto* dst = static_cast<uint8_t*>(o.data());
  size_t k = 0;
  for (int64_t a = 0; a < os[0]; ++a)
    for (int64_t b = 0; b < os[1]; ++b)
      for (int64_t c = 0; c < os[2]; ++c)
        for (int64_t d = 0; d < os[3]; ++d, ++k) {
          const int64_t off = a * st[p[0]] + b * st[p[1]] + c * st[p[2]] + d * st[p[3]];
          std::memcpy(dst + k * esz, src + off * esz, esz);
        }
  return o;
}

Tensor gather_1d(const Tensor& t, const std::vector<int64_t>& idx) {
  Tensor o(t.dtype(), {int64_t(idx.size())});
  const size_t esz = dtype_size(t.dtype());
  for (size_t i = 0; i < idx.size(); ++i)
    std::memcpy(static_cast<uint8_t*>(o.data()) + i * esz, static_cast<const uint8_t*>(t.data()) + idx[i] * esz, esz);
  return o;
}

std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> r(size_t(t.numel()));
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = t.dtype() == DType::i64 ? t.data_as<int64_t>()[i] : int64_t(t.data_as<int32_t>()[i]);
  return r;
}

Tensor ints_like(const Tensor& like, const std::vector<int64_t>& v) {
  if (like.dtype() == DType::i32) {
    std::vector<int32_t> w(v.begin(), v.end());
    return Tensor::from<int32_t>({int64_t(w.size())}, w);
  }
  return Tensor::from<int64_t>({int64_t(v.size())}, v);
}

const std::set<std::string> kSpatial = {"Conv",          "ConvTranspose", "MaxPool",      "AveragePool",
                                        "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
                                        "Resize",        "DepthToSpace",  "SpaceToDepth"};
const std::set<std::string> kUnary = {
    "Relu",  "Sigmoid", "Tanh",     "HardSwish", "HardSigmoid", "LeakyRelu", "Elu",   "Selu",     "Celu",
    "Exp",   "Log",     "Sqrt",     "Abs",       "Neg",         "Reciprocal", "Floor", "Ceil",     "Round",
    "Erf",   "Softplus", "Softsign", "Sin",      "Cos",         "Identity",  "Dropout", "Cast",    "Not",
    "Sign",  "Gelu",    "Mish",     "ThresholdedRelu", "Clip",  "IsNaN",     "IsInf",
    "QuantizeLinear", "DequantizeLinear"};  // per-tensor (scalar params); per-axis falls back
const std::set<std::string> kBinary = {"Add",     "Sub",   "Mul",     "Div",          "Pow",           "Max",
                                       "Min",     "Sum",   "Mean",    "Equal",        "Less",          "Greater",
                                       "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "PRelu", "Mod"};
const std::set<std::string> kReduce = {"ReduceMean", "ReduceSum", "ReduceMax",       "ReduceMin",      "ReduceProd",
                                       "ReduceL1",   "ReduceL2",  "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum"};
const std::set<std::string> kSoftmax = {"Softmax", "LogSoftmax", "Hardmax"};

struct In {
  int id = -1;
  bool perm = false;
};

class Lowering {
 public:
  Lowering(Graph& g, OptimizeReport& r) : g_(g), r_(r) {}

  int run() {
    g_.topo_sort();
    const size_t n0 = g_.nodes.size();
    for (size_t i = 0; i < n0; ++i) {
      if (g_.nodes[i].dead) continue;
      Node n = g_.nodes[i];  // a copy: emitting nodes may reallocate g_.nodes
      process(n);
      const bool keep = !n.dead;
      g_.nodes[i] = std::move(n);
      if (keep) order_.push_back(int(i));
    }
    finish_outputs();
    std::vector<Node> nodes;
    std::vector<char> placed(g_.nodes.size(), 0);
    for (int i : order_) {
      nodes.push_back(std::move(g_.nodes[i]));
      placed[i] = 1;
    }
    for (size_t i = 0; i < placed.size(); ++i)
      if (!placed[i]) {
        g_.nodes[i].dead = true;
        nodes.push_back(std::move(g_.nodes[i]));
      }
    g_.nodes = std::move(nodes);
    g_.compact();
    return transposes_;
  }

 private:
  Graph& g_;
  OptimizeReport& r_;
  std::set<int> permuted_;
  std::map<int, Shape> logical_;  // logical (NCHW) shape of permuted values
  std::map<int, In> subst_;       // outputs of removed Transposes
  std::map<int, int> cl_cache_, cf_cache_, const_cache_;
  std::vector<int> order_;
  int transposes_ = 0;

  In get(int v) const {
    if (v < 0) return {};
    auto it = subst_.find(v);
    if (it != subst_.end()) return it->second;
    return {v, permuted_.count(v) != 0};
  }
  bool known(In x) const { return x.id >= 0 && (x.perm || g_.values[x.id].shape_known); }
  const Shape& lshape(In x) const { return x.perm ? logical_.at(x.id) : g_.values[x.id].shape; }
  bool rank4(In x) const { return known(x) && lshape(x).size() == 4; }
  bool out_rank4(int v) const { return v >= 0 && g_.values[v].shape_known && g_.values[v].shape.size() == 4; }

  void mark_cl(int v) {
    Shape s = g_.values[v].shape;
    logical_[v] = s;
    permuted_.insert(v);
    g_.values[v].shape = permute(s, kCL);
  }

  int new_node(const std::string& op, const std::string& base, std::vector<int> ins, DType dt, Shape shape,
               Attrs a) {
    std::string name = g_.unique_name(base);
    int o = g_.add_value(name, dt, std::move(shape), true);
    int n = g_.add_node(op, name, std::move(ins), {o}, std::move(a));
    order_.push_back(n);
    return o;
  }

  // Reorders value v (actual shape src) by perm p: a Reshape if only size-1
  // dimensions move (or nothing if the shape is unchanged), else a Transpose.
  int relayout(int v, const Shape& src, const int64_t* p, const char* suffix, int out = -1) {
    Shape dst = permute(src, p);
    const Value& val = g_.values[v];
    const std::string base = val.name + suffix;
    const DType dt = val.dtype;
    const QuantParams q = val.quant;
    int res;
    if (only_unit_dims_move(src, p)) {
      if (dst == src && out < 0) return v;
      int s = g_.add_const(g_.unique_name(base + "_shape"), Tensor::from<int64_t>({4}, dst));
      res = emit("Reshape", base, {v, s}, dt, dst, {}, out);
      log(r_, "to_nhwc: inserted Reshape '" + g_.nodes.back().name + "' " + shape_str(src) + " -> " +
                  shape_str(dst) + " (only size-1 dims move)");
    } else {
      Attrs a;
      a.set("perm", std::vector<int64_t>(p, p + 4));
      res = emit("Transpose", base, {v}, dt, dst, std::move(a), out);
      ++transposes_;
      log(r_, "to_nhwc: inserted Transpose '" + g_.nodes.back().name + "' for '" + g_.values[v].name + "' " +
                  (p == kCL ? "NCHW->NHWC" : "NHWC->NCHW"));
    }
    g_.values[res].quant = q;
    return res;
  }
  int emit(const std::string& op, const std::string& base, std::vector<int> ins, DType dt, Shape shape, Attrs a,
           int out) {
    if (out < 0) return new_node(op, base, std::move(ins), dt, std::move(shape), std::move(a));
    int n = g_.add_node(op, g_.unique_name(base), std::move(ins), {out}, std::move(a));
    order_.push_back(n);
    return out;
  }

  // A rank-4 value in NHWC.
  int to_cl(In x) {
    if (x.perm) return x.id;
    auto it = cl_cache_.find(x.id);
    if (it != cl_cache_.end()) return it->second;
    const Value& v = g_.values[x.id];
    const Shape logical = v.shape;
    int res;
    if (v.is_const()) {
      Tensor t = transpose_tensor(v.data, kCL);
      res = g_.add_const(g_.unique_name(v.name + "_nhwc"), std::move(t));
    } else {
      res = relayout(x.id, logical, kCL, "_nhwc");
    }
    cl_cache_[x.id] = res;
    if (res != x.id) {
      permuted_.insert(res);
      logical_[res] = logical;
      cf_cache_[res] = x.id;
    }
    return res;
  }

  // A value in its original order.
  int to_cf(In x) {
    if (!x.perm) return x.id;
    auto it = cf_cache_.find(x.id);
    if (it != cf_cache_.end()) return it->second;
    int res = relayout(x.id, g_.values[x.id].shape, kCF, "_nchw");
    cf_cache_[x.id] = res;
    if (res != x.id) cl_cache_[res] = x.id;
    return res;
  }

  // An operand (rank <= 4) of a broadcasting op whose output is rank 4, in NHWC.
  int operand_cl(In x) {
    if (x.perm) return x.id;
    const Value& v = g_.values[x.id];
    if (v.shape.size() == 4) return to_cl(x);
    if (v.is_const() && v.data.numel() == 1) return x.id;  // broadcasts the same in any order
    Shape s4 = v.shape;
    s4.insert(s4.begin(), 4 - s4.size(), 1);
    if (v.is_const()) {
      auto it = const_cache_.find(x.id);
      if (it != const_cache_.end()) return it->second;
      Tensor t = transpose_tensor(v.data.reshaped(s4), kCL);
      int res = g_.add_const(g_.unique_name(v.name + "_nhwc"), std::move(t));
      permuted_.insert(res);
      logical_[res] = s4;
      const_cache_[x.id] = res;
      return res;
    }
    auto it = cl_cache_.find(x.id);
    if (it != cl_cache_.end()) return it->second;
    const std::string name = v.name;
    const DType dt = v.dtype;
    int s = g_.add_const(g_.unique_name(name + "_4d_shape"), Tensor::from<int64_t>({4}, s4));
    int r4 = new_node("Reshape", name + "_4d", {x.id, s}, dt, s4, {});
    int res = to_cl({r4, false});
    cl_cache_[x.id] = res;
    return res;
  }

  int axis_cl(int64_t a) const { return int(kCF[a]); }

  // ---- per-node rewriting
  void process(Node& n) {
    std::vector<In> ins;
    bool any_perm = false;
    for (int& v : n.inputs) {
      ins.push_back(get(v));
      v = ins.back().id;  // outputs of removed Transposes read their source
      any_perm |= ins.back().perm;
    }
    if (n.attrs.s("layout", "") == "NHWC") return fallback(n, ins);
    if (kSpatial.count(n.op) && spatial(n, ins)) return;
    if (!any_perm && n.op == "Transpose" && nhwc_to_nchw(n, ins[0])) return;
    if (!any_perm) return;
    bool ok = false;
    if (kUnary.count(n.op)) ok = unary(n, ins);
    else if (kBinary.count(n.op)) ok = binary(n, ins);
    else if (n.op == "Concat") ok = concat(n, ins);
    else if (n.op == "Split") ok = split(n, ins);
    else if (kSoftmax.count(n.op)) ok = softmax(n, ins);
    else if (n.op == "Slice") ok = slice(n, ins);
    else if (n.op == "Pad") ok = pad(n, ins);
    else if (kReduce.count(n.op)) ok = reduce(n, ins);
    else if (n.op == "Gather") ok = gather(n, ins);
    else if (n.op == "Transpose") ok = transpose(n, ins);
    if (!ok) fallback(n, ins);
  }

  void fallback(Node& n, const std::vector<In>& ins) {
    for (size_t k = 0; k < ins.size(); ++k)
      if (ins[k].perm) n.inputs[k] = to_cf(ins[k]);
  }

  bool others_original(const std::vector<In>& ins, size_t from) const {
    for (size_t k = from; k < ins.size(); ++k)
      if (ins[k].perm) return false;
    return true;
  }
  bool outputs_rank4(const Node& n) const {
    for (int o : n.outputs)
      if (o >= 0 && !out_rank4(o)) return false;
    return true;
  }
  void mark_outputs(const Node& n) {
    for (int o : n.outputs)
      if (o >= 0) mark_cl(o);
  }

  // Resize inputs: X, roi, scales, sizes (opset 11+) or X, scales (opset 10).
  static bool is_roi(const Node& n, size_t k) { return k == 1 && n.inputs.size() > 2; }

  bool spatial(Node& n, const std::vector<In>& ins) {
    if (ins.empty() || !rank4(ins[0]) || !outputs_rank4(n)) return false;
    if (n.op == "MaxPool" && n.outputs.size() > 1 && n.outputs[1] >= 0 && !unused(g_, n.outputs[1])) return false;
    const bool resize = n.op == "Resize";
    bool resize_axes = false;
    if (resize) {
      resize_axes = n.attrs.has("axes");
      for (size_t k = 1; k < 4 && k < ins.size(); ++k) {
        if (ins[k].id < 0 || resize_axes) continue;
        const Value& v = g_.values[ins[k].id];
        if (!v.shape_known || v.shape.size() != 1) return false;
        if (v.shape[0] != 0 && v.shape[0] != (is_roi(n, k) ? 8 : 4)) return false;
      }
    }
    n.inputs[0] = to_cl(ins[0]);
    if (resize) {
      if (resize_axes) {
        auto axes = n.attrs.ints("axes");
        for (auto& a : axes) a = axis_cl(normalize_axis(a, 4));
        n.attrs.set("axes", axes);
      } else {
        for (size_t k = 1; k < 4 && k < ins.size(); ++k) {
          if (ins[k].id < 0) continue;
          const Value& v = g_.values[ins[k].id];
          if (v.shape[0] == 0) continue;
          std::vector<int64_t> idx(kCL, kCL + 4);
          if (is_roi(n, k))
            for (int i = 0; i < 4; ++i) idx.push_back(4 + kCL[i]);
          n.inputs[k] = permute_vector(ins[k].id, idx);
        }
      }
    } else {
      for (size_t k = 1; k < ins.size(); ++k)
        if (ins[k].perm) n.inputs[k] = to_cf(ins[k]);
    }
    n.attrs.set("layout", std::string("NHWC"));
    mark_outputs(n);
    ++r_.layout_converted;
    log(r_, "to_nhwc: " + g_.describe(n) + " -> NHWC");
    return true;
  }

  // A 1-D vector reordered by idx: a new constant, or a Gather for runtime values.
  int permute_vector(int v, const std::vector<int64_t>& idx) {
    const Value& val = g_.values[v];
    if (val.is_const()) {
      Tensor t = gather_1d(val.data, idx);
      return g_.add_const(g_.unique_name(val.name + "_nhwc"), std::move(t));
    }
    const std::string name = val.name;
    const DType dt = val.dtype;
    int iv = g_.add_const(g_.unique_name(name + "_nhwc_idx"), Tensor::from<int64_t>({int64_t(idx.size())}, idx));
    Attrs a;
    a.set("axis", int64_t(0));
    return new_node("Gather", name + "_nhwc", {v, iv}, dt, {int64_t(idx.size())}, std::move(a));
  }

  bool unary(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !others_original(ins, 1) || !outputs_rank4(n)) return false;
    for (size_t k = 1; k < ins.size(); ++k)
      if (ins[k].id >= 0 && known(ins[k]) && numel(lshape(ins[k])) != 1 && n.op != "Dropout") return false;
    mark_outputs(n);
    return true;
  }

  bool binary(Node& n, const std::vector<In>& ins) {
    if (n.outputs.size() != 1 || !out_rank4(n.outputs[0])) return false;
    for (const In& x : ins)
      if (x.id < 0 || !known(x) || lshape(x).size() > 4) return false;
    for (size_t k = 0; k < ins.size(); ++k) n.inputs[k] = operand_cl(ins[k]);
    mark_outputs(n);
    return true;
  }

  bool concat(Node& n, const std::vector<In>& ins) {
    if (!outputs_rank4(n)) return false;
    for (const In& x : ins)
      if (!rank4(x)) return false;
    const int64_t a = normalize_axis(n.attrs.i("axis"), 4);
    for (size_t k = 0; k < ins.size(); ++k) n.inputs[k] = operand_cl(ins[k]);
    n.attrs.set("axis", int64_t(axis_cl(a)));
    mark_outputs(n);
    return true;
  }

  bool split(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !others_original(ins, 1) || !outputs_rank4(n)) return false;
    const int64_t a = normalize_axis(n.attrs.i("axis", 0), 4);
    n.attrs.set("axis", int64_t(axis_cl(a)));
    mark_outputs(n);
    return true;
  }

  bool softmax(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !outputs_rank4(n)) return false;
    const int64_t a = normalize_axis(n.attrs.i("axis", -1), 4);
    n.attrs.set("axis", int64_t(axis_cl(a)));
    mark_outputs(n);
    return true;
  }

  bool slice(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !others_original(ins, 1) || !outputs_rank4(n)) return false;
    if (n.attrs.has("starts")) {  // opset < 10: attributes
      auto starts = n.attrs.ints("starts");
      auto axes = n.attrs.ints("axes");
      if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
      for (auto& a : axes) a = axis_cl(normalize_axis(a, 4));
      n.attrs.set("axes", axes);
      mark_outputs(n);
      return true;
    }
    std::vector<int64_t> axes;
    Tensor like = Tensor::from<int64_t>({0}, std::vector<int64_t>{});
    if (Graph::has_input(n, 3)) {
      const Value& av = g_.in(n, 3);
      if (!av.is_const() || (av.dtype != DType::i64 && av.dtype != DType::i32)) return false;
      axes = ints_of(av.data);
      like = av.data;
    } else {
      if (!Graph::has_input(n, 1) || !g_.in(n, 1).shape_known || g_.in(n, 1).shape.size() != 1) return false;
      for (int64_t i = 0; i < g_.in(n, 1).shape[0]; ++i) axes.push_back(i);
    }
    for (auto& a : axes) a = axis_cl(normalize_axis(a, 4));
    const std::string base = n.name + "_axes_nhwc";
    int av = g_.add_const(g_.unique_name(base), ints_like(like, axes));
    if (n.inputs.size() < 4) n.inputs.resize(4, -1);
    n.inputs[3] = av;
    mark_outputs(n);
    return true;
  }

  bool pad(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !others_original(ins, 1) || !outputs_rank4(n)) return false;
    auto remap_pads = [&](const std::vector<int64_t>& p) {
      std::vector<int64_t> q(8);
      for (int a = 0; a < 4; ++a) {
        q[axis_cl(a)] = p[a];
        q[4 + axis_cl(a)] = p[4 + a];
      }
      return q;
    };
    if (Graph::has_input(n, 3)) {  // opset 18 axes
      const Value& av = g_.in(n, 3);
      if (!av.is_const()) return false;
      auto axes = ints_of(av.data);
      for (auto& a : axes) a = axis_cl(normalize_axis(a, 4));
      n.inputs[3] = g_.add_const(g_.unique_name(n.name + "_axes_nhwc"), ints_like(av.data, axes));
    } else if (Graph::has_input(n, 1)) {
      const Value& pv = g_.in(n, 1);
      if (!pv.is_const() || pv.data.numel() != 8 || (pv.dtype != DType::i64 && pv.dtype != DType::i32)) return false;
      n.inputs[1] = g_.add_const(g_.unique_name(n.name + "_pads_nhwc"), ints_like(pv.data, remap_pads(ints_of(pv.data))));
    } else if (n.attrs.has("pads")) {
      auto p = n.attrs.ints("pads");
      if (p.size() != 8) return false;
      n.attrs.set("pads", remap_pads(p));
    } else {
      return false;
    }
    mark_outputs(n);
    return true;
  }

  bool reduce(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || !others_original(ins, 1) || n.outputs.size() != 1) return false;
    const int y = n.outputs[0];
    if (y < 0 || !g_.values[y].shape_known) return false;
    std::vector<int64_t> axes;
    bool from_input = false;
    Tensor like;
    if (n.attrs.has("axes")) {
      axes = n.attrs.ints("axes");
    } else if (Graph::has_input(n, 1)) {
      const Value& av = g_.in(n, 1);
      if (!av.is_const()) return false;
      axes = ints_of(av.data);
      like = av.data;
      from_input = true;
    }
    const bool keep = n.attrs.i("keepdims", 1) != 0;
    const bool noop = axes.empty() && n.attrs.i("noop_with_empty_axes", 0) != 0;
    std::vector<char> reduced(4, 0);
    for (auto& a : axes) {
      a = normalize_axis(a, 4);
      reduced[a] = 1;
    }
    if (axes.empty() && !noop) reduced.assign(4, 1);
    bool out_perm = keep || noop;
    if (!out_perm) {
      // The kept dims must come out in the same relative order in both layouts.
      int last = -1;
      for (int a = 0; a < 4; ++a)
        if (!reduced[a]) {
          if (axis_cl(a) < last) return false;
          last = axis_cl(a);
        }
    }
    if (out_perm && !out_rank4(y)) return false;
    std::vector<int64_t> na;
    for (auto a : axes) na.push_back(axis_cl(a));
    if (from_input) n.inputs[1] = g_.add_const(g_.unique_name(n.name + "_axes_nhwc"), ints_like(like, na));
    else if (n.attrs.has("axes")) n.attrs.set("axes", na);
    if (out_perm) mark_outputs(n);
    return true;
  }

  bool gather(Node& n, const std::vector<In>& ins) {
    if (ins.size() < 2 || !ins[0].perm || ins[1].perm || !known(ins[1]) || n.outputs.size() != 1) return false;
    const int64_t a = normalize_axis(n.attrs.i("axis", 0), 4);
    const size_t q = lshape(ins[1]).size();
    bool out_perm;
    if (q == 1) out_perm = true;
    else if (q == 0 && a == 1) out_perm = false;
    else return false;
    if (out_perm && !out_rank4(n.outputs[0])) return false;
    n.attrs.set("axis", int64_t(axis_cl(a)));
    if (out_perm) mark_outputs(n);
    return true;
  }

  bool transpose(Node& n, const std::vector<In>& ins) {
    if (!ins[0].perm || n.outputs.size() != 1) return false;
    auto p = n.attrs.ints("perm", {3, 2, 1, 0});
    if (p.size() != 4) return false;
    std::vector<int64_t> q(4);
    bool identity = true;
    for (int i = 0; i < 4; ++i) {
      q[i] = axis_cl(normalize_axis(p[i], 4));
      identity &= q[i] == i;
    }
    const int y = n.outputs[0];
    if (identity) {
      if (is_graph_output(g_, y)) {
        n.op = "Identity";
        n.attrs = Attrs();
      } else {
        subst_[y] = {ins[0].id, false};
        n.dead = true;
      }
      log(r_, "to_nhwc: " + g_.describe(n) + " cancels the layout change; removed");
      ++r_.removed;
      return true;
    }
    n.attrs.set("perm", q);
    return true;
  }

  // Transpose [0,3,1,2] of an NHWC value (ONNX written from channels-last
  // graphs, e.g. converted TFLite): its output is that value, permuted.
  bool nhwc_to_nchw(Node& n, In x) {
    const int y = n.outputs[0];
    if (n.attrs.ints("perm", {}) != std::vector<int64_t>{0, 3, 1, 2} || !known(x) || lshape(x).size() != 4 ||
        is_graph_output(g_, y) || g_.values[x.id].is_const())
      return false;
    logical_[x.id] = permute(g_.values[x.id].shape, kCF);
    subst_[y] = {x.id, true};
    n.dead = true;
    log(r_, "to_nhwc: " + g_.describe(n) + " only restores NCHW order; removed");
    ++r_.removed;
    return true;
  }

  void finish_outputs() {
    std::set<int> done;
    for (size_t j = 0; j < g_.outputs.size(); ++j) {
      const int y = g_.outputs[j];
      if (!permuted_.count(y) || done.count(y)) continue;
      done.insert(y);
      const Shape stored = g_.values[y].shape, logical = logical_.at(y);
      if (stored == logical && only_unit_dims_move(stored, kCF)) continue;  // same bytes, same shape
      const std::string yname = g_.values[y].name;
      int t = g_.add_value(g_.unique_name(yname + "_nhwc"), g_.values[y].dtype, stored, true);
      g_.values[t].quant = g_.values[y].quant;
      for (Node& n : g_.nodes) {
        for (int& v : n.inputs)
          if (v == y) v = t;
        for (int& v : n.outputs)
          if (v == y) v = t;
      }
      permuted_.insert(t);
      logical_[t] = logical;
      auto it = cf_cache_.find(y);
      if (it != cf_cache_.end() && it->second != y) {
        // Some node already converted it back: that conversion now produces the output.
        const int z = it->second;
        for (Node& n : g_.nodes) {
          for (int& v : n.inputs)
            if (v == z) v = y;
          for (int& v : n.outputs)
            if (v == z) v = y;
        }
      } else {
        relayout(t, stored, kCF, "_nchw", y);
      }
      g_.values[y].shape = logical;
      g_.values[y].shape_known = true;
    }
  }
};
}  // namespace

int to_nhwc(Graph& g, OptimizeReport& report) { return Lowering(g, report).run(); }

}  // namespace ef
