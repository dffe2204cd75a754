#include "runtime/kernel.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace ef {

namespace {
struct Entry {
  int priority;
  KernelFactory factory;
  const char* impl;
};
std::unordered_map<std::string, std::vector<Entry>>& kernels() {
  static std::unordered_map<std::string, std::vector<Entry>> m;
  return m;
}
}  // namespace

void register_kernel(const std::string& op, int priority, KernelFactory factory, const char* impl) {
  auto& v = kernels()[op];
  v.push_back({priority, factory, impl});
  std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.priority > b.priority; });
}

bool has_kernel(const std::string& op) { return kernels().count(op) != 0; }

std::unique_ptr<Kernel> create_kernel(const KernelContext& ctx) {
  auto it = kernels().find(ctx.node.op);
  if (it == kernels().end())
    throw Error(ctx.graph.describe(ctx.node) + ": no kernel for operator '" + ctx.node.op + "'");
  for (const Entry& e : it->second)
    if (auto k = e.factory(ctx)) return k;
  std::string ins;
  for (size_t i = 0; i < ctx.node.inputs.size(); ++i)
    if (ctx.node.inputs[i] >= 0) {
      const Value& v = ctx.graph.values[ctx.node.inputs[i]];
      ins += (ins.empty() ? "" : ", ") + std::string(dtype_name(v.dtype)) + shape_str(v.shape);
    }
  throw Error(ctx.graph.describe(ctx.node) + ": no kernel supports this configuration (inputs " + ins + ")");
}

std::vector<Tensor> evaluate_node(const Graph& g, const Node& n) {
  if (n.op == "Shape" || n.op == "Size") {
    const Shape& s = g.values.at(n.inputs.at(0)).shape;
    if (n.op == "Size") {
      int64_t v = numel(s);
      return {Tensor::from<int64_t>({}, std::span<const int64_t>(&v, 1))};
    }
    int64_t r = int64_t(s.size());
    int64_t start = n.attrs.i("start", 0), end = n.attrs.i("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    std::vector<int64_t> dims(s.begin() + start, s.begin() + end);
    return {Tensor::from<int64_t>({int64_t(dims.size())}, std::span<const int64_t>(dims))};
  }
  CompileOptions opts;
  KernelContext ctx{g, n, opts, nullptr};
  auto k = create_kernel(ctx);
  std::vector<TensorView> ins, outs;
  std::vector<Tensor> results;
  for (int v : n.inputs) {
    TensorView tv;
    if (v >= 0) {
      const Value& val = g.values[v];
      tv = {val.dtype, val.shape, const_cast<void*>(val.data.data()), &val.quant};
    }
    ins.push_back(tv);
  }
  for (int v : n.outputs) {
    const Value& val = g.values[v];
    results.emplace_back(val.dtype, val.shape);
    results.back().quant = val.quant;
  }
  for (size_t i = 0; i < results.size(); ++i)
    outs.push_back({results[i].dtype(), results[i].shape(), results[i].data(), &g.values[n.outputs[i]].quant});
  k->setup(ins, outs);
  k->run();
  return results;
}

FusedActivation FusedActivation::from(const Node& n) {
  FusedActivation a;
  std::string s = n.attrs.s("activation", "");
  if (s.empty() || s == "none") return a;
  if (s == "relu") {
    a.kind = relu;
    a.min = 0;
  } else if (s == "relu6") {
    a.kind = clip;
    a.min = 0;
    a.max = 6;
  } else if (s == "clip") {
    a.kind = clip;
    a.min = n.attrs.f("act_min", -INFINITY);
    a.max = n.attrs.f("act_max", INFINITY);
  } else if (s == "hardswish") {
    a.kind = hardswish;
  } else if (s == "sigmoid") {
    a.kind = sigmoid;
  } else if (s == "tanh") {
    a.kind = tanh;
  } else if (s == "leaky_relu") {
    a.kind = leaky_relu;
    a.alpha = n.attrs.f("act_alpha", 0.01f);
  } else {
    throw Error("node '" + n.name + "': unknown fused activation '" + s + "'");
  }
  return a;
}

namespace {

// exp(t) for t <= 0, 16 lanes: t = n ln2 + r, |r| <= ln2/2, exp(r) by its
// degree-7 Taylor polynomial (relative error < 1e-8 on that range), times 2^n
// by scalef.
__attribute__((target("avx512f"))) inline __m512 exp_neg16(__m512 t) {
  t = _mm512_max_ps(t, _mm512_set1_ps(-87.f));  // exp(-87) = 1.6e-38: no denormal results (slow)
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), t);  // ln2 split hi + lo
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.4286068203094173e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

// sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|).
__attribute__((target("avx512f"))) size_t sigmoid_avx512(float* d, size_t n) {
  const __m512 one = _mm512_set1_ps(1.f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(d + i);
    const __m512 e = exp_neg16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
    const __m512 y = _mm512_div_ps(one, _mm512_add_ps(one, e));
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);  // exp_neg16's clamp would hide a NaN
    _mm512_storeu_ps(d + i, _mm512_mask_mov_ps(_mm512_mask_mul_ps(y, neg, y, e), nan, x));
  }
  return i;
}

// The simple activations, built for AVX-512 and the baseline (picked at load time).
__attribute__((target_clones("avx512f", "default"))) void clamp_all(float* d, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], lo), hi);
}
__attribute__((target_clones("avx512f", "default"))) void hardswish_all(float* d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = d[i] * std::min(std::max(d[i] + 3.f, 0.f), 6.f) * (1.f / 6.f);
}
__attribute__((target_clones("avx512f", "default"))) void leaky_all(float* d, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) d[i] = d[i] >= 0 ? d[i] : d[i] * alpha;
}

}  // namespace

bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl");
  return ok;
}

void FusedActivation::apply(float* d, size_t n) const {
  switch (kind) {
    case none: return;
    case relu:
    case clip: clamp_all(d, n, min, max); return;
    case hardswish: hardswish_all(d, n); return;
    case sigmoid: {
      const size_t done = cpu_has_avx512() ? sigmoid_avx512(d, n) : 0;
      for (size_t i = done; i < n; ++i) d[i] = 1.f / (1.f + std::exp(-d[i]));
      return;
    }
    case tanh:
      for (size_t i = 0; i < n; ++i) d[i] = std::tanh(d[i]);
      return;
    case leaky_relu: leaky_all(d, n, alpha); return;
  }
}

}  // namespace ef
