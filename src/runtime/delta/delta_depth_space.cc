// Sparse DepthToSpace (DCR, CRD) and SpaceToDepth (NHWC) for delta
// execution: a deep pixel is a b x b block of wide pixels, so a changed input
// pixel rewrites its block (DepthToSpace) or the deep pixel holding it
// (SpaceToDepth).
#include <algorithm>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaDepthSpace : public DeltaOp {
 public:
  DeltaDepthSpace(const DeltaOpCtx& c, bool to_space, bool crd, int64_t b)
      : DeltaOp(c), to_space_(to_space), crd_(crd), b_(b) {}

  int64_t run(bool all) override {
    const int64_t b = b_;
    const Region& r = mark_reached(all, [&](int64_t y, int64_t x, Region& out) {
      if (to_space_) out.mark_rect(y * b, y * b + b - 1, x * b, x * b + b - 1);
      else out.mark_rect(y / b, y / b, x / b, x / b);  // clipped: rows past a whole block reach nothing
    });
    last_dense_ = r.all();
    const int64_t C = to_space_ ? out_[0]->c : in_[0]->c;  // the wide channel count
    const int64_t dw = to_space_ ? in_[0]->w : out_[0]->w, ww = dw * b;
    const float* src = in_[0]->pub;
    float* dst = out_[0]->buf;
    for (int32_t p : r.list()) {
      if (to_space_) {  // wide output pixel (oy, ox) from deep pixel (oy / b, ox / b)
        const int64_t oy = p / ww, ox = p % ww, by = oy % b, bx = ox % b;
        const float* d = src + ((oy / b) * dw + ox / b) * C * b * b;
        float* o = dst + int64_t(p) * C;
        if (crd_)
          for (int64_t k = 0; k < C; ++k) o[k] = d[k * b * b + by * b + bx];
        else
          std::copy_n(d + (by * b + bx) * C, C, o);
      } else {  // deep output pixel (y, x) from the b x b wide block
        const int64_t y = p / dw, x = p % dw;
        for (int64_t by = 0; by < b; ++by)
          for (int64_t bx = 0; bx < b; ++bx)
            std::copy_n(src + ((y * b + by) * ww + x * b + bx) * C, C, dst + int64_t(p) * C * b * b + (by * b + bx) * C);
      }
    }
    return 0;
  }

 private:
  bool to_space_, crd_;
  int64_t b_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_depth_space(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  const bool to_space = n.op == "DepthToSpace";
  if ((!to_space && n.op != "SpaceToDepth") || !c.in[0] || !c.out[0] || n.attrs.s("layout") != "NHWC") return nullptr;
  if (k.input(0).dtype != DType::f32 || k.input(0).shape.size() != 4 || k.input(0).shape[0] != 1) return nullptr;
  const int64_t b = n.attrs.i("blocksize", 0);
  const bool crd = to_space && n.attrs.s("mode", "DCR") == "CRD";
  if (b < 1) return nullptr;
  return std::make_unique<DeltaDepthSpace>(c, to_space, crd, b);
}

}  // namespace ef
