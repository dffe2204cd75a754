// Helpers for the spatial/linear operator tests: random tensors, NCHW<->NHWC
// transposes, single-node graphs run through ef::Session, and a comparison
// with a stated tolerance.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "edgeflow/session.h"

namespace ef::test {

// Tolerance used by every comparison in this folder (float32 kernels against
// double-accumulated naive references): |got - want| <= kAtol + kRtol*|want|.
constexpr double kRtol = 1e-4;
constexpr double kAtol = 1e-5;

inline Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::f32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = d(rng);
  return t;
}

// [N,C,H,W] -> [N,H,W,C] (rank 3: [N,C,W] -> [N,W,C]).
inline Tensor to_nhwc(const Tensor& x) {
  const Shape& s = x.shape();
  const int64_t N = s[0], C = s[1];
  int64_t P = 1;
  for (size_t i = 2; i < s.size(); ++i) P *= s[i];
  Shape o = {N};
  for (size_t i = 2; i < s.size(); ++i) o.push_back(s[i]);
  o.push_back(C);
  Tensor t(DType::f32, o);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) t.data_as<float>()[(n * P + p) * C + c] = x.data_as<float>()[(n * C + c) * P + p];
  return t;
}

inline Tensor to_nchw(const Tensor& x) {
  const Shape& s = x.shape();
  const int64_t N = s[0], C = s.back();
  int64_t P = 1;
  for (size_t i = 1; i + 1 < s.size(); ++i) P *= s[i];
  Shape o = {N, C};
  for (size_t i = 1; i + 1 < s.size(); ++i) o.push_back(s[i]);
  Tensor t(DType::f32, o);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) t.data_as<float>()[(n * C + c) * P + p] = x.data_as<float>()[(n * P + p) * C + c];
  return t;
}

struct In {
  std::string name;
  Tensor t;
  bool is_const = false;
  bool omitted = false;
};

inline In rt(const std::string& name, Tensor t) { return {name, std::move(t), false, false}; }
inline In cst(const std::string& name, Tensor t) { return {name, std::move(t), true, false}; }
inline In none() { return {"", Tensor(), false, true}; }

inline Graph single_node_graph(const std::string& op, const std::vector<In>& ins, const Attrs& attrs) {
  Graph g;
  std::vector<int> ids;
  for (const In& i : ins) {
    if (i.omitted) {
      ids.push_back(-1);
      continue;
    }
    if (i.is_const) {
      ids.push_back(g.add_const(i.name, i.t));
    } else {
      int v = g.add_value(i.name, i.t.dtype(), i.t.shape(), true);
      g.inputs.push_back(v);
      ids.push_back(v);
    }
  }
  int y = g.add_value("y");
  g.add_node(op, "node_" + op, ids, {y}, attrs);
  g.outputs = {y};
  return g;
}

struct RunResult {
  Tensor y;
  std::string impl;
};

// Builds op(inputs) as a one-node graph, compiles it and runs it once.
inline RunResult run_op(const std::string& op, const std::vector<In>& ins, const Attrs& attrs, int threads = 1) {
  Graph g = single_node_graph(op, ins, attrs);
  CompileOptions o;
  o.threads = threads;
  Session s(Model::from_graph(std::move(g)), o);
  std::vector<Tensor> rin;
  for (const In& i : ins)
    if (!i.omitted && !i.is_const) rin.push_back(i.t);
  const auto& out = s.run(rin);
  RunResult r;
  r.y = out.at(0).clone();
  r.impl = s.profile().at(s.num_steps() - 1).impl;
  return r;
}

inline ::testing::AssertionResult close(const Tensor& got, const Tensor& want, double rtol = kRtol,
                                        double atol = kAtol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  int bad = 0;
  std::string msg;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = got.data_as<float>()[i], w = want.data_as<float>()[i];
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) {
      if (bad < 5) msg += " [" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(w) + ";";
      ++bad;
    }
  }
  if (bad) return ::testing::AssertionFailure() << bad << " of " << got.numel() << " values differ:" << msg;
  return ::testing::AssertionSuccess();
}

inline Attrs nhwc_attrs(Attrs a = {}) {
  a.set("layout", std::string("NHWC"));
  return a;
}

}  // namespace ef::test
