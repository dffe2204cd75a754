// Conv (NHWC, one group), Gemm and MatMul with float16 weights
// (--precision fp16, see graph/passes/weights_to_fp16.cc): the weights stay
// float16 in memory (packed once into 16-output-channel panels, still f16)
// and are widened to float32 in the inner loop (AVX-512F vcvtph2ps; tiles of
// 8 pixels x 32 channels); the arithmetic and accumulation are float32. Gemm and MatMul run as a 1x1
// convolution over M "pixels". Without AVX-512F a scalar loop does the same.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "graph/passes/passes.h"
#include "runtime/kernel.h"

namespace ef {
namespace {

#define EF_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

struct Geom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
};

constexpr int64_t kNr = 16;  // output channels per panel
constexpr int64_t kMr = 8;   // output pixels per microkernel call

class LinearF16 : public Kernel {
 public:
  // w(o, ci, tap) gives weight bits for output o, input channel ci, tap
  // (kh*kw index); bias per output (may be empty).
  template <class W>
  LinearF16(const Geom& g, W w, std::vector<float> bias, FusedActivation act, pthreadpool_t pool, const char* what)
      : g_(g), act_(act), pool_(pool), what_(what) {
    panels_ = (g.cout + kNr - 1) / kNr;
    taps_ = g.kh * g.kw;
    packed_.assign(size_t(panels_ * taps_ * g.cin * kNr), 0);  // f16 zero = 0 bits
    for (int64_t p = 0; p < panels_; ++p)
      for (int64_t t = 0; t < taps_; ++t)
        for (int64_t ci = 0; ci < g.cin; ++ci)
          for (int64_t j = 0; j < kNr && p * kNr + j < g.cout; ++j)
            packed_[size_t(((p * taps_ + t) * g.cin + ci) * kNr + j)] = w(p * kNr + j, ci, t);
    bias_.assign(size_t(panels_ * kNr), 0.f);
    std::copy(bias.begin(), bias.end(), bias_.begin());
    zeros_.assign(size_t(g.cin), 0.f);
    avx512_ = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c");
  }
  const char* impl() const override { return avx512_ ? "f16w-avx512" : "f16w-scalar"; }
  size_t weight_bytes() const { return packed_.size() * sizeof(uint16_t); }

  void run() override {
    x_ = in_[0].as<float>();
    y_ = out_[0].as<float>();
    const size_t rows = size_t(g_.n * g_.oh);
    if (pool_ && rows > 1)
      pthreadpool_parallelize_1d(
          pool_, [](void* self, size_t r) { static_cast<LinearF16*>(self)->row(int64_t(r)); }, this, rows, 0);
    else
      for (size_t r = 0; r < rows; ++r) row(int64_t(r));
    if (act_.needs_separate_pass()) act_.apply(y_, size_t(out_[0].numel()));
  }

 private:
  // Input pixel pointer for output (b, oy, ox) at tap t, or zeros (padding).
  const float* src(int64_t b, int64_t oy, int64_t ox, int64_t t) const {
    const int64_t iy = oy * g_.sh - g_.pt + (t / g_.kw) * g_.dh;
    const int64_t ix = ox * g_.sw - g_.pl + (t % g_.kw) * g_.dw;
    if (iy < 0 || iy >= g_.ih || ix < 0 || ix >= g_.iw) return zeros_.data();
    return x_ + ((b * g_.ih + iy) * g_.iw + ix) * g_.cin;
  }

  void row(int64_t r) {
    const int64_t b = r / g_.oh, oy = r % g_.oh;
    for (int64_t ox = 0; ox < g_.ow; ox += kMr) {
      const int64_t m = std::min(kMr, g_.ow - ox);
      float* y = y_ + ((b * g_.oh + oy) * g_.ow + ox) * g_.cout;
      if (!avx512_)
        for (int64_t p = 0; p < panels_; ++p) tile_scalar(b, oy, ox, m, p, y);
      else
        for (int64_t p = 0; p < panels_; p += 2)
          if (p + 1 < panels_) tile_avx512<2>(b, oy, ox, m, p, y);
          else tile_avx512<1>(b, oy, ox, m, p, y);
    }
  }

