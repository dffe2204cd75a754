#include "graph/ops/infer_util.h"

#include <cstring>

namespace ef {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* what) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw Error(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return a;
}

std::vector<int64_t> const_ints(const Graph& g, const Node& n, size_t input, const char* what) {
  if (!Graph::has_input(n, input)) return {};
  const Value& v = g.in(n, input);
  if (!v.is_const()) throw Error(std::string(what) + " input '" + v.name + "' must be a constant");
  std::vector<int64_t> r(size_t(v.data.numel()));
  if (v.dtype == DType::i64) std::memcpy(r.data(), v.data.data(), r.size() * 8);
  else if (v.dtype == DType::i32)
    for (size_t i = 0; i < r.size(); ++i) r[i] = v.data.data_as<int32_t>()[i];
  else throw Error(std::string(what) + " input '" + v.name + "' must be int32 or int64, not " + dtype_name(v.dtype));
  return r;
}

std::vector<float> const_floats(const Graph& g, const Node& n, size_t input, const char* what) {
  if (!Graph::has_input(n, input)) return {};
  const Value& v = g.in(n, input);
  if (!v.is_const()) throw Error(std::string(what) + " input '" + v.name + "' must be a constant");
  if (v.dtype != DType::f32) throw Error(std::string(what) + " input '" + v.name + "' must be float32");
  const float* p = v.data.data_as<float>();
  return std::vector<float>(p, p + v.data.numel());
}

}  // namespace ef
