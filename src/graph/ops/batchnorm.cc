// Shape inference for BatchNormalization (inference form: one output).
// Channels are axis 1 (NCHW, also for 2-D/3-D inputs) or the last axis when
// layout=NHWC.
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {
void infer_bn(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  if (n.inputs.size() != 5) throw Error("expects 5 inputs (X, scale, B, mean, var), got " + std::to_string(n.inputs.size()));
  if (x.shape.size() < 2) throw Error("input '" + x.name + "' must have rank >= 2 (got " + shape_str(x.shape) + ")");
  std::string layout = n.attrs.s("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC") throw Error("attribute 'layout' must be NCHW or NHWC, got '" + layout + "'");
  if (n.attrs.i("training_mode", 0) != 0) throw Error("training_mode=1 is not supported (inference only)");
  const int64_t c = layout == "NHWC" ? x.shape.back() : x.shape[1];
  static const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    if (!Graph::has_input(n, i)) throw Error(std::string("missing input ") + names[i]);
    const Value& p = g.in(n, i);
    if (p.shape != Shape{c})
      throw Error(std::string(names[i]) + " '" + p.name + "' has shape " + shape_str(p.shape) + ", expected [" +
                  std::to_string(c) + "] (channels of '" + x.name + "' " + shape_str(x.shape) + ")");
  }
  same_as_input(g, n);
  // Legacy extra outputs (running mean/var) equal the inputs in inference.
  for (size_t k = 1; k < n.outputs.size() && k < 3; ++k)
    if (n.outputs[k] >= 0) set_output(g, n, k, x.dtype, {c});
  if (n.outputs.size() > 3)
    for (size_t k = 3; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0) throw Error("the training outputs (saved mean/var) are not supported");
}
}  // namespace
EF_REGISTER_SCHEMA("BatchNormalization", infer_bn);
}  // namespace ef
