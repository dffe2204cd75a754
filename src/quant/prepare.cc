// The float graph quantization starts from, and the "already quantized" check.
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
  return g;
}

}  // namespace ef::quant
