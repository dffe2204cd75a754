// Depthwise QLinearConv (NHWC int8, symmetric int8 weights, kernel up to
// 8x8, no dilation) with AVX512-VNNI. vpdpbusd sums 4 adjacent byte
// products into one int32, so each 64-byte vector holds 16 channels x 4
// vertical taps: per 64 channels, an input column (the kh rows of one x) is
// interleaved once into ceil(kh/4) groups of 4 vectors and reused by every
// output whose window covers it (3 outputs for a 3x3 stride-1 conv). Per
// output: kw * ceil(kh/4) * 4 vpdpbusd, then the requantization of
// qgemm_vnni.h (round_half_even(acc * mult[c]) + y_zp, clamped), results
// packed back to channel order. Exactly the integer reference's results.
// At most 16 channels: QDwConv16 below (one float lane per channel).
// (XNNPACK's 2022 qc8 depthwise kernels, which this replaces on VNNI CPUs,
// ran at about half the speed of its f32 ones here.)

// GCC 12 flags the _mm512_undefined_* operand of the masked conversions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>

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
    pair_ = C - (blocks_ - 1) * kBlock <= 32;
    for (int64_t b = 0; b < blocks_; ++b)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 16; ++k) {
          const int64_t c = b * kBlock + lane_channel(j, k) % (pair_ && b == blocks_ - 1 ? 32 : 64);
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
    row_ = by_shape<false>(KH, KW);
    last_ = pair_ ? by_shape<true>(KH, KW) : row_;
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
  using Row = void (QDwConvVnni::*)(int64_t, int64_t) const;
  // 3x3 and 5x5 (the models' depthwise kernels) with the shape known at compile time.
  template <bool PAIR>
  static Row by_shape(int64_t kh, int64_t kw) {
    if (kh <= 4 && kw == 3) return &QDwConvVnni::row<3, 1, PAIR>;
    if (kh > 4 && kh <= 8 && kw == 5) return &QDwConvVnni::row<5, 2, PAIR>;
    return &QDwConvVnni::row<0, 0, PAIR>;
  }
  Row row_ = nullptr, last_ = nullptr;  // a whole 64-channel block; the last block
  // Output row r's channel block b.
  void block(int64_t r, int64_t b) const { (this->*(b == blocks_ - 1 ? last_ : row_))(r, b); }
  QConvGeom g_;
  int32_t x_zp_, y_zp_, lo_, hi_;
  int64_t groups_ = 1, blocks_ = 1;
  // The last block has at most 32 channels (all of them, or e.g. the last 8
  // to 32 of selfie's 72 to 96-channel layers): each
  // vector holds 32 channels of two inputs sw apart (its 256-bit halves), so
  // one vpdpbusd serves two outputs; weights, bias and multipliers repeat in
  // both halves.
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
  const __mmask64 cmask = C - c0 >= 64 ? ~__mmask64(0) : (__mmask64(1) << (C - c0)) - 1;  // PAIR: C - c0 <= 32
  const int8_t* rows[4 * 2];
  for (int64_t t = 0; t < 4 * G; ++t) {
    const int64_t iy = oy * g.sh - g.pt + t;
    rows[t] = t >= g.kh ? nullptr : iy < 0 || iy >= g.ih ? zrow_.data() : in_[0].as<int8_t>() + (n * g.ih + iy) * g.iw * C;
  }
  const __m512i flip = _mm512_set1_epi8(char(0x80)), zp = _mm512_set1_epi8(char(x_zp_));
  const __m512i yzp = _mm512_set1_epi16(short(y_zp_)), vlo = _mm512_set1_epi8(char(lo_)), vhi = _mm512_set1_epi8(char(hi_));
  const int8_t* wv = w_.data() + b * G * KW * 4 * 64;
  // Weights held in registers when the shape is known and they fit (3x3: 12 vectors).
  constexpr bool kInRegs = KW_ && G_ && KW_ * G_ * 4 <= 16;
  constexpr int kRegs = kInRegs ? KW_ * G_ * 4 : 1;
  __m512i wr[kRegs];
  if constexpr (kInRegs)
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
            const __m256i a = inside ? _mm256_maskz_loadu_epi8(__mmask32(cmask), p + ix * C + c0) : _mm512_castsi512_si256(zp);
            const __m256i b = inside2 ? _mm256_maskz_loadu_epi8(__mmask32(cmask), p + (ix + g.sw) * C + c0)
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
            acc[j] = dpbusd(acc[j], col[gi * 4 + j], kInRegs ? wr[k] : _mm512_loadu_si512(wv + k * 64));
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
      for (size_t b = 0; b < blocks; ++b) block(int64_t(r), int64_t(b));
    return;
  }
  pthreadpool_parallelize_2d(
      pool_,
      [](void* p, size_t r, size_t b) {
        static_cast<const QDwConvVnni*>(p)->block(int64_t(r), int64_t(b));
      },
      this, rows, blocks, 0);
}

