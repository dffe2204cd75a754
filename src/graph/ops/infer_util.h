// Helpers shared by the shape-inference functions in src/graph/ops/.
#pragma once
#include <string>

#include "edgeflow/graph.h"

namespace ef {

inline void set_output(Graph& g, const Node& n, size_t i, DType dtype, Shape shape) {
  Value& v = g.values.at(n.outputs.at(i));
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.shape_known = true;
}

// Output 0 gets input 0's dtype and shape.
inline void same_as_input(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  set_output(g, n, 0, x.dtype, x.shape);
}

// Numpy-style broadcast of two shapes; throws naming both on mismatch.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Normalise a possibly negative axis for the given rank; throws if out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* what = "axis");

// Integer values of a constant input (int32 or int64); throws if the input
// is not constant ("... must be a constant").
std::vector<int64_t> const_ints(const Graph& g, const Node& n, size_t input, const char* what);
// The tensor a Constant node produces (value, value_float(s), value_int(s)).
Tensor constant_value(const Node& n);

std::vector<float> const_floats(const Graph& g, const Node& n, size_t input, const char* what);

}  // namespace ef
