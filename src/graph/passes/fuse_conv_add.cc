// Add(Conv(x), r) [+ Relu/Clip fused into the Add] -> one Conv with r as
// input 3, summed in the GEMM's epilogue before the activation (ResNet's
// residual connections): the Add's pass over the output is saved. Only
// when the Conv runs on the own implicit GEMM (conv_runs_on_gemm), r has
// the output's shape (no broadcast) and the Conv's output is read by the
// Add alone. The fused Conv takes the Add's place in the node order, so r
// is computed before it.
#include <algorithm>
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"
#include "runtime/kernels/conv_gemm_f32.h"

namespace ef {
namespace {
using namespace passes;

// Activations the GEMM's clamp applies (FusedActivation::out_min/out_max).
bool clamp_activation(const Node& n) {
  const std::string a = n.attrs.s("activation", "");
  return a.empty() || a == "none" || a == "relu" || a == "relu6" || a == "clip";
}

}  // namespace

int fuse_conv_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& add : g.nodes) {
    if (add.dead || add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    if (!clamp_activation(add)) continue;
    const Value& y = g.out(add, 0);
    if (y.dtype != DType::f32 || !y.quant.empty()) continue;
    for (int side = 0; side < 2; ++side) {
      const int cv = add.inputs[side], rv = add.inputs[1 - side];
      if (cv < 0 || rv < 0 || g.values[cv].producer < 0) continue;
      const Value& r = g.values[rv];
      if (r.shape != y.shape || g.values[cv].shape != y.shape || r.dtype != DType::f32 || !r.quant.empty()) continue;
      Node& conv = g.nodes[g.values[cv].producer];
      if (conv.dead || conv.attrs.has("activation") || Graph::has_input(conv, 3) || !conv_runs_on_gemm(g, conv)) continue;
      if (!fusable_intermediate(g, cv, keep)) continue;
      const std::string what = g.describe(add) + " folded into " + g.describe(conv);
      Node merged = conv;
      merged.inputs.resize(4, -1);
      merged.inputs[3] = rv;
      merged.outputs = add.outputs;
      copy_activation(add, merged);
      conv.dead = true;
      add = std::move(merged);
      log(report, "fuse_conv_add: " + what);
      ++fused;
      break;
    }
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
