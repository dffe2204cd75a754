// Pad(x) -> Conv where the Pad adds zeros on H and W only (TFLite's explicit
// ZeroPadding2D before a VALID convolution) becomes one Conv with larger
// pads: the padded copy of the activation is never written.
#include <algorithm>
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {
namespace {
using namespace passes;

// The H/W pads [top, left, bottom, right] of an NHWC zero Pad, or empty.
std::vector<int64_t> spatial_zero_pads(const Graph& g, const Node& p) {
  const int64_t* d = zero_pad_amounts(g, p);  // [n, h, w, c] begins, then ends
  if (!d || g.in(p, 0).shape.size() != 4 || d[0] || d[3] || d[4] || d[7]) return {};
  std::vector<int64_t> r = {d[1], d[2], d[5], d[6]};
  if (std::any_of(r.begin(), r.end(), [](int64_t v) { return v < 0; })) return {};
  return r;
}

}  // namespace

int fuse_pad_conv(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep) {
  g.relink();
  int fused = 0;
  for (Node& conv : g.nodes) {
    if (conv.dead || conv.op != "Conv" || conv.attrs.s("layout", "") != "NHWC" || conv.inputs.empty()) continue;
    const int pv = conv.inputs[0];
    if (pv < 0 || g.values[pv].producer < 0) continue;
    Node& pad = g.nodes[g.values[pv].producer];
    if (pad.dead) continue;
    const std::vector<int64_t> add = spatial_zero_pads(g, pad);
    std::vector<int64_t> pads = conv.attrs.ints("pads", {0, 0, 0, 0});
    if (add.empty() || pads.size() != 4 || conv.attrs.has("auto_pad")) continue;
    if (!fusable_intermediate(g, pv, keep)) continue;
    for (size_t k = 0; k < 4; ++k) pads[k] += add[k];
    conv.attrs.set("pads", pads);
    conv.inputs[0] = pad.inputs[0];
    pad.dead = true;
    log(report, "fuse_pad_conv: " + g.describe(pad) + " folded into the pads of " + g.describe(conv));
    ++fused;
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
