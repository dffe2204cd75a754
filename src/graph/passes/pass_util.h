// Small helpers shared by the graph passes (internal to src/graph/passes/).
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "edgeflow/session.h"

namespace ef::passes {

inline bool is_graph_output(const Graph& g, int v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}
inline bool is_graph_input(const Graph& g, int v) {
  return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
}

// Number of (live) node inputs reading value v; graph outputs not counted.
inline int use_count(const Graph& g, int v) {
  int c = 0;
  for (const Node& n : g.nodes)
    if (!n.dead)
      for (int i : n.inputs) c += i == v;
  return c;
}

// True if value v is read by nothing (no live node, not a graph output).
inline bool unused(const Graph& g, int v) { return use_count(g, v) == 0 && !is_graph_output(g, v); }

// The pads ([begins..., ends...], one per axis) of a Pad node that pads a
// float32 (not quantized) tensor with constant zeros, or nullptr.
inline const int64_t* zero_pad_amounts(const Graph& g, const Node& p) {
  if (p.op != "Pad" || p.attrs.s("mode", "constant") != "constant" || p.outputs.size() != 1) return nullptr;
  if (!Graph::has_input(p, 1) || Graph::has_input(p, 3)) return nullptr;  // pads given, no axes
  const Value& x = g.in(p, 0);
  const Value& pads = g.in(p, 1);
  if (x.dtype != DType::f32 || !x.quant.empty() || x.shape.empty()) return nullptr;
  if (!pads.is_const() || pads.dtype != DType::i64 || pads.data.numel() != 2 * int64_t(x.shape.size())) return nullptr;
  if (Graph::has_input(p, 2)) {
    const Value& c = g.in(p, 2);
    if (!c.is_const() || c.dtype != DType::f32 || c.data.numel() != 1 || *c.data.data_as<float>() != 0.f)
      return nullptr;
  }
  return pads.data.data_as<int64_t>();
}

// True if value v may vanish into a fusion of its producer and its reader:
// read by one node, not a graph output, not named in keep (keep_values).
inline bool fusable_intermediate(const Graph& g, int v, const std::vector<std::string>& keep) {
  return !is_graph_output(g, v) && use_count(g, v) == 1 &&
         std::find(keep.begin(), keep.end(), g.values[v].name) == keep.end();
}

// Value v is a constant with one element (a per-tensor scale or zero point).
inline bool scalar_const(const Graph& g, int v) {
  return v >= 0 && g.values[v].is_const() && g.values[v].data.numel() == 1;
}

// Constant scalar inputs i of a and j of b hold the same bytes (same dtype).
inline bool same_const(const Graph& g, const Node& a, size_t i, const Node& b, size_t j) {
  if (!Graph::has_input(a, i) || !Graph::has_input(b, j)) return false;
  if (!scalar_const(g, a.inputs[i]) || !scalar_const(g, b.inputs[j])) return false;
  const Value &x = g.in(a, i), &y = g.in(b, j);
  return x.dtype == y.dtype && std::memcmp(x.data.data(), y.data.data(), x.data.nbytes()) == 0;
}

// `to` takes `from`'s fused activation (fuse_activation's attributes),
// dropping its own: an op folded into its producer ends as that op did.
inline void copy_activation(const Node& from, Node& to) {
  for (const char* k : {"activation", "act_min", "act_max", "act_alpha"}) {
    to.attrs.erase(k);
    if (from.attrs.has(k)) to.attrs.set(k, from.attrs.all().at(k));
  }
}

inline void log(OptimizeReport& r, std::string line) { r.log.push_back(std::move(line)); }

}  // namespace ef::passes
