// Softmax along any axis (opset-13 semantics). XNNPACK softmax_nc_f32 for the
// last axis; an own kernel (outer x axis x inner, numerically stable) for the
// others.
#include <cmath>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

struct Split3 {
  int64_t outer = 1, d = 1, inner = 1;
};

Split3 split(const KernelContext& c) {
  const Shape& s = c.input(0).shape;
  int64_t r = int64_t(s.size());
  int64_t axis = c.node.attrs.i("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r)
    throw Error(c.graph.describe(c.node) + ": axis " + std::to_string(c.node.attrs.i("axis", -1)) +
                " is out of range for rank " + std::to_string(r));
  Split3 p;
  for (int64_t i = 0; i < axis; ++i) p.outer *= s[i];
  p.d = s[axis];
  for (int64_t i = axis + 1; i < r; ++i) p.inner *= s[i];
  return p;
}

class SoftmaxXnn : public Kernel {
 public:
  SoftmaxXnn(size_t batch, XnnOp op, FusedActivation act, pthreadpool_t pool)
      : batch_(batch), op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    xnn_check(xnn_setup_softmax_nc_f32(op_.get(), batch_, in[0].as<float>(), out[0].as<float>(), pool_),
              "setup_softmax_nc_f32", "Softmax");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "Softmax");
    act_.apply(out_[0].as<float>(), size_t(out_[0].numel()));
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  size_t batch_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_softmax_xnn(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32 || !xnn_available()) return nullptr;
  Split3 p = split(c);
  if (p.inner != 1 || p.d < 1) return nullptr;
  xnn_operator_t op = nullptr;
  if (xnn_create_softmax_nc_f32(size_t(p.d), size_t(p.d), size_t(p.d), 0, &op) != xnn_status_success) return nullptr;
  return std::make_unique<SoftmaxXnn>(size_t(p.outer), XnnOp(op), FusedActivation::from(c.node), c.pool);
}

class SoftmaxRef : public Kernel {
 public:
  SoftmaxRef(Split3 p, FusedActivation act, pthreadpool_t pool) : p_(p), act_(act), pool_(pool) {
    if (p.inner > 1) tmp_.resize(size_t(p.outer * p.inner * 2));
  }
  void run() override {
    const Split3 p = p_;
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    float* tmp = tmp_.data();
    auto block = [&](size_t o) {
      const float* xo = x + int64_t(o) * p.d * p.inner;
      float* yo = y + int64_t(o) * p.d * p.inner;
      if (p.inner == 1) {
        float m = -INFINITY;
        for (int64_t d = 0; d < p.d; ++d) m = std::max(m, xo[d]);
        float s = 0.f;
        for (int64_t d = 0; d < p.d; ++d) {
          yo[d] = std::exp(xo[d] - m);
          s += yo[d];
        }
        const float inv = 1.f / s;
        for (int64_t d = 0; d < p.d; ++d) yo[d] *= inv;
      } else {
        float* m = tmp + int64_t(o) * p.inner * 2;
        float* s = m + p.inner;
        for (int64_t i = 0; i < p.inner; ++i) m[i] = -INFINITY, s[i] = 0.f;
        for (int64_t d = 0; d < p.d; ++d)
          for (int64_t i = 0; i < p.inner; ++i) m[i] = std::max(m[i], xo[d * p.inner + i]);
        for (int64_t d = 0; d < p.d; ++d)
          for (int64_t i = 0; i < p.inner; ++i) {
            float e = std::exp(xo[d * p.inner + i] - m[i]);
            yo[d * p.inner + i] = e;
            s[i] += e;
          }
        for (int64_t i = 0; i < p.inner; ++i) s[i] = 1.f / s[i];
        for (int64_t d = 0; d < p.d; ++d)
          for (int64_t i = 0; i < p.inner; ++i) yo[d * p.inner + i] *= s[i];
      }
      act_.apply(yo, size_t(p.d * p.inner));
    };
    parallel_for(pool_, size_t(p.outer), block);
  }

 private:
  Split3 p_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<float> tmp_;
};

std::unique_ptr<Kernel> make_softmax_ref(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32) return nullptr;
  return std::make_unique<SoftmaxRef>(split(c), FusedActivation::from(c.node), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("Softmax", 100, make_softmax_xnn, "xnnpack");
EF_REGISTER_KERNEL("Softmax", 0, make_softmax_ref, "ref");
}  // namespace ef
