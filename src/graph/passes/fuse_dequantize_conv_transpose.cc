// DequantizeLinear(q) -> ConvTranspose, q int8 with a per-tensor scale and
// zero point, becomes one ConvTranspose reading q with the scale and zero
// point as inputs 3 and 4, where the direct kernel runs the ConvTranspose
// (deconv_direct_fits: kernel == stride, few outputs per pixel, AVX-512): it
// dequantizes the input as DequantizeLinear does, so the result is the same
// bit for bit, without writing and reading the float tensor (the selfie
// models' int8 mask layer). Run by the session after optimize(), not for
// delta execution (its sparse kernels take float) nor for export (inputs 3
// and 4 are not ONNX).
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"
#include "runtime/kernels/conv_transpose.h"

namespace ef {

int fuse_dequantize_conv_transpose(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& ct : g.nodes) {  // (add_const below adds a value, no node: the references stay valid)
    if (ct.dead || ct.op != "ConvTranspose" || Graph::has_input(ct, 3)) continue;
    const int xv = ct.inputs.at(0), p = g.values[xv].producer;
    if (p < 0 || g.nodes[p].dead || g.nodes[p].op != "DequantizeLinear") continue;
    Node& dq = g.nodes[p];
    if (g.in(dq, 0).dtype != DType::i8 || !passes::scalar_const(g, dq.inputs.at(1))) continue;
    if (Graph::has_input(dq, 2) && !passes::scalar_const(g, dq.inputs[2])) continue;
    if (!passes::fusable_intermediate(g, xv, keep) || !deconv_direct_fits(g, ct)) continue;
    const int zp = Graph::has_input(dq, 2) ? dq.inputs[2]
                                           : g.add_const(g.unique_name(dq.name + "_zero_point"), Tensor(DType::i8, {}));
    ct.inputs.resize(5, -1);
    ct.inputs[0] = dq.inputs[0];
    ct.inputs[3] = dq.inputs[1];
    ct.inputs[4] = zp;
    dq.dead = true;
    passes::log(report, "fuse_dequantize_conv_transpose: " + g.describe(dq) + " folded into " + g.describe(ct));
    ++fused;
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
