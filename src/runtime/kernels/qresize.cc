// int8 Resize (NHWC): fuse_qdq moves int8 through a Resize whose output is
// requantized with the input's parameters, where interpolating the int8
// values is the float definition (the weights sum to 1, so the zero point
// and scale cancel) up to the final rounding: the interpolation of the
// float kernel (resize.cc, same tables), rounded half to even and clamped.
//   * weights that are all quarters (2x bilinear, nearest) on AVX-512 CPUs:
//     integer arithmetic, 32 channels at a time; the float kernel's
//     interpolation is exact there (sixteenths of int8 values), rounded half
//     up as XNNPACK's fixed-point kernel, which this replaces there, rounds
//     (ties differ by 1 from the float kernel's round half to even);
//   * other tables XNNPACK's resize_bilinear2d_nhwc_s8 (resize.cc) declines:
//     the float interpolation per value.
// GCC 12 flags the _mm512_undefined_* operand of the conversions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

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

// 32 int8 at p (lanes of m) as int16.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512i load32(const int8_t* p, __mmask32 m) {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

// 16 int16 at p + i (lanes of m) and at p + j (lanes of m), in the two halves.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512i load_pair(const int16_t* p, int64_t i,
                                                                                            int64_t j, __mmask16 m) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi16(m, p + i)), _mm256_maskz_loadu_epi16(m, p + j), 1);
}

// Weights in quarters: y = floor(s / 16 + 1/2), s the sum of the (4 - w)
// and w products (16 x the interpolation), in int16 lanes. Per output row
// the two input rows are first blended along whole rows (32 values a
// vector, whatever the channel count), then each pair of output pixels
// blends two columns of that row in one vector (16 channels a half): the
// same integer sum in another order, so the same result.
class QResizeQuarters : public Kernel {
 public:
  QResizeQuarters(ResizeTables t, std::vector<int16_t> wx, std::vector<int16_t> wy, pthreadpool_t pool)
      : t_(std::move(t)), wx_(std::move(wx)), wy_(std::move(wy)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    rows_ = out[0].shape[0] * t_.oh;
    tasks_ = std::min<int64_t>(rows_, pool_ ? int64_t(pthreadpool_get_threads_count(pool_)) : 1);  // row blocks, one blended row each
    blend_.assign(size_t(tasks_ * t_.iw * t_.c + 32), 0);  // + 32: the last masked vector may read beyond
  }
  void run() override {
    parallel_for(pool_, size_t(tasks_), [&](size_t k) {
      int16_t* b = blend_.data() + int64_t(k) * t_.iw * t_.c;
      for (int64_t r = rows_ * int64_t(k) / tasks_; r < rows_ * int64_t(k + 1) / tasks_; ++r) row(r, b);
    });
  }
  const char* impl() const override { return "avx512-int8"; }

