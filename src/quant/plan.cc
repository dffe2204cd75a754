// Which layers get quantized and which tensors get Q -> DQ pairs.
#include <algorithm>
#include <set>

#include "quant/quantize.h"

namespace ef::quant {

bool is_weighted(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

namespace {

bool activation(const Graph& g, int v) {
  return v >= 0 && !g.values[v].is_const() && g.values[v].dtype == DType::f32;
}
bool const_f32(const Graph& g, const Node& n, size_t i) {
  return Graph::has_input(n, i) && g.in(n, i).is_const() && g.in(n, i).dtype == DType::f32;
}
bool graph_output(const Graph& g, int v) { return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end(); }

// Empty if node n can be quantized, else why not.
std::string why_not(const Graph& g, const Node& n) {
  if (n.inputs.empty() || !activation(g, n.inputs[0])) return "input is not a float activation";
  if (graph_output(g, n.inputs[0])) return "input is also a graph output (kept float)";
  if (n.op == "Add") {
    if (n.inputs.size() != 2 || !activation(g, n.inputs[1])) return "";  // not a layer: reported as a float op
    return graph_output(g, n.inputs[1]) ? "input is also a graph output (kept float)" : "";
  }
  if (!const_f32(g, n, 1)) return "weights are not a constant float tensor";
  const Value& w = g.in(n, 1);
  if ((n.op == "Conv" || n.op == "ConvTranspose") && w.data.rank() < 3) return "weights are not OIHW";
  if ((n.op == "Gemm" || n.op == "MatMul") && w.data.rank() != 2) return "weights are not a matrix";
  if (n.op == "Gemm" && (n.attrs.f("alpha", 1.f) != 1.f || n.attrs.f("beta", 1.f) != 1.f))
    return "Gemm with alpha/beta != 1";
  if (n.op != "MatMul" && Graph::has_input(n, 2)) {
    if (!const_f32(g, n, 2)) return "bias is not a constant float tensor";
    const Value& b = g.in(n, 2);
    if (b.data.rank() != 1) return "bias is not a vector";
  }
  return "";
}

std::string layer_list(const Graph& g, const std::vector<int>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 12; ++i) s += (i ? ", " : "") + g.nodes[ids[i]].name;
  if (ids.size() > 12) s += ", ... (" + std::to_string(ids.size()) + " in all)";
  return s;
}

}  // namespace

Plan plan(const Graph& g, const Options& o) {
  Plan p;
  std::vector<int> candidates;  // quantizable layers, topological order
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    const bool layer = is_weighted(n.op) || (n.op == "Add" && n.inputs.size() == 2 && activation(g, n.inputs[0]) &&
                                             activation(g, n.inputs[1]));
    if (!layer) {
      if (!n.op.empty()) ++p.float_ops[n.op];
      continue;
    }
    std::string why = why_not(g, n);
    if (why.empty()) candidates.push_back(int(i));
    else p.kept_float.push_back({n.name, n.op, why});
  }

  // --keep-float: first, last, or node names.
  std::set<int> keep;
  std::vector<int> weighted;
  for (int i : candidates)
    if (is_weighted(g.nodes[i].op)) weighted.push_back(i);
  for (const std::string& name : o.keep_float) {
    if (name == "first") {
      if (!weighted.empty()) keep.insert(weighted.front());
      continue;
    }
    if (name == "last") {
      // Weighted layers from which no other weighted layer is reachable.
      auto cons = g.consumers();
      for (int i : weighted) {
        std::vector<int> stack = {i};
        std::set<int> seen;
        bool followed = false;
        while (!stack.empty() && !followed) {
          int k = stack.back();
          stack.pop_back();
          for (int v : g.nodes[k].outputs)
            for (int c : cons[v])
              if (seen.insert(c).second) {
                if (is_weighted(g.nodes[c].op) && std::count(weighted.begin(), weighted.end(), c)) followed = true;
                stack.push_back(c);
              }
        }
        if (!followed) keep.insert(i);
      }
      continue;
    }
    auto it = std::find_if(candidates.begin(), candidates.end(), [&](int i) { return g.nodes[i].name == name; });
    if (it != candidates.end()) {
      keep.insert(*it);
      continue;
    }
    auto node = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return !n.dead && n.name == name; });
    if (node != g.nodes.end())
      throw Error("--keep-float: layer '" + name + "' (" + node->op + ") is not quantized anyway; quantized layers: " +
                  layer_list(g, candidates));
    throw Error("--keep-float: no layer named '" + name + "' (after BatchNorm folding and activation fusion); " +
                "quantized layers: " + layer_list(g, candidates));
  }
  for (int i : candidates) {
    if (keep.count(i)) p.kept_float.push_back({g.nodes[i].name, g.nodes[i].op, "--keep-float"});
    else p.layers.push_back(i);
  }

  // Tensors: every activation input and output of a quantized layer, except graph outputs.
  std::set<int> t;
  for (int i : p.layers) {
    const Node& n = g.nodes[i];
    const size_t nin = n.op == "Add" ? 2 : 1;
    for (size_t k = 0; k < nin; ++k) t.insert(n.inputs[k]);
    if (!n.outputs.empty() && !graph_output(g, n.outputs[0])) t.insert(n.outputs[0]);
  }
  p.tensors.assign(t.begin(), t.end());
  return p;
}

}  // namespace ef::quant
