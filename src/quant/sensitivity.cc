// --keep-float auto: the layers whose own quantization costs the most.
// The report's per-layer SNR is cumulative (each layer sees the quantized
// layers before it), so a layer's cost is the SNR it loses: the lowest SNR
// among its inputs (the layers producing them, through ops that are not
// quantized) minus the SNR of its output.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "quant/report.h"

namespace ef::quant {

std::vector<SnrDrop> snr_drops(const Graph& g, const Plan& p, const Report& r) {
  std::map<int, double> by_value;  // output value of a reported layer -> its SNR
  double best = 0;
  for (size_t i = 0; i < p.layers.size() && i < r.layers.size(); ++i) {
    const double s = r.layers[i].err.snr_db();
    by_value[g.nodes[p.layers[i]].outputs[0]] = s;
    best = std::max(best, s);
  }
  std::map<int, double> memo;
  const double unknown = std::numeric_limits<double>::infinity();
  std::function<double(int)> snr_of = [&](int v) -> double {
    if (v < 0 || g.values[v].is_const()) return unknown;
    if (auto it = by_value.find(v); it != by_value.end()) return it->second;
    if (auto it = memo.find(v); it != memo.end()) return it->second;
    double s = unknown;  // graph input: as good as the best layer
    const int prod = g.values[v].producer;
    if (prod >= 0)
      for (int in : g.nodes[prod].inputs) s = std::min(s, snr_of(in));
    return memo[v] = s;
  };
  std::vector<SnrDrop> drops;
  for (size_t i = 0; i < p.layers.size() && i < r.layers.size(); ++i) {
    const Node& n = g.nodes[p.layers[i]];
    double in = unknown;
    const size_t nin = is_weighted(n.op) ? 1 : n.inputs.size();
    for (size_t k = 0; k < nin; ++k) in = std::min(in, snr_of(n.inputs[k]));
    if (std::isinf(in)) in = best;
    drops.push_back({n.name, n.op, in - r.layers[i].err.snr_db()});
  }
  std::stable_sort(drops.begin(), drops.end(), [](const SnrDrop& a, const SnrDrop& b) { return a.db > b.db; });
  return drops;
}

}  // namespace ef::quant
