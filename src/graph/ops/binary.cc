// Shape inference for broadcasting elementwise operators: arithmetic
// (Add, Sub, Mul, Div, Pow, Mod, variadic Max/Min/Sum/Mean), comparisons and
// logic (output bool), and Where.
#include "graph/ops/infer_util.h"

namespace ef {
namespace {

Shape broadcast_all(const Graph& g, const Node& n, size_t first = 0) {
  Shape s;
  bool any = false;
  for (size_t i = first; i < n.inputs.size(); ++i) {
    if (!Graph::has_input(n, i)) throw Error("input " + std::to_string(i) + " is missing");
    s = any ? broadcast_shapes(s, g.in(n, i).shape) : g.in(n, i).shape;
    any = true;
  }
  if (!any) throw Error("needs at least one input");
  return s;
}

void same_dtypes(const Graph& g, const Node& n, size_t first, size_t count) {
  for (size_t i = first + 1; i < first + count && i < n.inputs.size(); ++i)
    if (g.in(n, i).dtype != g.in(n, first).dtype)
      throw Error("input '" + g.in(n, i).name + "' is " + dtype_name(g.in(n, i).dtype) + " but input '" +
                  g.in(n, first).name + "' is " + dtype_name(g.in(n, first).dtype));
}

void arith(Graph& g, Node& n) {
  if (n.inputs.size() != 2) throw Error("expects 2 inputs, got " + std::to_string(n.inputs.size()));
  same_dtypes(g, n, 0, 2);
  set_output(g, n, 0, g.in(n, 0).dtype, broadcast_all(g, n));
}

void variadic(Graph& g, Node& n) {
  same_dtypes(g, n, 0, n.inputs.size());
  set_output(g, n, 0, g.in(n, 0).dtype, broadcast_all(g, n));
}

// Pow: base and exponent may have different types; output has the base's.
void pow_(Graph& g, Node& n) {
  if (n.inputs.size() != 2) throw Error("expects 2 inputs, got " + std::to_string(n.inputs.size()));
  set_output(g, n, 0, g.in(n, 0).dtype, broadcast_all(g, n));
}

void compare(Graph& g, Node& n) {
  if (n.inputs.size() != 2) throw Error("expects 2 inputs, got " + std::to_string(n.inputs.size()));
  same_dtypes(g, n, 0, 2);
  set_output(g, n, 0, DType::boolean, broadcast_all(g, n));
}

void logic(Graph& g, Node& n) {
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (g.in(n, i).dtype != DType::boolean)
      throw Error("input '" + g.in(n, i).name + "' must be bool, not " + dtype_name(g.in(n, i).dtype));
  set_output(g, n, 0, DType::boolean, broadcast_all(g, n));
}

void where(Graph& g, Node& n) {
  if (n.inputs.size() != 3) throw Error("expects 3 inputs, got " + std::to_string(n.inputs.size()));
  if (g.in(n, 0).dtype != DType::boolean)
    throw Error("condition '" + g.in(n, 0).name + "' must be bool, not " + dtype_name(g.in(n, 0).dtype));
  same_dtypes(g, n, 1, 2);
  set_output(g, n, 0, g.in(n, 1).dtype, broadcast_all(g, n));
}

}  // namespace

EF_REGISTER_SCHEMA("Add", arith);
EF_REGISTER_SCHEMA("Sub", arith);
EF_REGISTER_SCHEMA("Mul", arith);
EF_REGISTER_SCHEMA("Div", arith);
EF_REGISTER_SCHEMA("Mod", arith);
EF_REGISTER_SCHEMA("Pow", pow_);
EF_REGISTER_SCHEMA("Max", variadic);
EF_REGISTER_SCHEMA("Min", variadic);
EF_REGISTER_SCHEMA("Sum", variadic);
EF_REGISTER_SCHEMA("Mean", variadic);
EF_REGISTER_SCHEMA("Equal", compare);
EF_REGISTER_SCHEMA("Less", compare);
EF_REGISTER_SCHEMA("Greater", compare);
EF_REGISTER_SCHEMA("LessOrEqual", compare);
EF_REGISTER_SCHEMA("GreaterOrEqual", compare);
EF_REGISTER_SCHEMA("And", logic);
EF_REGISTER_SCHEMA("Or", logic);
EF_REGISTER_SCHEMA("Xor", logic);
EF_REGISTER_SCHEMA("Not", logic);
EF_REGISTER_SCHEMA("Where", where);
}  // namespace ef
