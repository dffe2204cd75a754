// AddChannelPad (edgeflow): Y = A + pad(B) where B has A's shape except on
// the last axis, and is placed at channels [pad_before, pad_before + Cb) of
// it; the other channels add zero. Produced by the fuse_channel_pad_add pass
// from Add(A, Pad(B)); may carry a fused activation like Add.
#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void add_channel_pad(Graph& g, Node& n) {
  if (n.inputs.size() != 2 || !Graph::has_input(n, 0) || !Graph::has_input(n, 1))
    throw Error("expects 2 inputs, got " + std::to_string(n.inputs.size()));
  const Value& a = g.in(n, 0);
  const Value& b = g.in(n, 1);
  if (a.dtype != b.dtype) throw Error(std::string("inputs are ") + dtype_name(a.dtype) + " and " + dtype_name(b.dtype));
  const int64_t before = n.attrs.i("pad_before", 0);
  const size_t r = a.shape.size();
  bool ok = r >= 1 && b.shape.size() == r && before >= 0 && before + b.shape[r - 1] <= a.shape[r - 1];
  for (size_t k = 0; ok && k + 1 < r; ++k) ok = a.shape[k] == b.shape[k];
  if (!ok)
    throw Error("input '" + b.name + "' " + shape_str(b.shape) + " does not fit into '" + a.name + "' " +
                shape_str(a.shape) + " at channel " + std::to_string(before));
  set_output(g, n, 0, a.dtype, a.shape);
}

}  // namespace
EF_REGISTER_SCHEMA("AddChannelPad", add_channel_pad);
}  // namespace ef
