// Shape inference for DepthToSpace (DCR/CRD) and SpaceToDepth, NCHW or
// layout=NHWC.
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

struct Axes {
  int c, h, w;
};

Axes axes_of(const Node& n, const Value& x) {
  if (x.shape.size() != 4) throw Error("input '" + x.name + "' must be 4-D (got " + shape_str(x.shape) + ")");
  std::string layout = n.attrs.s("layout", "NCHW");
  if (layout == "NHWC") return {3, 1, 2};
  if (layout == "NCHW") return {1, 2, 3};
  throw Error("attribute 'layout' must be NCHW or NHWC, got '" + layout + "'");
}

int64_t block_of(const Node& n) {
  int64_t b = n.attrs.i("blocksize");
  if (b < 1) throw Error("attribute 'blocksize' must be >= 1 (got " + std::to_string(b) + ")");
  return b;
}

void infer_d2s(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  Axes a = axes_of(n, x);
  int64_t b = block_of(n);
  std::string mode = n.attrs.s("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") throw Error("attribute 'mode' must be DCR or CRD, got '" + mode + "'");
  if (x.shape[a.c] % (b * b) != 0)
    throw Error("channels " + std::to_string(x.shape[a.c]) + " of '" + x.name + "' are not divisible by blocksize^2 = " +
                std::to_string(b * b));
  Shape out = x.shape;
  out[a.c] /= b * b;
  out[a.h] *= b;
  out[a.w] *= b;
  set_output(g, n, 0, x.dtype, out);
}

void infer_s2d(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  Axes a = axes_of(n, x);
  int64_t b = block_of(n);
  if (x.shape[a.h] % b != 0 || x.shape[a.w] % b != 0)
    throw Error("spatial size of '" + x.name + "' " + shape_str(x.shape) + " is not divisible by blocksize " +
                std::to_string(b));
  Shape out = x.shape;
  out[a.c] *= b * b;
  out[a.h] /= b;
  out[a.w] /= b;
  set_output(g, n, 0, x.dtype, out);
}

}  // namespace
EF_REGISTER_SCHEMA("DepthToSpace", infer_d2s);
EF_REGISTER_SCHEMA("SpaceToDepth", infer_s2d);
}  // namespace ef
