// x * HardSigmoid(x; alpha 1/6, beta 0.5) -> HardSwish(x): ONNX opset < 14
// (PyTorch's and edgeflow's own exporter) spells HardSwish that way. One op
// is then fused into the producing Conv like any activation, or, in a QDQ
// graph, becomes one int8 lookup table (QLinearHardSwish).
#include <cmath>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

int fuse_hardswish(Graph& g, OptimizeReport& report) {
  using namespace passes;
  g.relink();
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& m = g.nodes[i];
    if (m.dead || m.op != "Mul" || m.inputs.size() != 2 || m.outputs.size() != 1 || m.attrs.has("activation")) continue;
    for (int side = 0; side < 2; ++side) {
      const int hs = m.inputs[side], x = m.inputs[1 - side];
      if (hs < 0 || x < 0) continue;
      const int p = g.values[hs].producer;
      if (p < 0 || g.nodes[p].dead || g.nodes[p].op != "HardSigmoid") continue;
      const Node& h = g.nodes[p];
      if (h.inputs.empty() || h.inputs[0] != x || h.attrs.has("activation")) continue;
      if (std::fabs(h.attrs.f("alpha", 0.2f) - 1.f / 6.f) > 1e-6f || h.attrs.f("beta", 0.5f) != 0.5f) continue;
      if (is_graph_output(g, hs) || use_count(g, hs) != 1) continue;
      g.nodes[p].dead = true;
      Node& mul = g.nodes[i];
      mul.op = "HardSwish";
      mul.inputs = {x};
      log(report, "fuse_hardswish: " + g.describe(mul) + " = x * HardSigmoid(x)");
      ++fused;
      break;
    }
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
