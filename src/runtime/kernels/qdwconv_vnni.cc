// Depthwise QLinearConv (NHWC int8, symmetric int8 weights, kernel up to
// 8x8, no dilation) with AVX512-VNNI. vpdpbusd sums 4 adjacent byte
// products into one int32, so each 64-byte vector holds 16 channels x 4
// vertical taps: per 64 channels, an input column (the kh rows of one x) is
// interleaved once into ceil(kh/4) groups of 4 vectors and reused by every
// output whose window covers it (3 outputs for a 3x3 stride-1 conv). Per
// output: kw * ceil(kh/4) * 4 vpdpbusd, then the requantization of
// qgemm_vnni.h (round_half_even(acc * mult[c]) + y_zp, clamped), results
// packed back to channel order. Exactly the integer reference's results.
// At most 16 channels: QDwConv16 below (one int32 lane per channel).
// (XNNPACK's 2022 qc8 depthwise kernels, which this replaces on VNNI CPUs,
// ran at about half the speed of its f32 ones here.)

// GCC 12 flags the _mm512_undefined_* operand of the masked conversions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/qconv.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/qgemm_vnni.h"

namespace ef {
namespace {

constexpr int64_t kBlock = 64;    // channels per task
constexpr int64_t kMaxCols = 72;  // interleaved input columns held at once
constexpr int64_t kMaxK = 8;      // kernel height and width

// Channel of element k (0..15) of accumulator j (0..3) in a 64-channel block:
// the byte-then-word unpacks put channels 16l + 4j + e (lane l, element e) in vector j.
int64_t lane_channel(int64_t j, int64_t k) { return 16 * (k / 4) + 4 * j + k % 4; }

class QDwConvVnni : public Kernel {
 public:
  explicit QDwConvVnni(const QConvSpec& s) : g_(s.g), x_zp_(s.x.zp), y_zp_(s.y.zp), lo_(s.lo), hi_(s.hi) {
    const int64_t C = g_.cout, KH = g_.kh, KW = g_.kw;
    groups_ = (KH + 3) / 4;
    blocks_ = (C + kBlock - 1) / kBlock;
    w_.assign(size_t(blocks_ * groups_ * KW * kBlock * 4), 0);
    bias_.assign(size_t(blocks_ * kBlock), 0);
    mult_.assign(size_t(blocks_ * kBlock), 0.f);
    const int8_t* w = s.weights->data_as<int8_t>();  // [C][1][KH][KW]
    pair_ = C <= 32;
    for (int64_t b = 0; b < blocks_; ++b)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 16; ++k) {
          const int64_t c = b * kBlock + lane_channel(j, k) % (pair_ ? 32 : 64);
          if (c >= C) continue;
          int32_t sum = 0;
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw) {
              const int8_t v = w[(c * KH + kh) * KW + kw];
              sum += v;
              w_[size_t((((b * groups_ + kh / 4) * KW + kw) * 4 + j) * 64 + k * 4 + kh % 4)] = v;
            }
          // vpdpbusd sees x + 128: remove (128 + x_zp) * sum(w) here (padding reads x_zp).
          bias_[size_t(b * kBlock + j * 16 + k)] = s.bias[size_t(c)] - (128 + x_zp_) * sum;
          mult_[size_t(b * kBlock + j * 16 + k)] = s.mult[size_t(c)];
        }
    if (pair_) row_ = KH <= 4 && KW == 3 ? &QDwConvVnni::row<3, 1, true> : &QDwConvVnni::row<0, 0, true>;
    else row_ = KH <= 4 && KW == 3 ? &QDwConvVnni::row<3, 1, false> : &QDwConvVnni::row<0, 0, false>;
  }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    zrow_.assign(size_t(g_.iw * g_.cin), int8_t(x_zp_));  // the rows above and below the image
  }
  void run() override;
  const char* impl() const override { return "vnni-dw"; }
  pthreadpool_t pool_ = nullptr;

 private:
  // KW, G: the kernel width and groups (0: at run time); PAIR: see pair_.
  template <int KW, int G, bool PAIR>
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void row(int64_t r, int64_t b) const;
  void (QDwConvVnni::*row_)(int64_t, int64_t) const = nullptr;
  QConvGeom g_;
  int32_t x_zp_, y_zp_, lo_, hi_;
  int64_t groups_ = 1, blocks_ = 1;
  // At most 32 channels: each vector holds 32 channels of two inputs sw
  // apart (its 256-bit halves), so one vpdpbusd serves two outputs; weights,
  // bias and multipliers repeat in both halves.
  bool pair_ = false;
  std::vector<int8_t> w_;  // [block][group][kw][4 vectors][64 bytes]
  std::vector<int32_t> bias_;
  std::vector<float> mult_;  // [block][4 vectors][16], lane_channel order
  std::vector<int8_t> zrow_;
};

