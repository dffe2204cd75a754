// Folds an inference BatchNormalization into the Conv / ConvTranspose / Gemm
// that produces its input:  y = s * (x - mean) + B  with  s = scale / sqrt(var + eps)
// becomes new weights W * s (per output channel) and bias b * s + B - mean * s.
// Weights are never modified in place (they may be shared); new constants
// are created.
#include <cmath>
#include <vector>

#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

namespace {
using namespace passes;

const Tensor* const_f32(const Graph& g, const Node& n, size_t i) {
  if (!Graph::has_input(n, i)) return nullptr;
  const Value& v = g.in(n, i);
  if (!v.is_const() || v.dtype != DType::f32 || !v.quant.empty()) return nullptr;
  return &v.data;
}

// BN parameters as per-channel multiplier s and shift t (y = s*x + t).
bool bn_affine(const Graph& g, const Node& bn, std::vector<float>& s, std::vector<float>& t) {
  const Tensor* sc = const_f32(g, bn, 1);
  const Tensor* b = const_f32(g, bn, 2);
  const Tensor* mean = const_f32(g, bn, 3);
  const Tensor* var = const_f32(g, bn, 4);
  if (!sc || !b || !mean || !var) return false;
  const int64_t c = sc->numel();
  if (c == 0 || b->numel() != c || mean->numel() != c || var->numel() != c) return false;
  const float eps = bn.attrs.f("epsilon", 1e-5f);
  s.resize(c);
  t.resize(c);
  for (int64_t k = 0; k < c; ++k) {
    s[k] = sc->data_as<float>()[k] / std::sqrt(var->data_as<float>()[k] + eps);
    t[k] = b->data_as<float>()[k] - mean->data_as<float>()[k] * s[k];
  }
  return true;
}

int add_const_like(Graph& g, const std::string& base, Tensor t) {
  return g.add_const(g.unique_name(base + "_bnfold"), std::move(t));
}

// Returns true (and rewrites p's inputs) if the fold was possible.
bool fold_into(Graph& g, int pi, const std::vector<float>& s, const std::vector<float>& t) {
  Node& p = g.nodes[pi];
  const int64_t C = int64_t(s.size());
  const Tensor* W = const_f32(g, p, 1);
  if (!W) return false;
  const bool has_bias = Graph::has_input(p, 2);
  const Tensor* bias = has_bias ? const_f32(g, p, 2) : nullptr;
  if (has_bias && !bias) return false;
  const std::string wname = g.in(p, 1).name;
  const std::string bname = has_bias ? g.in(p, 2).name : p.name + "_bias";

  if (p.op == "Conv" || p.op == "ConvTranspose") {
    if (W->rank() < 3) return false;
    Tensor nw = W->clone();
    float* w = nw.data_as<float>();
    if (p.op == "Conv") {
      if (W->dim(0) != C) return false;
      const int64_t per = W->numel() / C;
      for (int64_t o = 0; o < C; ++o)
        for (int64_t k = 0; k < per; ++k) w[o * per + k] *= s[o];
    } else {
      // IOHW: [Cin, Cout/group, k...]; output channel of (ci, j) = group(ci) * Cout/group + j.
      const int64_t group = p.attrs.i("group", 1);
      const int64_t cin = W->dim(0), opg = W->dim(1);
      if (group < 1 || cin % group != 0 || opg * group != C) return false;
      const int64_t ipg = cin / group, per = W->numel() / (cin * opg);
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t j = 0; j < opg; ++j) {
          const float m = s[(ci / ipg) * opg + j];
          float* row = w + (ci * opg + j) * per;
          for (int64_t k = 0; k < per; ++k) row[k] *= m;
        }
    }
    if (bias && bias->numel() != C) return false;
    Tensor nb(DType::f32, {C});
    for (int64_t o = 0; o < C; ++o) nb.data_as<float>()[o] = (bias ? bias->data_as<float>()[o] * s[o] : 0.f) + t[o];
    int wv = add_const_like(g, wname, std::move(nw));
    int bv = add_const_like(g, bname, std::move(nb));
    Node& q = g.nodes[pi];
    q.inputs[1] = wv;
    if (q.inputs.size() < 3) q.inputs.resize(3, -1);
    q.inputs[2] = bv;
    return true;
  }

