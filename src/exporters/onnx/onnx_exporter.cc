#include "exporters/onnx/onnx_exporter.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace ef {

namespace {

int onnx_dtype(DType t) {
  switch (t) {
    case DType::f32: return onnx::TensorProto::FLOAT;
    case DType::f16: return onnx::TensorProto::FLOAT16;
    case DType::i8: return onnx::TensorProto::INT8;
    case DType::u8: return onnx::TensorProto::UINT8;
    case DType::i32: return onnx::TensorProto::INT32;
    case DType::i64: return onnx::TensorProto::INT64;
    case DType::boolean: return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

void fill_tensor(onnx::TensorProto& tp, const Tensor& t, const std::string& name) {
  tp.set_name(name);
  tp.set_data_type(onnx_dtype(t.dtype()));
  for (int64_t d : t.shape()) tp.add_dims(d);
  if (t.numel() > 0) tp.set_raw_data(t.data(), t.nbytes());  // host is little-endian, as ONNX raw data
  else tp.set_raw_data(std::string());
}

bool is_edgeflow_attr(const std::string& k) { return k == "layout" || k == "activation" || k.rfind("act_", 0) == 0; }

// Spatial ops whose input 0 / output 0 are activations in the node's layout.
bool is_spatial(const std::string& op) {
  static const std::unordered_set<std::string> s = {
      "Conv",          "ConvTranspose", "MaxPool",      "AveragePool",  "GlobalAveragePool", "GlobalMaxPool",
      "BatchNormalization", "Resize",   "DepthToSpace", "SpaceToDepth", "LpPool",            "GlobalLpPool",
      "InstanceNormalization", "LRN",   "Upsample",     "QLinearConv",  "QLinearGlobalAveragePool", "QLinearAveragePool"};
  return s.count(op) != 0;
}

class Exporter {
 public:
  explicit Exporter(const Graph& g) : g_(g) {}

  onnx::ModelProto run() {
    g_.topo_sort();
    m_.set_ir_version(7);
    m_.set_producer_name("edgeflow");
    m_.set_producer_version("0.1");
    auto* os = m_.add_opset_import();
    os->set_domain("");
    os->set_version(13);
    gp_ = m_.mutable_graph();
    gp_->set_name(g_.name.empty() ? "edgeflow" : g_.name);

    // Names: unique, stable (the IR's where possible).
    name_.assign(g_.values.size(), "");
    auto name_value = [&](int v) {
      if (v < 0 || !name_[v].empty()) return;
      std::string base = g_.values[v].name.empty() ? "v" + std::to_string(v) : g_.values[v].name;
      name_[v] = fresh(base);
    };
    for (int v : g_.inputs) name_value(v);
    for (const auto& n : g_.nodes) {
      if (n.dead) continue;
      for (int v : n.inputs) name_value(v);
      for (int v : n.outputs) name_value(v);
    }
    for (int v : g_.outputs) name_value(v);
    for (const auto& n : g_.nodes) node_names_.insert(n.name);

    // Which values are needed in the IR's own layout (anything but input 0
    // of an NHWC spatial op, which reads the NCHW copy).
    need_ir_.assign(g_.values.size(), 0);
    for (const auto& n : g_.nodes) {
      if (n.dead) continue;
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (n.inputs[k] >= 0 && !(k == 0 && nhwc(n))) need_ir_[n.inputs[k]] = 1;
    }
    for (int v : g_.outputs) need_ir_[v] = 1;

    for (int v : g_.inputs) value_info(gp_->add_input(), v, name_[v]);
    std::vector<char> done(g_.values.size(), 0);
    auto add_init = [&](int v) {
      if (v < 0 || done[v] || !g_.values[v].is_const()) return;
      done[v] = 1;
      fill_tensor(*gp_->add_initializer(), g_.values[v].data, name_[v]);
    };
    for (const auto& n : g_.nodes) {
      if (n.dead) continue;
      for (int v : n.inputs) add_init(v);
    }
    for (const auto& n : g_.nodes)
      if (!n.dead) emit(n);
    for (int v : g_.outputs) {
      const Value& val = g_.values[v];
      if (val.is_const()) {  // a constant output: initializer + Identity
        std::string c = fresh(name_[v] + "/value");
        fill_tensor(*gp_->add_initializer(), val.data, c);
        node("Identity", fresh_node(name_[v] + "/identity"), {c}, {name_[v]});
      }
      value_info(gp_->add_output(), v, name_[v]);
    }
    drop_unused_initializers();
    for (const std::string& d : domains_) {
      auto* od = m_.add_opset_import();
      od->set_domain(d);
      od->set_version(1);
    }
    fill_output_shapes();
    try {
      onnx::checker::check_model(m_);
    } catch (const std::exception& e) {
      throw Error("ONNX export of graph '" + gp_->name() + "' produced an invalid model: " + e.what());
    }
    return std::move(m_);
  }

 private:
  Graph g_;  // a copy: topologically sorted
  onnx::ModelProto m_;
  onnx::GraphProto* gp_ = nullptr;
  std::vector<std::string> name_;
  std::unordered_set<std::string> used_, node_names_;
  std::unordered_map<int, std::string> nchw_;  // NHWC value -> name of its NCHW copy
  std::set<std::string> domains_;               // non-default operator domains used

  // ONNX Runtime's quantized operators live in com.microsoft; edgeflow's own in ai.edgeflow.
  static const char* op_domain(const std::string& op) {
    static const std::unordered_set<std::string> ms = {"QLinearAdd",     "QLinearMul",       "QLinearGlobalAveragePool",
                                                       "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat",
                                                       "QGemm",          "QLinearAveragePool"};
    if (ms.count(op)) return "com.microsoft";
    if (op == "QLinearHardSwish" || op == "QLinearHardSigmoid") return "ai.edgeflow";
    return nullptr;
  }
  std::vector<char> need_ir_;

  // Constants an emitted node replaced by a rewritten copy (e.g. Resize sizes
  // reordered from NHWC to NCHW) would otherwise stay behind as unused
  // initializers, which ONNX Runtime warns about.
  void drop_unused_initializers() {
    std::unordered_set<std::string> read;
    for (const auto& n : gp_->node())
      for (const auto& in : n.input()) read.insert(in);
    for (const auto& o : gp_->output()) read.insert(o.name());
    auto* inits = gp_->mutable_initializer();
    for (int i = inits->size() - 1; i >= 0; --i)
      if (!read.count(inits->Get(i).name())) inits->DeleteSubrange(i, 1);
  }

  // ONNX requires a shape on every graph output. Outputs whose shape the IR
  // does not know (graph not shape-inferred) get, in this order: the shape
  // the source file declared, ONNX's own inferred shape, or the rank from
  // edgeflow's shape inference (with unknown dimensions).
  void fill_output_shapes() {
    std::vector<int> missing;
    for (int i = 0; i < gp_->output_size(); ++i)
      if (!gp_->output(i).type().tensor_type().has_shape()) missing.push_back(i);
    if (missing.empty()) return;
    onnx::ModelProto inferred = m_;
    try {
      onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(false, 0, true));
    } catch (const std::exception&) {
      // what could be inferred is kept; the rest is tried below
    }
    std::unordered_map<std::string, const onnx::TypeProto*> types;
    for (const auto& vi : inferred.graph().value_info()) types[vi.name()] = &vi.type();
    for (const auto& vi : inferred.graph().output()) types[vi.name()] = &vi.type();
    std::optional<Graph> ef_inferred;
    for (int i : missing) {
      auto* out = gp_->mutable_output(i);
      auto it = types.find(out->name());
      if (it != types.end() && it->second->tensor_type().has_shape()) {
        *out->mutable_type()->mutable_tensor_type()->mutable_shape() = it->second->tensor_type().shape();
        continue;
      }
      if (!ef_inferred) {
        ef_inferred = g_;
        try {
          for (int v : ef_inferred->inputs)
            for (auto& d : ef_inferred->values[v].shape)
              if (d < 0) d = 1;
          infer_shapes(*ef_inferred);
        } catch (const Error&) {
        }
      }
      const Value& v = ef_inferred->values[g_.outputs[i]];
      if (!v.shape_known)
        throw Error("ONNX export: cannot determine the shape of output '" + out->name() +
                    "' (run shape inference on the graph before exporting)");
      auto* sh = out->mutable_type()->mutable_tensor_type()->mutable_shape();
      for (size_t k = 0; k < v.shape.size(); ++k) sh->add_dim();  // rank only: dims may depend on inputs
    }
  }

  static bool nhwc(const Node& n) { return is_spatial(n.op) && n.attrs.s("layout") == "NHWC"; }

  std::string fresh(const std::string& base) {
    std::string nm = base;
    for (int k = 1; used_.count(nm); ++k) nm = base + "_" + std::to_string(k);
    used_.insert(nm);
    return nm;
  }
  std::string fresh_node(const std::string& base) {
    std::string nm = base;
    for (int k = 1; node_names_.count(nm); ++k) nm = base + "_" + std::to_string(k);
    node_names_.insert(nm);
    return nm;
  }

  void value_info(onnx::ValueInfoProto* vi, int v, const std::string& name) {
    const Value& val = g_.values[v];
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_dtype(val.dtype));
    // Unknown shape: none, or (not shape-inferred) the one the source declared.
    if (!val.shape_known && val.shape.empty()) return;
    auto* sh = tt->mutable_shape();
    for (int64_t d : val.shape) {
      auto* dim = sh->add_dim();
      if (d >= 0) dim->set_dim_value(d);
    }
  }

  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& ins,
                        const std::vector<std::string>& outs) {
    auto* np = gp_->add_node();
    np->set_op_type(op);
    np->set_name(name);
    for (auto& s : ins) np->add_input(s);
    for (auto& s : outs) np->add_output(s);
    return np;
  }

