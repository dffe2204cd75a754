// Shape inference for operators that compute or rearrange shapes without
// moving data in any interesting way: Shape, Size, Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, Dropout, Constant, ConstantOfShape, Range, Expand.
#include <algorithm>
#include <cmath>
#include <set>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void shape_(Graph& g, Node& n) {
  int64_t r = int64_t(g.in(n, 0).shape.size());
  int64_t start = n.attrs.i("start", 0), end = n.attrs.i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  set_output(g, n, 0, DType::i64, {end - start});
}

void size_(Graph& g, Node& n) { set_output(g, n, 0, DType::i64, {}); }

void identity(Graph& g, Node& n) {
  same_as_input(g, n);
  if (n.op == "Dropout" && n.outputs.size() > 1 && n.outputs[1] >= 0)
    set_output(g, n, 1, DType::boolean, g.in(n, 0).shape);
}

void reshape(Graph& g, Node& n) {
  const Shape& in = g.in(n, 0).shape;
  std::vector<int64_t> spec = Graph::has_input(n, 1) ? const_ints(g, n, 1, "shape") : n.attrs.ints("shape");
  const bool allowzero = n.attrs.i("allowzero", 0) != 0;
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) throw Error("shape " + shape_str(spec) + " has more than one -1");
      infer = int(i);
      continue;
    }
    if (d < -1) throw Error("shape " + shape_str(spec) + " has an invalid dimension " + std::to_string(d));
    if (d == 0 && !allowzero) {
      if (i >= in.size())
        throw Error("shape " + shape_str(spec) + ": 0 at index " + std::to_string(i) + " but the input " +
                    shape_str(in) + " has rank " + std::to_string(in.size()));
      d = in[i];
    }
    out[i] = d;
    known *= d;
  }
  const int64_t total = numel(in);
  if (infer >= 0) {
    if (allowzero && std::count(spec.begin(), spec.end(), 0))
      throw Error("shape " + shape_str(spec) + " has both 0 and -1 with allowzero=1");
    if (known == 0 || total % known != 0)
      throw Error("cannot reshape " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
                  shape_str(spec));
    out[infer] = total / known;
  } else if (known != total) {
    throw Error("cannot reshape " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
                shape_str(spec) + " (" + std::to_string(known) + " elements)");
  }
  set_output(g, n, 0, g.in(n, 0).dtype, out);
}

void flatten(Graph& g, Node& n) {
  const Shape& in = g.in(n, 0).shape;
  int64_t r = int64_t(in.size());
  int64_t axis = n.attrs.i("axis", 1);
  if (axis < -r || axis > r)
    throw Error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= in[i];
  set_output(g, n, 0, g.in(n, 0).dtype, {a, b});
}

std::vector<int64_t> axes_of(const Graph& g, const Node& n) {
  if (Graph::has_input(n, 1)) return const_ints(g, n, 1, "axes");
  return n.attrs.ints("axes");
}

