// Quantized elementwise activations by a 256-entry lookup table:
// QLinearSigmoid, QLinearHardSwish, QLinearHardSigmoid, QLinearLeakyRelu. The table holds
// Q(f(DQ(q))) for every input code, computed once at creation with the float
// function and ONNX rounding, so the kernel equals the DQ -> f -> Q
// reference bit for bit; the per-frame loop is one byte gather (64 at a
// time with AVX512-VBMI permutes).
#include <immintrin.h>

#include <cmath>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/qkernel.h"

namespace ef {
namespace {

template <class X, class Y>
class QLut : public Kernel {
 public:
  QLut(const Y* table, pthreadpool_t pool) : pool_(pool) { std::copy(table, table + 256, lut_); }
  void run() override {
    const X* x = in_[0].as<X>();
    Y* y = out_[0].as<Y>();
    static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
    bcast::parallel_for(pool_, in_[0].numel(), 65536, [&](int64_t b, int64_t e) {
      if (vbmi) b += lookup64(reinterpret_cast<const uint8_t*>(x + b), reinterpret_cast<uint8_t*>(y + b), e - b);
      for (int64_t i = b; i < e; ++i) y[i] = lut_[uint8_t(x[i])];
    });
  }
  // 64 bytes at a time: two 128-entry permutes (vpermi2b), picked by bit 7.
  __attribute__((target("avx512f,avx512bw,avx512vbmi"))) int64_t lookup64(const uint8_t* x, uint8_t* y,
                                                                         int64_t n) const {
    const auto* t = reinterpret_cast<const uint8_t*>(lut_);
    const __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64), t2 = _mm512_loadu_si512(t + 128),
                  t3 = _mm512_loadu_si512(t + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      const __m512i idx = _mm512_loadu_si512(x + i);
      const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1), hi = _mm512_permutex2var_epi8(t2, idx, t3);
      _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
    }
    return i;
  }
  const char* impl() const override { return "lut"; }

 private:
  Y lut_[256];
  pthreadpool_t pool_;
};

float apply(const Node& n, float v) {
  if (n.op == "QLinearSigmoid") return 1.f / (1.f + std::exp(-v));
  if (n.op == "QLinearHardSwish")  // ONNX: x * max(0, min(1, x / 6 + 0.5)), as x * HardSigmoid(x) computes it
    return v * std::min(std::max(v * (1.f / 6.f) + 0.5f, 0.f), 1.f);
  if (n.op == "QLinearHardSigmoid")
    return std::min(std::max(n.attrs.f("alpha", 0.2f) * v + n.attrs.f("beta", 0.5f), 0.f), 1.f);
  return v >= 0 ? v : v * n.attrs.f("alpha", 0.01f);  // QLinearLeakyRelu
}

template <class X, class Y>
std::unique_ptr<Kernel> lut(const KernelContext& c, QScalar xq, QScalar yq) {
  int32_t lo, hi;
  qrange(dtype_of<Y>(), lo, hi);
  Y table[256];
  for (int code = 0; code < 256; ++code) {
    const X q = X(uint8_t(code));  // the byte pattern as X
    const float v = float(int32_t(q) - xq.zp) * xq.scale;
    table[code] = Y(quantize_value(apply(c.node, v), yq.scale, yq.zp, lo, hi));
  }
  return std::make_unique<QLut<X, Y>>(table, c.pool);
}

std::unique_ptr<Kernel> make_qlut(const KernelContext& c) {
  const DType xt = c.input(0).dtype, yt = c.output(0).dtype;
  const QScalar xq = qscalar(c, 1, xt, "input"), yq = qscalar(c, 3, yt, "output");
  if (xt == DType::i8) return yt == DType::i8 ? lut<int8_t, int8_t>(c, xq, yq) : lut<int8_t, uint8_t>(c, xq, yq);
  return yt == DType::i8 ? lut<uint8_t, int8_t>(c, xq, yq) : lut<uint8_t, uint8_t>(c, xq, yq);
}

}  // namespace

EF_REGISTER_KERNEL("QLinearSigmoid", 0, make_qlut, "lut");
EF_REGISTER_KERNEL("QLinearHardSwish", 0, make_qlut, "lut");
EF_REGISTER_KERNEL("QLinearLeakyRelu", 0, make_qlut, "lut");
EF_REGISTER_KERNEL("QLinearHardSigmoid", 0, make_qlut, "lut");
}  // namespace ef
