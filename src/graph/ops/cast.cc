// Shape inference for Cast (attr "to": ONNX TensorProto data type) and
// CastLike.
#include "graph/ops/infer_util.h"

namespace ef {

namespace {
DType onnx_dtype(int64_t t) {
  switch (t) {
    case 1: return DType::f32;
    case 2: return DType::u8;
    case 3: return DType::i8;
    case 6: return DType::i32;
    case 7: return DType::i64;
    case 9: return DType::boolean;
    case 10: return DType::f16;
    default: throw Error("attribute 'to' = " + std::to_string(t) + " is not a supported data type");
  }
}

void cast(Graph& g, Node& n) {
  DType to = n.op == "CastLike" ? g.in(n, 1).dtype : onnx_dtype(n.attrs.i("to"));
  set_output(g, n, 0, to, g.in(n, 0).shape);
}
}  // namespace

EF_REGISTER_SCHEMA("Cast", cast);
EF_REGISTER_SCHEMA("CastLike", cast);
}  // namespace ef
