// QLinearAdd(QLinearMul(a, b), r) -> one QLinearMul with r as inputs 8-12
// (r, r_scale, r_zp, sum_scale, sum_zp; attribute residual_first when r is
// the Add's first operand): its kernel rounds the product to int8 and adds r
// in the same pass, with the two ops' arithmetic (qbinary.cc), so the result
// equals the unfused pair's. The squeeze-excitation blocks of the MediaPipe
// selfie models end so: x * sigmoid(...) + shortcut. Only when the product is
// read by the Add alone, the Mul has no fused activation, r has the output's
// shape and the Add reads the product with the Mul's output scale and zero
// point. Run by the session after optimize(), not for delta execution nor
// for export (inputs 8-12 are not ONNX Runtime's).
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {
int fuse_qmul_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& add : g.nodes) {
    if (add.dead || add.op != "QLinearAdd" || add.inputs.size() < 8 || g.out(add, 0).dtype != DType::i8) continue;
    for (int side = 0; side < 2; ++side) {  // side: the Add's operand (0: A, 1: B) that is the product
      const size_t pi = size_t(3 * side), ri = size_t(3 - 3 * side);
      const int pv = add.inputs[pi], rv = add.inputs[ri], m = pv >= 0 ? g.values[pv].producer : -1;
      if (m < 0 || rv < 0) continue;
      const Node& mul = g.nodes[m];
      if (mul.dead || mul.op != "QLinearMul" || mul.attrs.has("activation") || Graph::has_input(mul, 8)) continue;
      if (g.values[pv].dtype != DType::i8 || g.values[rv].dtype != DType::i8) continue;
      const Shape& ys = g.out(add, 0).shape;
      if (g.values[pv].shape != ys || g.values[rv].shape != ys) continue;
      if (!passes::same_const(g, mul, 6, add, pi + 1) || !passes::same_const(g, mul, 7, add, pi + 2)) continue;
      if (!passes::fusable_intermediate(g, pv, keep)) continue;
      const std::string what = g.describe(add) + " folded into " + g.describe(mul);
      Node merged = mul;
      merged.inputs.resize(8, -1);
      merged.inputs.insert(merged.inputs.end(), {rv, add.inputs[ri + 1], add.inputs[ri + 2], add.inputs[6], add.inputs[7]});
      merged.outputs = add.outputs;
      passes::copy_activation(add, merged);
      if (side == 1) merged.attrs.set("residual_first", int64_t(1));
      g.nodes[m].dead = true;
      add = std::move(merged);
      passes::log(report, "fuse_qmul_add: " + what);
      ++fused;
      break;
    }
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