// Float sums of integer values equal the int32 accumulators: each partial
// sum stays within |bias - x_zp sum w| + 128 sum |w| (|x| <= 128), exact
// in float up to 2^24, for every channel.
bool dw16_exact(const int8_t* w, const int32_t* bias, int32_t x_zp, int64_t channels, int64_t taps) {
  for (int64_t c = 0; c < channels; ++c) {
    int64_t sum = 0, abs_sum = 0;
    for (int64_t k = 0; k < taps; ++k) sum += w[c * taps + k], abs_sum += std::abs(int(w[c * taps + k]));
    if (std::abs(bias[c] - x_zp * sum) + 128 * abs_sum > (int64_t(1) << 24)) return false;
  }
  return true;
}

// At most 16 channels (the selfie models' 128x128 layers): the 4-tap byte
// interleave above fills a quarter of each vector there. Here one float
// lane per channel, and float FMAs on integer values, which are exact: the
// input x (its zero point in the bias as above; the padding reads x_zp) and
// the weights are int8 integers, so when |bias - x_zp * sum w| + 128 *
// sum |w| <= 2^24 for every channel (exact_; short of a bias near 2^24,
// always) every partial sum is an integer a float holds
// exactly and the float sum is the int32 accumulator (else the kernel
// above runs, or with a residual the reference). Each input row is
// converted to float once (16 channels a column) into a ring of KH rows,
// read by every output row whose window covers it; per output pixel KH * KW
// FMAs on one zmm, 4 outputs at once (8 or 12 ran slower). Then the
// integer kernels' requantization, so the same results. A residual (inputs
// 9-13, all channels or fewer, not pooled) is added to the requantized
// output as the VNNI GEMM does (requantize_sum).
constexpr int64_t kCols = 136;  // input columns a ring row holds: a 128-pixel row and its padding

// What dw16_outputs reads: the input rows, weights, bias and requantization.
struct DwOut {
  const float* rows[kMaxK];  // the kh input rows from the chunk's first column on, [column][16]
  int64_t sw, kh, kw;
  const __m512* wr;  // weights in registers (KH, KW known) ...
  const float* wm;   // ... or in memory
  __m512 bias, mult, flo, fhi;
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
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512i dw16_requant(const DwOut& d, __m512 acc,
                                                                                                int64_t o) {
  const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(acc, d.mult), d.flo), d.fhi);
  if (!d.r) return _mm512_cvtps_epi32(v);
  const __m512 c = _mm512_mul_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), d.cm_);
  const __m512i r = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_mask_loadu_epi8(d.rfill, d.rmask, d.r + o * d.rc)), d.rzp);
  return _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(r), d.rm, c));
}

// M outputs from o on, their accumulators in registers.
template <int KH_, int KW_, int SW_, int M>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"), always_inline)) inline void dw16_outputs(const DwOut& d, int64_t o) {
  const int64_t KH = KH_ ? KH_ : d.kh, KW = KW_ ? KW_ : d.kw, SW = SW_ ? SW_ : d.sw;
  __m512 acc[M];
  for (int j = 0; j < M; ++j) acc[j] = d.bias;
  for (int64_t t = 0; t < KH; ++t)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const __m512 wv = KW_ && KH_ ? d.wr[t * KW + kw] : _mm512_loadu_ps(d.wm + (t * KW + kw) * 16);
      const float* x = d.rows[t] + (o * SW + kw) * 16;  // output o + j: x + j * SW * 16
      for (int j = 0; j < M; ++j) acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + j * SW * 16), wv, acc[j]);
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

// Columns [ix0, ix0 + n) of input row p (iw pixels of c <= 16 channels, cm
// their lanes) as float, 16 a column; outside the row x_zp.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void row_to_float(const int8_t* p, int64_t iw, int64_t c, __mmask16 cm,
                                                                      int64_t ix0, int64_t n, __m512 zp, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ix = ix0 + i;
    const __m512 v = ix >= 0 && ix < iw ? _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(cm, p + ix * c))) : zp;
    _mm512_store_ps(dst + i * 16, v);
  }
}

