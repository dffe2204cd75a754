// Which layers get quantized and which tensors get Q -> DQ pairs.
#include <algorithm>
#include <set>

#include "quant/quantize.h"

namespace ef::quant {

bool is_weighted(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

namespace {

// Ops on activations only that have an int8 form (QLinearAdd/Mul/Concat,
// int8 pooling, lookup tables): all their inputs and their output get Q/DQ.
bool is_activation_op(const std::string& op) {
  return op == "Add" || op == "Mul" || op == "Concat" || op == "GlobalAveragePool" || op == "AveragePool" ||
         op == "MaxPool" || op == "HardSwish" || op == "HardSigmoid" || op == "Sigmoid" || op == "LeakyRelu";
}

bool activation(const Graph& g, int v) {
  return v >= 0 && !g.values[v].is_const() && g.values[v].dtype == DType::f32;
}
bool const_f32(const Graph& g, const Node& n, size_t i) {
  return Graph::has_input(n, i) && g.in(n, i).is_const() && g.in(n, i).dtype == DType::f32;
}
bool data_movement(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Transpose" ||
         op == "Concat" || op == "Identity";
}

// Values that are graph outputs, or reach them only through data movement
// (BlazeFace's heads: Conv -> Reshape -> Concat -> output). They stay float:
// raw scores and box offsets span ranges int8 cannot hold (logits down to -30000).
std::vector<char> output_like(const Graph& g) {
  std::vector<char> out(g.values.size(), 0);
  for (int v : g.outputs) out[v] = 1;
  auto cons = g.consumers();
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    if (n.dead) continue;
    for (int v : n.inputs) {
      if (v < 0 || out[v] || cons[v].empty()) continue;
      out[v] = std::all_of(cons[v].begin(), cons[v].end(), [&](int c) {
        return data_movement(g.nodes[c].op) && !g.nodes[c].outputs.empty() && out[g.nodes[c].outputs[0]];
      });
    }
  }
  return out;
}

// Empty if node n can be quantized, else why not.
std::string why_not(const Graph& g, const Node& n, const std::vector<char>& to_output) {
  if (n.inputs.empty() || !activation(g, n.inputs[0])) return "input is not a float activation";
  for (int v : n.inputs)
    if (v >= 0 && to_output[v] && activation(g, v)) return "input feeds a graph output (kept float)";
  if (is_activation_op(n.op)) return to_output[n.outputs[0]] ? "output feeds a graph output (kept float)" : "";
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
  const std::vector<char> to_output = output_like(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    const bool layer = is_weighted(n.op) || (is_activation_op(n.op) && !n.inputs.empty() &&
                                             std::all_of(n.inputs.begin(), n.inputs.end(),
                                                         [&](int v) { return activation(g, v); }));
    if (!layer) {
      if (!n.op.empty()) ++p.float_ops[n.op];
      continue;
    }
    std::string why = why_not(g, n, to_output);
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

  // Tensors: every activation input and output of a quantized layer, except output-like ones.
  std::set<int> t;
  for (int i : p.layers) {
    const Node& n = g.nodes[i];
    const size_t nin = is_weighted(n.op) ? 1 : n.inputs.size();
    for (size_t k = 0; k < nin; ++k) t.insert(n.inputs[k]);
    if (!n.outputs.empty() && !to_output[n.outputs[0]]) t.insert(n.outputs[0]);
  }
  p.tensors.assign(t.begin(), t.end());
  // Data movement between two int8 tensors runs on the int8 bytes (qdq.cc
  // gives its output the input's parameters): not a float op.
  for (const Node& n : g.nodes) {
    if (n.dead || is_activation_op(n.op) || !shares_input_params(g, n)) continue;
    if (!t.count(n.inputs[0]) || !t.count(n.outputs[0])) continue;
    ++p.int8_moves[n.op];
    if (--p.float_ops[n.op] <= 0) p.float_ops.erase(n.op);
  }
  return p;
}

}  // namespace ef::quant
