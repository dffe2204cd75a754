// A graph run once for the fusion tests (fused graph against the unfused one).
#pragma once
#include <string>
#include <vector>

#include "unit/ops_tensor/helpers.h"

namespace ef::test {

struct FusionRun {
  Tensor y;       // output 0
  int count = 0;  // nodes of the counted op left in the compiled graph
};

// g compiled with the optimizer on (its fusions) or off, at `threads`, keeping
// the values named in keep (CompileOptions::keep_values), run on `in`.
inline FusionRun run_fusion(const Graph& g, const std::vector<Tensor>& in, bool optimize, int threads,
                            const std::string& counted, std::vector<std::string> keep = {}) {
  CompileOptions o;
  o.optimize = optimize;
  o.threads = threads;
  o.keep_values = std::move(keep);
  Session s(Model::from_graph(g), o);
  FusionRun r{s.run(in).at(0).clone()};
  for (const Node& n : s.graph().nodes) r.count += n.op == counted;
  return r;
}

}  // namespace ef::test
