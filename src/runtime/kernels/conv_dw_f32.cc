#include "runtime/kernels/conv_dw_f32.h"

// GCC 12 warns about _mm512_undefined_ps inside _mm512_{min,max}_ps.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <numeric>

#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

#define EF_AVX512 __attribute__((target("avx512f,fma")))
#define EF_AVX512_INLINE __attribute__((target("avx512f,fma"), always_inline)) inline

// One output vector position (lanes [16 v, 16 v + 16) of a pixel group) of
// U consecutive groups: in points at the first group's input for tap
// (ky0, 0); taps ky0..ky1-1 (rows outside the image skipped), row_step
// floats between input rows, kx_step between taps of a row, in_step /
// out_step between groups; w: tap (0, 0)'s weights, tap_stride floats
// between taps. MASK: a partial last vector (the lanes in `mask`).
struct Span {
  const float* in;
  int64_t row_step, kx_step, in_step;
  float* out;
  int64_t out_step;
  const float* w;
  int64_t tap_stride;
  const float* bias;
  int ky0, ky1;
  __mmask16 mask;
};

template <int K, int U, bool MASK>
EF_AVX512 void groups(const Span& s, __m512 mn, __m512 mx) {
  __m512 acc[U];
  const float* p[U];
  const __m512 b = _mm512_loadu_ps(s.bias);
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = b, p[u] = s.in + u * s.in_step;
  const float* w = s.w + s.ky0 * K * s.tap_stride;
  int64_t off = 0;
  for (int ky = s.ky0; ky < s.ky1; ++ky, off += s.row_step - K * s.kx_step) {
#pragma GCC unroll 5
    for (int kx = 0; kx < K; ++kx, off += s.kx_step, w += s.tap_stride) {
      const __m512 wv = _mm512_loadu_ps(w);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        const __m512 x = MASK ? _mm512_maskz_loadu_ps(s.mask, p[u] + off) : _mm512_loadu_ps(p[u] + off);
        acc[u] = _mm512_fmadd_ps(x, wv, acc[u]);
      }
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) {
    const __m512 v = _mm512_min_ps(_mm512_max_ps(acc[u], mn), mx);
    if (MASK)
      _mm512_mask_storeu_ps(s.out + u * s.out_step, s.mask, v);
    else
      _mm512_storeu_ps(s.out + u * s.out_step, v);
  }
}

// n groups from s on: eight at a time, then four, then one; each block for
// all nv vector positions (16 floats apart) before the next, so its input
// stays in L1 however many channels there are. MASK: the last position is
// partial.
template <int K, int U, bool MASK>
EF_AVX512 void group_block(Span& s, int64_t nv, __m512 mn, __m512 mx) {
  Span t = s;
  for (int64_t v = 0; v < nv; ++v, t.in += 16, t.out += 16, t.w += 16, t.bias += 16)
    if (MASK && v == nv - 1)
      groups<K, U, true>(t, mn, mx);
    else
      groups<K, U, false>(t, mn, mx);
  s.in += U * s.in_step, s.out += U * s.out_step;
}

template <int K, bool MASK>
EF_AVX512 void group_run(Span s, int64_t nv, int64_t n, __m512 mn, __m512 mx) {
  for (; n >= 8; n -= 8) group_block<K, 8, MASK>(s, nv, mn, mx);
  if (n >= 4) group_block<K, 4, MASK>(s, nv, mn, mx), n -= 4;
  for (; n > 0; --n) group_block<K, 1, MASK>(s, nv, mn, mx);
}

// U single pixels of whole vectors (channels a multiple of 16) at stride S,
// one vector position: per kernel row, each of the (U - 1) * S + K input
// vectors they read (from s.in on, kx_step apart) is loaded once and used
// for every tap that reads it. EDGE: the vectors whose bit in `inside` is
// clear lie in the padding and read as zeros.
template <int K, int S, int U, bool EDGE>
EF_AVX512_INLINE void pixels_window(const Span& s, uint32_t inside, __m512 mn, __m512 mx) {
  constexpr int NX = (U - 1) * S + K;
  __m512 acc[U];
  const __m512 b = _mm512_loadu_ps(s.bias);
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = b;
  const float* row = s.in;
  const float* w = s.w + s.ky0 * K * s.tap_stride;
  for (int ky = s.ky0; ky < s.ky1; ++ky, row += s.row_step, w += K * s.tap_stride) {
    __m512 wk[K];
#pragma GCC unroll 5
    for (int kx = 0; kx < K; ++kx) wk[kx] = _mm512_loadu_ps(w + kx * s.tap_stride);
    __m512 x[NX];
    const float* p = row;
#pragma GCC unroll 24
    for (int i = 0; i < NX; ++i, p += s.kx_step)
      x[i] = EDGE ? _mm512_maskz_loadu_ps(__mmask16(0u - ((inside >> i) & 1u)), p) : _mm512_loadu_ps(p);
    // Tap by tap, so the U accumulations in flight are independent.
#pragma GCC unroll 5
    for (int kx = 0; kx < K; ++kx)
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = _mm512_fmadd_ps(x[u * S + kx], wk[kx], acc[u]);
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) _mm512_storeu_ps(s.out + u * s.out_step, _mm512_min_ps(_mm512_max_ps(acc[u], mn), mx));
}

