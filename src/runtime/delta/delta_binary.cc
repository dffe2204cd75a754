// Sparse elementwise binary ops (Add, Sub, Mul, Div, Max, Min, with a fused
// activation) for delta execution: recompute only the union of the changed
// pixels of the same-shaped inputs. An operand broadcast along the channels
// (a pooled channel scale [1,1,1,C], a per-channel or scalar constant) that
// changed makes every pixel change.
#include <algorithm>
#include <cstring>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

enum class BinOp { add, sub, mul, div, max, min };

// y = a op b over n floats, built for AVX-512 and the baseline (picked at load time).
__attribute__((target_clones("avx512f", "default"))) void compute(BinOp op, float* y, const float* a, const float* b,
                                                                   int64_t n) {
  switch (op) {
    case BinOp::add: for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i]; break;
    case BinOp::sub: for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i]; break;
    case BinOp::mul: for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i]; break;
    case BinOp::div: for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i]; break;
    case BinOp::max: for (int64_t i = 0; i < n; ++i) y[i] = std::max(a[i], b[i]); break;
    case BinOp::min: for (int64_t i = 0; i < n; ++i) y[i] = std::min(a[i], b[i]); break;
  }
}

struct Operand {
  DValue* v = nullptr;       // runtime value (nullptr: constant)
  bool per_pixel = false;    // same shape as the output: advance c floats per pixel
  std::vector<float> konst;  // constant, expanded to c floats (or the whole tensor)
  const float* at(int64_t p, int64_t c) const {
    const float* base = v ? v->pub : konst.data();
    return per_pixel ? base + p * c : base;
  }
};

class DeltaBinary : public DeltaOp {
 public:
  DeltaBinary(const DeltaOpCtx& c, BinOp op, Operand a, Operand b)
      : DeltaOp(c), op_(op), a_(std::move(a)), b_(std::move(b)), act_(FusedActivation::from(c.kc.node)) {}

  int64_t run(bool all) override {
    Region& r = out_[0]->raw;
    last_global_ = false;
    for (const Operand* o : {&a_, &b_})
      if (o->v && !o->per_pixel && !o->v->changed().empty()) last_global_ = true;
    const bool whole = all || last_global_;
    if (whole) r.mark_all();
    else
      for (const Operand* o : {&a_, &b_})
        if (o->v && o->per_pixel)
          for (int32_t p : o->v->changed().list()) r.mark(p);
    r.finalize();
    last_dense_ = r.all();
    const int64_t c = out_[0]->c;
    float* y = out_[0]->buf;
    auto span = [&](int64_t p0, int64_t count) {
      if (a_.per_pixel && b_.per_pixel) compute(op_, y + p0 * c, a_.at(p0, c), b_.at(p0, c), count * c);
      else
        for (int64_t p = p0; p < p0 + count; ++p) compute(op_, y + p * c, a_.at(p, c), b_.at(p, c), c);
      act_.apply(y + p0 * c, size_t(count * c));
    };
    if (r.all()) span(0, r.pixels());
    else for_each_run(r.list(), span);
    return 0;
  }

 private:
  BinOp op_;
  Operand a_, b_;
  FusedActivation act_;
};

// How input i broadcasts against the output; false if not supported here.
bool operand(const DeltaOpCtx& c, size_t i, Operand& o) {
  const Value& v = c.kc.input(i);
  const Shape& out = c.kc.output(0).shape;
  const int64_t C = out.back();
  if (v.dtype != DType::f32) return false;
  const int64_t n = numel(v.shape);
  // per channel: [..., 1, C] (all leading dims 1) or a scalar
  const bool per_channel = n == 1 || (v.shape.back() == C && n == C);
  if (v.shape == out) {
    o.per_pixel = true;
    if (c.in[i]) o.v = c.in[i];
    else if (v.is_const()) o.konst.assign(v.data.data_as<float>(), v.data.data_as<float>() + n);
    else return false;
    return true;
  }
  if (!per_channel) return false;
  if (c.in[i]) {
    if (n != C) return false;
    o.v = c.in[i];
    return true;
  }
  if (!v.is_const()) return false;
  const float* d = v.data.data_as<float>();
  o.konst.resize(size_t(C));
  for (int64_t k = 0; k < C; ++k) o.konst[size_t(k)] = d[n == 1 ? 0 : k];
  return true;
}

}  // namespace

std::unique_ptr<DeltaOp> make_delta_binary(const DeltaOpCtx& c) {
  static const std::pair<const char*, BinOp> ops[] = {{"Add", BinOp::add}, {"Sub", BinOp::sub}, {"Mul", BinOp::mul},
                                                      {"Div", BinOp::div}, {"Max", BinOp::max}, {"Min", BinOp::min}};
  const Node& n = c.kc.node;
  if (n.inputs.size() != 2 || !c.out[0] || c.kc.output(0).dtype != DType::f32) return nullptr;
  if (c.kc.output(0).shape.size() != 4 || c.out[0]->h * c.out[0]->w <= 1) return nullptr;
  for (auto& [name, op] : ops) {
    if (n.op != name) continue;
    Operand a, b;
    if (!operand(c, 0, a) || !operand(c, 1, b)) return nullptr;
    if (!a.per_pixel && !b.per_pixel) return nullptr;
    return std::make_unique<DeltaBinary>(c, op, std::move(a), std::move(b));
  }
  return nullptr;
}

}  // namespace ef
