#include "graph/passes/passes.h"

namespace ef {

// TODO(passes helper): implement.
int eliminate_dead(Graph& g, OptimizeReport& report) { return 0; }

}  // namespace ef
