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
  auto scalar_const = [&](int v) { return v >= 0 && g.values[v].is_const() && g.values[v].data.numel() == 1; };
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].dead || g.nodes[i].op != "ConvTranspose" || Graph::has_input(g.nodes[i], 3)) continue;
    const int xv = g.nodes[i].inputs.at(0), p = g.values[xv].producer;
    if (p < 0 || g.nodes[p].dead || g.nodes[p].op != "DequantizeLinear") continue;
    const Node& dq = g.nodes[p];
    if (g.in(dq, 0).dtype != DType::i8 || !scalar_const(dq.inputs.at(1))) continue;
    if (Graph::has_input(dq, 2) && !scalar_const(dq.inputs[2])) continue;
    if (!passes::fusable_intermediate(g, xv, keep) || !deconv_direct_fits(g, g.nodes[i])) continue;
    const int zp = Graph::has_input(dq, 2) ? dq.inputs[2] : g.add_const(g.unique_name(dq.name + "_zero_point"), Tensor(DType::i8, {}));
    Node& ct = g.nodes[i];  // after add_const: no reference into g.nodes is held across it
    ct.inputs.resize(5, -1);
    ct.inputs[0] = dq.inputs[0];
    ct.inputs[3] = dq.inputs[1];
    ct.inputs[4] = zp;
    g.nodes[p].dead = true;
    passes::log(report, "fuse_dequantize_conv_transpose: " + g.describe(g.nodes[p]) + " folded into " + g.describe(ct));
    ++fused;
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
