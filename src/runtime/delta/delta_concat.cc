// Sparse Concat along the channels (the last axis of an NHWC map) for delta
// execution: an output pixel is rewritten where any input pixel changed
// (all of its channel slices are copied again).
#include <algorithm>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaConcat : public DeltaOp {
 public:
  using DeltaOp::DeltaOp;

  int64_t run(bool all) override {
    Region& r = out_[0]->raw;
    bool every = all;
    for (DValue* d : in_) every |= d->changed().all();
    if (every) r.mark_all();
    else
      for (DValue* d : in_)
        for (int32_t p : d->changed().list()) r.mark(p);
    r.finalize();
    last_dense_ = r.all();
    const int64_t C = out_[0]->c;
    for (int32_t p : r.list()) {
      float* o = out_[0]->buf + int64_t(p) * C;
      for (DValue* d : in_) o = std::copy_n(d->pub + int64_t(p) * d->c, d->c, o);
    }
    return 0;
  }
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_concat(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  if (k.node.op != "Concat" || !c.out[0] || k.output(0).dtype != DType::f32) return nullptr;
  const Shape& y = k.output(0).shape;
  int64_t axis = k.node.attrs.i("axis", 0);
  if (y.size() != 4 || y[0] != 1 || (axis != 3 && axis != -1) || c.out[0]->h * c.out[0]->w <= 1) return nullptr;
  for (size_t i = 0; i < c.in.size(); ++i)
    if (!c.in[i] || k.input(i).dtype != DType::f32 || c.in[i]->h != c.out[0]->h || c.in[i]->w != c.out[0]->w)
      return nullptr;
  return std::make_unique<DeltaConcat>(c);
}

}  // namespace ef
