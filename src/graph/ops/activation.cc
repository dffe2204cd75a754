// Shape inference for elementwise unary operators (activations and math):
// output = input's shape/dtype.
#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void unary_float(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  if (x.dtype != DType::f32 && x.dtype != DType::f16)
    throw Error(std::string("input '") + x.name + "' must be float, not " + dtype_name(x.dtype));
  same_as_input(g, n);
}

// PRelu: slope must broadcast (unidirectionally) to X.
void prelu(Graph& g, Node& n) {
  const Value& x = g.in(n, 0);
  const Value& s = g.in(n, 1);
  Shape b = broadcast_shapes(x.shape, s.shape);
  if (b != x.shape)
    throw Error("slope '" + s.name + "' of shape " + shape_str(s.shape) + " does not broadcast to input shape " +
                shape_str(x.shape));
  same_as_input(g, n);
}

void clip(Graph& g, Node& n) {
  for (size_t i = 1; i < 3; ++i)
    if (Graph::has_input(n, i) && g.in(n, i).shape.size() > 0 && numel(g.in(n, i).shape) != 1)
      throw Error(std::string(i == 1 ? "min" : "max") + " input '" + g.in(n, i).name + "' must be a scalar");
  same_as_input(g, n);
}

}  // namespace

EF_REGISTER_SCHEMA("Relu", same_as_input);
EF_REGISTER_SCHEMA("LeakyRelu", unary_float);
EF_REGISTER_SCHEMA("PRelu", prelu);
EF_REGISTER_SCHEMA("Clip", clip);
EF_REGISTER_SCHEMA("Sigmoid", unary_float);
EF_REGISTER_SCHEMA("HardSigmoid", unary_float);
EF_REGISTER_SCHEMA("HardSwish", unary_float);
EF_REGISTER_SCHEMA("Tanh", unary_float);
EF_REGISTER_SCHEMA("Elu", unary_float);
EF_REGISTER_SCHEMA("Selu", unary_float);
EF_REGISTER_SCHEMA("Softplus", unary_float);
EF_REGISTER_SCHEMA("Exp", unary_float);
EF_REGISTER_SCHEMA("Log", unary_float);
EF_REGISTER_SCHEMA("Sqrt", unary_float);
EF_REGISTER_SCHEMA("Reciprocal", unary_float);
EF_REGISTER_SCHEMA("Erf", unary_float);
EF_REGISTER_SCHEMA("Floor", unary_float);
EF_REGISTER_SCHEMA("Ceil", unary_float);
EF_REGISTER_SCHEMA("Round", unary_float);
EF_REGISTER_SCHEMA("Neg", same_as_input);
EF_REGISTER_SCHEMA("Abs", same_as_input);
EF_REGISTER_SCHEMA("Sign", same_as_input);
}  // namespace ef