// One output row r (n * oh + oy) for channels [64 b, 64 b + 64).
template <int KW_, int G_, bool PAIR>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void QDwConvVnni::row(int64_t r, int64_t b) const {
  const QConvGeom& g = g_;
  const int64_t KW = KW_ ? KW_ : g.kw, G = G_ ? G_ : groups_;
  const int64_t n = r / g.oh, oy = r % g.oh, c0 = b * kBlock, C = g.cin;
  const __mmask64 cmask = C - c0 >= 64 ? ~__mmask64(0) : (__mmask64(1) << (C - c0)) - 1;  // PAIR: C <= 32
  const int8_t* rows[4 * 2];
  for (int64_t t = 0; t < 4 * G; ++t) {
    const int64_t iy = oy * g.sh - g.pt + t;
    rows[t] = t >= g.kh ? nullptr : iy < 0 || iy >= g.ih ? zrow_.data() : in_[0].as<int8_t>() + (n * g.ih + iy) * g.iw * C;
  }
  const __m512i flip = _mm512_set1_epi8(char(0x80)), zp = _mm512_set1_epi8(char(x_zp_));
  const __m512i yzp = _mm512_set1_epi16(short(y_zp_)), vlo = _mm512_set1_epi8(char(lo_)), vhi = _mm512_set1_epi8(char(hi_));
  const int8_t* wv = w_.data() + b * G * KW * 4 * 64;
  constexpr int kRegs = KW_ && G_ ? KW_ * G_ * 4 : 1;  // weights held in registers when the shape is known
  __m512i wr[kRegs];
  if constexpr (KW_ && G_)
    for (int i = 0; i < kRegs; ++i) wr[i] = _mm512_loadu_si512(wv + i * 64);
  const int32_t* bias = bias_.data() + c0;
  const float* mult = mult_.data() + c0;
  int8_t* y = out_[0].as<int8_t>() + (n * g.oh + oy) * g.ow * C + c0;
  const int64_t chunk = std::max<int64_t>(1, (kMaxCols - KW) / g.sw + 1);
  alignas(64) __m512i cols[kMaxCols * 2 * 4];  // [column][group][4]
  for (int64_t ox0 = 0; ox0 < g.ow; ox0 += chunk) {
    const int64_t cnt = std::min(chunk, g.ow - ox0), ix0 = ox0 * g.sw - g.pl, ncols = (cnt - 1) * g.sw + KW;
    for (int64_t i = 0; i < ncols; ++i) {
      const int64_t ix = ix0 + i;
      const bool inside = ix >= 0 && ix < g.iw, inside2 = ix + g.sw >= 0 && ix + g.sw < g.iw;
      for (int64_t gi = 0; gi < G; ++gi) {
        __m512i v[4];
        for (int t = 0; t < 4; ++t) {
          const int8_t* p = rows[gi * 4 + t];
          if (!p) {
            v[t] = flip;
          } else if constexpr (PAIR) {  // [x at ix | x at ix + sw]
            const __m256i a = inside ? _mm256_maskz_loadu_epi8(__mmask32(cmask), p + ix * C) : _mm512_castsi512_si256(zp);
            const __m256i b = inside2 ? _mm256_maskz_loadu_epi8(__mmask32(cmask), p + (ix + g.sw) * C)
                                      : _mm512_castsi512_si256(zp);
            v[t] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1), flip);
          } else {
            v[t] = _mm512_xor_si512(inside ? _mm512_maskz_loadu_epi8(cmask, p + ix * C + c0) : zp, flip);
          }
        }
        const __m512i ab_lo = _mm512_unpacklo_epi8(v[0], v[1]), ab_hi = _mm512_unpackhi_epi8(v[0], v[1]);
        const __m512i cd_lo = _mm512_unpacklo_epi8(v[2], v[3]), cd_hi = _mm512_unpackhi_epi8(v[2], v[3]);
        __m512i* dst = cols + (i * G + gi) * 4;
        dst[0] = _mm512_unpacklo_epi16(ab_lo, cd_lo);
        dst[1] = _mm512_unpackhi_epi16(ab_lo, cd_lo);
        dst[2] = _mm512_unpacklo_epi16(ab_hi, cd_hi);
        dst[3] = _mm512_unpackhi_epi16(ab_hi, cd_hi);
      }
    }
    for (int64_t o = 0; o < cnt; o += PAIR ? 2 : 1) {
      __m512i acc[4];
      for (int j = 0; j < 4; ++j) acc[j] = _mm512_loadu_si512(bias + j * 16);
      for (int64_t kw = 0; kw < KW; ++kw) {
        const __m512i* col = cols + (o * g.sw + kw) * G * 4;
        for (int64_t gi = 0; gi < G; ++gi)
          for (int j = 0; j < 4; ++j) {
            const int64_t k = (gi * KW + kw) * 4 + j;
            acc[j] = dpbusd(acc[j], col[gi * 4 + j], KW_ && G_ ? wr[k] : _mm512_loadu_si512(wv + k * 64));
          }
      }
      __m512i q[4];
      for (int j = 0; j < 4; ++j)
        q[j] = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[j]), _mm512_loadu_ps(mult + j * 16)));
      // Saturating packs keep channel order (each lane: 4 + 4 words, then 8 + 8 bytes); the
      // final clamp to [lo, hi] makes the int16 saturation of far-out values harmless.
      const __m512i out = _mm512_min_epi8(_mm512_max_epi8(pack4_i8(q, yzp), vlo), vhi);
      if constexpr (PAIR) {
        _mm256_mask_storeu_epi8(y + (ox0 + o) * C, __mmask32(cmask), _mm512_castsi512_si256(out));
        if (o + 1 < cnt) _mm256_mask_storeu_epi8(y + (ox0 + o + 1) * C, __mmask32(cmask), _mm512_extracti64x4_epi64(out, 1));
      } else {
        _mm512_mask_storeu_epi8(y + (ox0 + o) * C, cmask, out);
      }
    }
  }
}