// U pixels from s on, all nv vector positions; `start`: the input column
// of their first input vector (negative in the left padding), iw the row's
// width.
template <int K, int S, int U>
EF_AVX512_INLINE void window_block(Span s, int64_t nv, int64_t start, int64_t iw, __m512 mn, __m512 mx) {
  constexpr int NX = (U - 1) * S + K;
  const int64_t a = std::max<int64_t>(0, -start), e = std::min<int64_t>(NX, iw - start);
  const uint32_t inside = e > a ? ((1u << e) - 1u) & ~((1u << a) - 1u) : 0u;
  for (int64_t v = 0; v < nv; ++v, s.in += 16, s.out += 16, s.w += 16, s.bias += 16)
    if (inside == (1u << NX) - 1u)
      pixels_window<K, S, U, false>(s, inside, mn, mx);
    else
      pixels_window<K, S, U, true>(s, inside, mn, mx);
}

// The next U pixels of a row (t and ox advance past them).
template <int K, int S, int U>
EF_AVX512_INLINE void window_step(Span& t, int64_t& ox, int64_t nv, int64_t pl, int64_t iw, __m512 mn, __m512 mx) {
  window_block<K, S, U>(t, nv, ox * S - pl, iw, mn, mx);
  ox += U, t.in += U * t.in_step, t.out += U * t.out_step;
}

// Output columns [ox, ox1) of a row of whole-vector pixels in blocks of 8,
// 4, 2, 1; s.in: input column ox * S - pl of the first kernel row read,
// s.out: output column ox.
template <int K, int S>
EF_AVX512 void window_row(Span s, int64_t nv, int64_t ox, int64_t ox1, int64_t pl, int64_t iw, __m512 mn, __m512 mx) {
  while (ox1 - ox >= 8) window_step<K, S, 8>(s, ox, nv, pl, iw, mn, mx);
  if (ox1 - ox >= 4) window_step<K, S, 4>(s, ox, nv, pl, iw, mn, mx);
  if (ox1 - ox >= 2) window_step<K, S, 2>(s, ox, nv, pl, iw, mn, mx);
  if (ox1 - ox >= 1) window_step<K, S, 1>(s, ox, nv, pl, iw, mn, mx);
}

// One pixel's taps [ky0, ky1) x [kx0, kx1) (those inside the image), UV
// consecutive vectors at once: in at tap (ky0, kx0), w at tap (0, 0).
struct PixelTaps {
  const float* in;
  int64_t row_step, kx_step;
  const float* w;
  int64_t tap_stride;
  int k, ky0, ky1, kx0, kx1;
};

template <int UV, bool MASK>
EF_AVX512 void pixel_vectors(const PixelTaps& p, int64_t v, const float* bias, float* out, __mmask16 mask, __m512 mn,
                             __m512 mx) {
  __m512 acc[UV];
#pragma GCC unroll 4
  for (int u = 0; u < UV; ++u) acc[u] = _mm512_loadu_ps(bias + 16 * (v + u));
  for (int ky = p.ky0; ky < p.ky1; ++ky)
    for (int kx = p.kx0; kx < p.kx1; ++kx) {
      const float* x = p.in + (ky - p.ky0) * p.row_step + (kx - p.kx0) * p.kx_step + 16 * v;
      const float* w = p.w + (ky * p.k + kx) * p.tap_stride + 16 * v;
#pragma GCC unroll 4
      for (int u = 0; u < UV; ++u) {
        const __m512 xv = MASK ? _mm512_maskz_loadu_ps(mask, x + 16 * u) : _mm512_loadu_ps(x + 16 * u);
        acc[u] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w + 16 * u), acc[u]);
      }
    }
#pragma GCC unroll 4
  for (int u = 0; u < UV; ++u) {
    const __m512 r = _mm512_min_ps(_mm512_max_ps(acc[u], mn), mx);
    if (MASK)
      _mm512_mask_storeu_ps(out + 16 * (v + u), mask, r);
    else
      _mm512_storeu_ps(out + 16 * (v + u), r);
  }
}

// All channels of one pixel: four vectors at a time, then single ones, then the partial last.
EF_AVX512 void pixel(const PixelTaps& p, int64_t channels, const float* bias, float* out, __m512 mn, __m512 mx) {
  const int64_t full = channels / 16;
  int64_t v = 0;
  for (; v + 4 <= full; v += 4) pixel_vectors<4, false>(p, v, bias, out, 0, mn, mx);
  for (; v < full; ++v) pixel_vectors<1, false>(p, v, bias, out, 0, mn, mx);
  if (channels % 16) pixel_vectors<1, true>(p, v, bias, out, __mmask16((1u << (channels % 16)) - 1), mn, mx);
}

}  // namespace

bool ConvDwF32::fits(const ConvGemmGeom& g) {
  return ConvGemmF32::supported() && g.cin == g.cout && g.kh == g.kw && (g.kh == 3 || g.kh == 5) && g.sh == g.sw &&
         (g.sh == 1 || g.sh == 2) && g.dh == 1 && g.dw == 1;
}

