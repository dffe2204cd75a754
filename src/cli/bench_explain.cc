// `edgeflow bench MODEL --video FILE --delta --explain`: per layer, in graph
// order, how much of its input was rewritten by its producer, how much its
// gate published, how much of its output it recomputed, and the main reason
// that output changed (camera noise on the frame, a change spread through
// the receptive field, a changed global operand, the break-even fallback).
#include <cstdio>

#include "cli/bench_video.h"
#include "edgeflow/analysis.h"

namespace ef::cli {

namespace {
std::string cause(const DeltaLayerStats& l, double raw, double pub, double out, double dense, double global) {
  char b[96];
  if (global > 0.5) return "global operand (SE scale / pooled value) changed: whole map";
  if (out < 0.02) return "quiet";
  if (dense > 0.5 && l.op == "Conv") {
    std::snprintf(b, sizeof b, "reach above break-even -> dense kernel");
    return b;
  }
  if (raw > 0.8 && pub > 0.8 * raw) return "input changed nearly everywhere and the gate passed it";
  if (pub > 0 && out > 1.5 * pub) {
    std::snprintf(b, sizeof b, "spread by the receptive field / tiles (x%.1f)", out / pub);
    return b;
  }
  if (raw > 0 && pub < 0.5 * raw) return "gate holds back most of the change";
  return "follows its input";
}
}  // namespace

void print_delta_explain(const Graph& g, const DeltaStats& s) {
  const int frames = std::max(1, s.frames_explained);
  int64_t total = 0;
  for (auto& l : s.layers) total += l.dense_macs;
  std::printf("\nexplain: per layer in graph order (means over %d incremental delta frames; fractions of pixels)\n", frames);
  std::printf("%-30s %-10s %9s %6s %8s %8s %8s %6s  %s\n", "layer", "op", "HxW", "MACs%", "in-rewr", "in-pub",
              "out", "dense", "main cause");
  for (size_t i = 0; i < s.layers.size() && i < g.nodes.size(); ++i) {
    const auto& l = s.layers[i];
    const Node& n = g.nodes[i];
    if (n.outputs.empty() || n.outputs[0] < 0) continue;
    const Shape& sh = g.values[size_t(n.outputs[0])].shape;
    char hw[32] = "-";
    if (sh.size() == 4) std::snprintf(hw, sizeof hw, "%lldx%lld", (long long)sh[1], (long long)sh[2]);
    const double raw = l.input_rewritten / frames, pub = l.input_published / frames;
    const double out = l.output_changed / frames;
    const double dense = double(l.dense_kernel_frames) / frames;
    const double global = double(l.global_frames) / frames;
    std::printf("%-30.30s %-10.10s %9s %5.1f%% %7.1f%% %7.1f%% %7.1f%% %5.0f%%  %s\n", l.name.c_str(), l.op.c_str(), hw,
                total ? 100.0 * double(l.dense_macs) / double(total) : 0.0, 100 * raw, 100 * pub, 100 * out,
                100 * dense, cause(l, raw, pub, out, dense, global).c_str());
  }
}

}  // namespace ef::cli
