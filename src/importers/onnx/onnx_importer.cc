// ONNX ModelProto -> edgeflow IR.
//
// The file's operators are normalised to their opset-13 forms (see
// docs/ARCHITECTURE.md): attribute-carried axes/sizes/bounds become constant
// inputs, Upsample becomes Resize, old coerced-2D Softmax becomes
// Flatten + Softmax + Reshape, Constant nodes become constant values.
// Operators edgeflow does not know are kept: shape inference reports them.
#include "importers/onnx/onnx_importer.h"

#include "importers/onnx/qoperator.h"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace ef {

namespace {

constexpr int kMinOpset = 7, kMaxOpset = 17;
constexpr int64_t kMinIr = 3, kMaxIr = 9;

using onnx::AttributeProto;
using onnx::TensorProto;

const char* onnx_type_name(int t) {
  switch (t) {
    case TensorProto::UNDEFINED: return "undefined";
    case TensorProto::FLOAT: return "float32";
    case TensorProto::UINT8: return "uint8";
    case TensorProto::INT8: return "int8";
    case TensorProto::UINT16: return "uint16";
    case TensorProto::INT16: return "int16";
    case TensorProto::INT32: return "int32";
    case TensorProto::INT64: return "int64";
    case TensorProto::STRING: return "string";
    case TensorProto::BOOL: return "bool";
    case TensorProto::FLOAT16: return "float16";
    case TensorProto::DOUBLE: return "float64";
    case TensorProto::UINT32: return "uint32";
    case TensorProto::UINT64: return "uint64";
    case TensorProto::COMPLEX64: return "complex64";
    case TensorProto::COMPLEX128: return "complex128";
    case TensorProto::BFLOAT16: return "bfloat16";
  }
  return "unknown";
}

bool to_dtype(int t, DType& out) {
  switch (t) {
    case TensorProto::FLOAT: out = DType::f32; return true;
    case TensorProto::FLOAT16: out = DType::f16; return true;
    case TensorProto::INT8: out = DType::i8; return true;
    case TensorProto::UINT8: out = DType::u8; return true;
    case TensorProto::INT32: out = DType::i32; return true;
    case TensorProto::INT64: out = DType::i64; return true;
    case TensorProto::BOOL: out = DType::boolean; return true;
  }
  return false;
}

std::string type_error(const std::string& what, int t) {
  return what + " has data type " + onnx_type_name(t) + " (" + std::to_string(t) +
         "), which edgeflow does not support (supported: float32, float16, int8, uint8, int32, int64, bool)";
}

// TensorProto -> Tensor. `what` names the tensor in messages ("initializer 'w'").
Tensor read_tensor(const TensorProto& t, const std::string& what) {
  if (t.data_location() == TensorProto::EXTERNAL || t.external_data_size() > 0) {
    std::string loc;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location") loc = kv.value();
    throw Error(what + " stores its data in an external file" + (loc.empty() ? "" : " ('" + loc + "')") +
                "; external data is not supported (save the model with all tensors inside the .onnx file)");
  }
  if (t.has_segment()) throw Error(what + " is a segmented tensor, which is not supported");
  DType dt;
  if (!to_dtype(t.data_type(), dt)) throw Error(type_error(what, t.data_type()));
  Shape shape;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) throw Error(what + " has a negative dimension " + std::to_string(d));
    if (d > 0 && n > (int64_t(1) << 40) / d)
      throw Error(what + " is too large (dims overflow)");
    n *= d;
    shape.push_back(d);
  }
  const size_t esize = dtype_size(dt);
  auto count_error = [&](size_t got) {
    return Error(what + " has " + std::to_string(got) + " values, but its shape " + shape_str(shape) + " needs " +
                 std::to_string(n));
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != size_t(n) * esize)
      throw Error(what + " has " + std::to_string(raw.size()) + " bytes of raw data, but its shape " +
                  shape_str(shape) + " and type " + dtype_name(dt) + " need " + std::to_string(size_t(n) * esize));
    Tensor out(dt, shape);
    if (n) std::memcpy(out.data(), raw.data(), raw.size());  // ONNX raw data is little-endian, as is the host
    if (dt == DType::boolean)
      for (int64_t i = 0; i < n; ++i) out.data_as<uint8_t>()[i] = out.data_as<uint8_t>()[i] != 0;
    return out;
  }
  switch (dt) {
    case DType::f32: {
      if (size_t(t.float_data_size()) != size_t(n)) throw count_error(t.float_data_size());
      Tensor out(dt, shape);
      std::copy(t.float_data().begin(), t.float_data().end(), out.data_as<float>());
      return out;
    }
    case DType::i64: {
      if (size_t(t.int64_data_size()) != size_t(n)) throw count_error(t.int64_data_size());
      Tensor out(dt, shape);
      std::copy(t.int64_data().begin(), t.int64_data().end(), out.data_as<int64_t>());
      return out;
    }
    default: {  // int32_data holds int32, and (widened) float16 bits, int8, uint8, bool
      if (size_t(t.int32_data_size()) != size_t(n)) throw count_error(t.int32_data_size());
      Tensor out(dt, shape);
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = t.int32_data(int(i));
        switch (dt) {
          case DType::i32: out.data_as<int32_t>()[i] = v; break;
          case DType::f16: out.data_as<uint16_t>()[i] = uint16_t(v); break;
          case DType::i8: out.data_as<int8_t>()[i] = int8_t(v); break;
          case DType::u8: out.data_as<uint8_t>()[i] = uint8_t(v); break;
          case DType::boolean: out.data_as<uint8_t>()[i] = v != 0; break;
          default: break;
        }
      }
      return out;
    }
  }
}

