#include "graph/ops/quant_util.h"

#include "graph/ops/infer_util.h"

namespace ef {

void qrange(DType t, int32_t& lo, int32_t& hi) {
  switch (t) {
    case DType::i8: lo = -128, hi = 127; return;
    case DType::u8: lo = 0, hi = 255; return;
    case DType::i32: lo = INT32_MIN, hi = INT32_MAX; return;
    default: throw Error(std::string("quantized type must be int8, uint8 or int32, not ") + dtype_name(t));
  }
}

void check_qparams(const Graph& g, const Node& n, size_t scale_in, size_t zp_in, int64_t axis, const Shape& x,
                   DType qtype, const std::string& what) {
  if (!Graph::has_input(n, scale_in)) throw Error(what + " scale (input " + std::to_string(scale_in) + ") is missing");
  const Value& s = g.in(n, scale_in);
  if (s.dtype != DType::f32) throw Error(what + " scale '" + s.name + "' must be float32, not " + dtype_name(s.dtype));
  if (s.shape.size() > 1) throw Error(what + " scale '" + s.name + "' must be a scalar or 1-D, got " + shape_str(s.shape));
  const int64_t count = numel(s.shape);
  if (count > 1) {
    const int64_t a = normalize_axis(axis, int64_t(x.size()), "axis");
    if (x[a] != count)
      throw Error(what + " scale '" + s.name + "' has " + std::to_string(count) + " values but axis " +
                  std::to_string(a) + " of " + shape_str(x) + " has " + std::to_string(x[a]));
  }
  if (count == 0) throw Error(what + " scale '" + s.name + "' is empty");
  if (!Graph::has_input(n, zp_in)) return;
  const Value& z = g.in(n, zp_in);
  if (z.dtype != qtype)
    throw Error(what + " zero point '" + z.name + "' is " + dtype_name(z.dtype) + " but must be " + dtype_name(qtype));
  if (numel(z.shape) != count || z.shape.size() > 1)
    throw Error(what + " zero point '" + z.name + "' " + shape_str(z.shape) + " does not match scale '" + s.name +
                "' " + shape_str(s.shape));
}

QuantParams const_qparams(const Graph& g, const Node& n, size_t scale_in, size_t zp_in, int64_t axis, const Shape& x,
                          DType qtype, const std::string& what) {
  check_qparams(g, n, scale_in, zp_in, axis, x, qtype, what);
  const Value& s = g.in(n, scale_in);
  if (!s.is_const()) throw Error(what + " scale '" + s.name + "' must be a constant");
  QuantParams p;
  const float* sp = s.data.data_as<float>();
  p.scale.assign(sp, sp + s.data.numel());
  for (float v : p.scale)
    if (!(v > 0) || !std::isfinite(v))
      throw Error(what + " scale '" + s.name + "' holds " + std::to_string(v) + " (scales must be finite and > 0)");
  p.zero_point.assign(p.scale.size(), 0);
  if (Graph::has_input(n, zp_in)) {
    const Value& z = g.in(n, zp_in);
    if (!z.is_const()) throw Error(what + " zero point '" + z.name + "' must be a constant");
    for (size_t i = 0; i < p.zero_point.size(); ++i) {
      switch (z.dtype) {
        case DType::i8: p.zero_point[i] = z.data.data_as<int8_t>()[i]; break;
        case DType::u8: p.zero_point[i] = z.data.data_as<uint8_t>()[i]; break;
        case DType::i32: p.zero_point[i] = z.data.data_as<int32_t>()[i]; break;
        default: break;
      }
    }
  }
  if (p.scale.size() > 1) p.axis = int(normalize_axis(axis, int64_t(x.size()), "axis"));
  return p;
}

AxisWalk::AxisWalk(const Shape& shape, const QuantParams& p) {
  if (p.axis < 0 || p.scale.size() <= 1) return;
  channels = shape.at(size_t(p.axis));
  for (size_t k = size_t(p.axis) + 1; k < shape.size(); ++k) inner *= shape[k];
}

namespace {
template <class Q>
void dq(const Q* q, float* y, int64_t n, const QuantParams& p, const AxisWalk& w) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = w.channel(i);
    y[i] = float(int64_t(q[i]) - p.zero_point[c]) * p.scale[c];
  }
}
template <class Q>
void qz(const float* x, Q* q, int64_t n, const QuantParams& p, const AxisWalk& w) {
  int32_t lo, hi;
  qrange(dtype_of<Q>(), lo, hi);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = w.channel(i);
    q[i] = Q(quantize_value(x[i], p.scale[c], p.zero_point[c], lo, hi));
  }
}
}  // namespace

Tensor dequantize_tensor(const Tensor& q, const QuantParams& p) {
  Tensor y(DType::f32, q.shape());
  const AxisWalk w(q.shape(), p);
  switch (q.dtype()) {
    case DType::i8: dq(q.data_as<int8_t>(), y.data_as<float>(), q.numel(), p, w); break;
    case DType::u8: dq(q.data_as<uint8_t>(), y.data_as<float>(), q.numel(), p, w); break;
    case DType::i32: dq(q.data_as<int32_t>(), y.data_as<float>(), q.numel(), p, w); break;
    default: throw Error(std::string("cannot dequantize a ") + dtype_name(q.dtype()) + " tensor");
  }
  return y;
}

Tensor quantize_tensor(const Tensor& x, const QuantParams& p, DType qtype) {
  if (x.dtype() != DType::f32) throw Error(std::string("cannot quantize a ") + dtype_name(x.dtype()) + " tensor");
  Tensor q(qtype, x.shape());
  const AxisWalk w(x.shape(), p);
  switch (qtype) {
    case DType::i8: qz(x.data_as<float>(), q.data_as<int8_t>(), x.numel(), p, w); break;
    case DType::u8: qz(x.data_as<float>(), q.data_as<uint8_t>(), x.numel(), p, w); break;
    case DType::i32: qz(x.data_as<float>(), q.data_as<int32_t>(), x.numel(), p, w); break;
    default: throw Error(std::string("cannot quantize to ") + dtype_name(qtype));
  }
  q.quant = p;
  return q;
}

}  // namespace ef
