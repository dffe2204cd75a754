// Shape inference for Gemm and MatMul (numpy matmul broadcasting).
#include <string>

#include "graph/ops/infer_util.h"

namespace ef {
namespace {

void infer_gemm(Graph& g, Node& n) {
  const Value& a = g.in(n, 0);
  const Value& b = g.in(n, 1);
  if (a.shape.size() != 2 || b.shape.size() != 2)
    throw Error("inputs A '" + a.name + "' " + shape_str(a.shape) + " and B '" + b.name + "' " + shape_str(b.shape) +
                " must be 2-D");
  const bool ta = n.attrs.i("transA", 0) != 0, tb = n.attrs.i("transB", 0) != 0;
  int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  int64_t kb = tb ? b.shape[1] : b.shape[0], nn = tb ? b.shape[0] : b.shape[1];
  if (k != kb)
    throw Error("inner dimensions differ: A '" + a.name + "' " + shape_str(a.shape) + (ta ? " (transposed)" : "") +
                " and B '" + b.name + "' " + shape_str(b.shape) + (tb ? " (transposed)" : ""));
  if (Graph::has_input(n, 2)) {
    const Value& c = g.in(n, 2);
    Shape bc;
    try {
      bc = broadcast_shapes({m, nn}, c.shape);
    } catch (const Error&) {
      bc.clear();
    }
    if (bc != Shape{m, nn})
      throw Error("C '" + c.name + "' " + shape_str(c.shape) + " does not broadcast to [" + std::to_string(m) + "," +
                  std::to_string(nn) + "]");
  }
  set_output(g, n, 0, a.dtype, {m, nn});
}

void infer_matmul(Graph& g, Node& n) {
  const Value& a = g.in(n, 0);
  const Value& b = g.in(n, 1);
  if (a.shape.empty() || b.shape.empty())
    throw Error("inputs A '" + a.name + "' and B '" + b.name + "' must have rank >= 1");
  Shape sa = a.shape, sb = b.shape;
  const bool va = sa.size() == 1, vb = sb.size() == 1;
  if (va) sa.insert(sa.begin(), 1);
  if (vb) sb.push_back(1);
  int64_t m = sa[sa.size() - 2], k = sa.back(), kb = sb[sb.size() - 2], nn = sb.back();
  if (k != kb)
    throw Error("inner dimensions differ: A '" + a.name + "' " + shape_str(a.shape) + " and B '" + b.name + "' " +
                shape_str(b.shape));
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape out;
  try {
    out = broadcast_shapes(ba, bb);
  } catch (const Error&) {
    throw Error("batch dimensions of A '" + a.name + "' " + shape_str(a.shape) + " and B '" + b.name + "' " +
                shape_str(b.shape) + " cannot be broadcast");
  }
  if (!va) out.push_back(m);
  if (!vb) out.push_back(nn);
  set_output(g, n, 0, a.dtype, out);
}

}  // namespace
EF_REGISTER_SCHEMA("Gemm", infer_gemm);
EF_REGISTER_SCHEMA("MatMul", infer_matmul);
}  // namespace ef
