#include <unordered_set>

#include "edgeflow/graph.h"

namespace ef {

namespace {
bool foldable(const Graph& g, const Node& n) {
  // Quantized weights stay quantized: the QDQ fusion pass consumes
  // DequantizeLinear(int8 constant) and folds the ones it leaves.
  if (n.op == "DequantizeLinear") return false;
  if ((n.op == "Shape" || n.op == "Size") && !n.inputs.empty() && n.inputs[0] >= 0)
    return g.values[n.inputs[0]].shape_known;
  if (n.inputs.empty()) return n.op == "Constant";
  for (int v : n.inputs)
    if (v >= 0 && !g.values[v].is_const()) return false;
  return true;
}

std::string where(const Graph& g) { return g.source.empty() ? std::string() : g.source + ": "; }
}  // namespace

void infer_shapes(Graph& g, const ConstEvaluator* fold, int* folded) {
  g.topo_sort();
  int nfold = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.dead) continue;
    const OpSchema* schema = find_op_schema(n.op);
    if (!schema)
      throw Error(where(g) + "unsupported operator '" + n.op + "' in node '" + n.name + "' (opset " +
                  std::to_string(g.opset) + ")");
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int v = n.inputs[k];
      if (v >= 0 && !g.values[v].shape_known)
        throw Error(where(g) + g.describe(n) + ": cannot resolve the shape of input '" + g.values[v].name + "'");
    }
    try {
      schema->infer(g, n);
    } catch (const Error& e) {
      throw Error(where(g) + g.describe(n) + ": " + e.what());
    } catch (const std::exception& e) {  // e.g. a malformed node with missing inputs
      throw Error(where(g) + g.describe(n) + ": malformed node (" + e.what() + ")");
    }
    for (int o : n.outputs)
      if (!g.values[o].shape_known)
        throw Error(where(g) + g.describe(n) + ": cannot resolve the shape of output '" + g.values[o].name + "'");
    if (fold && foldable(g, n)) {
      std::vector<Tensor> outs;
      try {
        outs = (*fold)(g, n);
      } catch (const Error& e) {
        throw Error(where(g) + g.describe(n) + ": constant folding failed: " + e.what());
      }
      if (outs.size() != n.outputs.size()) continue;  // evaluator declined
      for (size_t k = 0; k < outs.size(); ++k) {
        Value& v = g.values[n.outputs[k]];
        v.data = std::move(outs[k]);
        v.shape = v.data.shape();
        v.dtype = v.data.dtype();
        v.producer = -1;
      }
      n.dead = true;
      ++nfold;
    }
  }
  if (nfold) g.compact();
  if (folded) *folded += nfold;
}

}  // namespace ef
