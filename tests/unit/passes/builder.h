// Small helpers to build test graphs by hand.
#pragma once
#include <random>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "unit/passes/ref_interp.h"

namespace ef::test {

struct Builder {
  Graph g;
  std::mt19937 rng{42};

  int input(const std::string& name, Shape s) {
    int v = g.add_value(name, DType::f32, std::move(s), true);
    g.inputs.push_back(v);
    return v;
  }
  int cst(const std::string& name, Tensor t) { return g.add_const(name, std::move(t)); }
  int rnd(const std::string& name, Shape s, float lo = -1.f, float hi = 1.f) {
    return cst(name, ref::random_tensor(std::move(s), rng, lo, hi));
  }
  int floats(const std::string& name, Shape s, std::vector<float> v) { return cst(name, Tensor::from<float>(s, v)); }
  int ints(const std::string& name, std::vector<int64_t> v) {
    return cst(name, Tensor::from<int64_t>({int64_t(v.size())}, v));
  }
  // Adds a node whose (first) output value is named like the node; returns it.
  int node(const std::string& op, const std::string& name, std::vector<int> ins, Attrs a = {}, int nout = 1) {
    std::vector<int> outs;
    for (int k = 0; k < nout; ++k) outs.push_back(g.add_value(k == 0 ? name : name + "_" + std::to_string(k)));
    g.add_node(op, name, std::move(ins), outs, std::move(a));
    return outs[0];
  }
  void output(int v) { g.outputs.push_back(v); }

  const Node* find(const std::string& name) const {
    for (const Node& n : g.nodes)
      if (n.name == name && !n.dead) return &n;
    return nullptr;
  }
  int count(const std::string& op) const {
    int c = 0;
    for (const Node& n : g.nodes) c += !n.dead && n.op == op;
    return c;
  }
};

inline Attrs attrs(std::initializer_list<std::pair<const char*, AttrValue>> kv) {
  Attrs a;
  for (auto& [k, v] : kv) a.set(k, v);
  return a;
}
using I = std::vector<int64_t>;

}  // namespace ef::test