ConvDwF32::ConvDwF32(const ConvGemmGeom& g, const float* w, const float* bias, FusedActivation act)
    : g_(g), act_(act) {
  const int64_t C = g.cin, taps = g.kh * g.kw;
  pix_ = g.sw == 1 ? 16 / std::gcd(C, int64_t(16)) : 1;
  nv_ = (pix_ * C + 15) / 16;
  w_.assign(size_t(taps * nv_ * 16), 0.f);
  bias_.assign(size_t(nv_ * 16), 0.f);
  for (int64_t i = 0; i < nv_ * 16; ++i) {
    if (i >= pix_ * C) break;  // the masked tail of a single pixel
    const int64_t c = i % C;
    for (int64_t t = 0; t < taps; ++t) w_[size_t(t * nv_ * 16 + i)] = w[c * taps + t];
    if (bias) bias_[size_t(i)] = bias[c];
  }
}

void ConvDwF32::run(pthreadpool_t pool) const {
  parallel_for(pool, size_t(g_.n * g_.oh),
               [&](size_t r) { g_.kh == 3 ? row<3>(int64_t(r), 0, g_.ow) : row<5>(int64_t(r), 0, g_.ow); });
}

void ConvDwF32::run_pixels(int64_t p0, int64_t n) const {
  for (int64_t p = p0, end = p0 + n; p < end;) {
    const int64_t r = p / g_.ow, ox0 = p % g_.ow, ox1 = std::min(g_.ow, ox0 + (end - p));
    g_.kh == 3 ? row<3>(r, ox0, ox1) : row<5>(r, ox0, ox1);
    p += ox1 - ox0;
  }
}

template <int K>
EF_AVX512 void ConvDwF32::row(int64_t r, int64_t ox0, int64_t ox1) const {
  const ConvGemmGeom& g = g_;
  const int64_t C = g.cin, n = r / g.oh, oy = r % g.oh, S = g.sw;
  // Kernel rows inside the image: ky0..ky1-1.
  const int64_t iy0 = oy * g.sh - g.pt;
  const int ky0 = int(std::clamp<int64_t>(-iy0, 0, K)), ky1 = int(std::clamp<int64_t>(g.ih - iy0, ky0, K));
  const float* in = x_ + ((n * g.ih + iy0) * g.iw) * C;  // row iy0 (may lie outside: only rows ky0.. are read)
  float* out = y_ + r * g.ow * C;
  const __m512 mn = _mm512_set1_ps(act_.out_min()), mx = _mm512_set1_ps(act_.out_max());
  const int64_t tail = C % 16, row_step = g.iw * C;
  if (pix_ == 1 && !tail) {  // single whole-vector pixels, padding included
    const Span s{in + ky0 * row_step + (ox0 * S - g.pl) * C, row_step, C, S * C, out + ox0 * C, C, w_.data(), nv_ * 16,
                 bias_.data(), ky0, ky1, 0};
    if (S == 1)
      window_row<K, 1>(s, nv_, ox0, ox1, g.pl, g.iw, mn, mx);
    else
      window_row<K, 2>(s, nv_, ox0, ox1, g.pl, g.iw, mn, mx);
  } else {
    // Interior pixels (every tap inside the row) in groups of pix_, the
    // rest pixel by pixel.
    const int64_t lo = std::clamp((g.pl + S - 1) / S, ox0, ox1);
    const int64_t hi = g.iw + g.pl >= K ? std::clamp((g.iw + g.pl - K) / S + 1, lo, ox1) : lo;
    const int64_t ng = (hi - lo) / pix_;
    const Span s{in + ky0 * row_step + (lo * S - g.pl) * C, row_step, C, pix_ * S * C, out + lo * C, pix_ * C,
                 w_.data(), nv_ * 16, bias_.data(), ky0, ky1, __mmask16((1u << tail) - 1)};
    if (tail && pix_ == 1)
      group_run<K, true>(s, nv_, ng, mn, mx);
    else
      group_run<K, false>(s, nv_, ng, mn, mx);
    for (int64_t ox = ox0; ox < ox1; ++ox) {
      if (ox == lo) ox += ng * pix_;
      if (ox >= ox1) break;
      const int64_t ix0 = ox * S - g.pl;
      const int kx0 = int(std::clamp<int64_t>(-ix0, 0, K)), kx1 = int(std::clamp<int64_t>(g.iw - ix0, kx0, K));
      const PixelTaps p{in + ky0 * row_step + (ix0 + kx0) * C, row_step, C, w_.data(), nv_ * 16, K, ky0, ky1, kx0, kx1};
      pixel(p, C, bias_.data(), out + ox * C, mn, mx);
    }
  }
  if (act_.needs_separate_pass()) act_.apply(out + ox0 * C, size_t((ox1 - ox0) * C));
}

template void ConvDwF32::row<3>(int64_t, int64_t, int64_t) const;
template void ConvDwF32::row<5>(int64_t, int64_t, int64_t) const;

}  // namespace ef
