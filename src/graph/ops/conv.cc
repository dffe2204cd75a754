// Shape inference for Conv and ConvTranspose (1-D and 2-D, NCHW or
// layout=NHWC). auto_pad (and ConvTranspose's output_shape) are resolved into
// explicit `pads` ([begin..., end...], H,W ordered) and erased, so kernels and
// later passes only ever see explicit pads.
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

struct SpatialDims {
  bool nhwc = false;
  int rank = 0;
  int c_axis = 1;
  int first_spatial = 2;
  int nsp = 0;
};

SpatialDims spatial_dims(const Node& n, const Shape& x, const char* what) {
  SpatialDims d;
  d.rank = int(x.size());
  if (d.rank < 3 || d.rank > 4)
    throw Error(std::string(what) + ": input X must have rank 3 or 4 (got " + shape_str(x) + ")");
  std::string layout = n.attrs.s("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC") throw Error("attribute 'layout' must be NCHW or NHWC, got '" + layout + "'");
  d.nhwc = layout == "NHWC";
  d.c_axis = d.nhwc ? d.rank - 1 : 1;
  d.first_spatial = d.nhwc ? 1 : 2;
  d.nsp = d.rank - 2;
  return d;
}

std::vector<int64_t> ints_or(const Node& n, const char* k, int nsp, int64_t def) {
  auto v = n.attrs.ints(k, std::vector<int64_t>(nsp, def));
  if (int(v.size()) != nsp)
    throw Error(std::string("attribute '") + k + "' has " + std::to_string(v.size()) + " values, expected " +
                std::to_string(nsp));
  for (int64_t e : v)
    if (e < (std::string(k) == "output_padding" ? 0 : 1))
      throw Error(std::string("attribute '") + k + "' has an invalid value " + std::to_string(e));
  return v;
}

std::vector<int64_t> pads_or_zero(const Node& n, int nsp) {
  auto p = n.attrs.ints("pads", std::vector<int64_t>(2 * nsp, 0));
  if (int(p.size()) != 2 * nsp)
    throw Error("attribute 'pads' has " + std::to_string(p.size()) + " values, expected " + std::to_string(2 * nsp));
  for (int64_t e : p)
    if (e < 0) throw Error("attribute 'pads' has a negative value");
  return p;
}

void infer_conv(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  if (!Graph::has_input(n, 1)) throw Error("missing weight input W");
  const Value& w = g.in(n, 1);
  SpatialDims d = spatial_dims(n, x.shape, "Conv");
  if (int(w.shape.size()) != d.rank)
    throw Error("weight '" + w.name + "' has shape " + shape_str(w.shape) + ", expected rank " +
                std::to_string(d.rank) + " (OIHW)");
  const int64_t group = n.attrs.i("group", 1);
  if (group < 1) throw Error("attribute 'group' must be >= 1");
  const int64_t cin = x.shape[d.c_axis], m = w.shape[0];
  if (w.shape[1] * group != cin)
    throw Error("input channels " + std::to_string(cin) + " of '" + x.name + "' " + shape_str(x.shape) +
                " do not match weight '" + w.name + "' " + shape_str(w.shape) + " with group " +
                std::to_string(group) + " (expected " + std::to_string(w.shape[1] * group) + ")");
  if (m % group != 0)
    throw Error("output channels " + std::to_string(m) + " of weight '" + w.name + "' are not divisible by group " +
                std::to_string(group));
  std::vector<int64_t> ks(w.shape.begin() + 2, w.shape.end());
  if (n.attrs.has("kernel_shape") && n.attrs.ints("kernel_shape") != ks)
    throw Error("attribute 'kernel_shape' does not match weight '" + w.name + "' " + shape_str(w.shape));
  auto strides = ints_or(n, "strides", d.nsp, 1);
  auto dil = ints_or(n, "dilations", d.nsp, 1);
  auto pads = pads_or_zero(n, d.nsp);
  std::string ap = n.attrs.s("auto_pad", "NOTSET");
  Shape out = x.shape;
  out[d.c_axis] = m;
  for (int i = 0; i < d.nsp; ++i) {
    int64_t in = x.shape[d.first_spatial + i];
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
    int64_t span = in + pads[i] + pads[i + d.nsp] - ek;
    if (span < 0)
      throw Error("kernel " + std::to_string(ek) + " (dilated) is larger than the padded input " +
                  std::to_string(in + pads[i] + pads[i + d.nsp]) + " of '" + x.name + "' " + shape_str(x.shape));
    out[d.first_spatial + i] = span / strides[i] + 1;
  }
  if (Graph::has_input(n, 2)) {
    const Value& b = g.in(n, 2);
    if (b.shape != Shape{m})
      throw Error("bias '" + b.name + "' has shape " + shape_str(b.shape) + ", expected [" + std::to_string(m) + "]");
  }
  // Input 3 (not ONNX; set by the fuse_conv_add pass): a residual added
  // before the activation, of the output's shape.
  if (Graph::has_input(n, 3) && g.in(n, 3).shape != out)
    throw Error("residual '" + g.in(n, 3).name + "' has shape " + shape_str(g.in(n, 3).shape) + ", expected " +
                shape_str(out));
  n.attrs.set("pads", pads);
  n.attrs.erase("auto_pad");
  set_output(g, n, 0, x.dtype, out);
}

