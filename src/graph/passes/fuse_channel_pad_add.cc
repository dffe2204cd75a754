// Add(y, Pad(x)) where the Pad only appends (or prepends) zero channels on
// the last axis becomes one AddChannelPad(y, x) node: BlazeFace/BlazePose-
// style residuals widen the shortcut by zero channels before adding it.
// The padded tensor is never materialised; the kernel adds x into the first
// channels of y and copies the rest (applying the Add's fused activation).
#include <algorithm>
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {
namespace {
using namespace passes;

// Pad node `p` pads only the last axis with zeros: returns the channels
// before the input's, or -1 if it is not such a Pad.
int64_t channel_pad_before(const Graph& g, const Node& p) {
  const int64_t* pd = zero_pad_amounts(g, p);
  if (!pd) return -1;
  const int64_t r = int64_t(g.in(p, 0).shape.size());
  for (int64_t a = 0; a + 1 < r; ++a)
    if (pd[a] != 0 || pd[r + a] != 0) return -1;
  if (pd[r - 1] < 0 || pd[2 * r - 1] < 0) return -1;
  return pd[r - 1];
}

}  // namespace

int fuse_channel_pad_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& add : g.nodes) {
    if (add.dead || add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const Value& y = g.out(add, 0);
    if (y.dtype != DType::f32 || !y.quant.empty()) continue;
    for (int side = 0; side < 2; ++side) {
      const int pv = add.inputs[side], other = add.inputs[1 - side];
      if (pv < 0 || other < 0 || g.values[pv].producer < 0) continue;
      Node& pad = g.nodes[g.values[pv].producer];
      const int64_t before = channel_pad_before(g, pad);
      if (before < 0 || pad.dead) continue;
      if (g.values[other].shape != y.shape || g.values[pv].shape != y.shape || !g.values[other].quant.empty()) continue;
      if (!fusable_intermediate(g, pv, keep)) continue;
      add.op = "AddChannelPad";
      add.inputs = {other, pad.inputs[0]};
      add.attrs.set("pad_before", before);
      pad.dead = true;
      log(report, "fuse_channel_pad_add: " + g.describe(pad) + " folded into " + g.describe(add));
      ++fused;
      break;
    }
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
