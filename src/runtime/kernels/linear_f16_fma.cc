// Conv/Gemm/MatMul with float16 weights computed in float16 (AVX512-FP16).
//
// Per run: the float32 input is converted to float16 once (vcvtps2ph, round
// to nearest even) and stored twice per 32-bit word, so that a plain 32-bit
// broadcast (vpbroadcastd, a load-port-only uop; vpbroadcastw also needs the
// shuffle port, which the FMAs share) puts one activation in all 32 lanes.
// Tiles of 8 output pixels x 64 output channels (two 32-lane panels of packed
// f16 weights) accumulate with vfmadd231ph. Accumulation: float16 within
// blocks of kBlock products (a tap's input channels, continuing across taps),
// each block's sum added into float32 accumulators (which start at the
// bias); the output is float32 after the fused clamp. So an output carries
// the rounding of its f16 input and weights, plus f16 rounding over at most
// kBlock terms, never over the whole K.
#include "runtime/kernels/linear_f16.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/kernels/parallel.h"

namespace ef {

bool cpu_has_avx512fp16() {
  const char* off = std::getenv("EF_DISABLE_AVX512FP16");  // tests of the fallback and its error
  if (off && *off && *off != '0') return false;
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512fp16");
}

namespace {

#define EF_AVX512FP16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512fp16,f16c,fma")))

constexpr int64_t kLanes = 32;  // output channels per panel (f16 lanes)
constexpr int64_t kMr = 8;      // output pixels per tile
constexpr int64_t kNp = 2;      // panels per tile
constexpr int64_t kBlock = kF16Block;

class LinearF16Fma : public Kernel {
 public:
  // xh_: the input as doubled f16, then one pixel of zeros that padding taps read.
  explicit LinearF16Fma(const F16Layer& l)
      : g_(l.g), act_(l.act), pool_(l.pool), panels_(l.panels(kLanes)), packed_(l.packed(kLanes)),
        bias_(l.padded_bias(kLanes)), xh_(size_t(l.g.n * l.g.ih * l.g.iw * l.g.cin + l.g.cin), 0) {}
  const char* impl() const override { return "f16-avx512fp16"; }

  void run() override {
    x_ = in_[0].as<float>();
    y_ = out_[0].as<float>();
    const int64_t width = g_.iw * g_.cin;
    parallel_rows(pool_, g_.n * g_.ih, width, [&](int64_t r0, int64_t r1) { to_f16(r0 * width, r1 * width); });
    const int64_t groups = (panels_ + kNp - 1) / kNp, rows = g_.n * g_.oh;
    parallel_for(pool_, size_t(rows * groups), [&](size_t task) {
      const int64_t r = int64_t(task) / groups, p = int64_t(task) % groups * kNp;
      if (p + 1 < panels_) row<2>(r, p);
      else row<1>(r, p);
    });
    if (act_.needs_separate_pass()) apply_act(act_, y_, size_t(out_[0].numel()), pool_);
  }