void squeeze(Graph& g, Node& n) {
  const Shape& in = g.in(n, 0).shape;
  int64_t r = int64_t(in.size());
  std::vector<int64_t> axes = axes_of(g, n);
  std::vector<bool> drop(in.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  } else {
    for (int64_t a : axes) {
      int64_t k = normalize_axis(a, r, "axis");
      if (in[k] != 1)
        throw Error("cannot squeeze axis " + std::to_string(a) + " of shape " + shape_str(in) + " (size " +
                    std::to_string(in[k]) + ", not 1)");
      drop[k] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  set_output(g, n, 0, g.in(n, 0).dtype, out);
}

void unsqueeze(Graph& g, Node& n) {
  const Shape& in = g.in(n, 0).shape;
  std::vector<int64_t> axes = axes_of(g, n);
  if (axes.empty()) throw Error("axes are missing");
  int64_t r = int64_t(in.size() + axes.size());
  std::vector<bool> ins(size_t(r), false);
  for (int64_t a : axes) {
    int64_t k = normalize_axis(a, r, "axis");
    if (ins[k]) throw Error("axis " + std::to_string(a) + " appears twice");
    ins[k] = true;
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(ins[i] ? 1 : in[j++]);
  set_output(g, n, 0, g.in(n, 0).dtype, out);
}


void constant(Graph& g, Node& n) {
  Tensor t = constant_value(n);
  set_output(g, n, 0, t.dtype(), t.shape());
}

void constant_of_shape(Graph& g, Node& n) {
  std::vector<int64_t> s = const_ints(g, n, 0, "shape");
  for (int64_t d : s)
    if (d < 0) throw Error("shape " + shape_str(s) + " has a negative dimension");
  DType dt = DType::f32;
  if (n.attrs.has("value")) {
    const Tensor& v = n.attrs.tensor("value");
    if (v.numel() != 1) throw Error("attribute 'value' must hold one element, not " + std::to_string(v.numel()));
    dt = v.dtype();
  }
  set_output(g, n, 0, dt, s);
}

double scalar_of(const Graph& g, const Node& n, size_t i, const char* what) {
  const Value& v = g.in(n, i);
  if (!v.is_const()) throw Error(std::string(what) + " input '" + v.name + "' must be a constant");
  if (v.data.numel() != 1) throw Error(std::string(what) + " input '" + v.name + "' must be a scalar");
  switch (v.dtype) {
    case DType::f32: return v.data.data_as<float>()[0];
    case DType::i32: return v.data.data_as<int32_t>()[0];
    case DType::i64: return double(v.data.data_as<int64_t>()[0]);
    default: throw Error(std::string(what) + " input '" + v.name + "' must be float32, int32 or int64");
  }
}

void range(Graph& g, Node& n) {
  if (n.inputs.size() != 3) throw Error("expects 3 inputs (start, limit, delta)");
  DType dt = g.in(n, 0).dtype;
  for (size_t i = 1; i < 3; ++i)
    if (g.in(n, i).dtype != dt) throw Error("start, limit and delta must have the same dtype");
  int64_t count;
  if (dt == DType::f32) {
    double s = scalar_of(g, n, 0, "start"), l = scalar_of(g, n, 1, "limit"), d = scalar_of(g, n, 2, "delta");
    if (d == 0) throw Error("delta is 0");
    count = std::max<int64_t>(0, int64_t(std::ceil((l - s) / d)));
  } else {
    int64_t s = const_ints(g, n, 0, "start").at(0), l = const_ints(g, n, 1, "limit").at(0),
            d = const_ints(g, n, 2, "delta").at(0);
    if (d == 0) throw Error("delta is 0");
    int64_t diff = l - s;
    count = d > 0 ? (diff > 0 ? (diff + d - 1) / d : 0) : (diff < 0 ? (-diff + (-d) - 1) / (-d) : 0);
  }
  set_output(g, n, 0, dt, {count});
}

void expand(Graph& g, Node& n) {
  std::vector<int64_t> s = const_ints(g, n, 1, "shape");
  set_output(g, n, 0, g.in(n, 0).dtype, broadcast_shapes(g.in(n, 0).shape, s));
}

}  // namespace

// The tensor a Constant node produces (value, value_float(s), value_int(s)).
Tensor constant_value(const Node& n) {
  const Attrs& a = n.attrs;
  if (a.has("value")) return a.tensor("value");
  if (a.has("value_float")) {
    float v = a.f("value_float", 0);
    return Tensor::from<float>({}, std::span<const float>(&v, 1));
  }
  if (a.has("value_floats")) {
    auto v = a.floats("value_floats");
    return Tensor::from<float>({int64_t(v.size())}, std::span<const float>(v));
  }
  if (a.has("value_int")) {
    int64_t v = a.i("value_int");
    return Tensor::from<int64_t>({}, std::span<const int64_t>(&v, 1));
  }
  if (a.has("value_ints")) {
    auto v = a.ints("value_ints");
    return Tensor::from<int64_t>({int64_t(v.size())}, std::span<const int64_t>(v));
  }
  throw Error("has none of the attributes value, value_float(s), value_int(s)");
}

EF_REGISTER_SCHEMA("Shape", shape_);
EF_REGISTER_SCHEMA("Size", size_);
EF_REGISTER_SCHEMA("Identity", identity);
EF_REGISTER_SCHEMA("Dropout", identity);
EF_REGISTER_SCHEMA("Reshape", reshape);
EF_REGISTER_SCHEMA("Flatten", flatten);
EF_REGISTER_SCHEMA("Squeeze", squeeze);
EF_REGISTER_SCHEMA("Unsqueeze", unsqueeze);
EF_REGISTER_SCHEMA("Constant", constant);
EF_REGISTER_SCHEMA("ConstantOfShape", constant_of_shape);
EF_REGISTER_SCHEMA("Range", range);
EF_REGISTER_SCHEMA("Expand", expand);
}  // namespace ef
