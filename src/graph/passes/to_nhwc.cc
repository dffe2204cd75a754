#include "graph/passes/passes.h"

namespace ef {

// TODO(passes helper): implement.
int to_nhwc(Graph& g, OptimizeReport& report) { return 0; }

}  // namespace ef
