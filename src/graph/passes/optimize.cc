// The optimizer driver. Order matters:
//   shapes + constant folding -> remove no-ops -> dead code
//   -> (full) fold BatchNorm into Conv/Gemm, x * HardSigmoid(x) into
//      HardSwish, then fuse activations (so Conv-BN-Relu becomes one Conv)
//   -> layout lowering (spatial kernels are NHWC only; skipped only for export)
//   -> shapes again (NHWC shapes) -> (full) activations again, QDQ patterns
//      into quantized ops
//   -> no-ops the layout pass exposed -> dead code.
#include <string>

#include "graph/passes/passes.h"

namespace ef {

void optimize(Graph& g, const ConstEvaluator& eval, OptimizeReport& r, bool full, bool layout) {
  r.nodes_before = int(g.nodes.size());
  auto fold = [&] {
    const int before = r.folded;
    infer_shapes(g, &eval, &r.folded);
    if (r.folded > before)
      r.log.push_back("constant folding: " + std::to_string(r.folded - before) + " node(s) replaced by constants");
  };
  fold();
  r.removed += remove_identity(g, r);
  r.dead += eliminate_dead(g, r);
  if (full) {
    r.bn_folded += fold_batchnorm(g, r);
    r.act_fused += fuse_hardswish(g, r);
    r.act_fused += fuse_activation(g, r);
  }
  if (layout) r.transposes_inserted += to_nhwc(g, r);
  fold();
  if (full) {
    r.act_fused += fuse_activation(g, r);  // pairs the layout pass brought together (Conv-Transpose-Relu)
    r.quantized += fuse_qdq(g, r);         // after the layout pass: fused ops inherit NHWC
  }
  r.removed += remove_identity(g, r);
  r.dead += eliminate_dead(g, r);
  r.nodes_after = int(g.nodes.size());
}

}  // namespace ef