void QDwConvVnni::run() {
  const size_t rows = size_t(g_.n * g_.oh), blocks = size_t(blocks_);
  if (!pool_) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t b = 0; b < blocks; ++b) (this->*row_)(int64_t(r), int64_t(b));
    return;
  }
  pthreadpool_parallelize_2d(
      pool_,
      [](void* p, size_t r, size_t b) {
        const auto* self = static_cast<const QDwConvVnni*>(p);
        (self->*(self->row_))(int64_t(r), int64_t(b));
      },
      this, rows, blocks, 0);
}

// At most 16 channels (the selfie models' 128x128 layers): the 4-tap byte
// interleave above fills a quarter of each vector there. Here one int32 lane
// per channel: an input pixel's 16 channels sign-extended to int32 are, as
// int16 pairs, (x, sign) and each weight vector holds (w, 0), so vpdpwssd
// adds x * w: one instruction per tap for 16 channels, no interleaving
// (each column is loaded once per row of taps and reused by KW outputs), 8
// outputs at once to hide its latency. The zero point is in the bias
// (padding reads x_zp), as above; the same sums and requantization, so the
// same results. A residual (inputs 9-13, all channels or fewer, not pooled)
// is added to the requantized output as the VNNI GEMM does (requantize_sum).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) inline __m512i dpwssd(__m512i acc, __m512i a,
                                                                                   const __m512i& b) {
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "m"(b));  // as qgemm_vnni.h's dpbusd: no copies of acc
  return acc;
}