void infer_conv_transpose(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  if (!Graph::has_input(n, 1)) throw Error("missing weight input W");
  const Value& w = g.in(n, 1);
  SpatialDims d = spatial_dims(n, x.shape, "ConvTranspose");
  if (int(w.shape.size()) != d.rank)
    throw Error("weight '" + w.name + "' has shape " + shape_str(w.shape) + ", expected rank " +
                std::to_string(d.rank) + " (IOHW)");
  const int64_t group = n.attrs.i("group", 1);
  if (group < 1) throw Error("attribute 'group' must be >= 1");
  const int64_t cin = x.shape[d.c_axis];
  if (w.shape[0] != cin)
    throw Error("input channels " + std::to_string(cin) + " of '" + x.name + "' " + shape_str(x.shape) +
                " do not match weight '" + w.name + "' " + shape_str(w.shape) + " (expected " +
                std::to_string(w.shape[0]) + ")");
  if (cin % group != 0)
    throw Error("input channels " + std::to_string(cin) + " are not divisible by group " + std::to_string(group));
  const int64_t m = w.shape[1] * group;
  std::vector<int64_t> ks(w.shape.begin() + 2, w.shape.end());
  if (n.attrs.has("kernel_shape") && n.attrs.ints("kernel_shape") != ks)
    throw Error("attribute 'kernel_shape' does not match weight '" + w.name + "' " + shape_str(w.shape));
  auto strides = ints_or(n, "strides", d.nsp, 1);
  auto dil = ints_or(n, "dilations", d.nsp, 1);
  auto opad = ints_or(n, "output_padding", d.nsp, 0);
  auto pads = pads_or_zero(n, d.nsp);
  std::string ap = n.attrs.s("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "SAME_UPPER" && ap != "SAME_LOWER" && ap != "VALID")
    throw Error("attribute 'auto_pad' has unknown value '" + ap + "'");
  std::vector<int64_t> oshape = n.attrs.ints("output_shape", {});
  if (!oshape.empty() && int(oshape.size()) == d.rank) {  // full shape given: take the spatial part
    oshape = std::vector<int64_t>(oshape.begin() + d.first_spatial, oshape.begin() + d.first_spatial + d.nsp);
  }
  if (!oshape.empty() && int(oshape.size()) != d.nsp)
    throw Error("attribute 'output_shape' has " + std::to_string(oshape.size()) + " values, expected " +
                std::to_string(d.nsp));
  Shape out = x.shape;
  out[d.c_axis] = m;
  for (int i = 0; i < d.nsp; ++i) {
    int64_t in = x.shape[d.first_spatial + i];
    int64_t ek = (ks[i] - 1) * dil[i] + 1;
    int64_t full = strides[i] * (in - 1) + opad[i] + ek;  // output size with no padding
    int64_t target = -1;
    if (!oshape.empty()) target = oshape[i];
    else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") target = in * strides[i];
    if (target >= 0) {
      // Same convention as ONNX Runtime: SAME_UPPER puts the extra pixel at
      // the beginning, otherwise at the end.
      int64_t total = std::max<int64_t>(0, full - target);
      int64_t small = total / 2, big = total - small;
      pads[i] = ap == "SAME_UPPER" ? big : small;
      pads[i + d.nsp] = ap == "SAME_UPPER" ? small : big;
      // output_shape larger than the unpadded size: grow output_padding
      if (full < target) opad[i] += target - full;
    } else if (ap == "VALID") {
      pads[i] = pads[i + d.nsp] = 0;
    }
    int64_t o = full - pads[i] - pads[i + d.nsp];
    if (o <= 0)
      throw Error("output size " + std::to_string(o) + " along spatial axis " + std::to_string(i) +
                  " is not positive (pads too large for input " + shape_str(x.shape) + ")");
    out[d.first_spatial + i] = o;
  }
  if (Graph::has_input(n, 2)) {
    const Value& b = g.in(n, 2);
    if (b.shape != Shape{m})
      throw Error("bias '" + b.name + "' has shape " + shape_str(b.shape) + ", expected [" + std::to_string(m) + "]");
  }
  // Inputs 3 and 4 (not ONNX; set by the fuse_dequantize_conv_transpose
  // pass): the per-tensor scale and zero point of an int8 x, dequantized by
  // the kernel; the output is float.
  const bool int8_x = Graph::has_input(n, 3);
  auto scalar = [&](size_t i) { return Graph::has_input(n, i) && numel(g.in(n, i).shape) == 1; };
  if (int8_x && x.dtype != DType::i8)
    throw Error("input '" + x.name + "' is " + dtype_name(x.dtype) + ", but inputs 3-4 (its scale and zero point) need int8");
  if (int8_x && (!scalar(3) || !scalar(4)))
    throw Error("int8 input '" + x.name + "' needs a scalar scale (input 3) and zero point (input 4)");
  n.attrs.set("pads", pads);
  n.attrs.set("output_padding", opad);
  n.attrs.erase("auto_pad");
  n.attrs.erase("output_shape");
  set_output(g, n, 0, int8_x ? DType::f32 : x.dtype, out);
}

}  // namespace
EF_REGISTER_SCHEMA("Conv", infer_conv);
EF_REGISTER_SCHEMA("ConvTranspose", infer_conv_transpose);
}  // namespace ef
