// QDQ -> quantized operators. A QDQ graph (QuantizeLinear/DequantizeLinear
// around float operators, as ONNX Runtime's quantizer and `edgeflow quantize`
// write it) runs float kernels between dequantize and quantize; this pass
// fuses the patterns that have an int8 kernel into one quantized operator,
// and folds what is left of DequantizeLinear on constants (weights of ops
// that stay float) into float32 constants.
#include <string>

#include "graph/ops/quant_util.h"
#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

namespace {
using namespace passes;

// DequantizeLinear nodes whose inputs are all constants become constants.
int fold_const_dequantize(Graph& g, OptimizeReport& r) {
  int n = 0;
  for (Node& node : g.nodes) {
    if (node.dead || node.op != "DequantizeLinear") continue;
    bool all_const = true;
    for (int v : node.inputs)
      if (v >= 0 && !g.values[v].is_const()) all_const = false;
    if (!all_const) continue;
    const Value& x = g.in(node, 0);
    QuantParams p = const_qparams(g, node, 1, 2, node.attrs.i("axis", 1), x.shape, x.dtype, g.describe(node));
    Value& y = g.out(node, 0);
    y.data = dequantize_tensor(x.data, p);
    y.shape = y.data.shape();
    y.dtype = DType::f32;
    y.producer = -1;
    node.dead = true;
    ++n;
  }
  if (n) {
    log(r, "fuse_qdq: " + std::to_string(n) + " DequantizeLinear of constants folded to float32");
    g.compact();
  }
  return n;
}
}  // namespace

int fuse_qdq(Graph& g, OptimizeReport& r) {
  int changes = 0;
  changes += fold_const_dequantize(g, r);
  return changes;
}

}  // namespace ef