// What dw16_outputs reads: the widened columns, weights, bias and requantization.
struct DwOut {
  const __m512i* cols;  // [column][kh]
  int64_t sw, kh, kw;
  const __m512i* wr;   // weights in registers (KH, KW known) ...
  const int32_t* wm;   // ... or in memory
  __m512i bias;
  __m512 mult, flo, fhi;
  __m512i yzp, lo, hi;      // of what is stored: the conv output, or with a residual the sum
  __m512i yzp16, lo8, hi8;  // the same as int16 / int8 lanes, for 16 channels
  __mmask16 cm;
  int8_t* y;  // output pixel 0 of the chunk
  int64_t c;  // channels (output pixel stride)
  // A residual: r at output pixel 0 of the chunk (null: none), rc channels a
  // pixel (rmask; the rest read r_zp, rfill) and the sum's terms (requantize_sum).
  const int8_t* r;
  int64_t rc;
  __mmask16 rmask;
  __m128i rfill;
  __m512i rzp;
  __m512 rm, cm_;
};

// The int32 to store (less its zero point) for accumulator acc of output o:
// acc * mult clamped in float to [flo, fhi], rounded half to even. Without a
// residual [flo, fhi] reaches one past the stored range (its integer clamp
// follows); with one it is the conv output's range (integers: clamping
// before rounding is clamping after), and the result is requantize_sum of
// that and r.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) inline __m512i dw16_requant(
    const DwOut& d, __m512i acc, int64_t o) {
  const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), d.mult), d.flo), d.fhi);
  if (!d.r) return _mm512_cvtps_epi32(v);
  const __m512 c = _mm512_mul_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), d.cm_);
  const __m512i r = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_mask_loadu_epi8(d.rfill, d.rmask, d.r + o * d.rc)), d.rzp);
  return _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(r), d.rm, c));
}

// M outputs from o on, their accumulators in registers.
template <int KH_, int KW_, int SW_, int M>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) inline void dw16_outputs(const DwOut& d,
                                                                                                        int64_t o) {
  const int64_t KH = KH_ ? KH_ : d.kh, KW = KW_ ? KW_ : d.kw, SW = SW_ ? SW_ : d.sw;
  __m512i acc[M];
  for (int j = 0; j < M; ++j) acc[j] = d.bias;
  for (int64_t t = 0; t < KH; ++t)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const __m512i wv = KW_ && KH_ ? d.wr[t * KW + kw] : _mm512_loadu_si512(d.wm + (t * KW + kw) * 16);
      const __m512i* c = d.cols + (o * SW + kw) * KH + t;  // output o + j: c[j * SW * KH]
      for (int j = 0; j < M; ++j) acc[j] = dpwssd(acc[j], wv, c[j * SW * KH]);
    }
  if (M % 4 == 0 && d.c == 16) {  // 4 outputs (64 contiguous bytes) packed with saturation, then clamped
    for (int j0 = 0; j0 < M; j0 += 4) {
      __m512i q[4];
      for (int j = 0; j < 4; ++j) q[j] = dw16_requant(d, acc[j0 + j], o + j0 + j);
      const __m512i b = _mm512_min_epi8(_mm512_max_epi8(pack4_i8(q, d.yzp16), d.lo8), d.hi8);
      _mm512_storeu_si512(d.y + (o + j0) * 16, pack4_in_order(b));  // 4 outputs' 16 channels each
    }
    return;
  }
  for (int j = 0; j < M; ++j) {
    const __m512i q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(dw16_requant(d, acc[j], o + j), d.yzp), d.lo), d.hi);
    _mm_mask_storeu_epi8(d.y + (o + j) * d.c, d.cm, _mm512_cvtepi32_epi8(q));
  }
}

