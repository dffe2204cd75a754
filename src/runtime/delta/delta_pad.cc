// Sparse constant Pad (NHWC, padding along H, W and C) for delta execution:
// the padding is written once (on a full frame); afterwards only the output
// pixels whose input pixel changed are copied again.
#include <algorithm>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaPad : public DeltaOp {
 public:
  // pre/post: [N, H, W, C] padding; value: the constant.
  DeltaPad(const DeltaOpCtx& c, std::vector<int64_t> pre, float value) : DeltaOp(c), pre_(std::move(pre)), value_(value) {}

  int64_t run(bool all) override {
    const int64_t ow = out_[0]->w, ic = in_[0]->c, oc = out_[0]->c, iw = in_[0]->w;
    const int64_t t = pre_[1], l = pre_[2];
    if (all) std::fill(out_[0]->buf, out_[0]->buf + out_[0]->numel(), value_);
    const Region& rin = in_[0]->changed();
    Region& r = out_[0]->raw;
    auto copy = [&](int64_t p) {  // input pixel p
      const int64_t o = (p / iw + t) * ow + p % iw + l;
      std::copy_n(in_[0]->pub + p * ic, ic, out_[0]->buf + o * oc + pre_[3]);
      r.mark(o);
    };
    if (all) {
      for (int64_t p = 0; p < in_[0]->h * iw; ++p) copy(p);
      r.mark_all();  // the padding was rewritten too
    } else {
      for (int32_t p : rin.list()) copy(p);
    }
    r.finalize();
    last_dense_ = all;
    return 0;
  }

 private:
  std::vector<int64_t> pre_;
  float value_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_pad(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  if (n.op != "Pad" || !c.in[0] || !c.out[0] || n.attrs.s("mode", "constant") != "constant") return nullptr;
  const Shape& x = k.input(0).shape;
  if (k.input(0).dtype != DType::f32 || x.size() != 4 || x[0] != 1) return nullptr;
  std::vector<int64_t> pads;
  if (Graph::has_input(n, 1)) {
    const Tensor* p = k.const_input(1);
    if (!p || p->dtype() != DType::i64) return nullptr;
    pads.assign(p->data_as<int64_t>(), p->data_as<int64_t>() + p->numel());
  } else {
    pads = n.attrs.ints("pads", {});
  }
  if (Graph::has_input(n, 3) || pads.size() != 8) return nullptr;  // explicit axes: not here
  for (int64_t p : pads)
    if (p < 0) return nullptr;  // cropping
  if (pads[0] || pads[4]) return nullptr;
  float value = n.attrs.f("value", 0.f);
  if (Graph::has_input(n, 2)) {
    const Tensor* v = k.const_input(2);
    if (!v || v->dtype() != DType::f32 || v->numel() > 1) return nullptr;
    value = v->numel() ? v->data_as<float>()[0] : 0.f;
  }
  return std::make_unique<DeltaPad>(c, std::vector<int64_t>(pads.begin(), pads.begin() + 4), value);
}

}  // namespace ef