  std::string const_init(const std::string& base, const Tensor& t) {
    std::string nm = fresh(base);
    fill_tensor(*gp_->add_initializer(), t, nm);
    return nm;
  }
  std::string ints_init(const std::string& base, const std::vector<int64_t>& v) {
    return const_init(base, Tensor::from<int64_t>({int64_t(v.size())}, std::span<const int64_t>(v)));
  }
  std::string scalar_init(const std::string& base, float f, DType dt) {
    if (dt == DType::f16) {
      Tensor t(DType::f16, {});
      *t.data_as<uint16_t>() = float_to_half(f);
      return const_init(base, t);
    }
    return const_init(base, Tensor::from<float>({}, std::span<const float>(&f, 1)));
  }

  static void set_attr(onnx::NodeProto* np, const std::string& k, const AttrValue& v) {
    auto* a = np->add_attribute();
    a->set_name(k);
    if (auto* p = std::get_if<int64_t>(&v)) {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(*p);
    } else if (auto* p = std::get_if<float>(&v)) {
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(*p);
    } else if (auto* p = std::get_if<std::string>(&v)) {
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(*p);
    } else if (auto* p = std::get_if<std::vector<int64_t>>(&v)) {
      a->set_type(onnx::AttributeProto::INTS);
      for (auto x : *p) a->add_ints(x);
    } else if (auto* p = std::get_if<std::vector<float>>(&v)) {
      a->set_type(onnx::AttributeProto::FLOATS);
      for (auto x : *p) a->add_floats(x);
    } else if (auto* p = std::get_if<std::vector<std::string>>(&v)) {
      a->set_type(onnx::AttributeProto::STRINGS);
      for (auto& x : *p) a->add_strings(x);
    } else if (auto* p = std::get_if<Tensor>(&v)) {
      a->set_type(onnx::AttributeProto::TENSOR);
      fill_tensor(*a->mutable_t(), *p, "");
    }
  }

