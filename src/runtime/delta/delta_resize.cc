// Sparse Resize (NHWC, nearest or bilinear) for delta execution: an output
// pixel is recomputed when one of its (up to four) source pixels changed.
#include <algorithm>

#include "runtime/delta/delta_op.h"
#include "runtime/kernels/resize.h"

namespace ef {
namespace {

class DeltaResize : public DeltaOp {
 public:
  DeltaResize(const DeltaOpCtx& c, ResizeTables t) : DeltaOp(c), t_(std::move(t)), act_(FusedActivation::from(c.kc.node)) {
    // The output rows (columns) each source row (column) reaches: contiguous
    // for a monotonic mapping; kept as [lo, hi].
    auto reach = [](const std::vector<int64_t>& i0, const std::vector<int64_t>& i1, int64_t in, std::vector<int64_t>& lo,
                    std::vector<int64_t>& hi) {
      lo.assign(size_t(in), int64_t(i0.size()));
      hi.assign(size_t(in), -1);
      for (int64_t o = 0; o < int64_t(i0.size()); ++o)
        for (int64_t s : {i0[size_t(o)], i1[size_t(o)]}) lo[size_t(s)] = std::min(lo[size_t(s)], o), hi[size_t(s)] = std::max(hi[size_t(s)], o);
    };
    reach(t_.y0, t_.y1, t_.ih, ylo_, yhi_);
    reach(t_.x0, t_.x1, t_.iw, xlo_, xhi_);
  }

  int64_t run(bool all) override {
    const Region& r = mark_reached(all, [&](int64_t y, int64_t x, Region& out) {
      out.mark_rect(ylo_[size_t(y)], yhi_[size_t(y)], xlo_[size_t(x)], xhi_[size_t(x)]);
    });
    last_dense_ = r.all();
    const float* x = in_[0]->pub;
    float* out = out_[0]->buf;
    const int64_t C = t_.c;
    for (int32_t p : r.list()) {
      const int64_t oy = p / t_.ow, ox = p % t_.ow;
      const float* r0 = x + t_.y0[size_t(oy)] * t_.iw * C;
      const float* r1 = x + t_.y1[size_t(oy)] * t_.iw * C;
      const float* p00 = r0 + t_.x0[size_t(ox)] * C;
      const float* p01 = r0 + t_.x1[size_t(ox)] * C;
      const float* p10 = r1 + t_.x0[size_t(ox)] * C;
      const float* p11 = r1 + t_.x1[size_t(ox)] * C;
      const float wx = t_.wx[size_t(ox)], wy = t_.wy[size_t(oy)];
      float* o = out + int64_t(p) * C;
      for (int64_t c = 0; c < C; ++c) {
        const float top = p00[c] + (p01[c] - p00[c]) * wx;
        const float bot = p10[c] + (p11[c] - p10[c]) * wx;
        o[c] = top + (bot - top) * wy;
      }
      act_.apply(o, size_t(C));
    }
    return 0;
  }

 private:
  ResizeTables t_;
  FusedActivation act_;
  std::vector<int64_t> ylo_, yhi_, xlo_, xhi_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_resize(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  if (k.node.op != "Resize" || k.node.attrs.s("layout") != "NHWC" || !c.in[0] || !c.out[0]) return nullptr;
  if (k.input(0).dtype != DType::f32 || k.input(0).shape.size() != 4 || k.input(0).shape[0] != 1) return nullptr;
  for (size_t i = 1; i < k.node.inputs.size(); ++i)
    if (Graph::has_input(k.node, i) && !k.const_input(i) && numel(k.input(i).shape) > 0) return nullptr;
  return std::make_unique<DeltaResize>(c, resize_tables(k));
}

}  // namespace ef
