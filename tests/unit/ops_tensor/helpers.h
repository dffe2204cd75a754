// Test helpers: build a one-node graph, run it through ef::Session, and
// naive index arithmetic for references.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeflow/session.h"

namespace ef::test {

// An operator input: a runtime input (fed at run), a constant, or omitted.
struct In {
  Tensor t;
  bool is_const = false;
  bool omitted = false;
  static In rt(Tensor t) { return {std::move(t), false, false}; }
  static In k(Tensor t) { return {std::move(t), true, false}; }
  static In none() { return {Tensor(), false, true}; }
};

inline Graph one_node(const std::string& op, const std::vector<In>& ins, int nout, Attrs attrs,
                      std::vector<Tensor>* feeds) {
  Graph g;
  std::vector<int> in_ids, out_ids;
  for (size_t i = 0; i < ins.size(); ++i) {
    const In& x = ins[i];
    if (x.omitted) {
      in_ids.push_back(-1);
      continue;
    }
    std::string name = "in" + std::to_string(i);
    if (x.is_const) {
      in_ids.push_back(g.add_const(name, x.t.clone()));
    } else {
      int v = g.add_value(name, x.t.dtype(), x.t.shape(), true);
      g.inputs.push_back(v);
      feeds->push_back(x.t);
      in_ids.push_back(v);
    }
  }
  for (int i = 0; i < nout; ++i) out_ids.push_back(g.add_value("out" + std::to_string(i)));
  g.add_node(op, "the_" + op, in_ids, out_ids, std::move(attrs));
  g.outputs = out_ids;
  return g;
}

// Run the op in a session with the given thread count; returns deep copies.
inline std::vector<Tensor> run_op(const std::string& op, const std::vector<In>& ins, Attrs attrs = {}, int nout = 1,
                                  int threads = 1) {
  std::vector<Tensor> feeds;
  Graph g = one_node(op, ins, nout, std::move(attrs), &feeds);
  CompileOptions o;
  o.threads = threads;
  Session s(Model::from_graph(std::move(g)), o);
  const auto& outs = s.run(feeds);
  std::vector<Tensor> r;
  for (const Tensor& t : outs) r.push_back(t.clone());
  return r;
}

// Message of the ef::Error a one-node graph throws at compile, or "".
inline std::string compile_error(const std::string& op, const std::vector<In>& ins, Attrs attrs = {}, int nout = 1) {
  std::vector<Tensor> feeds;
  Graph g = one_node(op, ins, nout, std::move(attrs), &feeds);
  try {
    Session s(Model::from_graph(std::move(g)));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline std::mt19937& rng() {
  static std::mt19937 r(1234);
  return r;
}

inline Tensor rand_f32(Shape s, float lo = -3.f, float hi = 3.f) {
  Tensor t(DType::f32, std::move(s));
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = d(rng());
  return t;
}

template <class T>
inline Tensor rand_int(Shape s, int64_t lo, int64_t hi) {
  Tensor t(dtype_of<T>(), std::move(s));
  std::uniform_int_distribution<int64_t> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<T>()[i] = T(d(rng()));
  return t;
}

inline int64_t rand_between(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng()); }

inline Tensor i64s(std::vector<int64_t> v) {
  return Tensor::from<int64_t>({int64_t(v.size())}, std::span<const int64_t>(v));
}
inline Tensor f32s(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), std::span<const float>(v)); }
inline Tensor scalar_f32(float v) { return Tensor::from<float>({}, std::span<const float>(&v, 1)); }
inline Tensor scalar_i64(int64_t v) { return Tensor::from<int64_t>({}, std::span<const int64_t>(&v, 1)); }

// Multi-index of a linear index in a row-major shape.
inline std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (int d = int(s.size()) - 1; d >= 0; --d) {
    idx[d] = s[d] ? i % s[d] : 0;
    i = s[d] ? i / s[d] : 0;
  }
  return idx;
}
inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t i = 0;
  for (size_t d = 0; d < s.size(); ++d) i = i * s[d] + idx[d];
  return i;
}
// Linear index into `in` (numpy-broadcast to `out`) for output multi-index idx.
inline int64_t bcast_index(const std::vector<int64_t>& idx, const Shape& in, const Shape& out) {
  int64_t off = int64_t(out.size()) - int64_t(in.size());
  int64_t i = 0;
  for (size_t d = 0; d < in.size(); ++d) i = i * in[d] + (in[d] == 1 ? 0 : idx[d + off]);
  return i;
}
inline Shape np_broadcast(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i + a.size() >= r ? a[i + a.size() - r] : 1;
    int64_t y = i + b.size() >= r ? b[i + b.size() - r] : 1;
    o[i] = x == 1 ? y : x;
  }
  return o;
}

// Random shape of the given rank with dims in [1, maxd].
inline Shape rand_shape(int rank, int64_t maxd = 5) {
  Shape s(rank);
  for (auto& d : s) d = rand_between(1, maxd);
  return s;
}
// A random shape that broadcasts to `out`: drop some leading dims, set some to 1.
inline Shape rand_bcast_of(const Shape& out) {
  int drop = int(rand_between(0, int64_t(out.size())));
  Shape s(out.begin() + drop, out.end());
  for (auto& d : s)
    if (rand_between(0, 2) == 0) d = 1;
  return s;
}

template <class T>
inline void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what << " got " << shape_str(got.shape()) << " want " << shape_str(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_EQ(got.data_as<T>()[i], want.data_as<T>()[i]) << what << " at " << i;
}

inline void expect_close(const Tensor& got, const Tensor& want, float tol, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::f32) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what << " got " << shape_str(got.shape()) << " want " << shape_str(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    float g = got.data_as<float>()[i], w = want.data_as<float>()[i];
    if (std::isnan(w)) {
      ASSERT_TRUE(std::isnan(g)) << what << " at " << i;
      continue;
    }
    ASSERT_NEAR(g, w, tol * std::max(1.f, std::fabs(w))) << what << " at " << i;
  }
}

}  // namespace ef::test
