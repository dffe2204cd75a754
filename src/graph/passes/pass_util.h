// Small helpers shared by the graph passes (internal to src/graph/passes/).
#pragma once
#include <algorithm>
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

inline void log(OptimizeReport& r, std::string line) { r.log.push_back(std::move(line)); }

}  // namespace ef::passes