  int rank_of(int v) const {
    const Value& val = g_.values[v];
    return val.shape_known && val.shape.size() >= 3 ? int(val.shape.size()) : 4;
  }
  static std::vector<int64_t> to_nchw_perm(int r) {  // NHWC -> NCHW: [0, r-1, 1, ..., r-2]
    std::vector<int64_t> p = {0, r - 1};
    for (int i = 1; i < r - 1; ++i) p.push_back(i);
    return p;
  }
  static std::vector<int64_t> to_nhwc_perm(int r) {  // NCHW -> NHWC: [0, 2, ..., r-1, 1]
    std::vector<int64_t> p = {0};
    for (int i = 2; i < r; ++i) p.push_back(i);
    p.push_back(1);
    return p;
  }

  // The NCHW version of an NHWC activation (a Transpose, made once).
  std::string nchw_input(int v, const Node& consumer) {
    auto it = nchw_.find(v);
    if (it != nchw_.end()) return it->second;
    std::string out = fresh(name_[v] + "/nchw");
    auto* np = node("Transpose", fresh_node(consumer.name + "/to_nchw"), {name_[v]}, {out});
    set_attr(np, "perm", to_nchw_perm(rank_of(v)));
    nchw_[v] = out;
    return out;
  }

  // A vector input (Resize roi/scales/sizes) given in NHWC order, reordered to NCHW.
  std::string permuted_vector(int v, const Node& n, int r, bool roi) {
    auto p = to_nchw_perm(r);
    std::vector<int64_t> idx;
    if (roi) {
      for (auto x : p) idx.push_back(x);
      for (auto x : p) idx.push_back(x + r);
    } else {
      idx = p;
    }
    const Value& val = g_.values[v];
    if (val.is_const() && val.data.rank() == 1 && val.data.numel() == int64_t(idx.size())) {
      Tensor t(val.data.dtype(), val.data.shape());
      size_t es = dtype_size(t.dtype());
      for (size_t i = 0; i < idx.size(); ++i)
        std::memcpy(static_cast<uint8_t*>(t.data()) + i * es,
                    static_cast<const uint8_t*>(val.data.data()) + idx[i] * es, es);
      return const_init(name_[v] + "/nchw", t);
    }
    if (val.is_const() && val.data.numel() == 0) return name_[v];
    std::string out = fresh(name_[v] + "/nchw");
    auto* np = node("Gather", fresh_node(n.name + "/" + (roi ? "roi" : "scales") + "_to_nchw"),
                    {name_[v], ints_init(n.name + "/perm", idx)}, {out});
    set_attr(np, "axis", int64_t(0));
    return out;
  }

