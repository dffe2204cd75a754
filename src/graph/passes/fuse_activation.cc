// Merges an activation into the node producing its input: the producer gets
// attr "activation" (+ act_min/act_max for clip, act_alpha for leaky_relu)
// and writes the activation's output value directly.
#include <cmath>
#include <set>
#include <string>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

namespace {
using namespace passes;

const std::set<std::string>& fusable_producers() {
  static const std::set<std::string> s = {"Conv",    "ConvTranspose", "Gemm",        "MatMul",
                                          "Add",     "Sub",           "Mul",         "Div",
                                          "BatchNormalization",       "AveragePool", "MaxPool"};
  return s;
}

bool scalar_f32(const Graph& g, const Node& n, size_t i, float& out) {
  if (!Graph::has_input(n, i)) return false;
  const Value& v = g.in(n, i);
  if (!v.is_const() || v.dtype != DType::f32 || v.data.numel() != 1) return false;
  out = *v.data.data_as<float>();
  return true;
}

// Describe activation node `a` as a fused activation; false if not fusable.
bool describe_activation(const Graph& g, const Node& a, Attrs& set) {
  if (a.op == "Relu") {
    set.set("activation", std::string("relu"));
  } else if (a.op == "Sigmoid") {
    set.set("activation", std::string("sigmoid"));
  } else if (a.op == "Tanh") {
    set.set("activation", std::string("tanh"));
  } else if (a.op == "HardSwish") {
    set.set("activation", std::string("hardswish"));
  } else if (a.op == "LeakyRelu") {
    set.set("activation", std::string("leaky_relu"));
    set.set("act_alpha", a.attrs.f("alpha", 0.01f));
  } else if (a.op == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    // opset 11+: min/max are optional constant inputs; older: attributes.
    if (Graph::has_input(a, 1) && !scalar_f32(g, a, 1, lo)) return false;
    if (Graph::has_input(a, 2) && !scalar_f32(g, a, 2, hi)) return false;
    if (!Graph::has_input(a, 1)) lo = a.attrs.f("min", lo);
    if (!Graph::has_input(a, 2)) hi = a.attrs.f("max", hi);
    if (lo == 0.f && hi == 6.f) {
      set.set("activation", std::string("relu6"));
    } else if (lo == 0.f && std::isinf(hi) && hi > 0) {
      set.set("activation", std::string("relu"));
    } else {
      set.set("activation", std::string("clip"));
      set.set("act_min", lo);
      set.set("act_max", hi);
    }
  } else {
    return false;
  }
  return true;
}
}  // namespace

int fuse_activation(Graph& g, OptimizeReport& report) {
  g.relink();
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& a = g.nodes[i];
    if (a.dead || a.inputs.empty() || a.inputs[0] < 0 || a.outputs.size() != 1) continue;
    const int x = a.inputs[0];
    const Value& xv = g.values[x];
    if (xv.shape_known && xv.dtype != DType::f32) continue;
    if (!xv.quant.empty()) continue;
    const int pi = xv.producer;
    if (pi < 0) continue;
    const Node& p = g.nodes[pi];
    if (p.dead || !fusable_producers().count(p.op) || p.attrs.has("activation")) continue;
    if (p.outputs.empty() || p.outputs[0] != x) continue;
    bool extra_used = false;
    for (size_t k = 1; k < p.outputs.size(); ++k)
      if (p.outputs[k] >= 0 && !unused(g, p.outputs[k])) extra_used = true;
    if (extra_used) continue;
    if (is_graph_output(g, x) || use_count(g, x) != 1) continue;
    Attrs act;
    if (!describe_activation(g, a, act)) continue;
    Node& prod = g.nodes[pi];
    Node& an = g.nodes[i];
    for (auto& [k, v] : act.all()) prod.attrs.set(k, v);
    const int y = an.outputs[0];
    prod.outputs[0] = y;
    g.values[y].producer = pi;
    an.dead = true;
    log(report, "fuse_activation: fused " + g.describe(an) + " into " + g.describe(prod) + " as " +
                    act.s("activation"));
    ++fused;
  }
  if (fused) g.compact();
  return fused;
}

}  // namespace ef