class QDwConv16 : public Kernel {
 public:
  explicit QDwConv16(const QConvSpec& s)
      : g_(s.g), x_zp_(s.x.zp), y_zp_(s.y.zp), lo_(s.lo), hi_(s.hi), residual_(s.residual),
        res_{nullptr, 0, 0, s.r.zp, s.r.scale / s.sum.scale, s.y.scale / s.sum.scale, s.sum.zp, s.sum_lo, s.sum_hi} {
    const int64_t C = g_.cin, KH = g_.kh, KW = g_.kw;
    w_.assign(size_t(KH * KW * 16), 0.f);
    bias_.assign(16, 0.f);
    mult_.assign(16, 0.f);
    const int8_t* w = s.weights->data_as<int8_t>();  // [C][1][KH][KW]
    exact_ = dw16_exact(w, s.bias.data(), x_zp_, C, KH * KW);
    for (int64_t c = 0; c < C; ++c) {
      int64_t sum = 0;
      for (int64_t k = 0; k < KH * KW; ++k) {
        const int8_t v = w[c * KH * KW + k];
        w_[size_t(k * 16 + c)] = float(v);
        sum += v;
      }
      bias_[size_t(c)] = float(s.bias[size_t(c)] - x_zp_ * sum);
      mult_[size_t(c)] = s.mult[size_t(c)];
    }
    zrow_.assign(size_t(kCols * 16), float(x_zp_));  // the rows above and below the image
    if (KH == 3 && KW == 3) band_ = by_stride<3, 3>(g_.sw);
    else if (KH == 5 && KW == 5) band_ = by_stride<5, 5>(g_.sw);
    else band_ = &QDwConv16::band<0, 0, 0>;
  }
  // The float sums equal the int32 accumulators (else another kernel runs).
  bool exact() const { return exact_; }
  void run() override {
    // Bands of output rows, several a thread for balance on a busy machine
    // (each converts KH - SH input rows more than one band would).
    const int64_t rows = g_.n * g_.oh, threads = pool_ ? int64_t(pthreadpool_get_threads_count(pool_)) : 1;
    const int64_t per = (rows + 4 * threads - 1) / (4 * threads);
    const int64_t tasks = threads > 1 ? (rows + per - 1) / per : 1, len = threads > 1 ? per : rows;
    parallel_for(pool_, size_t(tasks), [&](size_t t) {
      (this->*band_)(int64_t(t) * len, std::min(rows, int64_t(t + 1) * len));
    });
  }
  const char* impl() const override { return "vnni-dw16"; }
  pthreadpool_t pool_ = nullptr;

 private:
  template <int KH, int KW, int SW>
  __attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void band(int64_t r0, int64_t r1) const;
  using Band = void (QDwConv16::*)(int64_t, int64_t) const;
  template <int KH, int KW>
  static Band by_stride(int64_t sw) {
    return sw == 1 ? &QDwConv16::band<KH, KW, 1> : sw == 2 ? &QDwConv16::band<KH, KW, 2> : &QDwConv16::band<KH, KW, 0>;
  }
  Band band_ = nullptr;
  QConvGeom g_;
  int32_t x_zp_, y_zp_, lo_, hi_;
  bool residual_;
  bool exact_ = true;
  QResidual res_;  // its parameters (r: in_[9])
  std::vector<float> w_;  // [kh][kw][channel]
  std::vector<float> bias_;  // less x_zp * sum(w)
  std::vector<float> mult_;
  std::vector<float> zrow_;  // kCols columns of x_zp
};