  // Emits the activation `kind` of node n from `in` to `out`.
  void activation(const Node& n, const std::string& kind, const std::string& in, const std::string& out, DType dt) {
    const std::string nm = fresh_node(n.name + "/" + kind);
    if (kind == "relu") {
      node("Relu", nm, {in}, {out});
    } else if (kind == "relu6" || kind == "clip") {
      float lo = kind == "relu6" ? 0.f : n.attrs.f("act_min", -INFINITY);
      float hi = kind == "relu6" ? 6.f : n.attrs.f("act_max", INFINITY);
      std::vector<std::string> ins = {in, std::isinf(lo) ? "" : scalar_init(nm + "/min", lo, dt)};
      if (!std::isinf(hi)) ins.push_back(scalar_init(nm + "/max", hi, dt));
      node("Clip", nm, ins, {out});
    } else if (kind == "hardswish") {
      hardswish(nm, in, out);
    } else if (kind == "sigmoid") {
      node("Sigmoid", nm, {in}, {out});
    } else if (kind == "tanh") {
      node("Tanh", nm, {in}, {out});
    } else if (kind == "leaky_relu") {
      set_attr(node("LeakyRelu", nm, {in}, {out}), "alpha", n.attrs.f("act_alpha", 0.01f));
    } else {
      throw Error("ONNX export: " + g_.describe(n) + " has unknown fused activation '" + kind + "'");
    }
  }

