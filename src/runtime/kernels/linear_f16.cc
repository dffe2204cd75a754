// Conv (NHWC, one group), Gemm and MatMul with float16 weights
// (--precision fp16, see graph/passes/weights_to_fp16.cc): builds the layer
// (linear_f16.h) and picks its kernel by CompileOptions::fp16_compute:
// float16 arithmetic (linear_f16_fma.cc) where the CPU has AVX512-FP16, else
// this file's kernel: the weights stay float16 in memory (packed once into
// 16-output-channel panels) and are widened to float32 in the inner loop
// (AVX-512F vcvtph2ps; tiles of 8 pixels x 32 channels); the arithmetic and
// accumulation are float32. Without AVX-512F a scalar loop does the same.
#include "runtime/kernels/linear_f16.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "graph/passes/passes.h"

namespace ef {
namespace {

#define EF_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

constexpr int64_t kNr = 16;  // output channels per panel
constexpr int64_t kMr = 8;   // output pixels per microkernel call

class LinearF16 : public Kernel {
 public:
  explicit LinearF16(const F16Layer& l)
      : g_(l.g), act_(l.act), pool_(l.pool), panels_(l.panels(kNr)), taps_(l.g.taps()), packed_(l.packed(kNr)),
        bias_(l.padded_bias(kNr)), zeros_(size_t(l.g.cin), 0.f) {
    avx512_ = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c");
  }
  const char* impl() const override { return avx512_ ? "f16w-avx512" : "f16w-scalar"; }

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
    const int64_t off = g_.src_offset(b, oy, ox, t);
    return off < 0 ? zeros_.data() : x_ + off;
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

  ConvGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
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

// Where float16 arithmetic beats widening the weights (measured with
// bench/fp16/bench_fp16_layers): at least 64 output channels (its panels are
// 32 wide; 16-32 channel layers waste lanes) and 32 products per output (the
// per-run input conversion and the f32 block sums cost as much as a few
// FMAs per output).
bool f16_arithmetic_pays(const ConvGeom& g) { return g.cout >= 64 && g.cin * g.taps() >= 32; }

// The kernel for this layer: float16 arithmetic (fp16_compute f16, or auto
// where it pays) on a CPU with AVX512-FP16, else float32 arithmetic.
std::unique_ptr<Kernel> make_kernel(const KernelContext& c, const F16Layer& l) {
  const Fp16Compute mode = c.options.fp16_compute;
  if (mode == Fp16Compute::f16 || (mode == Fp16Compute::automatic && f16_arithmetic_pays(l.g)))
    if (auto k = make_linear_f16_fma(l)) return k;
  if (mode == Fp16Compute::f16)
    throw Error(c.node.op + " '" + c.node.name +
                "': float16 arithmetic (--fp16-compute f16) needs AVX512-FP16, which this CPU does not have");
  return std::make_unique<LinearF16>(l);
}

std::unique_ptr<Kernel> make_conv_f16(const KernelContext& c) {
  if (!f16_weights(c)) return nullptr;
  const Node& n = c.node;
  const Shape &x = c.input(0).shape, &ws = c.input(1).shape, &y = c.output(0).shape;
  F16Layer l;
  ConvGeom& g = l.g;
  g.n = x[0], g.ih = x[1], g.iw = x[2], g.cin = x[3];
  g.oh = y[1], g.ow = y[2], g.cout = y[3];
  g.kh = ws[2], g.kw = ws[3];
  if (ws[0] != g.cout || ws[1] != g.cin) return nullptr;
  auto st = n.attrs.ints("strides", {}), dl = n.attrs.ints("dilations", {}), pd = n.attrs.ints("pads", {});
  if (st.size() == 2) g.sh = st[0], g.sw = st[1];
  if (dl.size() == 2) g.dh = dl[0], g.dw = dl[1];
  if (pd.size() == 4) g.pt = pd[0], g.pl = pd[1];
  const uint16_t* w = c.const_input(1)->data_as<uint16_t>();
  const int64_t cin = g.cin, taps = g.taps();
  l.w = [&](int64_t o, int64_t ci, int64_t t) { return w[(o * cin + ci) * taps + t]; };
  l.bias = bias_of(c, g.cout, 1.f);
  l.act = FusedActivation::from(n);
  l.pool = c.pool;
  return make_kernel(c, l);
}

// Gemm / MatMul: y[M,N] = x[M,K] B (+ C) as a 1x1 convolution over M pixels.
std::unique_ptr<Kernel> make_linear_f16(const KernelContext& c, bool tb, float beta) {
  const Shape& bs = c.input(1).shape;
  const int64_t K = tb ? bs[1] : bs[0], N = tb ? bs[0] : bs[1];
  const Shape& x = c.input(0).shape;
  if (x.empty() || x.back() != K) return nullptr;
  F16Layer l;
  l.g.cin = K, l.g.cout = N;
  l.g.iw = l.g.ow = numel(x) / K;
  const uint16_t* w = c.const_input(1)->data_as<uint16_t>();
  l.w = [&](int64_t o, int64_t k, int64_t) { return tb ? w[o * K + k] : w[k * N + o]; };
  l.bias = bias_of(c, N, beta);
  l.act = FusedActivation::from(c.node);
  l.pool = c.pool;
  return make_kernel(c, l);
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