// Output rows [r0, r1) (n * oh + oy); KH, KW, SW: the kernel's size and stride (0: at run time).
template <int KH_, int KW_, int SW_>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void QDwConv16::band(int64_t r0, int64_t r1) const {
  const QConvGeom& g = g_;
  const int64_t KH = KH_ ? KH_ : g.kh, KW = KW_ ? KW_ : g.kw, C = g.cin;
  const __mmask16 cm = __mmask16((1u << C) - 1);
  constexpr int kRegs = KW_ && KH_ ? KW_ * KH_ : 1;
  __m512 wr[kRegs];
  if constexpr (KW_ && KH_)
    for (int i = 0; i < kRegs; ++i) wr[i] = _mm512_loadu_ps(w_.data() + i * 16);
  const int32_t past = residual_ ? 0 : 1;  // see dw16_requant
  // What is stored: the conv output, or the sum.
  const int32_t ozp = residual_ ? res_.y_zp : y_zp_, olo = residual_ ? res_.lo : lo_, ohi = residual_ ? res_.hi : hi_;
  const int64_t rc = residual_ ? in_[9].shape.back() : 0;
  DwOut out{{}, g.sw, KH, KW, wr, w_.data(), _mm512_loadu_ps(bias_.data()), _mm512_loadu_ps(mult_.data()),
            _mm512_set1_ps(float(lo_ - y_zp_ - past)), _mm512_set1_ps(float(hi_ - y_zp_ + past)),
            _mm512_set1_epi32(ozp), _mm512_set1_epi32(olo), _mm512_set1_epi32(ohi), _mm512_set1_epi16(short(ozp)),
            _mm512_set1_epi8(char(olo)), _mm512_set1_epi8(char(ohi)), cm, nullptr, C, nullptr, rc,
            __mmask16((1u << rc) - 1), _mm_set1_epi8(char(res_.zp)), _mm512_set1_epi32(res_.zp),
            _mm512_set1_ps(res_.mult), _mm512_set1_ps(res_.c_mult)};
  const __m512 zp = _mm512_set1_ps(float(x_zp_));
  const int8_t* x = in_[0].as<int8_t>();
  const int64_t chunk = std::max<int64_t>(1, (kCols - KW) / g.sw + 1);
  alignas(64) float ring[kMaxK * kCols * 16];  // input row iy at (iy % KH) * kCols * 16
  for (int64_t ox0 = 0; ox0 < g.ow; ox0 += chunk) {
    const int64_t cnt = std::min(chunk, g.ow - ox0), ix0 = ox0 * g.sw - g.pl, ncols = (cnt - 1) * g.sw + KW;
    int64_t img = -1, next = 0;  // the ring holds image img's rows below next
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / g.oh, oy = r % g.oh;
      if (n != img) img = n, next = 0;
      for (int64_t t = 0; t < KH; ++t) {
        const int64_t iy = oy * g.sh - g.pt + t;
        if (iy < 0 || iy >= g.ih) {
          out.rows[t] = zrow_.data();
          continue;
        }
        float* slot = ring + (iy % KH) * kCols * 16;
        if (iy >= next) row_to_float(x + (n * g.ih + iy) * g.iw * C, g.iw, C, cm, ix0, ncols, zp, slot), next = iy + 1;
        out.rows[t] = slot;
      }
      out.y = out_[0].as<int8_t>() + (r * g.ow + ox0) * C;
      out.r = residual_ ? in_[9].as<int8_t>() + (r * g.ow + ox0) * rc : nullptr;
      int64_t o = 0;
      for (; o + 4 <= cnt; o += 4) dw16_outputs<KH_, KW_, SW_, 4>(out, o);
      for (; o < cnt; ++o) dw16_outputs<KH_, KW_, SW_, 1>(out, o);
    }
  }
}

}  // namespace

bool qdwconv_takes_residual(const Graph& g, const Node& n) {
  const Shape &x = g.in(n, 0).shape, &w = g.in(n, 3).shape;
  const int64_t c = x.empty() ? 0 : x.back();
  const std::vector<int64_t> one{1, 1};
  if (!(vnni_available() && n.attrs.s("layout", "") == "NHWC" && x.size() == 4 && w.size() == 4 && c <= 16 &&
        n.attrs.i("group", 1) == c && w[0] == c && w[2] <= kMaxK && w[3] <= kMaxK &&
        n.attrs.ints("dilations", one) == one && g.in(n, 3).dtype == DType::i8 && g.in(n, 3).is_const()))
    return false;
  // Only where the float-FMA kernel is exact (else a residual conv would fall
  // back to the reference kernel: slower than this kernel's 64-channel
  // sibling and a separate QLinearAdd).
  const Value& zp = g.in(n, 2);
  if (!zp.is_const() || zp.dtype != DType::i8 || zp.data.numel() != 1) return false;
  std::vector<int32_t> bias(size_t(c), 0);
  if (Graph::has_input(n, 8)) {
    const Value& b = g.in(n, 8);
    if (!b.is_const() || b.dtype != DType::i32 || b.data.numel() != c) return false;
    std::copy_n(b.data.data_as<int32_t>(), c, bias.begin());
  }
  return dw16_exact(g.in(n, 3).data.data_as<int8_t>(), bias.data(), *zp.data.data_as<int8_t>(), c, w[2] * w[3]);
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
    if (k->exact()) return k;
  }
  if (s.residual) return nullptr;  // (the reference kernel)
  auto k = std::make_unique<QDwConvVnni>(s);
  k->pool_ = c.pool;
  return k;
}

}  // namespace

EF_REGISTER_KERNEL("QLinearConv", 250, make_qdwconv_vnni, "vnni-dw");
}  // namespace ef