  if (p.op == "Gemm") {
    if (W->rank() != 2) return false;
    const bool transB = p.attrs.i("transB", 0) != 0;
    const int64_t N = transB ? W->dim(0) : W->dim(1);
    const int64_t K = transB ? W->dim(1) : W->dim(0);
    if (N != C) return false;
    const float alpha = p.attrs.f("alpha", 1.f);
    float beta = p.attrs.f("beta", 1.f);
    Tensor nw = W->clone();
    float* w = nw.data_as<float>();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) (transB ? w[n * K + k] : w[k * N + n]) *= s[n];
    (void)alpha;  // alpha * (A @ (W*s)) == s * alpha * (A @ W): unchanged
    // New C (per row if the old one varies by row): C' = C*s + t/beta.
    Tensor nc;
    if (!bias || beta == 0.f) {
      nc = Tensor(DType::f32, {C});
      for (int64_t n = 0; n < C; ++n) nc.data_as<float>()[n] = t[n];
      beta = 1.f;
    } else {
      const Shape& cs = bias->shape();
      if (cs.size() > 2) return false;
      const int64_t cols = cs.empty() ? 1 : cs.back();
      const int64_t rows = cs.size() == 2 ? cs[0] : 1;
      if (cols != 1 && cols != N) return false;
      nc = Tensor(DType::f32, rows > 1 ? Shape{rows, N} : Shape{N});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t n = 0; n < N; ++n) {
          const float c = bias->data_as<float>()[r * cols + (cols == 1 ? 0 : n)];
          nc.data_as<float>()[r * N + n] = c * s[n] + t[n] / beta;
        }
    }
    int wv = add_const_like(g, wname, std::move(nw));
    int cv = add_const_like(g, bname, std::move(nc));
    Node& q = g.nodes[pi];
    q.inputs[1] = wv;
    if (q.inputs.size() < 3) q.inputs.resize(3, -1);
    q.inputs[2] = cv;
    q.attrs.set("beta", beta);
    return true;
  }
  return false;
}
}  // namespace

int fold_batchnorm(Graph& g, OptimizeReport& report) {
  g.relink();
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].dead || g.nodes[i].op != "BatchNormalization") continue;
    const Node& bn = g.nodes[i];
    if (bn.inputs.empty() || bn.inputs[0] < 0 || bn.outputs.empty()) continue;
    if (bn.attrs.i("training_mode", 0) != 0) continue;
    bool extra_used = false;
    for (size_t k = 1; k < bn.outputs.size(); ++k)
      if (bn.outputs[k] >= 0 && !unused(g, bn.outputs[k])) extra_used = true;
    if (extra_used) continue;
    const int x = bn.inputs[0];
    const int pi = g.values[x].producer;
    if (pi < 0) continue;
    const Node& p = g.nodes[pi];
    if (p.op != "Conv" && p.op != "ConvTranspose" && p.op != "Gemm") continue;
    if (p.outputs.size() != 1 || p.attrs.has("activation")) continue;
    if (is_graph_output(g, x) || use_count(g, x) != 1) continue;
    if (p.attrs.s("layout", "NCHW") != bn.attrs.s("layout", "NCHW")) continue;
    std::vector<float> s, t;
    if (!bn_affine(g, bn, s, t)) continue;
    if (!fold_into(g, pi, s, t)) continue;
    Node& bnn = g.nodes[i];
    Node& pp = g.nodes[pi];
    const int y = bnn.outputs[0];
    pp.outputs[0] = y;
    g.values[y].producer = pi;
    bnn.dead = true;
    log(report, "fold_batchnorm: folded " + g.describe(bnn) + " into " + g.describe(pp));
    ++folded;
  }
  if (folded) g.compact();
  return folded;
}

}  // namespace ef
