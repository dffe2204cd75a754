// Shape inference for reductions: ReduceMean/Sum/Max/Min/Prod/L2/SumSquare/
// LogSumExp, ArgMax/ArgMin. Axes come from the attribute (opset < 18, and
// ReduceSum < 13) or from constant input 1 (newer opsets); empty axes mean
// all axes unless noop_with_empty_axes=1.
#include <set>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void reduce(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const int64_t r = int64_t(x.shape.size());
  std::vector<int64_t> axes = Graph::has_input(n, 1) ? const_ints(g, n, 1, "axes") : n.attrs.ints("axes");
  const bool keep = n.attrs.i("keepdims", 1) != 0;
  const bool noop = n.attrs.i("noop_with_empty_axes", 0) != 0;
  std::vector<bool> red(size_t(r), false);
  if (axes.empty()) {
    if (noop) {
      same_as_input(g, n);
      return;
    }
    red.assign(size_t(r), true);
  }
  for (int64_t a : axes) {
    int64_t k = normalize_axis(a, r, "axis");
    if (red[k]) throw Error("axis " + std::to_string(a) + " appears twice");
    red[k] = true;
  }
  Shape out;
  for (int64_t d = 0; d < r; ++d) {
    if (!red[d]) out.push_back(x.shape[d]);
    else if (keep) out.push_back(1);
  }
  if (x.dtype != DType::f32 && x.dtype != DType::i32 && x.dtype != DType::i64)
    throw Error(std::string("input '") + x.name + "' must be float32, int32 or int64, not " + dtype_name(x.dtype));
  set_output(g, n, 0, x.dtype, out);
}

void arg(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const int64_t r = int64_t(x.shape.size());
  const int64_t a = normalize_axis(n.attrs.i("axis", 0), r, "axis");
  Shape out = x.shape;
  if (n.attrs.i("keepdims", 1)) out[a] = 1;
  else out.erase(out.begin() + a);
  set_output(g, n, 0, DType::i64, out);
}

}  // namespace

EF_REGISTER_SCHEMA("ReduceMean", reduce);
EF_REGISTER_SCHEMA("ReduceSum", reduce);
EF_REGISTER_SCHEMA("ReduceMax", reduce);
EF_REGISTER_SCHEMA("ReduceMin", reduce);
EF_REGISTER_SCHEMA("ReduceProd", reduce);
EF_REGISTER_SCHEMA("ReduceL2", reduce);
EF_REGISTER_SCHEMA("ReduceSumSquare", reduce);
EF_REGISTER_SCHEMA("ArgMax", arg);
EF_REGISTER_SCHEMA("ArgMin", arg);
}  // namespace ef