Tensor ints_tensor(const std::vector<int64_t>& v) {
  return Tensor::from<int64_t>({int64_t(v.size())}, std::span<const int64_t>(v));
}
Tensor float_scalar(float f) { return Tensor::from<float>({}, std::span<const float>(&f, 1)); }

class Importer {
 public:
  explicit Importer(std::string src) : src_(std::move(src)) {}

  Graph run(const onnx::ModelProto& m) {
    g_.source = src_;
    if (!m.has_ir_version()) fail("not an ONNX model (no ir_version; the file may be truncated or not ONNX)");
    if (m.ir_version() < kMinIr || m.ir_version() > kMaxIr)
      fail("unsupported ONNX IR version " + std::to_string(m.ir_version()) + " (supported: " +
           std::to_string(kMinIr) + "-" + std::to_string(kMaxIr) + ")");
    int opset = -1;
    for (const auto& os : m.opset_import())
      if (os.domain().empty() || os.domain() == "ai.onnx")
        opset = int(std::clamp<int64_t>(os.version(), 0, 1 << 20));
    if (opset < 0) fail("the model imports no default-domain (ai.onnx) opset");
    if (opset < kMinOpset || opset > kMaxOpset)
      fail("unsupported opset " + std::to_string(opset) + " (edgeflow supports ai.onnx opsets " +
           std::to_string(kMinOpset) + "-" + std::to_string(kMaxOpset) + ")");
    g_.opset = opset;
    if (!m.has_graph()) fail("the model has no graph (the file may be truncated)");
    const onnx::GraphProto& gp = m.graph();
    g_.name = gp.name();
    if (gp.node_size() == 0) fail("the graph is empty (no nodes)");
    if (gp.output_size() == 0) fail("the graph has no outputs");
    if (gp.sparse_initializer_size() > 0)
      fail("sparse initializer '" + gp.sparse_initializer(0).values().name() + "' is not supported");

    collect_ranks(gp);
    for (const auto& init : gp.initializer()) {
      const std::string& nm = init.name();
      if (nm.empty()) fail("an initializer has no name");
      if (ids_.count(nm)) fail("initializer '" + nm + "' is defined twice");
      Tensor t = wrap([&] { return read_tensor(init, "initializer '" + nm + "'"); });
      ids_[nm] = g_.add_const(nm, std::move(t));
    }
    for (const auto& in : gp.input()) {
      if (ids_.count(in.name())) {
        if (g_.values[ids_[in.name()]].is_const()) continue;  // initializer listed as input (IR < 4)
        fail("graph input '" + in.name() + "' is declared twice");
      }
      if (in.name().empty()) fail("a graph input has no name");
      DType dt = DType::f32;
      Shape shape;
      bool has_shape = read_type(in, "graph input '" + in.name() + "'", true, dt, shape);
      int id = g_.add_value(in.name(), dt, shape, has_shape);
      ids_[in.name()] = id;
      g_.inputs.push_back(id);
    }

    // Pass 1: every node's outputs (nodes may reference outputs of later nodes
    // if the file is not sorted; topo_sort orders them).
    names_.clear();
    for (const auto& n : g_.nodes) names_.insert(n.name);
    node_names_.resize(gp.node_size());
    for (int i = 0; i < gp.node_size(); ++i) {
      const onnx::NodeProto& np = gp.node(i);
      if (np.op_type().empty()) fail("node #" + std::to_string(i) + " ('" + np.name() + "') has no op_type");
      std::string base = np.name().empty() ? np.op_type() + "_" + std::to_string(i) : np.name();
      std::string nm = base;
      for (int k = 1; names_.count(nm); ++k) nm = base + "_" + std::to_string(k);
      names_.insert(nm);
      node_names_[i] = nm;
    }
    out_ids_.resize(gp.node_size());
    for (int i = 0; i < gp.node_size(); ++i) define_outputs(gp.node(i), i);
    // Pass 2: the nodes themselves.
    for (int i = 0; i < gp.node_size(); ++i) add_node(gp.node(i), i);

    for (const auto& out : gp.output()) {
      auto it = ids_.find(out.name());
      if (it == ids_.end())
        fail("graph output '" + out.name() + "' is not produced by any node, input or initializer");
      Value& v = g_.values[it->second];
      // Keep the declared dtype and shape of a node output (shape_known stays
      // false: shape inference recomputes both; exporters may use them).
      if (v.producer >= 0) {
        DType dt = v.dtype;
        Shape shape;
        if (read_type(out, "graph output '" + out.name() + "'", false, dt, shape)) v.shape = shape;
        v.dtype = dt;
      }
      g_.outputs.push_back(it->second);
    }
    g_.relink();
    return std::move(g_);
  }

