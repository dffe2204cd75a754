// AddChannelPad: Y = act(A + pad(B)), B holding channels [before, before+Cb)
// of the last axis (see src/graph/ops/add_channel_pad.cc). One pass over the
// pixels instead of XNNPACK's constant pad (one tiny copy per pixel) followed
// by an Add; clamp activations (relu/relu6/clip) applied in the same pass.
#include <algorithm>

#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

struct Rows {
  const float* a;
  const float* b;
  float* y;
  int64_t c, cb, before;
  float lo, hi;
};

// Pixels [p0, p1): built for AVX-512 and for the baseline, picked at load time.
__attribute__((target_clones("avx512f", "default"))) void add_rows(const Rows& r, int64_t p0, int64_t p1) {
  const int64_t c = r.c, cb = r.cb, b0 = r.before, b1 = r.before + r.cb;
  const float lo = r.lo, hi = r.hi;
  for (int64_t p = p0; p < p1; ++p) {
    const float* a = r.a + p * c;
    const float* b = r.b + p * cb - b0;
    float* y = r.y + p * c;
    for (int64_t k = 0; k < b0; ++k) y[k] = std::min(std::max(a[k], lo), hi);
    for (int64_t k = b0; k < b1; ++k) y[k] = std::min(std::max(a[k] + b[k], lo), hi);
    for (int64_t k = b1; k < c; ++k) y[k] = std::min(std::max(a[k], lo), hi);
  }
}

class AddChannelPadKernel : public Kernel {
 public:
  AddChannelPadKernel(int64_t before, FusedActivation act, pthreadpool_t pool) : before_(before), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const int64_t c = in[0].shape.back();
    pixels_ = c ? in[0].numel() / c : 0;
    rows_ = {in[0].as<const float>(), in[1].as<const float>(), out[0].as<float>(), c, in[1].shape.back(), before_,
             act_.out_min(), act_.out_max()};
  }
  void run() override {
    parallel_rows(pool_, pixels_, rows_.c, [&](int64_t p0, int64_t p1) {
      add_rows(rows_, p0, p1);
      if (act_.needs_separate_pass()) act_.apply(rows_.y + p0 * rows_.c, size_t((p1 - p0) * rows_.c));
    });
  }
  const char* impl() const override { return "own"; }

 private:
  int64_t before_;
  FusedActivation act_;
  pthreadpool_t pool_;
  Rows rows_{};
  int64_t pixels_ = 0;
};

std::unique_ptr<Kernel> make_add_channel_pad(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32) return nullptr;
  return std::make_unique<AddChannelPadKernel>(c.node.attrs.i("pad_before", 0), FusedActivation::from(c.node), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("AddChannelPad", 0, make_add_channel_pad, "own");
}  // namespace ef