 private:
  EF_AVX512FP16 void to_f16(int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i += 16) {
      const __mmask16 m = __mmask16(end - i >= 16 ? 0xffffu : (1u << (end - i)) - 1u);
      const __m512i h = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x_ + i), _MM_FROUND_TO_NEAREST_INT));
      _mm512_mask_storeu_epi32(&xh_[size_t(i)], m, _mm512_or_si512(h, _mm512_slli_epi32(h, 16)));
    }
  }

  template <int NP>
  static EF_AVX512FP16 void clear(__m512h (&acc)[kMr][NP]) {
    for (int64_t i = 0; i < kMr; ++i)
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ph();
  }

  // Add the f16 block sums into the f32 sums and restart the block.
  template <int NP>
  static EF_AVX512FP16 void flush(__m512h (&acc)[kMr][NP], float (&sum)[kMr][NP * kLanes]) {
    for (int64_t i = 0; i < kMr; ++i)
      for (int j = 0; j < NP; ++j) {
        const __m512i a = _mm512_castph_si512(acc[i][j]);
        float* s = sum[i] + j * kLanes;
        _mm512_store_ps(s, _mm512_add_ps(_mm512_load_ps(s), _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_castsi512_si256(a)))));
        _mm512_store_ps(s + 16, _mm512_add_ps(_mm512_load_ps(s + 16),
                                              _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_extracti64x4_epi64(a, 1)))));
      }
    clear<NP>(acc);
  }

  // Output row r (batch * oh), panels [p, p + NP), all pixels.
  template <int NP>
  EF_AVX512FP16 void row(int64_t r, int64_t p) const {
    const int64_t b = r / g_.oh, oy = r % g_.oh;
    for (int64_t ox = 0; ox < g_.ow; ox += kMr) tile<NP>(b, oy, ox, std::min(kMr, g_.ow - ox), p);
  }

  template <int NP>
  EF_AVX512FP16 void tile(int64_t b, int64_t oy, int64_t ox, int64_t m, int64_t p) const {
    const int64_t taps = g_.taps(), cin = g_.cin, zero = g_.n * g_.ih * g_.iw * cin;
    const uint32_t* xh = xh_.data();
    // f32 sums per pixel and channel, in memory (the registers hold the
    // f16 accumulators).
    alignas(64) float sum[kMr][NP * kLanes];
    for (int64_t i = 0; i < kMr; ++i) std::memcpy(sum[i], &bias_[size_t(p * kLanes)], sizeof(sum[i]));
    __m512h acc[kMr][NP];
    clear<NP>(acc);
    int64_t filled = 0;  // products in acc since the last flush
    const uint32_t* s[kMr];
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t iy = oy * g_.sh - g_.pt + (t / g_.kw) * g_.dh, dx = (t % g_.kw) * g_.dw - g_.pl;
      for (int64_t i = 0; i < kMr; ++i) {
        const int64_t ix = (ox + i) * g_.sw + dx;
        const bool in = i < m && iy >= 0 && iy < g_.ih && ix >= 0 && ix < g_.iw;
        s[i] = xh + (in ? ((b * g_.ih + iy) * g_.iw + ix) * cin : zero);
      }
      const _Float16* w[NP];
      for (int j = 0; j < NP; ++j)
        w[j] = reinterpret_cast<const _Float16*>(packed_.data()) + ((p + j) * taps + t) * cin * kLanes;
      for (int64_t c0 = 0; c0 < cin;) {
        const int64_t c1 = std::min(cin, c0 + kBlock - filled);
        for (int64_t ci = c0; ci < c1; ++ci) {
          __m512h wv[NP];
          for (int j = 0; j < NP; ++j) wv[j] = _mm512_loadu_ph(w[j] + ci * kLanes);
          for (int64_t i = 0; i < kMr; ++i) {
            const __m512h xv = _mm512_castsi512_ph(_mm512_set1_epi32(int32_t(s[i][ci])));
            for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ph(xv, wv[j], acc[i][j]);
          }
        }
        filled += c1 - c0;
        c0 = c1;
        if (filled == kBlock) flush<NP>(acc, sum), filled = 0;
      }
    }
    if (filled) flush<NP>(acc, sum);
    const __m512 lo = _mm512_set1_ps(act_.out_min()), hi = _mm512_set1_ps(act_.out_max());
    float* y = y_ + ((b * g_.oh + oy) * g_.ow + ox) * g_.cout;
    for (int j = 0; j < NP; ++j)
      for (int h = 0; h < 2; ++h) {
        const int64_t c = (p + j) * kLanes + 16 * h, nc = std::clamp<int64_t>(g_.cout - c, 0, 16);
        if (nc == 0) continue;
        const __mmask16 mask = __mmask16((1u << nc) - 1u);
        for (int64_t i = 0; i < m; ++i)
          _mm512_mask_storeu_ps(y + i * g_.cout + c, mask,
                                _mm512_min_ps(_mm512_max_ps(_mm512_load_ps(sum[i] + j * kLanes + 16 * h), lo), hi));
      }
  }

  ConvGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
  int64_t panels_ = 1;
  std::vector<uint16_t> packed_;  // [panel][tap][ci][32] float16 bits
  std::vector<float> bias_;
  std::vector<uint32_t> xh_;      // the input as float16, each value twice (+ a zero pixel)
  const float* x_ = nullptr;
  float* y_ = nullptr;
};

}  // namespace

std::unique_ptr<Kernel> make_linear_f16_fma(const F16Layer& l) {
  if (!cpu_has_avx512fp16()) return nullptr;
  return std::make_unique<LinearF16Fma>(l);
}

}  // namespace ef