  // HardSwish is opset 14; opset 13 spells it x * HardSigmoid(x; 1/6, 0.5).
  void hardswish(const std::string& nm, const std::string& in, const std::string& out) {
    std::string hs = fresh(out + "/hardsigmoid");
    auto* np = node("HardSigmoid", fresh_node(nm + "/hardsigmoid"), {in}, {hs});
    set_attr(np, "alpha", 1.f / 6.f);
    set_attr(np, "beta", 0.5f);
    node("Mul", nm, {in, hs}, {out});
  }

  void emit(const Node& n) {
    const bool is_nhwc = nhwc(n);
    std::vector<std::string> ins;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int v = n.inputs[k];
      if (v < 0) ins.push_back("");
      else if (k == 0 && is_nhwc) ins.push_back(nchw_input(v, n));
      else if (is_nhwc && n.op == "Resize" && k >= 1 && k <= 3) ins.push_back(permuted_vector(v, n, rank_of(n.inputs[0]), k == 1));
      else ins.push_back(name_[v]);
    }
    while (!ins.empty() && ins.back().empty()) ins.pop_back();
    std::vector<std::string> outs;
    for (int v : n.outputs) outs.push_back(name_[v]);
    const int y = n.outputs.empty() ? -1 : n.outputs[0];
    const std::string act = n.attrs.s("activation");
    // Chain for output 0: op -> [activation] -> [to NHWC].
    std::string final_name = y >= 0 ? name_[y] : "";
    if (y >= 0 && is_nhwc) {
      outs[0] = fresh(name_[y] + "/nchw");
      nchw_[y] = outs[0];
    }
    std::string act_out = y >= 0 ? outs[0] : "";
    if (!act.empty() && y >= 0) outs[0] = fresh(act_out + "/preact");

    if (!act.empty() && (n.op.rfind("QLinear", 0) == 0 || n.op == "QGemm"))
      throw Error("ONNX export: " + g_.describe(n) + " is quantized with a fused " + act +
                  " (export the model before optimization: its QDQ form carries the activation)");
    if (n.op == "HardSwish") {
      if (ins.empty() || outs.empty()) throw Error("ONNX export: " + g_.describe(n) + " needs one input and output");
      hardswish(n.name, ins[0], outs[0]);
    } else {
      auto* np = node(n.op, n.name, ins, outs);
      for (const auto& [k, v] : n.attrs.all())
        if (!is_edgeflow_attr(k)) set_attr(np, k, v);
      if (const char* d = op_domain(n.op)) {
        np->set_domain(d);
        domains_.insert(d);
      }
    }
    if (!act.empty() && y >= 0) activation(n, act, outs[0], act_out, g_.values[y].dtype);
    if (y >= 0 && is_nhwc && need_ir_[y]) {
      auto* tp = node("Transpose", fresh_node(n.name + "/to_nhwc"), {act_out}, {final_name});
      set_attr(tp, "perm", to_nhwc_perm(rank_of(y)));
    }
  }
};

}  // namespace

std::string export_onnx_bytes(const Graph& g) {
  onnx::ModelProto m = Exporter(g).run();
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw Error("ONNX export: serialization failed (model larger than 2 GB?)");
  return bytes;
}

void export_onnx(const Graph& g, const std::string& path) {
  std::string bytes;
  try {
    bytes = export_onnx_bytes(g);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(path + ": cannot create file (" + std::strerror(errno) + ")");
  f.write(bytes.data(), std::streamsize(bytes.size()));
  f.close();
  if (!f) {
    std::remove(path.c_str());
    throw Error(path + ": write failed");
  }
}

}  // namespace ef
