// Shape inference for data-rearranging operators: Transpose, Concat, Split,
// Slice, Pad, Gather, Tile. Their axis attributes/inputs are in the tensor's
// own dimension order (the layout pass remaps them).
#include <algorithm>
#include <limits>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void transpose(Graph& g, Node& n) {
  const Shape& in = g.in(n, 0).shape;
  const int64_t r = int64_t(in.size());
  std::vector<int64_t> perm = n.attrs.ints("perm");
  if (perm.empty())
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  if (int64_t(perm.size()) != r)
    throw Error("perm " + shape_str(perm) + " has " + std::to_string(perm.size()) + " entries for rank " +
                std::to_string(r));
  std::vector<bool> seen(size_t(r), false);
  Shape out(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) {
    int64_t p = normalize_axis(perm[i], r, "perm entry");
    if (seen[p]) throw Error("perm " + shape_str(perm) + " is not a permutation");
    seen[p] = true;
    out[i] = in[p];
  }
  set_output(g, n, 0, g.in(n, 0).dtype, out);
}

void concat(Graph& g, Node& n) {
  if (n.inputs.empty()) throw Error("needs at least one input");
  const Value& x0 = g.in(n, 0);
  const int64_t r = int64_t(x0.shape.size());
  if (r == 0) throw Error("cannot concatenate scalars");
  const int64_t axis = normalize_axis(n.attrs.i("axis"), r, "axis");
  Shape out = x0.shape;
  out[axis] = 0;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value& x = g.in(n, i);
    if (x.dtype != x0.dtype)
      throw Error("input '" + x.name + "' is " + dtype_name(x.dtype) + " but input '" + x0.name + "' is " +
                  dtype_name(x0.dtype));
    if (int64_t(x.shape.size()) != r)
      throw Error("input '" + x.name + "' has shape " + shape_str(x.shape) + ", rank differs from " +
                  shape_str(x0.shape));
    for (int64_t d = 0; d < r; ++d)
      if (d != axis && x.shape[d] != x0.shape[d])
        throw Error("input '" + x.name + "' has shape " + shape_str(x.shape) + ", incompatible with " +
                    shape_str(x0.shape) + " outside axis " + std::to_string(axis));
    out[axis] += x.shape[axis];
  }
  set_output(g, n, 0, x0.dtype, out);
}

void split(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const int64_t r = int64_t(x.shape.size());
  const int64_t axis = normalize_axis(n.attrs.i("axis", 0), r, "axis");
  const int64_t dim = x.shape[axis];
  const size_t k = n.outputs.size();
  std::vector<int64_t> sizes = Graph::has_input(n, 1) ? const_ints(g, n, 1, "split") : n.attrs.ints("split");
  if (sizes.empty()) {
    int64_t parts = n.attrs.i("num_outputs", int64_t(k));
    if (parts <= 0 || size_t(parts) != k)
      throw Error("num_outputs " + std::to_string(parts) + " does not match " + std::to_string(k) + " outputs");
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  }
  if (sizes.size() != k)
    throw Error("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(k) + " outputs");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw Error("split size " + std::to_string(s) + " is negative");
    sum += s;
  }
  if (sum != dim)
    throw Error("split sizes " + shape_str(sizes) + " sum to " + std::to_string(sum) + ", but axis " +
                std::to_string(axis) + " of " + shape_str(x.shape) + " has " + std::to_string(dim));
  for (size_t i = 0; i < k; ++i) {
    if (n.outputs[i] < 0) continue;
    Shape s = x.shape;
    s[axis] = sizes[i];
    set_output(g, n, i, x.dtype, s);
  }
}

