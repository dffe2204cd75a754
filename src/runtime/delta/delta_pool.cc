// Global average pooling (GlobalAveragePool, or an AveragePool whose window
// is the whole unpadded input) for delta execution: per-row channel sums are
// kept, only rows holding changed pixels are summed again, and the output
// (one pixel) is rewritten from the row sums.
#include <cstring>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaGlobalPool : public DeltaOp {
 public:
  explicit DeltaGlobalPool(const DeltaOpCtx& c) : DeltaOp(c), act_(FusedActivation::from(c.kc.node)) {
    h_ = in_[0]->h, w_ = in_[0]->w, c_ = in_[0]->c;
    rows_.assign(size_t(h_ * c_), 0.f);
    row_dirty_.assign(size_t(h_), 0);
  }
  size_t state_bytes() const override { return rows_.size() * sizeof(float) + row_dirty_.size(); }

  int64_t run(bool all) override {
    const Region& rin = in_[0]->changed();
    const float* x = in_[0]->pub;
    const bool every = all || rin.all();
    if (!every)
      for (int32_t p : rin.list()) row_dirty_[size_t(p / w_)] = 1;
    for (int64_t y = 0; y < h_; ++y) {
      if (!every && !row_dirty_[size_t(y)]) continue;
      row_dirty_[size_t(y)] = 0;
      float* s = rows_.data() + y * c_;
      std::memset(s, 0, size_t(c_) * sizeof(float));
      for (int64_t x0 = 0; x0 < w_; ++x0) {
        const float* px = x + (y * w_ + x0) * c_;
        for (int64_t k = 0; k < c_; ++k) s[k] += px[k];
      }
    }
    float* out = out_[0]->buf;
    std::memset(out, 0, size_t(c_) * sizeof(float));
    for (int64_t y = 0; y < h_; ++y)
      for (int64_t k = 0; k < c_; ++k) out[k] += rows_[size_t(y * c_ + k)];
    const float inv = 1.f / float(h_ * w_);
    for (int64_t k = 0; k < c_; ++k) out[k] *= inv;
    act_.apply(out, size_t(c_));
    out_[0]->raw.mark_all();
    out_[0]->raw.finalize();
    last_dense_ = every;
    return 0;
  }

 private:
  FusedActivation act_;
  int64_t h_, w_, c_;
  std::vector<float> rows_;
  std::vector<uint8_t> row_dirty_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_global_pool(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  if (!c.in[0] || !c.out[0] || n.attrs.s("layout") != "NHWC" || k.input(0).dtype != DType::f32) return nullptr;
  const Shape& x = k.input(0).shape;
  const Shape& y = k.output(0).shape;
  if (x.size() != 4 || x[0] != 1 || y.size() != 4 || y[1] != 1 || y[2] != 1) return nullptr;
  if (n.op == "AveragePool") {
    auto ks = n.attrs.ints("kernel_shape", {});
    auto pads = n.attrs.ints("pads", {0, 0, 0, 0});
    if (ks.size() != 2 || ks[0] != x[1] || ks[1] != x[2]) return nullptr;
    for (auto p : pads)
      if (p != 0) return nullptr;
  } else if (n.op != "GlobalAveragePool") {
    return nullptr;
  }
  return std::make_unique<DeltaGlobalPool>(c);
}

}  // namespace ef