class QDwConv16 : public Kernel {
 public:
  explicit QDwConv16(const QConvSpec& s)
      : g_(s.g), x_zp_(s.x.zp), y_zp_(s.y.zp), lo_(s.lo), hi_(s.hi), residual_(s.residual),
        res_{nullptr, 0, 0, s.r.zp, s.r.scale / s.sum.scale, s.y.scale / s.sum.scale, s.sum.zp, s.sum_lo, s.sum_hi} {
    const int64_t C = g_.cin, KH = g_.kh, KW = g_.kw;
    w_.assign(size_t(KH * KW * 16), 0);
    bias_.assign(16, 0);
    mult_.assign(16, 0.f);
    const int8_t* w = s.weights->data_as<int8_t>();  // [C][1][KH][KW]
    for (int64_t c = 0; c < C; ++c) {
      int32_t sum = 0;
      for (int64_t k = 0; k < KH * KW; ++k) {
        w_[size_t(k * 16 + c)] = int32_t(uint16_t(int16_t(w[c * KH * KW + k])));  // (w, 0)
        sum += w[c * KH * KW + k];
      }
      bias_[size_t(c)] = s.bias[size_t(c)] - x_zp_ * sum;
      mult_[size_t(c)] = s.mult[size_t(c)];
    }
    if (KH == 3 && KW == 3) row_ = by_stride<3, 3>(g_.sw);
    else if (KH == 5 && KW == 5) row_ = by_stride<5, 5>(g_.sw);
    else row_ = &QDwConv16::row<0, 0, 0>;
  }
  void run() override {
    parallel_for(pool_, size_t(g_.n * g_.oh), [&](size_t r) { (this->*row_)(int64_t(r)); });
  }
  const char* impl() const override { return "vnni-dw16"; }
  pthreadpool_t pool_ = nullptr;

 private:
  template <int KH, int KW, int SW>
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void row(int64_t r) const;
  using Row = void (QDwConv16::*)(int64_t) const;
  template <int KH, int KW>
  static Row by_stride(int64_t sw) {
    return sw == 1 ? &QDwConv16::row<KH, KW, 1> : sw == 2 ? &QDwConv16::row<KH, KW, 2> : &QDwConv16::row<KH, KW, 0>;
  }
  Row row_ = nullptr;
  QConvGeom g_;
  int32_t x_zp_, y_zp_, lo_, hi_;
  bool residual_;
  QResidual res_;  // its parameters (r: in_[9])
  std::vector<int32_t> w_;  // [kh][kw][channel]: (w, 0) as int16 pairs
  std::vector<int32_t> bias_;
  std::vector<float> mult_;
};

