// Removes nodes none of whose outputs reach a graph output.
#include <vector>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

int eliminate_dead(Graph& g, OptimizeReport& report) {
  g.relink();
  std::vector<char> needed(g.values.size(), 0), live(g.nodes.size(), 0);
  std::vector<int> work;
  for (int v : g.outputs)
    if (v >= 0 && !needed[v]) {
      needed[v] = 1;
      work.push_back(v);
    }
  while (!work.empty()) {
    int v = work.back();
    work.pop_back();
    int p = g.values[v].producer;
    if (p < 0 || live[p]) continue;
    live[p] = 1;
    for (int in : g.nodes[p].inputs)
      if (in >= 0 && !needed[in]) {
        needed[in] = 1;
        work.push_back(in);
      }
  }
  int removed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.dead || live[i]) continue;
    n.dead = true;
    passes::log(report, "eliminate_dead: removed " + g.describe(n) + " (outputs unused)");
    ++removed;
  }
  g.compact();
  return removed;
}

}  // namespace ef
