// Graph-building helpers shared by the delta tests.
#pragma once
#include <random>
#include <string>

#include "edgeflow/graph.h"
#include "edgeflow/session.h"

namespace ef::delta_test {

inline Attrs nhwc(Attrs a = {}) {
  a.set("layout", std::string("NHWC"));
  return a;
}

// Delta execution on every frame (no automatic dense fallback) and on the
// sparse paths (no convolution falls back to dense however much changed,
// whatever the timing);
// threshold 0 (exact) unless the caller changes it.
inline CompileOptions sparse_delta() {
  CompileOptions o;
  o.delta.enabled = true;
  o.delta.auto_fallback = false;
  o.delta.dense_above = 1.1f;
  o.delta.measured_breakeven = false;
  return o;
}

// A constant of normal(0, 0.3) values.
inline int rand_const(Graph& g, const std::string& name, Shape s, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.3f);
  Tensor t(DType::f32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = nd(rng);
  return g.add_const(name, t);
}

}  // namespace ef::delta_test