// Output row r (n * oh + oy); KH, KW, SW: the kernel's size and stride (0: at run time).
template <int KH_, int KW_, int SW_>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void QDwConv16::row(int64_t r) const {
  const QConvGeom& g = g_;
  const int64_t KH = KH_ ? KH_ : g.kh, KW = KW_ ? KW_ : g.kw, C = g.cin;
  const int64_t n = r / g.oh, oy = r % g.oh;
  const __mmask16 cm = __mmask16((1u << C) - 1);
  const int8_t* rows[kMaxK];  // nullptr: outside the image (reads as x_zp)
  for (int64_t t = 0; t < KH; ++t) {
    const int64_t iy = oy * g.sh - g.pt + t;
    rows[t] = iy >= 0 && iy < g.ih ? in_[0].as<int8_t>() + (n * g.ih + iy) * g.iw * C : nullptr;
  }
  constexpr int kRegs = KW_ && KH_ ? KW_ * KH_ : 1;
  __m512i wr[kRegs];
  if constexpr (KW_ && KH_)
    for (int i = 0; i < kRegs; ++i) wr[i] = _mm512_loadu_si512(w_.data() + i * 16);
  const __m512i zp = _mm512_set1_epi32(x_zp_);
  const __m512i bias = _mm512_loadu_si512(bias_.data());
  const __m512 mult = _mm512_loadu_ps(mult_.data());
  const int32_t past = residual_ ? 0 : 1;  // see dw16_requant
  const __m512 flo = _mm512_set1_ps(float(lo_ - y_zp_ - past)), fhi = _mm512_set1_ps(float(hi_ - y_zp_ + past));
  // What is stored: the conv output, or the sum.
  const int32_t ozp = residual_ ? res_.y_zp : y_zp_, olo = residual_ ? res_.lo : lo_, ohi = residual_ ? res_.hi : hi_;
  const __m512i yzp = _mm512_set1_epi32(ozp), vlo = _mm512_set1_epi32(olo), vhi = _mm512_set1_epi32(ohi);
  const __m512i yzp16 = _mm512_set1_epi16(short(ozp)), lo8 = _mm512_set1_epi8(char(olo)), hi8 = _mm512_set1_epi8(char(ohi));
  const int64_t rc = residual_ ? in_[9].shape.back() : 0;
  const int8_t* res = residual_ ? in_[9].as<int8_t>() + (n * g.oh + oy) * g.ow * rc : nullptr;
  int8_t* y = out_[0].as<int8_t>() + (n * g.oh + oy) * g.ow * C;
  constexpr int64_t kCols = 72;  // columns held at once
  const int64_t chunk = std::max<int64_t>(1, (kCols - KW) / g.sw + 1);
  alignas(64) __m512i cols[kCols * kMaxK];  // [column][kh]
  for (int64_t ox0 = 0; ox0 < g.ow; ox0 += chunk) {
    const int64_t cnt = std::min(chunk, g.ow - ox0), ix0 = ox0 * g.sw - g.pl, ncols = (cnt - 1) * g.sw + KW;
    for (int64_t i = 0; i < ncols; ++i) {
      const int64_t ix = ix0 + i;
      const bool inside = ix >= 0 && ix < g.iw;
      for (int64_t t = 0; t < KH; ++t)
        cols[i * KH + t] = inside && rows[t] ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(cm, rows[t] + ix * C)) : zp;
    }
    const DwOut out{cols, g.sw, KH, KW, wr, w_.data(), bias, mult, flo, fhi, yzp, vlo, vhi, yzp16, lo8, hi8, cm,
                    y + ox0 * C, C, res ? res + ox0 * rc : nullptr, rc, __mmask16((1u << rc) - 1),
                    _mm_set1_epi8(char(res_.zp)), _mm512_set1_epi32(res_.zp), _mm512_set1_ps(res_.mult),
                    _mm512_set1_ps(res_.c_mult)};
    int64_t o = 0;
    for (; o + 8 <= cnt; o += 8) dw16_outputs<KH_, KW_, SW_, 8>(out, o);
    for (; o < cnt; ++o) dw16_outputs<KH_, KW_, SW_, 1>(out, o);
  }
}

}  // namespace

bool qdwconv_takes_residual(const Graph& g, const Node& n) {
  const Shape &x = g.in(n, 0).shape, &w = g.in(n, 3).shape;
  const int64_t c = x.empty() ? 0 : x.back();
  const std::vector<int64_t> one{1, 1};
  return vnni_available() && n.attrs.s("layout", "") == "NHWC" && x.size() == 4 && w.size() == 4 && c <= 16 &&
         n.attrs.i("group", 1) == c && w[0] == c && w[2] <= kMaxK && w[3] <= kMaxK &&
         n.attrs.ints("dilations", one) == one && g.in(n, 3).dtype == DType::i8;
}

namespace {

std::unique_ptr<Kernel> make_qdwconv_vnni(const KernelContext& c) {
  QConvSpec s;
  if (!read_qconv_spec(c, s) || !vnni_available() || s.residual_pool || s.x_float) return nullptr;
  const QConvGeom& g = s.g;
  if (g.group == 1 || g.group != g.cin || g.cout != g.cin || g.dh != 1 || g.dw != 1) return nullptr;
  if (g.kh > kMaxK || g.kw > kMaxK) return nullptr;
  if (s.xt != DType::i8 || s.wt != DType::i8 || s.yt != DType::i8) return nullptr;
  for (int32_t z : s.w.zero_point)
    if (z != 0) return nullptr;
  if (g.cin <= 16) {
    auto k = std::make_unique<QDwConv16>(s);
    k->pool_ = c.pool;
    return k;
  }
  if (s.residual) return nullptr;  // (the reference kernel)
  auto k = std::make_unique<QDwConvVnni>(s);
  k->pool_ = c.pool;
  return k;
}

}  // namespace

EF_REGISTER_KERNEL("QLinearConv", 250, make_qdwconv_vnni, "vnni-dw");
}  // namespace ef
