// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through
// Weight Equalization and Bias Correction", 2019), driven by activation
// ranges: for a Conv L1 (no activation, or ReLU/LeakyReLU, which commute
// with a positive scale) whose output y feeds only a Conv L2 (group 1),
// channel c of y is divided by s_c and L2's input channel c multiplied by
// s_c. The float model computes the same function. With
// s_c = sqrt(a_c / r_c) (a_c = calibrated max|y_c|, r_c = max|W2[:, c]|)
// both become sqrt(a_c r_c): depthwise outputs whose channels span very
// different ranges (BlazeFace: most channels within +-30, a few at -1000)
// stop dominating the per-tensor int8 scale of y, at the price of L2's
// per-output-channel weight scale.
#include <algorithm>
#include <cmath>
#include <set>

#include "quant/quantize.h"

namespace ef::quant {

std::vector<EqualizePair> equalize_candidates(const Graph& g, const Plan& p) {
  std::set<int> layers(p.layers.begin(), p.layers.end()), tensors(p.tensors.begin(), p.tensors.end());
  auto cons = g.consumers();
  std::vector<EqualizePair> r;
  for (int i : p.layers) {
    const Node& a = g.nodes[i];
    if (a.op != "Conv" || a.outputs.empty()) continue;
    const std::string act = a.attrs.s("activation");
    if (!act.empty() && act != "relu" && act != "leaky_relu") continue;
    const int y = a.outputs[0];
    if (!tensors.count(y) || cons[y].size() != 1 || !layers.count(cons[y][0])) continue;
    if (std::find(g.outputs.begin(), g.outputs.end(), y) != g.outputs.end()) continue;
    const Node& b = g.nodes[cons[y][0]];
    if (b.op != "Conv" || b.inputs[0] != y || b.attrs.i("group", 1) != 1) continue;
    if (std::count(b.inputs.begin(), b.inputs.end(), y) != 1) continue;
    // Their weights and bias must be theirs alone (they get rescaled).
    bool own = true;
    for (const Node* n : {&a, &b})
      for (size_t k = 1; k < n->inputs.size(); ++k)
        if (n->inputs[k] >= 0 && cons[n->inputs[k]].size() != 1) own = false;
    if (!own || !g.in(a, 1).is_const() || !g.in(b, 1).is_const()) continue;
    const Tensor& w1 = g.in(a, 1).data;
    const Tensor& w2 = g.in(b, 1).data;
    if (w2.rank() < 2 || w2.dim(1) != w1.dim(0)) continue;
    r.push_back({i, cons[y][0], y});
  }
  return r;
}

std::vector<float> equalize_pair(Graph& g, const EqualizePair& e, const std::vector<float>& absmax) {
  const Node& a = g.nodes[e.l1];
  const Node& b = g.nodes[e.l2];
  Tensor w1 = g.in(a, 1).data.clone(), w2 = g.in(b, 1).data.clone();  // weights may be shared with the model
  const int64_t c_n = w1.dim(0), in1 = w1.numel() / c_n;
  const int64_t o_n = w2.dim(0), in2 = w2.numel() / (o_n * c_n);
  std::vector<float> s(size_t(c_n), 1.f);
  for (int64_t c = 0; c < c_n; ++c) {
    float r = 0;
    for (int64_t o = 0; o < o_n; ++o)
      for (int64_t k = 0; k < in2; ++k) r = std::max(r, std::fabs(w2.data_as<float>()[(o * c_n + c) * in2 + k]));
    if (absmax[c] > 0 && r > 0) s[c] = std::sqrt(absmax[c] / r);
  }
  for (int64_t c = 0; c < c_n; ++c) {
    for (int64_t k = 0; k < in1; ++k) w1.data_as<float>()[c * in1 + k] /= s[c];
    for (int64_t o = 0; o < o_n; ++o)
      for (int64_t k = 0; k < in2; ++k) w2.data_as<float>()[(o * c_n + c) * in2 + k] *= s[c];
  }
  g.in(a, 1).data = w1;
  g.in(b, 1).data = w2;
  if (Graph::has_input(a, 2)) {
    Tensor b1 = g.in(a, 2).data.clone();
    if (b1.numel() == c_n)
      for (int64_t c = 0; c < c_n; ++c) b1.data_as<float>()[c] /= s[c];
    g.in(a, 2).data = b1;
  }
  return s;
}

}  // namespace ef::quant
