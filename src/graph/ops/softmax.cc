// Shape inference for Softmax (opset-13 semantics: normalise along one axis).
#include "graph/ops/infer_util.h"

namespace ef {
namespace {
void infer_softmax(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  if (x.shape.empty()) throw Error("input '" + x.name + "' must have rank >= 1");
  normalize_axis(n.attrs.i("axis", -1), int64_t(x.shape.size()), "attribute 'axis'");
  same_as_input(g, n);
}
}  // namespace
EF_REGISTER_SCHEMA("Softmax", infer_softmax);
}  // namespace ef