 private:
  std::string src_;
  Graph g_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> ranks_;
  std::unordered_set<std::string> names_;  // node names in use
  std::vector<std::string> node_names_;
  std::vector<std::vector<int>> out_ids_;

  [[noreturn]] void fail(const std::string& msg) const { throw Error(src_ + ": " + msg); }
  template <class F>
  auto wrap(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  std::string where(int i, const onnx::NodeProto& np) const {
    return "node '" + node_names_[i] + "' (" + np.op_type() + ")";
  }

  void collect_ranks(const onnx::GraphProto& gp) {
    auto add = [&](const onnx::ValueInfoProto& vi) {
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
        ranks_[vi.name()] = vi.type().tensor_type().shape().dim_size();
    };
    for (const auto& v : gp.input()) add(v);
    for (const auto& v : gp.value_info()) add(v);
    for (const auto& v : gp.output()) add(v);
    for (const auto& t : gp.initializer()) ranks_[t.name()] = t.dims_size();
  }

  // Reads dtype and shape of a ValueInfo; returns whether a shape was given.
  bool read_type(const onnx::ValueInfoProto& vi, const std::string& what, bool need_type, DType& dt, Shape& shape) {
    if (!vi.type().has_tensor_type()) {
      if (!need_type) return false;
      fail(what + " is not a tensor (sequence, map and optional types are not supported)");
    }
    const auto& tt = vi.type().tensor_type();
    if (!to_dtype(tt.elem_type(), dt)) {
      if (tt.elem_type() == TensorProto::UNDEFINED && !need_type) return false;
      fail(type_error(what, tt.elem_type()));
    }
    if (!tt.has_shape()) return false;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) fail(what + " has a negative dimension " + std::to_string(d.dim_value()));
        shape.push_back(d.dim_value());
      } else {
        shape.push_back(-1);  // dim_param or unknown
      }
    }
    return true;
  }

  int new_const(const std::string& base, Tensor t) {
    std::string nm = base;
    for (int k = 1; ids_.count(nm); ++k) nm = base + "_" + std::to_string(k);
    int id = g_.add_const(nm, std::move(t));
    ids_[nm] = id;
    return id;
  }
  int new_value(const std::string& base) {
    std::string nm = base;
    for (int k = 1; ids_.count(nm); ++k) nm = base + "_" + std::to_string(k);
    int id = g_.add_value(nm);
    ids_[nm] = id;
    return id;
  }
  std::string new_node_name(const std::string& base) {
    std::string nm = base;
    for (int k = 1; names_.count(nm); ++k) nm = base + "_" + std::to_string(k);
    names_.insert(nm);
    return nm;
  }

  void define_outputs(const onnx::NodeProto& np, int i) {
    const std::string& op = np.op_type();
    const bool default_domain = np.domain().empty() || np.domain() == "ai.onnx";
    int nout = np.output_size();
    // Inference needs only the first output of BatchNormalization.
    if (default_domain && op == "BatchNormalization") nout = std::min(nout, 1);
    while (nout > 0 && np.output(nout - 1).empty()) --nout;  // trailing omitted outputs
    if (nout == 0) fail(where(i, np) + " has no outputs");
    if (default_domain && op == "Constant") {
      if (nout != 1) fail(where(i, np) + " must have exactly one output");
      Tensor t = wrap([&] { return constant_value(np, i); });
      const std::string& nm = np.output(0);
      if (ids_.count(nm)) fail(where(i, np) + ": output '" + nm + "' is already defined");
      ids_[nm] = g_.add_const(nm, std::move(t));
      out_ids_[i] = {ids_[nm]};
      return;
    }
    for (int k = 0; k < nout; ++k) {
      const std::string& nm = np.output(k);
      if (nm.empty()) {  // omitted optional output in the middle: a private value
        out_ids_[i].push_back(new_value(node_names_[i] + "/unused" + std::to_string(k)));
        continue;
      }
      if (ids_.count(nm)) fail(where(i, np) + ": output '" + nm + "' is already defined (values must be unique)");
      int id = g_.add_value(nm);
      ids_[nm] = id;
      out_ids_[i].push_back(id);
    }
  }

  Tensor constant_value(const onnx::NodeProto& np, int i) {
    const std::string w = where(i, np);
    for (const auto& a : np.attribute()) {
      const std::string& k = a.name();
      if (k == "value") return read_tensor(a.t(), w + " attribute 'value'");
      if (k == "value_float") return float_scalar(a.f());
      if (k == "value_floats") {
        std::vector<float> v(a.floats().begin(), a.floats().end());
        return Tensor::from<float>({int64_t(v.size())}, std::span<const float>(v));
      }
      if (k == "value_int") {
        int64_t v = a.i();
        return Tensor::from<int64_t>({}, std::span<const int64_t>(&v, 1));
      }
      if (k == "value_ints") return ints_tensor(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
      if (k == "value_string" || k == "value_strings")
        throw Error(w + ": string constants are not supported");
      if (k == "sparse_value") throw Error(w + ": sparse constants are not supported");
    }
    throw Error(w + " has no value attribute");
  }

  AttrValue attr_value(const AttributeProto& a, const std::string& w) {
    auto type = a.type();
    if (type == AttributeProto::UNDEFINED) {  // very old files: infer from the field set
      if (a.has_f()) type = AttributeProto::FLOAT;
      else if (a.has_i()) type = AttributeProto::INT;
      else if (a.has_s()) type = AttributeProto::STRING;
      else if (a.has_t()) type = AttributeProto::TENSOR;
      else if (a.has_g()) type = AttributeProto::GRAPH;
      else if (a.floats_size()) type = AttributeProto::FLOATS;
      else if (a.ints_size()) type = AttributeProto::INTS;
      else if (a.strings_size()) type = AttributeProto::STRINGS;
      else if (a.graphs_size()) type = AttributeProto::GRAPHS;
      else type = AttributeProto::INTS;  // an empty list
    }
    switch (type) {
      case AttributeProto::INT: return int64_t(a.i());
      case AttributeProto::FLOAT: return a.f();
      case AttributeProto::STRING: return a.s();
      case AttributeProto::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
      case AttributeProto::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
      case AttributeProto::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
      case AttributeProto::TENSOR: return read_tensor(a.t(), w + " attribute '" + a.name() + "'");
      case AttributeProto::GRAPH:
      case AttributeProto::GRAPHS:
        throw Error(w + ": attribute '" + a.name() +
                    "' is a subgraph; control flow (If, Loop, Scan) is not supported");
      default:
        throw Error(w + ": attribute '" + a.name() + "' has type " + AttributeProto::AttributeType_Name(type) +
                    ", which is not supported");
    }
  }

  void add_node(const onnx::NodeProto& np, int i) {
    const std::string w = where(i, np);
    const bool default_domain = np.domain().empty() || np.domain() == "ai.onnx";
    const bool qop = is_qoperator(np.op_type(), np.domain());
    if (!default_domain && !qop)
      fail("unsupported operator '" + np.op_type() + "' (domain " + np.domain() + ") in node '" + node_names_[i] +
           "'");
    if (np.op_type() == "Constant") return;  // already a constant value
    check_arity(np, i);
    Attrs attrs;
    for (const auto& a : np.attribute()) {
      if (a.name().empty()) fail(w + " has an attribute without a name");
      if (!a.ref_attr_name().empty()) continue;  // only meaningful inside functions
      attrs.set(a.name(), wrap([&] { return attr_value(a, w); }));
    }
    std::vector<int> ins;
    for (const auto& nm : np.input()) {
      if (nm.empty()) {
        ins.push_back(-1);
        continue;
      }
      auto it = ids_.find(nm);
      if (it == ids_.end())
        fail(w + ": input '" + nm + "' is not defined (not a graph input, initializer or node output)");
      ins.push_back(it->second);
    }
    while (!ins.empty() && ins.back() < 0) ins.pop_back();
    if (qop) {
      QOperatorSink sink{g_, [&](const std::string& b) { return new_value(b); },
                         [&](const std::string& b, Tensor t) { return new_const(b, std::move(t)); },
                         [&](const std::string& b) { return new_node_name(b); }};
      wrap([&] {
        expand_qoperator(sink, np.op_type(), node_names_[i], ins, out_ids_[i], std::move(attrs));
        return 0;
      });
      return;
    }
    normalize(np.op_type(), node_names_[i], w, std::move(ins), out_ids_[i], std::move(attrs));
  }

  // Input/output counts against ONNX's own schema of the op at the file's
  // opset, so malformed nodes fail here with a clear message. Ops ONNX does
  // not know are left to shape inference ("unsupported operator").
  void check_arity(const onnx::NodeProto& np, int i) {
    const onnx::OpSchema* sc = onnx::OpSchemaRegistry::Schema(np.op_type(), g_.opset, "");
    if (!sc) return;
    // Accepted at any opset: the opset-18 Reduce* form with an axes input.
    if (np.op_type().rfind("Reduce", 0) == 0 && np.input_size() == 2) return;
    const std::string w = where(i, np) + " (opset " + std::to_string(g_.opset) + ")";
    auto range = [](int lo, int hi) {
      return lo == hi ? std::to_string(lo)
                      : std::to_string(lo) + " to " + (hi == std::numeric_limits<int>::max() ? "any" : std::to_string(hi));
    };
    if (np.input_size() < sc->min_input() || np.input_size() > sc->max_input())
      fail(w + " has " + std::to_string(np.input_size()) + " input(s); the operator takes " +
           range(sc->min_input(), sc->max_input()));
    if (np.output_size() < sc->min_output() || np.output_size() > sc->max_output())
      fail(w + " has " + std::to_string(np.output_size()) + " output(s); the operator produces " +
           range(sc->min_output(), sc->max_output()));
    const auto& formal = sc->inputs();
    for (int k = 0; k < np.input_size() && !formal.empty(); ++k) {
      const auto& fp = formal[std::min<size_t>(k, formal.size() - 1)];
      if (np.input(k).empty() && fp.GetOption() != onnx::OpSchema::Optional)
        fail(w + ": required input " + std::to_string(k) + " ('" + fp.GetName() + "') is empty");
    }
    const auto& fout = sc->outputs();
    if (!fout.empty() && np.output_size() > 0 && np.output(0).empty() &&
        fout[0].GetOption() != onnx::OpSchema::Optional)
      fail(w + ": required output 0 ('" + fout[0].GetName() + "') is empty");
  }

  // Moves an ints attribute to a constant input at position `pos`.
  void attr_to_input(const std::string& name, Attrs& attrs, const std::string& key, std::vector<int>& ins,
                     size_t pos) {
    if (!attrs.has(key)) return;
    std::vector<int64_t> v = wrap([&] { return attrs.ints(key); });
    attrs.erase(key);
    if (ins.size() < pos) ins.resize(pos, -1);
    ins.resize(pos);
    ins.push_back(new_const(name + "/" + key, ints_tensor(v)));
  }

  void normalize(const std::string& op, const std::string& name, const std::string& w, std::vector<int> ins,
                 const std::vector<int>& outs, Attrs attrs) {
    const int opset = g_.opset;
    auto need_inputs = [&](size_t n) {
      if (ins.size() < n || ins[0] < 0)
        fail(w + " needs at least " + std::to_string(n) + " input(s), has " + std::to_string(ins.size()));
    };
    if (op == "Squeeze" || op == "Unsqueeze") {
      need_inputs(1);
      attr_to_input(name, attrs, "axes", ins, 1);
    } else if (op == "Split") {
      need_inputs(1);
      attr_to_input(name, attrs, "split", ins, 1);
    } else if (op == "ReduceSum" && opset < 13) {
      need_inputs(1);
      attr_to_input(name, attrs, "axes", ins, 1);
    } else if (op == "TopK" && attrs.has("k")) {
      need_inputs(1);
      int64_t k = wrap([&] { return attrs.i("k"); });
      attrs.erase("k");
      ins.resize(1);
      ins.push_back(new_const(name + "/k", ints_tensor({k})));
    } else if (op == "Slice" && attrs.has("starts")) {  // opset < 10
      need_inputs(1);
      std::vector<int64_t> st, en, ax;
      wrap([&] {
        st = attrs.ints("starts");
        en = attrs.ints("ends");
        ax = attrs.ints("axes");
        return 0;
      });
      attrs.erase("starts");
      attrs.erase("ends");
      attrs.erase("axes");
      ins.resize(1);
      ins.push_back(new_const(name + "/starts", ints_tensor(st)));
      ins.push_back(new_const(name + "/ends", ints_tensor(en)));
      if (!ax.empty()) ins.push_back(new_const(name + "/axes", ints_tensor(ax)));
    } else if (op == "Pad" && attrs.has("pads")) {  // opset < 11
      need_inputs(1);
      std::vector<int64_t> pads = wrap([&] { return attrs.ints("pads"); });
      float value = wrap([&] { return attrs.f("value", 0.f); });
      attrs.erase("pads");
      attrs.erase("value");
      ins.resize(1);
      ins.push_back(new_const(name + "/pads", ints_tensor(pads)));
      ins.push_back(new_const(name + "/value", float_scalar(value)));
    } else if (op == "Clip" && (attrs.has("min") || attrs.has("max"))) {  // opset < 11
      need_inputs(1);
      ins.resize(1);
      ins.push_back(attrs.has("min") ? new_const(name + "/min", float_scalar(wrap([&] { return attrs.f("min", 0); })))
                                     : -1);
      ins.push_back(attrs.has("max") ? new_const(name + "/max", float_scalar(wrap([&] { return attrs.f("max", 0); })))
                                     : -1);
      attrs.erase("min");
      attrs.erase("max");
      while (!ins.empty() && ins.back() < 0) ins.pop_back();
    } else if (op == "Upsample" || (op == "Resize" && opset < 11)) {
      need_inputs(1);
      int scales = ins.size() > 1 ? ins[1] : -1;
      if (attrs.has("scales")) {
        std::vector<float> s = wrap([&] { return attrs.floats("scales"); });
        attrs.erase("scales");
        scales = new_const(name + "/scales", Tensor::from<float>({int64_t(s.size())}, std::span<const float>(s)));
      }
      if (scales < 0) fail(w + " has no scales");
      std::string mode = attrs.s("mode", "nearest");
      if (mode == "bilinear") mode = "linear";
      attrs.set("mode", mode);
      // Upsample and opset-10 Resize sample at x_in = x_out / scale.
      attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
      if (mode == "nearest") attrs.set("nearest_mode", std::string("floor"));
      ins = {ins[0], -1, scales};
      add(op == "Upsample" ? "Resize" : op, name, ins, outs, std::move(attrs));
      return;
    } else if (op == "Resize") {
      // Empty constant roi/scales mean "not given" (opset 11/12 required them).
      for (size_t k = 1; k < ins.size() && k < 3; ++k)
        if (ins[k] >= 0 && g_.values[ins[k]].is_const() && g_.values[ins[k]].data.numel() == 0) ins[k] = -1;
      while (!ins.empty() && ins.back() < 0) ins.pop_back();
    } else if (op.rfind("Reduce", 0) == 0 && op != "ReduceSum" && ins.size() > 1) {  // opset-18 axes input
      if (ins[1] >= 0) {
        const Value& a = g_.values[ins[1]];
        if (!a.is_const()) fail(w + ": input 'axes' must be a constant");
        if (a.dtype != DType::i64) fail(w + ": input 'axes' must be int64");
        const int64_t* p = a.data.data_as<int64_t>();
        attrs.set("axes", std::vector<int64_t>(p, p + a.data.numel()));
      }
      ins.resize(1);
    } else if (op == "BatchNormalization") {
      if (attrs.has("spatial")) {
        if (attrs.i("spatial", 1) == 0) fail(w + ": spatial=0 is not supported");
        attrs.erase("spatial");
      }
      attrs.erase("is_test");
      attrs.erase("training_mode");
      attrs.erase("consumed_inputs");
    } else if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && opset < 13) {
      need_inputs(1);
      int64_t axis = wrap([&] { return attrs.i("axis", 1); });
      int rank = -1;
      auto r = ranks_.find(g_.values[ins[0]].name);
      if (r != ranks_.end()) rank = r->second;
      if (g_.values[ins[0]].is_const()) rank = g_.values[ins[0]].data.rank();
      bool last = axis == -1 || (rank > 0 && (axis == rank - 1 || axis + rank == rank - 1));
      attrs.set("axis", axis);
      if (!last) {
        // Old semantics: coerce to 2-D [prod(d[:axis]), prod(d[axis:])], normalise each row.
        int flat = new_value(name + "/flat");
        int soft = new_value(name + "/2d");
        int shape = new_value(name + "/shape");
        Attrs fa;
        fa.set("axis", axis);
        add("Flatten", new_node_name(name + "/flatten"), {ins[0]}, {flat}, std::move(fa));
        attrs.set("axis", int64_t(1));
        add(op, name, {flat}, {soft}, std::move(attrs));
        add("Shape", new_node_name(name + "/shape"), {ins[0]}, {shape});
        add("Reshape", new_node_name(name + "/reshape"), {soft, shape}, outs);
        return;
      }
    }
    add(op, name, ins, outs, std::move(attrs));
  }

  void add(const std::string& op, const std::string& name, std::vector<int> ins, std::vector<int> outs,
           Attrs attrs = {}) {
    g_.add_node(op, name, std::move(ins), std::move(outs), std::move(attrs));
  }
};

Graph parse_and_import(const void* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": the file is empty");
  if (size > size_t(std::numeric_limits<int>::max()))
    throw Error(name + ": the file is larger than 2 GB, which protobuf cannot parse (use external data)");
  onnx::ModelProto m;
  if (!m.ParseFromArray(data, int(size)))
    throw Error(name + ": not a valid ONNX model (protobuf parse failed; the file is truncated or corrupt)");
  return Importer(name).run(m);
}

}  // namespace

Graph import_onnx_bytes(const void* data, size_t size, const std::string& name) {
  return parse_and_import(data, size, name);
}

Graph import_onnx(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open model file (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path + ": read error");
  std::string bytes = ss.str();
  return parse_and_import(bytes.data(), bytes.size(), path);
}

}  // namespace ef
