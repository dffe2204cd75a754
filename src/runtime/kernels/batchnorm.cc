// Standalone BatchNormalization (inference): y = x * a[c] + b[c] with
// a = scale / sqrt(var + eps), b = B - mean * a, folded once at creation when
// the parameters are constant (else per run into buffers sized at creation).
// Channels are the last axis with layout=NHWC, axis 1 otherwise (this simple
// kernel handles both, so [N, C] inputs from BatchNorm1d work too).
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/kernel.h"

namespace ef {
namespace {

template <class F>
void parallel_for(pthreadpool_t pool, size_t n, const F& f) {
  if (!pool || n <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  pthreadpool_parallelize_1d(
      pool, [](void* ctx, size_t i) { (*static_cast<const F*>(ctx))(i); }, const_cast<F*>(&f), n, 0);
}

class BatchNormRef : public Kernel {
 public:
  BatchNormRef(bool nhwc, float eps, int64_t c, bool folded, std::vector<float> a, std::vector<float> b,
               FusedActivation act, pthreadpool_t pool)
      : nhwc_(nhwc), eps_(eps), c_(c), folded_(folded), a_(std::move(a)), b_(std::move(b)), act_(act), pool_(pool) {
    a_.resize(size_t(c));
    b_.resize(size_t(c));
  }
  void run() override {
    const int64_t C = c_;
    if (!folded_) {
      const float *sc = in_[1].as<const float>(), *bi = in_[2].as<const float>(), *mu = in_[3].as<const float>(),
                  *va = in_[4].as<const float>();
      for (int64_t c = 0; c < C; ++c) {
        a_[c] = sc[c] / std::sqrt(va[c] + eps_);
        b_[c] = bi[c] - mu[c] * a_[c];
      }
    }
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    const Shape& s = in_[0].shape;
    const float* a = a_.data();
    const float* b = b_.data();
    if (nhwc_) {
      const int64_t P = in_[0].numel() / C;
      const int64_t chunk = 64;
      auto task = [&](size_t t) {
        const int64_t p0 = int64_t(t) * chunk, p1 = std::min(P, p0 + chunk);
        for (int64_t p = p0; p < p1; ++p) {
          const float* xp = x + p * C;
          float* yp = y + p * C;
          for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] * a[c] + b[c];
          act_.apply(yp, size_t(C));
        }
      };
      parallel_for(pool_, size_t((P + chunk - 1) / chunk), task);
    } else {
      int64_t inner = 1;
      for (size_t i = 2; i < s.size(); ++i) inner *= s[i];
      auto task = [&](size_t t) {  // one (n, c) plane
        const int64_t c = int64_t(t) % C;
        const float* xp = x + int64_t(t) * inner;
        float* yp = y + int64_t(t) * inner;
        const float ac = a[c], bc = b[c];
        for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * ac + bc;
        act_.apply(yp, size_t(inner));
      };
      parallel_for(pool_, size_t(s[0] * C), task);
    }
    // legacy running mean/var outputs: equal to the inputs in inference
    for (size_t k = 1; k < out_.size() && k < 3; ++k)
      if (out_[k].data) std::memcpy(out_[k].data, in_[k + 2].data, size_t(C) * sizeof(float));
  }

 private:
  bool nhwc_;
  float eps_;
  int64_t c_;
  bool folded_;
  std::vector<float> a_, b_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_bn(const KernelContext& c) {
  for (size_t i = 0; i < 5; ++i)
    if (!Graph::has_input(c.node, i) || c.input(i).dtype != DType::f32) return nullptr;
  const bool nhwc = c.node.attrs.s("layout", "") == "NHWC";
  const Shape& s = c.input(0).shape;
  const int64_t C = nhwc ? s.back() : s.at(1);
  const float eps = c.node.attrs.f("epsilon", 1e-5f);
  std::vector<float> a, b;
  const Tensor *sc = c.const_input(1), *bi = c.const_input(2), *mu = c.const_input(3), *va = c.const_input(4);
  const bool folded = sc && bi && mu && va;
  if (folded) {
    a.resize(size_t(C));
    b.resize(size_t(C));
    for (int64_t i = 0; i < C; ++i) {
      a[i] = sc->data_as<float>()[i] / std::sqrt(va->data_as<float>()[i] + eps);
      b[i] = bi->data_as<float>()[i] - mu->data_as<float>()[i] * a[i];
    }
  }
  return std::make_unique<BatchNormRef>(nhwc, eps, C, folded, std::move(a), std::move(b), FusedActivation::from(c.node),
                                        c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("BatchNormalization", 0, make_bn, "ref");
}  // namespace ef
