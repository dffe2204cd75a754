// Sparse pointwise ops for delta execution: the standalone activations
// (Relu, Clip, LeakyRelu, HardSwish, Sigmoid, Tanh: the same functions as the
// fused activations), PRelu with a constant per-channel (or scalar) slope and
// Identity. An output pixel is recomputed exactly where the input changed.
#include <cstring>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaPointwise : public DeltaOp {
 public:
  DeltaPointwise(const DeltaOpCtx& c, FusedActivation act, std::vector<float> slope)
      : DeltaOp(c), act_(act), slope_(std::move(slope)) {}

  int64_t run(bool all) override {
    const Region& r = mark_reached(all, [](int64_t y, int64_t x, Region& out) { out.mark(y * out.w() + x); });
    last_dense_ = r.all();
    const int64_t C = out_[0]->c;
    if (r.all()) apply(in_[0]->pub, out_[0]->buf, out_[0]->numel());
    else
      for_each_run(r.list(), [&](int64_t p, int64_t n) { apply(in_[0]->pub + p * C, out_[0]->buf + p * C, n * C); });
    return 0;
  }

 private:
  // n floats (whole pixels).
  void apply(const float* x, float* y, int64_t n) const {
    if (slope_.empty()) {
      std::memcpy(y, x, size_t(n) * sizeof(float));
      act_.apply(y, size_t(n));
      return;
    }
    const int64_t C = int64_t(slope_.size());
    for (int64_t i = 0; i < n; i += C)
      for (int64_t k = 0; k < C; ++k) y[i + k] = x[i + k] >= 0 ? x[i + k] : x[i + k] * slope_[size_t(k)];
  }
  FusedActivation act_;
  std::vector<float> slope_;  // PRelu: one slope per channel
};

// A float scalar from constant input i (false: present but not a constant scalar).
bool const_scalar(const KernelContext& k, size_t i, float& v) {
  if (!Graph::has_input(k.node, i)) return true;
  const Tensor* t = k.const_input(i);
  if (!t || t->dtype() != DType::f32 || t->numel() != 1) return false;
  v = t->data_as<float>()[0];
  return true;
}

}  // namespace

std::unique_ptr<DeltaOp> make_delta_pointwise(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  if (!c.in[0] || !c.out[0] || k.input(0).dtype != DType::f32 || k.output(0).dtype != DType::f32) return nullptr;
  if (k.input(0).shape != k.output(0).shape || k.input(0).shape.size() != 4 || c.out[0]->h * c.out[0]->w <= 1)
    return nullptr;
  if (n.attrs.has("activation") && n.attrs.s("activation") != "none" && n.attrs.s("activation") != "") return nullptr;
  FusedActivation a;
  std::vector<float> slope;
  if (n.op == "Relu") {
    a.kind = FusedActivation::relu, a.min = 0;
  } else if (n.op == "Clip") {
    a.kind = FusedActivation::clip;
    a.min = n.attrs.f("min", -INFINITY), a.max = n.attrs.f("max", INFINITY);
    if (!const_scalar(k, 1, a.min) || !const_scalar(k, 2, a.max) || a.min > a.max) return nullptr;
  } else if (n.op == "LeakyRelu") {
    a.kind = FusedActivation::leaky_relu, a.alpha = n.attrs.f("alpha", 0.01f);
  } else if (n.op == "HardSwish") {
    a.kind = FusedActivation::hardswish;
  } else if (n.op == "Sigmoid") {
    a.kind = FusedActivation::sigmoid;
  } else if (n.op == "Tanh") {
    a.kind = FusedActivation::tanh;
  } else if (n.op == "PRelu") {
    const Tensor* s = k.const_input(1);
    const int64_t C = c.out[0]->c;
    if (!s || s->dtype() != DType::f32) return nullptr;
    const Shape& ss = s->shape();
    for (size_t d = 0; d + 1 < ss.size(); ++d)
      if (ss[d] != 1) return nullptr;  // per channel or scalar only
    if (s->numel() != 1 && s->numel() != C) return nullptr;
    slope.resize(size_t(C));
    for (int64_t i = 0; i < C; ++i) slope[size_t(i)] = s->data_as<float>()[s->numel() == 1 ? 0 : i];
  } else if (n.op != "Identity") {
    return nullptr;
  }
  return std::make_unique<DeltaPointwise>(c, a, std::move(slope));
}

}  // namespace ef
