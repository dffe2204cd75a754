// ConvTranspose whose kernel equals its stride (deconv_is_blockwise) with at
// most 16 outputs per input pixel (KH * KW * Cout <= 16: the selfie models'
// 2x2 / 2, 16 -> 1 mask layer), on AVX-512. Each input pixel's outputs are
// a dot product of its Cin values with one weight column per output, so 16
// pixels of a row go through at once: their rows are loaded (int8 input
// dequantized on the way, exactly as DequantizeLinear computes it:
// float(q - zp) * s), transposed to one vector of 16 pixels per channel, and
// accumulated with one FMA per (channel, output). The activation runs on the
// M x 16 tile; each output row then takes KW * Cout values per pixel: with
// at most 2 the tile's rows interleaved, else the tile transposed back and
// stored pixel by pixel (clipped at a padded border). The int8 form (inputs
// 3, 4: x_scale, x_zp; fuse_dequantize_conv_transpose.cc) therefore gives
// bit for bit the float form's result on the dequantized input.
// GCC 12 flags the _mm512_undefined_* operand of the intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "graph/ops/quant_util.h"
#include "runtime/kernel.h"
#include "runtime/kernels/conv_transpose.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

constexpr int64_t kMaxM = 16;     // outputs per input pixel: one vector per pixel

// r[i][j] -> r[j][i] for a 16 x 16 float tile.
__attribute__((target("avx512f"), always_inline)) inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  // u[4k + c], 128-bit lane L: column 4L + c of rows 4k..4k+3.
  for (int k = 0; k < 4; ++k) {
    u[4 * k + 0] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 lo01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 hi01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 lo23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 hi23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    r[c] = _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + c] = _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(3, 1, 3, 1));
    r[4 + c] = _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + c] = _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Channels [c0, c0 + popcount(m)) of one pixel as floats; int8 as DequantizeLinear computes them.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 load_row(const float* p, __mmask16 m, __m512i,
                                                                                 __m512) {
  return _mm512_maskz_loadu_ps(m, p);
}
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 load_row(const int8_t* p, __mmask16 m,
                                                                                 __m512i zp, __m512 scale) {
  const __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p));
  return _mm512_maskz_mul_ps(m, _mm512_cvtepi32_ps(_mm512_sub_epi32(q, zp)), scale);
}

template <class T>
class DeconvDirect : public Kernel {
 public:
  DeconvDirect(const DeconvGeom& g, const float* w, const float* b, float x_scale, int32_t x_zp, FusedActivation act,
               pthreadpool_t pool)
      : g_(g), m_(g.kh * g.kw * g.cout), mp_((m_ + 3) / 4 * 4), x_scale_(x_scale), x_zp_(x_zp), act_(act), pool_(pool) {
    // w: IOHW [Cin][Cout][KH][KW] -> [Cin][mp_], output m = (ky * KW + kx) * Cout + o.
    const int64_t O = g.cout, KH = g.kh, KW = g.kw;
    w_.assign(size_t(g.cin * mp_), 0.f);
    bias_.assign(size_t(mp_), 0.f);
    for (int64_t ky = 0; ky < KH; ++ky)
      for (int64_t kx = 0; kx < KW; ++kx)
        for (int64_t o = 0; o < O; ++o) {
          const int64_t m = (ky * KW + kx) * O + o;
          for (int64_t i = 0; i < g.cin; ++i) w_[size_t(i * mp_ + m)] = w[((i * O + o) * KH + ky) * KW + kx];
          if (b) bias_[size_t(m)] = b[o];
        }
    switch (mp_) {
      case 4: block_ = &DeconvDirect::block<4>; break;
      case 8: block_ = &DeconvDirect::block<8>; break;
      case 12: block_ = &DeconvDirect::block<12>; break;
      default: block_ = &DeconvDirect::block<16>; break;
    }
  }
  void run() override {
    const int64_t per_row = (g_.iw + 15) / 16;  // blocks of 16 pixels along each input row
    parallel_rows(pool_, g_.n * g_.ih * per_row, 16 * m_, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) (this->*block_)(b / per_row, b % per_row * 16);
    });
  }
  const char* impl() const override { return "avx512-direct"; }

 private:
  template <int MP>
  __attribute__((target("avx512f,avx512bw,avx512vl"))) void block(int64_t row, int64_t ix0) const;

  DeconvGeom g_;
  int64_t m_, mp_;  // outputs per input pixel, rounded up to 4 (weights and bias zero beyond m_)
  float x_scale_;
  int32_t x_zp_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<float> w_, bias_;
  void (DeconvDirect::*block_)(int64_t, int64_t) const = nullptr;
};