 private:
  __attribute__((target("avx512f,avx512bw,avx512vl"))) void row(int64_t r, int16_t* b) const {
    const ResizeTables& t = t_;
    const int64_t C = t.c, n = r / t.oh, oy = r % t.oh, len = t.iw * C;
    const int8_t* img = in_[0].as<const int8_t>() + n * t.ih * t.iw * C;
    const int8_t* r0 = img + t.y0[size_t(oy)] * len;
    const int8_t* r1 = img + t.y1[size_t(oy)] * len;
    const __m512i wy1 = _mm512_set1_epi16(wy_[size_t(oy)]), wy0 = _mm512_set1_epi16(int16_t(4 - wy_[size_t(oy)]));
    for (int64_t i = 0; i < len; i += 32) {  // b = 4 x the vertical blend
      const __mmask32 m = len - i >= 32 ? ~__mmask32(0) : (__mmask32(1) << (len - i)) - 1;
      _mm512_mask_storeu_epi16(b + i, m, _mm512_add_epi16(_mm512_mullo_epi16(load32(r0 + i, m), wy0),
                                                          _mm512_mullo_epi16(load32(r1 + i, m), wy1)));
    }
    const __m512i half = _mm512_set1_epi16(8);
    int8_t* yr = out_[0].as<int8_t>() + r * t.ow * C;
    for (int64_t ox = 0; ox < t.ow; ox += 2) {  // pixels ox and ox + 1 (if any) in the two halves
      const int64_t o2 = std::min(ox + 1, t.ow - 1);
      const int64_t a0 = t.x0[size_t(ox)] * C, a1 = t.x1[size_t(ox)] * C, b0 = t.x0[size_t(o2)] * C, b1 = t.x1[size_t(o2)] * C;
      const __m512i w0 = _mm512_inserti64x4(_mm512_set1_epi16(int16_t(4 - wx_[size_t(ox)])),
                                            _mm256_set1_epi16(int16_t(4 - wx_[size_t(o2)])), 1);
      const __m512i w1 = _mm512_inserti64x4(_mm512_set1_epi16(wx_[size_t(ox)]), _mm256_set1_epi16(wx_[size_t(o2)]), 1);
      if (C == 16) {  // adjacent source pixels are one 64-byte load, the two output pixels one 32-byte store
        const __m512i v0 = b0 == a0 + 16 ? _mm512_loadu_si512(b + a0) : load_pair(b, a0, b0, 0xFFFF);
        const __m512i v1 = b1 == a1 + 16 ? _mm512_loadu_si512(b + a1) : load_pair(b, a1, b1, 0xFFFF);
        const __m512i s = _mm512_add_epi16(_mm512_mullo_epi16(v0, w0), _mm512_mullo_epi16(v1, w1));
        const __m256i q = _mm512_cvtepi16_epi8(_mm512_srai_epi16(_mm512_add_epi16(s, half), 4));
        if (ox + 1 < t.ow) _mm256_storeu_si256(reinterpret_cast<__m256i*>(yr + ox * 16), q);
        else _mm_storeu_si128(reinterpret_cast<__m128i*>(yr + ox * 16), _mm256_castsi256_si128(q));
        continue;
      }
      for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 m = C - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (C - c)) - 1);
        const __m512i s = _mm512_add_epi16(_mm512_mullo_epi16(load_pair(b + c, a0, b0, m), w0),
                                           _mm512_mullo_epi16(load_pair(b + c, a1, b1, m), w1));
        const __m256i q = _mm512_cvtepi16_epi8(_mm512_srai_epi16(_mm512_add_epi16(s, half), 4));
        _mm_mask_storeu_epi8(yr + ox * C + c, m, _mm256_castsi256_si128(q));
        if (ox + 1 < t.ow) _mm_mask_storeu_epi8(yr + (ox + 1) * C + c, m, _mm256_extracti128_si256(q, 1));
      }
    }
  }
  ResizeTables t_;
  std::vector<int16_t> wx_, wy_;  // weights of the second index, in quarters
  pthreadpool_t pool_;
  int64_t rows_ = 0, tasks_ = 1;
  std::vector<int16_t> blend_;  // [task][IW * C]: the current output row's vertical blend
};

// The table's weights times 4, if all are whole numbers.
bool quarters(const std::vector<float>& w, std::vector<int16_t>& q) {
  for (float v : w) {
    if (v * 4.f != std::nearbyint(v * 4.f) || v < 0.f || v > 1.f) return false;
    q.push_back(int16_t(v * 4.f));
  }
  return true;
}

std::unique_ptr<Kernel> make_qresize_quarters(const KernelContext& c) {
  if (!cpu_has_avx512() || c.input(0).dtype != DType::i8 || c.node.attrs.has("activation")) return nullptr;
  ResizeTables t = resize_tables(c);
  std::vector<int16_t> wx, wy;
  if (!quarters(t.wx, wx) || !quarters(t.wy, wy)) return nullptr;
  return std::make_unique<QResizeQuarters>(std::move(t), std::move(wx), std::move(wy), c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("Resize", 150, make_qresize_quarters, "avx512-int8");
EF_REGISTER_KERNEL("Resize", 50, make_qresize_ref, "ref-int8");
}  // namespace ef
