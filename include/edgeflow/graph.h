// The graph IR every importer produces and every pass and the executor consume.
//
// Semantics follow ONNX operators (op type names, attribute names, input
// order), with two edgeflow extensions that passes and importers set:
//   * layout: spatial ops carry attr "layout" = "NHWC" once the layout pass
//     (or the TFLite importer) has put their activations in NHWC; absent
//     means ONNX's NCHW. Conv weights stay OIHW (ConvTranspose: IOHW) in
//     every layout; kernels repack them once at creation.
//   * fused activation: any op may carry attr "activation" (string: relu,
//     relu6, clip, hardswish, sigmoid, tanh, leaky_relu) with "act_min"/
//     "act_max" (clip bounds) or "act_alpha" (leaky_relu); the kernel applies
//     it to its output.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "edgeflow/tensor.h"

namespace ef {

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor>;

class Attrs {
 public:
  bool has(const std::string& k) const { return m_.count(k) != 0; }
  void set(const std::string& k, AttrValue v) { m_[k] = std::move(v); }
  void erase(const std::string& k) { m_.erase(k); }
  int64_t i(const std::string& k, int64_t def) const;
  int64_t i(const std::string& k) const;
  float f(const std::string& k, float def) const;
  std::string s(const std::string& k, const std::string& def = "") const;
  std::vector<int64_t> ints(const std::string& k, std::vector<int64_t> def = {}) const;
  std::vector<float> floats(const std::string& k, std::vector<float> def = {}) const;
  std::vector<std::string> strings(const std::string& k) const;
  const Tensor& tensor(const std::string& k) const;
  const std::map<std::string, AttrValue>& all() const { return m_; }

 private:
  std::map<std::string, AttrValue> m_;
};

struct Value {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  bool shape_known = false;  // false until shape inference (or the importer) sets it
  Tensor data;               // non-empty for constants (initializers, folded values)
  QuantParams quant;         // for quantized activations/weights
  int producer = -1;         // node index, -1 for graph inputs and constants
  bool is_const() const { return !data.empty(); }
};

struct Node {
  std::string op;    // ONNX op type, e.g. "Conv"
  std::string name;  // unique, used in every message about this node
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input
  std::vector<int> outputs;  // value ids
  Attrs attrs;
  bool dead = false;  // marked by passes; removed by Graph::compact()
};

class Graph {
 public:
  std::string name;
  std::string source;  // file the graph came from (for messages)
  int opset = 13;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   // value ids of runtime inputs
  std::vector<int> outputs;  // value ids of outputs

  int add_value(const std::string& name, DType dtype = DType::f32, Shape shape = {}, bool shape_known = false);
  int add_const(const std::string& name, Tensor t);
  int add_node(const std::string& op, const std::string& name, std::vector<int> inputs,
               std::vector<int> outputs, Attrs attrs = {});
  // Value id by name, or -1.
  int find_value(const std::string& name) const;
  std::string unique_name(const std::string& base);

  Value& in(const Node& n, size_t i) { return values.at(n.inputs.at(i)); }
  const Value& in(const Node& n, size_t i) const { return values.at(n.inputs.at(i)); }
  Value& out(const Node& n, size_t i) { return values.at(n.outputs.at(i)); }
  // True if input i exists (not omitted).
  static bool has_input(const Node& n, size_t i) { return i < n.inputs.size() && n.inputs[i] >= 0; }

  // Nodes consuming each value (recomputed on demand).
  std::vector<std::vector<int>> consumers() const;
  // Replace every use of value `from` (node inputs and graph outputs) by `to`.
  void replace_uses(int from, int to);
  // Order nodes topologically (stable); throws naming a node on a cycle.
  void topo_sort();
  // Drop dead nodes and values nothing refers to; renumbers ids.
  void compact();
  // Recompute Value::producer.
  void relink();
  // "node 'conv1' (Conv)" — for messages.
  std::string describe(const Node& n) const;
};

// ---- operator schemas: shape/dtype inference, one registration per op type.
// `infer` sets shape/dtype of the node's outputs from its inputs (and any
// constant inputs); it throws ef::Error naming the node when it cannot.
struct OpSchema {
  std::string op;
  std::function<void(Graph&, Node&)> infer;
};
void register_op_schema(OpSchema schema);
const OpSchema* find_op_schema(const std::string& op);
std::vector<std::string> registered_ops();

// Evaluates a node whose inputs are all constants (used by constant folding);
// returns its outputs. Supplied by the runtime, which owns the kernels.
using ConstEvaluator = std::function<std::vector<Tensor>(const Graph&, const Node&)>;

// Infer shapes in topological order. With an evaluator, nodes whose inputs are
// all constant (and Shape/Size of a static shape) are folded into constants
// on the way, so shape-computing chains resolve.
void infer_shapes(Graph& g, const ConstEvaluator* fold = nullptr, int* folded = nullptr);

}  // namespace ef

#define EF_CONCAT_INNER(a, b) a##b
#define EF_CONCAT(a, b) EF_CONCAT_INNER(a, b)
// Register a schema at load time: EF_REGISTER_SCHEMA("Relu", infer_fn);
#define EF_REGISTER_SCHEMA(OP, FN) \
  static const bool EF_CONCAT(ef_schema_, __COUNTER__) = (::ef::register_op_schema({OP, FN}), true)
