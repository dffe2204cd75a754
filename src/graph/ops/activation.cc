// Shape inference for elementwise activations: output = input's shape/dtype.
#include "graph/ops/infer_util.h"

namespace ef {
EF_REGISTER_SCHEMA("Relu", same_as_input);
}  // namespace ef
