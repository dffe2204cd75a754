// Shape inference for Resize (opset 11-13 inputs X, roi, scales, sizes; the
// opset-10 form X, scales is accepted too). Scales/sizes are in the tensor's
// own dimension order (NHWC when layout=NHWC), so the layout does not matter.
#include <cmath>
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

bool present(const Graph& g, const Node& n, size_t i) {
  return Graph::has_input(n, i) && numel(g.in(n, i).shape) > 0;
}

void infer_resize(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const size_t r = x.shape.size();
  if (n.attrs.has("axes")) throw Error("attribute 'axes' (opset 18) is not supported");
  std::string mode = n.attrs.s("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    throw Error("attribute 'mode' has unknown value '" + mode + "'");
  const size_t scales_in = n.inputs.size() == 2 ? 1 : 2, sizes_in = 3;
  Shape out(r);
  if (n.inputs.size() > sizes_in && present(g, n, sizes_in)) {
    auto sizes = const_ints(g, n, sizes_in, "sizes");
    if (sizes.size() != r)
      throw Error("sizes has " + std::to_string(sizes.size()) + " values for input '" + x.name + "' of rank " +
                  std::to_string(r));
    for (size_t i = 0; i < r; ++i) {
      if (sizes[i] <= 0) throw Error("sizes[" + std::to_string(i) + "] = " + std::to_string(sizes[i]) + " is not positive");
      out[i] = sizes[i];
    }
  } else if (present(g, n, scales_in)) {
    auto scales = const_floats(g, n, scales_in, "scales");
    if (scales.size() != r)
      throw Error("scales has " + std::to_string(scales.size()) + " values for input '" + x.name + "' of rank " +
                  std::to_string(r));
    for (size_t i = 0; i < r; ++i) {
      if (!(scales[i] > 0)) throw Error("scales[" + std::to_string(i) + "] = " + std::to_string(scales[i]) + " is not positive");
      out[i] = int64_t(std::floor(scales[i] * float(x.shape[i])));
      if (out[i] < 1) throw Error("scales[" + std::to_string(i) + "] gives an empty output dimension");
    }
  } else {
    throw Error("neither scales nor sizes is given");
  }
  set_output(g, n, 0, x.dtype, out);
}

}  // namespace
EF_REGISTER_SCHEMA("Resize", infer_resize);
}  // namespace ef
