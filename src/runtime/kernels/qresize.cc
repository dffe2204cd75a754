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

// Weights in quarters: y = floor(s / 16 + 1/2), s the sum of the (4 - w)
// and w products (16 x the interpolation), in int16 lanes.
class QResizeQuarters : public Kernel {
 public:
  QResizeQuarters(ResizeTables t, std::vector<int16_t> wx, std::vector<int16_t> wy, pthreadpool_t pool)
      : t_(std::move(t)), wx_(std::move(wx)), wy_(std::move(wy)), pool_(pool) {}
  void run() override {
    const int8_t* x = in_[0].as<const int8_t>();
    int8_t* y = out_[0].as<int8_t>();
    parallel_for(pool_, size_t(out_[0].shape[0] * t_.oh), [&](size_t r) { row(x, y, int64_t(r)); });
  }
  const char* impl() const override { return "avx512-int8"; }

 private:
  __attribute__((target("avx512f,avx512bw,avx512vl"))) void row(const int8_t* x, int8_t* y, int64_t r) const {
    const ResizeTables& t = t_;
    const int64_t C = t.c, n = r / t.oh, oy = r % t.oh;
    const int8_t* img = x + n * t.ih * t.iw * C;
    const int8_t* r0 = img + t.y0[size_t(oy)] * t.iw * C;
    const int8_t* r1 = img + t.y1[size_t(oy)] * t.iw * C;
    const __m512i wy1 = _mm512_set1_epi16(wy_[size_t(oy)]), wy0 = _mm512_set1_epi16(int16_t(4 - wy_[size_t(oy)]));
    const __m512i half = _mm512_set1_epi16(8);
    int8_t* yr = y + r * t.ow * C;
    for (int64_t ox = 0; ox < t.ow; ++ox) {
      const int64_t a = t.x0[size_t(ox)] * C, b = t.x1[size_t(ox)] * C;
      const __m512i wx1 = _mm512_set1_epi16(wx_[size_t(ox)]), wx0 = _mm512_set1_epi16(int16_t(4 - wx_[size_t(ox)]));
      for (int64_t c = 0; c < C; c += 32) {
        const __mmask32 m = C - c >= 32 ? ~__mmask32(0) : (__mmask32(1) << (C - c)) - 1;
        const __m512i top = _mm512_add_epi16(_mm512_mullo_epi16(load32(r0 + a + c, m), wx0), _mm512_mullo_epi16(load32(r0 + b + c, m), wx1));
        const __m512i bot = _mm512_add_epi16(_mm512_mullo_epi16(load32(r1 + a + c, m), wx0), _mm512_mullo_epi16(load32(r1 + b + c, m), wx1));
        const __m512i s = _mm512_add_epi16(_mm512_mullo_epi16(top, wy0), _mm512_mullo_epi16(bot, wy1));  // 16 x the value
        const __m512i q = _mm512_srai_epi16(_mm512_add_epi16(s, half), 4);
        _mm256_mask_storeu_epi8(yr + ox * C + c, m, _mm512_cvtepi16_epi8(q));
      }
    }
  }
  ResizeTables t_;
  std::vector<int16_t> wx_, wy_;  // weights of the second index, in quarters
  pthreadpool_t pool_;
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
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  if (!cpu || c.input(0).dtype != DType::i8 || c.node.attrs.has("activation")) return nullptr;
  ResizeTables t = resize_tables(c);
  std::vector<int16_t> wx, wy;
  if (!quarters(t.wx, wx) || !quarters(t.wy, wy)) return nullptr;
  return std::make_unique<QResizeQuarters>(std::move(t), std::move(wx), std::move(wy), c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("Resize", 150, make_qresize_quarters, "avx512-int8");
EF_REGISTER_KERNEL("Resize", 50, make_qresize_ref, "ref-int8");
}  // namespace ef
