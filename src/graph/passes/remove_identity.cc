#include "graph/passes/passes.h"

namespace ef {

// TODO(passes helper): implement.
int remove_identity(Graph& g, OptimizeReport& report) { return 0; }

}  // namespace ef