// Input pixels [ix0, ix0 + 16) of input row `row` (n * IH + iy).
template <class T>
template <int MP>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void DeconvDirect<T>::block(int64_t row, int64_t ix0) const {
  const DeconvGeom& g = g_;
  const int64_t np = std::min<int64_t>(16, g.iw - ix0), C = g.cin;
  const T* x = in_[0].as<T>() + (row * g.iw + ix0) * C;
  const __m512i zp = _mm512_set1_epi32(x_zp_);
  const __m512 scale = _mm512_set1_ps(x_scale_);
  __m512 acc[MP], r[16];
  for (int j = 0; j < MP; ++j) acc[j] = _mm512_set1_ps(bias_[size_t(j)]);
  for (int64_t c0 = 0; c0 < C; c0 += 16) {  // r[i]: channel c0 + i of the 16 pixels
    const int64_t nc = std::min<int64_t>(16, C - c0);
    const __mmask16 cm = __mmask16((1u << nc) - 1);
    for (int p = 0; p < 16; ++p) r[p] = p < np ? load_row(x + p * C + c0, cm, zp, scale) : _mm512_setzero_ps();
    transpose16(r);
    const float* w = w_.data() + c0 * MP;
    for (int64_t i = 0; i < nc; ++i, w += MP)
      for (int j = 0; j < MP; ++j) acc[j] = _mm512_fmadd_ps(r[i], _mm512_set1_ps(w[j]), acc[j]);
  }
  alignas(64) float tile[16 * 16];  // [output][pixel]
  for (int j = 0; j < MP; ++j) _mm512_store_ps(tile + j * 16, acc[j]);
  act_.apply(tile, size_t(m_ * 16));
  // Output row iy * KH + ky - pt takes, from pixel p, its outputs [ky * run, (ky + 1) * run) at
  // column (ix0 + p) * KW - pl: one stretch of np * run values, clipped at a padded border.
  const int64_t n = row / g.ih, iy = row % g.ih, O = g.cout, run = g.kw * O, x0 = ix0 * g.kw - g.pl;
  const bool inside = x0 >= 0 && x0 + np * g.kw <= g.ow;
  auto out_row = [&](int64_t oy) { return out_[0].as<float>() + (n * g.oh + oy) * g.ow * O; };
  if (run <= 2 && inside) {  // the stretch is run vectors of tile rows, interleaved
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const int64_t len = np * run;
    const __mmask16 m0 = len >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << len) - 1);
    const __mmask16 m1 = len >= 32 ? __mmask16(0xFFFF) : len > 16 ? __mmask16((1u << (len - 16)) - 1) : 0;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t oy = iy * g.kh + ky - g.pt;
      if (oy < 0 || oy >= g.oh) continue;
      float* dst = out_row(oy) + x0 * O;
      const __m512 a = _mm512_load_ps(tile + ky * run * 16);
      if (run == 1) {
        _mm512_mask_storeu_ps(dst, m0, a);
      } else {
        const __m512 b = _mm512_load_ps(tile + (ky * run + 1) * 16);
        _mm512_mask_storeu_ps(dst, m0, _mm512_permutex2var_ps(a, lo, b));
        _mm512_mask_storeu_ps(dst + 16, m1, _mm512_permutex2var_ps(a, hi, b));
      }
    }
    return;
  }
  for (int j = 0; j < 16; ++j) r[j] = j < MP ? _mm512_load_ps(tile + j * 16) : _mm512_setzero_ps();
  transpose16(r);  // r[p]: pixel p's outputs
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t oy = iy * g.kh + ky - g.pt;
    if (oy < 0 || oy >= g.oh) continue;
    float* yr = out_row(oy);
    for (int64_t p = 0; p < np; ++p) {
      // Columns [c, c + KW) cut to [0, OW): outputs [lo, hi) of the pixel's run, stored from column c + lo / O.
      const int64_t c = x0 + p * g.kw, lo = std::max<int64_t>(0, -c) * O, hi = std::min(g.kw, g.ow - c) * O;
      if (lo >= hi) continue;
      const __m512i shift = _mm512_add_epi32(iota, _mm512_set1_epi32(int(ky * run + lo)));
      _mm512_mask_storeu_ps(yr + c * O + lo, __mmask16((1u << (hi - lo)) - 1), _mm512_permutexvar_ps(shift, r[p]));
    }
  }
}

}  // namespace

bool deconv_direct_fits(const Graph& graph, const Node& n) {
  if (!cpu_has_avx512() || n.attrs.s("layout", "") != "NHWC" || !Graph::has_input(n, 1)) return false;
  const Value& w = graph.in(n, 1);
  if (!w.is_const() || w.dtype != DType::f32 || w.shape.size() < 3) return false;
  if (Graph::has_input(n, 2) && (!graph.in(n, 2).is_const() || graph.in(n, 2).dtype != DType::f32)) return false;
  const DeconvGeom g = deconv_geom(n, graph.in(n, 0).shape, w.shape, graph.values.at(n.outputs.at(0)).shape);
  return deconv_is_blockwise(g) && g.kh * g.kw * g.cout <= kMaxM;
}

namespace {

std::unique_ptr<Kernel> make_deconv_direct(const KernelContext& c) {
  if (c.output(0).dtype != DType::f32 || !deconv_direct_fits(c.graph, c.node)) return nullptr;
  const DeconvGeom g = deconv_geom(c.node, c.input(0).shape, c.input(1).shape, c.output(0).shape);
  const float* w = c.const_input(1)->data_as<float>();
  const float* b = c.const_input(2) ? c.const_input(2)->data_as<float>() : nullptr;
  const FusedActivation act = FusedActivation::from(c.node);
  if (c.input(0).dtype == DType::f32 && !Graph::has_input(c.node, 3))
    return std::make_unique<DeconvDirect<float>>(g, w, b, 1.f, 0, act, c.pool);
  if (c.input(0).dtype != DType::i8) return nullptr;
  const QuantParams q = const_qparams(c.graph, c.node, 3, 4, -1, {}, DType::i8, c.graph.describe(c.node) + ": input");
  return std::make_unique<DeconvDirect<int8_t>>(g, w, b, q.scale[0], q.zero_point[0], act, c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("ConvTranspose", 110, make_deconv_direct, "avx512-direct");
}  // namespace ef
