// The float graph quantization starts from, and the "already quantized" check.
#include <algorithm>
#include <set>

#include "graph/passes/passes.h"
#include "quant/quantize.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"

namespace ef::quant {

void check_float(const Graph& g) {
  static const std::set<std::string> qops = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                             "QLinearConv",    "QLinearMatMul",    "ConvInteger",
                                             "MatMulInteger",  "QLinearAdd",       "QLinearMul"};
  const std::string file = g.source.empty() ? "the model" : g.source;
  for (const Node& n : g.nodes)
    if (!n.dead && qops.count(n.op))
      throw Error(file + " is already quantized (" + g.describe(n) +
                  "); quantize the float model instead");
  for (const Value& v : g.values)
    if (!v.quant.empty() || (v.is_const() && v.data.numel() > 1 && (v.dtype == DType::i8 || v.dtype == DType::u8)))
      throw Error(file + " is already quantized (tensor '" + v.name + "' is " + dtype_name(v.dtype) +
                  (v.quant.empty() ? "" : " with quantization parameters") + "); quantize the float model instead");
}

namespace {

// Activations with an int8 lookup-table form (QLinearSigmoid, ...), by the
// fused-activation name the optimizer gives them.
const char* lut_activation_op(const std::string& act) {
  if (act == "hardswish") return "HardSwish";
  if (act == "sigmoid") return "Sigmoid";
  if (act == "leaky_relu") return "LeakyRelu";
  return nullptr;
}

// Conv -> HardSwish (fused by the optimizer) is split again, so that the
// conv's output gets its own Q -> DQ: int8 GEMMs requantize and clamp, they
// do not compute hardswish, and the activation becomes an int8 lookup table.
// Graph outputs keep their fused activation (they stay float anyway).
int split_lut_activations(Graph& g) {
  int n = 0;
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    Node& node = g.nodes[i];
    if (node.dead || !is_weighted(node.op) || node.outputs.empty()) continue;
    const char* op = lut_activation_op(node.attrs.s("activation", ""));
    const int y = node.outputs[0];
    if (!op || std::count(g.outputs.begin(), g.outputs.end(), y)) continue;
    Attrs a;
    if (std::string(op) == "LeakyRelu") a.set("alpha", node.attrs.f("act_alpha", 0.01f));
    node.attrs.erase("activation");
    node.attrs.erase("act_alpha");
    const Value yv = g.values[y];
    const int pre = g.add_value(g.unique_name(yv.name + "_preact"), yv.dtype, yv.shape, yv.shape_known);
    g.nodes[i].outputs[0] = pre;
    g.values[pre].producer = int(i);
    g.add_node(op, g.unique_name(g.nodes[i].name + "_" + op), {pre}, {y}, a);
    ++n;
  }
  if (n) {
    g.relink();
    g.topo_sort();
  }
  return n;
}

}  // namespace

Graph prepare(const Model& model, const std::map<std::string, Shape>& shapes) {
  Graph g = model.graph();
  check_float(g);
  bind_input_shapes(g, shapes);
  for (int v : g.inputs)
    if (g.values[v].dtype != DType::f32)
      throw Error((g.source.empty() ? std::string("model") : g.source) + ": input '" + g.values[v].name + "' is " +
                  dtype_name(g.values[v].dtype) + "; calibration feeds float images");
  ConstEvaluator eval = evaluate_node;
  OptimizeReport report;
  optimize(g, eval, report, /*full=*/true, /*layout=*/false);
  split_lut_activations(g);
  return g;
}

}  // namespace ef::quant
