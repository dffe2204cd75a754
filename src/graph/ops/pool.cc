// Shape inference for MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
// (1-D and 2-D, NCHW or layout=NHWC). auto_pad is resolved into explicit
// pads and erased. ceil_mode follows PyTorch/ONNX Runtime: the last window
// must start inside the input or its leading padding.
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

struct Dims {
  bool nhwc = false;
  int rank = 0, c_axis = 1, first = 2, nsp = 0;
};

Dims dims_of(const Node& n, const Shape& x) {
  Dims d;
  d.rank = int(x.size());
  if (d.rank < 3 || d.rank > 4) throw Error("input X must have rank 3 or 4 (got " + shape_str(x) + ")");
  std::string layout = n.attrs.s("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC") throw Error("attribute 'layout' must be NCHW or NHWC, got '" + layout + "'");
  d.nhwc = layout == "NHWC";
  d.c_axis = d.nhwc ? d.rank - 1 : 1;
  d.first = d.nhwc ? 1 : 2;
  d.nsp = d.rank - 2;
  return d;
}

void infer_pool(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  Dims d = dims_of(n, x.shape);
  if (!n.attrs.has("kernel_shape")) throw Error("missing required attribute 'kernel_shape'");
  auto ks = n.attrs.ints("kernel_shape");
  auto chk = [&](const char* k, std::vector<int64_t> v, size_t len, int64_t lo) {
    if (v.size() != len)
      throw Error(std::string("attribute '") + k + "' has " + std::to_string(v.size()) + " values, expected " +
                  std::to_string(len));
    for (int64_t e : v)
      if (e < lo) throw Error(std::string("attribute '") + k + "' has an invalid value " + std::to_string(e));
    return v;
  };
  ks = chk("kernel_shape", ks, d.nsp, 1);
  auto strides = chk("strides", n.attrs.ints("strides", std::vector<int64_t>(d.nsp, 1)), d.nsp, 1);
  auto dil = chk("dilations", n.attrs.ints("dilations", std::vector<int64_t>(d.nsp, 1)), d.nsp, 1);
  auto pads = chk("pads", n.attrs.ints("pads", std::vector<int64_t>(2 * d.nsp, 0)), 2 * d.nsp, 0);
  const bool ceil_mode = n.attrs.i("ceil_mode", 0) != 0;
  std::string ap = n.attrs.s("auto_pad", "NOTSET");
  Shape out = x.shape;
  for (int i = 0; i < d.nsp; ++i) {
    int64_t in = x.shape[d.first + i];
    int64_t ek = (ks[i] - 1) * dil[i] + 1;
    if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      int64_t o = (in + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (o - 1) * strides[i] + ek - in);
      int64_t small = total / 2, big = total - small;
      pads[i] = ap == "SAME_UPPER" ? small : big;
      pads[i + d.nsp] = ap == "SAME_UPPER" ? big : small;
    } else if (ap == "VALID") {
      pads[i] = pads[i + d.nsp] = 0;
    } else if (ap != "NOTSET") {
      throw Error("attribute 'auto_pad' has unknown value '" + ap + "'");
    }
    if (pads[i] >= ek || pads[i + d.nsp] >= ek)
      throw Error("pads " + std::to_string(pads[i]) + "/" + std::to_string(pads[i + d.nsp]) +
                  " must be smaller than the (dilated) kernel " + std::to_string(ek));
    int64_t span = in + pads[i] + pads[i + d.nsp] - ek;
    if (span < 0)
      throw Error("kernel " + std::to_string(ek) + " is larger than the padded input of '" + x.name + "' " +
                  shape_str(x.shape));
    int64_t o = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
    if (ceil_mode && (o - 1) * strides[i] >= in + pads[i]) --o;
    out[d.first + i] = o;
  }
  n.attrs.set("pads", pads);
  n.attrs.erase("auto_pad");
  set_output(g, n, 0, x.dtype, out);
  if (n.outputs.size() > 1 && n.outputs[1] >= 0) {
    if (n.op != "MaxPool") throw Error("only MaxPool has a second output");
    set_output(g, n, 1, DType::i64, out);
  }
}

void infer_global_pool(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  Dims d = dims_of(n, x.shape);
  Shape out = x.shape;
  for (int i = 0; i < d.nsp; ++i) out[d.first + i] = 1;
  set_output(g, n, 0, x.dtype, out);
}

}  // namespace
EF_REGISTER_SCHEMA("MaxPool", infer_pool);
EF_REGISTER_SCHEMA("AveragePool", infer_pool);
EF_REGISTER_SCHEMA("GlobalAveragePool", infer_global_pool);
EF_REGISTER_SCHEMA("GlobalMaxPool", infer_global_pool);
}  // namespace ef