// Gather: out = data[:axis] + indices.shape + data[axis+1:].
void gather(Graph& g, Node& n) {
  const Value& d = g.in(n, 0);
  const Value& ind = g.in(n, 1);
  if (ind.dtype != DType::i32 && ind.dtype != DType::i64)
    throw Error("indices '" + ind.name + "' must be int32 or int64, not " + dtype_name(ind.dtype));
  const int64_t r = int64_t(d.shape.size());
  if (r == 0) throw Error("cannot gather from a scalar");
  const int64_t axis = normalize_axis(n.attrs.i("axis", 0), r, "axis");
  if (ind.is_const()) {
    const int64_t dim = d.shape[axis];
    for (int64_t v : const_ints(g, n, 1, "indices"))
      if (v < -dim || v >= dim)
        throw Error("index " + std::to_string(v) + " is out of range for axis " + std::to_string(axis) +
                    " of size " + std::to_string(dim));
  }
  Shape out(d.shape.begin(), d.shape.begin() + axis);
  out.insert(out.end(), ind.shape.begin(), ind.shape.end());
  out.insert(out.end(), d.shape.begin() + axis + 1, d.shape.end());
  set_output(g, n, 0, d.dtype, out);
}

void tile(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  std::vector<int64_t> rep = const_ints(g, n, 1, "repeats");
  if (rep.size() != x.shape.size())
    throw Error("repeats has " + std::to_string(rep.size()) + " entries for rank " + std::to_string(x.shape.size()));
  Shape out = x.shape;
  for (size_t i = 0; i < rep.size(); ++i) {
    if (rep[i] < 0) throw Error("repeats " + shape_str(rep) + " has a negative entry");
    out[i] *= rep[i];
  }
  set_output(g, n, 0, x.dtype, out);
}

// Slice: starts/ends/axes/steps inputs (opset 10+) or attributes (opset 1).
void slice(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const int64_t r = int64_t(x.shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (n.inputs.size() >= 3) {
    starts = const_ints(g, n, 1, "starts");
    ends = const_ints(g, n, 2, "ends");
    axes = const_ints(g, n, 3, "axes");
    steps = const_ints(g, n, 4, "steps");
  } else {
    starts = n.attrs.ints("starts");
    ends = n.attrs.ints("ends");
    axes = n.attrs.ints("axes");
  }
  if (starts.size() != ends.size())
    throw Error("starts has " + std::to_string(starts.size()) + " entries but ends has " + std::to_string(ends.size()));
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    throw Error("starts, ends, axes and steps must have the same length");
  Shape out = x.shape;
  std::vector<bool> seen(size_t(r), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = normalize_axis(axes[i], r, "axis");
    if (seen[a]) throw Error("axis " + std::to_string(axes[i]) + " appears twice");
    seen[a] = true;
    int64_t dim = x.shape[a], st = steps[i], s = starts[i], e = ends[i];
    if (st == 0) throw Error("step is 0 for axis " + std::to_string(axes[i]));
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out[a] = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out[a] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
  }
  set_output(g, n, 0, x.dtype, out);
}

void pad(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const int64_t r = int64_t(x.shape.size());
  std::vector<int64_t> pads = Graph::has_input(n, 1) ? const_ints(g, n, 1, "pads") : n.attrs.ints("pads");
  std::vector<int64_t> axes = const_ints(g, n, 3, "axes");
  std::string mode = n.attrs.s("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    throw Error("unknown mode '" + mode + "'");
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    throw Error("pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * axes.size()));
  Shape out = x.shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = normalize_axis(axes[i], r, "axis");
    int64_t b = pads[i], e = pads[i + axes.size()];
    out[a] = x.shape[a] + b + e;
    if (out[a] < 0) throw Error("pads " + shape_str(pads) + " crop axis " + std::to_string(a) + " below zero");
    if (mode == "reflect" && (b > 0 || e > 0) && (std::max(b, e) >= x.shape[a]))
      throw Error("reflect pad " + std::to_string(std::max(b, e)) + " must be smaller than axis " +
                  std::to_string(a) + " of size " + std::to_string(x.shape[a]));
    if ((mode == "edge" || mode == "wrap") && (b > 0 || e > 0) && x.shape[a] == 0)
      throw Error(mode + " pad of an empty axis " + std::to_string(a));
  }
  set_output(g, n, 0, x.dtype, out);
}

}  // namespace

EF_REGISTER_SCHEMA("Transpose", transpose);
EF_REGISTER_SCHEMA("Concat", concat);
EF_REGISTER_SCHEMA("Split", split);
EF_REGISTER_SCHEMA("Slice", slice);
EF_REGISTER_SCHEMA("Pad", pad);
EF_REGISTER_SCHEMA("Gather", gather);
EF_REGISTER_SCHEMA("Tile", tile);
}  // namespace ef
