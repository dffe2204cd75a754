#include "graph/passes/passes.h"

namespace ef {

void optimize(Graph& g, const ConstEvaluator& eval, OptimizeReport& r, bool full) {
  r.nodes_before = int(g.nodes.size());
  r.removed += remove_identity(g, r);
  infer_shapes(g, &eval, &r.folded);
  r.dead += eliminate_dead(g, r);
  if (full) {
    r.bn_folded += fold_batchnorm(g, r);
    r.act_fused += fuse_activation(g, r);
  }
  r.transposes_inserted += to_nhwc(g, r);
  infer_shapes(g, &eval, &r.folded);
  r.dead += eliminate_dead(g, r);
  r.nodes_after = int(g.nodes.size());
}

}  // namespace ef