  // kMr pixels x NP panels (16 * NP output channels) from panel p.
  template <int NP>
  EF_AVX512 void tile_avx512(int64_t b, int64_t oy, int64_t ox, int64_t m, int64_t p, float* y) const {
    __m512 acc[kMr][NP];
    for (int64_t i = 0; i < kMr; ++i)
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_loadu_ps(bias_.data() + (p + j) * kNr);
    const float* s[kMr];
    for (int64_t t = 0; t < taps_; ++t) {
      for (int64_t i = 0; i < kMr; ++i) s[i] = i < m ? src(b, oy, ox + i, t) : zeros_.data();
      const uint16_t* w[NP];
      for (int j = 0; j < NP; ++j) w[j] = packed_.data() + ((p + j) * taps_ + t) * g_.cin * kNr;
      for (int64_t ci = 0; ci < g_.cin; ++ci) {
        __m512 wv[NP];
        for (int j = 0; j < NP; ++j)
          wv[j] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[j] + ci * kNr)));
        for (int64_t i = 0; i < kMr; ++i) {
          const __m512 xv = _mm512_set1_ps(s[i][ci]);
          for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
      }
    }
    const __m512 lo = _mm512_set1_ps(act_.out_min()), hi = _mm512_set1_ps(act_.out_max());
    for (int j = 0; j < NP; ++j) {
      const int64_t nc = std::min(kNr, g_.cout - (p + j) * kNr);
      const __mmask16 mask = __mmask16((1u << nc) - 1u);
      for (int64_t i = 0; i < m; ++i)
        _mm512_mask_storeu_ps(y + i * g_.cout + (p + j) * kNr, mask,
                              _mm512_min_ps(_mm512_max_ps(acc[i][j], lo), hi));
    }
  }

  void tile_scalar(int64_t b, int64_t oy, int64_t ox, int64_t m, int64_t p, float* y) const {
    const int64_t nc = std::min(kNr, g_.cout - p * kNr);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < nc; ++j) {
        float acc = bias_[size_t(p * kNr + j)];
        for (int64_t t = 0; t < taps_; ++t) {
          const float* s = src(b, oy, ox + i, t);
          const uint16_t* w = packed_.data() + (p * taps_ + t) * g_.cin * kNr + j;
          for (int64_t ci = 0; ci < g_.cin; ++ci) acc += s[ci] * half_to_float(w[ci * kNr]);
        }
        y[i * g_.cout + p * kNr + j] = std::min(std::max(acc, act_.out_min()), act_.out_max());
      }
  }

  Geom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
  const char* what_;
  int64_t panels_ = 1, taps_ = 1;
  std::vector<uint16_t> packed_;  // [panel][tap][ci][16] float16 bits
  std::vector<float> bias_, zeros_;
  bool avx512_ = false;
  const float* x_ = nullptr;
  float* y_ = nullptr;
};

bool f16_weights(const KernelContext& c) {
  const Tensor* w = c.const_input(1);
  return w && w->dtype() == DType::f16 && fp16_weight_eligible(c.graph, c.node);
}

std::vector<float> bias_of(const KernelContext& c, int64_t n, float scale) {
  std::vector<float> b;
  if (const Tensor* t = c.const_input(2)) {
    b.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) b[size_t(j)] = scale * t->data_as<float>()[t->numel() == 1 ? 0 : j];
  }
  return b;
}

std::unique_ptr<Kernel> make_conv_f16(const KernelContext& c) {
  if (!f16_weights(c)) return nullptr;
  const Node& n = c.node;
  const Shape &x = c.input(0).shape, &ws = c.input(1).shape, &y = c.output(0).shape;
  Geom g;
  g.n = x[0], g.ih = x[1], g.iw = x[2], g.cin = x[3];
  g.oh = y[1], g.ow = y[2], g.cout = y[3];
  g.kh = ws[2], g.kw = ws[3];
  if (ws[0] != g.cout || ws[1] != g.cin) return nullptr;
  auto st = n.attrs.ints("strides", {}), dl = n.attrs.ints("dilations", {}), pd = n.attrs.ints("pads", {});
  if (st.size() == 2) g.sh = st[0], g.sw = st[1];
  if (dl.size() == 2) g.dh = dl[0], g.dw = dl[1];
  if (pd.size() == 4) g.pt = pd[0], g.pl = pd[1];
  const uint16_t* w = c.const_input(1)->data_as<uint16_t>();
  const int64_t cin = g.cin, taps = g.kh * g.kw;
  auto wf = [&](int64_t o, int64_t ci, int64_t t) { return w[(o * cin + ci) * taps + t]; };
  return std::make_unique<LinearF16>(g, wf, bias_of(c, g.cout, 1.f), FusedActivation::from(n), c.pool, "Conv");
}

// Gemm / MatMul: y[M,N] = x[M,K] B (+ C) as a 1x1 convolution over M pixels.
std::unique_ptr<Kernel> make_linear_f16(const KernelContext& c, bool tb, float beta) {
  const Shape& bs = c.input(1).shape;
  const int64_t K = tb ? bs[1] : bs[0], N = tb ? bs[0] : bs[1];
  const Shape& x = c.input(0).shape;
  if (x.empty() || x.back() != K) return nullptr;
  Geom g;
  g.cin = K, g.cout = N;
  g.iw = g.ow = numel(x) / K;
  const uint16_t* w = c.const_input(1)->data_as<uint16_t>();
  auto wf = [&](int64_t o, int64_t k, int64_t) { return tb ? w[o * K + k] : w[k * N + o]; };
  return std::make_unique<LinearF16>(g, wf, bias_of(c, N, beta), FusedActivation::from(c.node), c.pool,
                                     c.node.op.c_str());
}

std::unique_ptr<Kernel> make_gemm_f16(const KernelContext& c) {
  if (!f16_weights(c)) return nullptr;
  return make_linear_f16(c, c.node.attrs.i("transB", 0) != 0, c.node.attrs.f("beta", 1.f));
}

std::unique_ptr<Kernel> make_matmul_f16(const KernelContext& c) {
  if (!f16_weights(c)) return nullptr;
  return make_linear_f16(c, false, 1.f);
}

}  // namespace

EF_REGISTER_KERNEL("Conv", 200, make_conv_f16, "f16w");
EF_REGISTER_KERNEL("Gemm", 200, make_gemm_f16, "f16w");
EF_REGISTER_KERNEL("MatMul", 200, make_matmul_f16, "f16w");

}  // namespace ef
