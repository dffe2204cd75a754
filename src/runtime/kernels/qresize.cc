// int8 Resize (NHWC) for the cases XNNPACK's resize_bilinear2d_nhwc_s8
// (resize.cc) declines: fuse_qdq moves int8 through a Resize whose output is
// requantized with the input's parameters, where interpolating the int8
// values is the float definition (the weights sum to 1, so the zero point
// and scale cancel) up to the final rounding: the interpolation of the
// float kernel (resize.cc, same tables), rounded half to even and clamped.
#include <algorithm>
#include <cmath>

#include "runtime/kernels/parallel.h"
#include "runtime/kernels/resize.h"

namespace ef {
namespace {

class QResizeRef : public Kernel {
 public:
  QResizeRef(ResizeTables t, pthreadpool_t pool) : t_(std::move(t)), pool_(pool) {}
  void run() override {
    const ResizeTables& t = t_;
    const int8_t* x = in_[0].as<const int8_t>();
    int8_t* y = out_[0].as<int8_t>();
    const int64_t C = t.c, n_rows = out_[0].shape[0] * t.oh;
    parallel_for(pool_, size_t(n_rows), [&](size_t r) {
      const int64_t n = int64_t(r) / t.oh, oy = int64_t(r) % t.oh;
      const int8_t* img = x + n * t.ih * t.iw * C;
      const int8_t* r0 = img + t.y0[size_t(oy)] * t.iw * C;
      const int8_t* r1 = img + t.y1[size_t(oy)] * t.iw * C;
      const float wy = t.wy[size_t(oy)];
      int8_t* yr = y + int64_t(r) * t.ow * C;
      for (int64_t ox = 0; ox < t.ow; ++ox) {
        const int8_t *p00 = r0 + t.x0[size_t(ox)] * C, *p01 = r0 + t.x1[size_t(ox)] * C;
        const int8_t *p10 = r1 + t.x0[size_t(ox)] * C, *p11 = r1 + t.x1[size_t(ox)] * C;
        const float wx = t.wx[size_t(ox)];
        for (int64_t c = 0; c < C; ++c) {
          const float top = float(p00[c]) + float(p01[c] - p00[c]) * wx;
          const float bot = float(p10[c]) + float(p11[c] - p10[c]) * wx;
          yr[ox * C + c] = int8_t(std::clamp(std::nearbyint(top + (bot - top) * wy), -128.f, 127.f));
        }
      }
    });
  }
  const char* impl() const override { return "ref-int8"; }

 private:
  ResizeTables t_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qresize_ref(const KernelContext& c) {
  if (c.input(0).dtype != DType::i8 || c.node.attrs.has("activation")) return nullptr;
  return std::make_unique<QResizeRef>(resize_tables(c), c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("Resize", 50, make_qresize_ref, "ref-int8");
}  // namespace ef
