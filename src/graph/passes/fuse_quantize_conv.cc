// QuantizeLinear(x) -> QLinearConv, x float32, the QuantizeLinear int8 and
// per-tensor with the conv's x_scale and x_zp, becomes one QLinearConv
// reading x (float input 0, graph/ops/qlinear.cc): the VNNI GEMM kernel
// (qconv.cc) copies its input once with the padding anyway, and now
// quantizes it on the way with QuantizeLinear's arithmetic (quantize_i8), so
// the result is the same bit for bit without writing and reading the int8
// tensor (the models' input quantization before the stem). Only where that
// kernel runs the conv (ungrouped, AVX512-VNNI); run by the session after
// optimize(), not for delta execution nor for export (a float input of
// QLinearConv is not ONNX).
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"
#include "runtime/kernels/qconv.h"

namespace ef {

int fuse_quantize_conv(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& conv : g.nodes) {
    if (conv.dead || !qconv_vnni_takes(g, conv) || g.in(conv, 0).dtype != DType::i8) continue;
    const int xv = conv.inputs[0], p = g.values[xv].producer;
    if (p < 0 || g.nodes[p].dead || g.nodes[p].op != "QuantizeLinear") continue;
    Node& q = g.nodes[p];
    if (g.in(q, 0).dtype != DType::f32 || !passes::same_const(g, q, 1, conv, 1) || !passes::same_const(g, q, 2, conv, 2))
      continue;
    if (!passes::fusable_intermediate(g, xv, keep)) continue;
    conv.inputs[0] = q.inputs[0];
    q.dead = true;
    passes::log(report, "fuse_quantize_conv: " + g.describe(q) + " folded into " + g.describe(conv));
    ++fused;
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
