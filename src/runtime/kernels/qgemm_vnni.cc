// GCC 12 flags the _mm512_undefined_* operand of the conversions (since dpbusd is inline asm).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "runtime/kernels/qgemm_vnni.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace ef {

bool vnni_available() {
  static const bool cpu = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  const char* off = std::getenv("EF_DISABLE_VNNI");  // tests and benchmarks of the XNNPACK path
  return cpu && !(off && *off && *off != '0');
}

bool amx_available() {
  const char* off = std::getenv("EF_DISABLE_AMX");  // first: off means no permission request either
  if ((off && *off && *off != '0') || !vnni_available()) return false;
  static const bool ok = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
  }();
  return ok;
}

namespace {
std::atomic<int64_t> amx_tile_rows{0};
}  // namespace

int64_t amx_rows_run() { return amx_tile_rows.load(std::memory_order_relaxed); }

__attribute__((target("avx512f,avx512bw"))) void copy_flipped(int8_t* dst, const int8_t* src, int64_t n) {
  const __m512i flip = _mm512_set1_epi8(int8_t(0x80));
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
  const __mmask64 tail = i < n ? ~0ull >> (64 - (n - i)) : 0;
  _mm512_mask_storeu_epi8(dst + i, tail, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, src + i), flip));
}

__attribute__((target("avx512f,avx512bw"))) void max_pool_2x2_row(int8_t* dst, const int8_t* src, int64_t src_row,
                                                                  int64_t ow, int64_t c) {
  for (int64_t ox = 0; ox < ow; ++ox, dst += c, src += 2 * c)
    for (int64_t ch = 0; ch < c; ch += 64) {
      const __mmask64 m = c - ch >= 64 ? ~0ull : ~0ull >> (64 - (c - ch));
      const int8_t* p = src + ch;
      const __m512i a = _mm512_max_epi8(_mm512_maskz_loadu_epi8(m, p), _mm512_maskz_loadu_epi8(m, p + c));
      const __m512i b =
          _mm512_max_epi8(_mm512_maskz_loadu_epi8(m, p + src_row), _mm512_maskz_loadu_epi8(m, p + src_row + c));
      _mm512_mask_storeu_epi8(dst + ch, m, _mm512_max_epi8(a, b));
    }
}

QGemmVnni::QGemmVnni(const int8_t* w_nk, int64_t n, int64_t k, const int32_t* b, const float* m, int32_t x_zp,
                     int32_t yz, int32_t l, int32_t h)
    : K(k), Kp((k + 3) / 4 * 4), N(n), Np((n + 15) / 16 * 16), y_zp(yz), lo(l), hi(h) {
  w.assign(size_t(Np * Kp), 0);
  bias.assign(size_t(Np), 0);
  bias_signed.assign(size_t(Np), 0);
  mult.assign(size_t(Np), 0.f);
  const int64_t K4 = Kp / 4;
  for (int64_t o = 0; o < N; ++o) {
    int32_t colsum = 0;
    for (int64_t i = 0; i < K; ++i) {
      const int8_t v = w_nk[o * K + i];
      colsum += v;
      w[size_t(((o / 16) * K4 + i / 4) * 64 + (o % 16) * 4 + i % 4)] = v;
    }
    bias[size_t(o)] = (b ? b[o] : 0) - (128 + x_zp) * colsum;
    bias_signed[size_t(o)] = (b ? b[o] : 0) - x_zp * colsum;
    mult[size_t(o)] = m[o];
  }
}

void QGemmVnni::use_group_pairs() {
  const int64_t K4 = Kp / 4;
  if (N <= 16 || N > 24 || run_groups % 2) return;
  w8.assign(size_t(K4 / 2 * 3 * 64), 0);
  bias8.assign(48, 0);
  for (int64_t o = 0; o < N; ++o) {
    const int64_t j = o / 8, c = o % 8;
    bias8[size_t(j * 16 + 2 * c)] = bias[size_t(o)];
    for (int64_t kg = 0; kg < K4; ++kg)
      for (int64_t b = 0; b < 4; ++b)
        w8[size_t(((kg / 2 * 3 + j) * 16 + 2 * c + kg % 2) * 4 + b)] = w[size_t(((o / 16) * K4 + kg) * 64 + (o % 16) * 4 + b)];
  }
}

namespace {

constexpr int kMR = 8;
// AMX takes K >= 64 bytes (a whole tile row; below, storing C and reading it
// back costs more than the vpdpbusd it saves: selfie's 16-channel layers)
// and GEMMs of at least 2M multiply-adds (M x Np x Kp): below, BlazeFace at
// 2 threads ran 4 % slower with AMX, its other layers too (the tile unit's
// lower clock), while mobilenet_v2 keeps its whole gain.
constexpr int64_t kAmxMinK = 64, kAmxMinMacs = 2'000'000;

#define EF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// The int8 epilogue: requantization, and with a residual QLinearAdd's sum
// (requantize_sum, qkernel.h), on 16 int32 accumulators.
struct Requant {
  EF_AVX512 Requant(const QGemmVnni& g, const QResidual& res)
      : zp(_mm512_set1_epi32(g.y_zp)), lo(_mm512_set1_epi32(g.lo)), hi(_mm512_set1_epi32(g.hi)),
        clo(_mm512_set1_epi32(g.lo - g.y_zp)), chi(_mm512_set1_epi32(g.hi - g.y_zp)),
        rzp(_mm512_set1_epi32(res.zp)), szp(_mm512_set1_epi32(res.y_zp)), slo(_mm512_set1_epi32(res.lo)),
        shi(_mm512_set1_epi32(res.hi)), rm(_mm512_set1_ps(res.mult)), cm(_mm512_set1_ps(res.c_mult)),
        clamp_lo(g.lo > -128), clamp_hi(g.hi < 127), sum_lo(res.lo > -128), sum_hi(res.hi < 127) {}
  // r8: the residual's 16 int8 (with_res). The int8 store saturates to
  // [-128, 127]: only an activation's tighter bound needs a min/max.
  EF_AVX512 __attribute__((always_inline)) __m512i operator()(__m512i acc, __m512 m, bool with_res, __m128i r8) const {
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), m));  // round half to even
    if (!with_res) {
      q = _mm512_add_epi32(q, zp);
      if (clamp_lo) q = _mm512_max_epi32(q, lo);
      if (clamp_hi) q = _mm512_min_epi32(q, hi);
      return q;
    }
    // The conv's int8 output minus its zero point: clamp(q + zp, lo, hi) - zp.
    const __m512 c = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_min_epi32(_mm512_max_epi32(q, clo), chi)), cm);
    q = _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepi8_epi32(r8), rzp)), rm, c));
    q = _mm512_add_epi32(q, szp);
    if (sum_lo) q = _mm512_max_epi32(q, slo);
    if (sum_hi) q = _mm512_min_epi32(q, shi);
    return q;
  }
  __m512i zp, lo, hi, clo, chi, rzp, szp, slo, shi;
  __m512 rm, cm;
  bool clamp_lo, clamp_hi, sum_lo, sum_hi;
};

// The 17-24 outputs of MR rows with g.w8 (QGemmVnni::use_group_pairs) into
// acc[r][0] (outputs 0-15) and acc[r][1] (16-23 in lanes 0-7).
template <int MR, bool Flipped>
EF_AVX512 __attribute__((always_inline)) inline void pair_tile(const QGemmVnni& g, const int8_t* x, int64_t lda,
                                                               __m512i (&acc)[MR][2]) {
  __m512i h[MR][3];
  for (int j = 0; j < 3; ++j) {
    const __m512i b = _mm512_loadu_si512(g.bias8.data() + j * 16);
    for (int r = 0; r < MR; ++r) h[r][j] = b;
  }
  const int8_t* wp = g.w8.data();
  const int64_t S = g.run_groups / 2;
  const __m512i flip = _mm512_set1_epi32(int32_t(0x80808080u));
  for (const int64_t off : g.runs) {
    const int8_t* xr = x + off;
    for (int64_t s = 0; s < S; ++s, wp += 3 * 64) {
      const __m512i w0 = _mm512_loadu_si512(wp), w1 = _mm512_loadu_si512(wp + 64), w2 = _mm512_loadu_si512(wp + 128);
      for (int r = 0; r < MR; ++r) {
        int64_t a64;
        std::memcpy(&a64, xr + r * lda + 8 * s, 8);
        const __m512i a = Flipped ? _mm512_set1_epi64(a64) : _mm512_xor_si512(_mm512_set1_epi64(a64), flip);
        h[r][0] = dpbusd(h[r][0], a, w0);
        h[r][1] = dpbusd(h[r][1], a, w1);
        h[r][2] = dpbusd(h[r][2], a, w2);
      }
    }
  }
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = _mm512_add_epi32(_mm512_permutex2var_epi32(h[r][0], even, h[r][1]),
                                 _mm512_permutex2var_epi32(h[r][0], odd, h[r][1]));
    acc[r][1] = _mm512_add_epi32(_mm512_permutex2var_epi32(h[r][2], even, h[r][2]),
                                 _mm512_permutex2var_epi32(h[r][2], odd, h[r][2]));
  }
}

// The stores of a tile: requantized (or float) outputs of acc, as tile() and
// tiles() describe.
template <int MR, int NV, class Y>
EF_AVX512 __attribute__((always_inline)) inline void epilogue(const QGemmVnni& g, __m512i (&acc)[MR][NV], int64_t nb,
                                                              Y* y, int64_t ldc, int nvalid, const Requant& requant,
                                                              __m128i rfill, const int8_t* rbase, int64_t ldr,
                                                              const __mmask16* rmask) {
  for (int v = 0; v < NV; ++v) {
    const __m512 m = _mm512_loadu_ps(g.mult.data() + (nb + v) * 16);
    const __mmask16 mask = v == NV - 1 ? __mmask16((1u << nvalid) - 1) : __mmask16(0xFFFF), rm = mask & rmask[v];
    int r = 0;
    if constexpr (std::is_same_v<Y, float>) {
      for (; r < MR; ++r)
        _mm512_mask_storeu_ps(y + r * ldc + v * 16, mask, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), m));
      continue;
    }
    if (v == NV - 1 && nvalid <= 8) {  // two rows' outputs in one vector (24 channels: 3 epilogues for 4)
      const __m512 m2 = _mm512_shuffle_f32x4(m, m, 0x44);
      for (; r + 1 < MR; r += 2) {
        const __m512i a2 = _mm512_inserti64x4(acc[r][v], _mm512_castsi512_si256(acc[r + 1][v]), 1);
        __m128i r8 = rfill;
        if (rbase) {  // row r + 1's 8 bytes as bytes 8..15 (a load from 8 before them; masked off)
          r8 = _mm_mask_loadu_epi8(rfill, rm, rbase + r * ldr + v * 16);
          r8 = _mm_mask_loadu_epi8(r8, __mmask16(rm << 8), rbase + (r + 1) * ldr + v * 16 - 8);
        }
        const __m128i b = _mm512_cvtsepi32_epi8(requant(a2, m2, rbase, r8));
        _mm_mask_storeu_epi8(y + r * ldc + v * 16, mask, b);
        _mm_mask_storeu_epi8(y + (r + 1) * ldc + v * 16 - 8, __mmask16(mask << 8), b);
      }
    }
    for (; r < MR; ++r) {
      __m128i r8 = rfill;
      if (rbase) {
        const int8_t* rp = rbase + r * ldr + v * 16;
        r8 = rm == 0xFFFF ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(rp)) : _mm_mask_loadu_epi8(rfill, rm, rp);
      }
      _mm512_mask_cvtsepi32_storeu_epi8(y + r * ldc + v * 16, mask, requant(acc[r][v], m, rbase, r8));
    }
  }
}

// One tile of tiles() below.
template <int MR, int NV, bool Flipped, class Y>
EF_AVX512 __attribute__((always_inline)) inline void tile(const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb,
                                                          Y* y, int64_t ldc, int nvalid, const Requant& requant,
                                                          __m128i rfill, const int8_t* rbase, int64_t ldr,
                                                          const __mmask16* rmask) {
  __m512i acc[MR][NV];
  if constexpr (NV == 2)
    if (!g.w8.empty()) {
      pair_tile<MR, Flipped>(g, x, lda, acc);
      return epilogue<MR, NV>(g, acc, nb, y, ldc, nvalid, requant, rfill, rbase, ldr, rmask);
    }
  for (int v = 0; v < NV; ++v) {
    const __m512i b = _mm512_loadu_si512(g.bias.data() + (nb + v) * 16);
    for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
  const int64_t K4 = g.Kp / 4, G = g.run_groups;
  const int8_t* wp = g.w.data() + nb * K4 * 64;
  const __m512i flip = _mm512_set1_epi32(int32_t(0x80808080u));
  for (const int64_t off : g.runs) {
    const int8_t* xr = x + off;
    for (int64_t k = 0; k < G; ++k, wp += 64) {
      __m512i wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_si512(wp + v * K4 * 64);
      for (int r = 0; r < MR; ++r) {
        int32_t a32;
        std::memcpy(&a32, xr + r * lda + 4 * k, 4);
        const __m512i a = Flipped ? _mm512_set1_epi32(a32) : _mm512_xor_si512(_mm512_set1_epi32(a32), flip);
        for (int v = 0; v < NV; ++v) acc[r][v] = dpbusd(acc[r][v], a, wv[v]);
      }
    }
  }
  epilogue<MR, NV>(g, acc, nb, y, ldc, nvalid, requant, rfill, rbase, ldr, rmask);
}

// `count` tiles of MR rows x NV*16 outputs, one below the other; x rows at
// x + r*lda; weights for NV consecutive 16-output blocks; nvalid: outputs to
// store in the last vector; res.r (if set) points at the residual of y's
// first element. Y: int8_t (requantized) or float (acc * mult). Flipped:
// g.x_flipped. The epilogue's constants are set up once for all the tiles.
// The residual channels present in 16-output vectors nb .. nb + nv - 1.
void residual_masks(const QResidual& res, int64_t nb, int nv, __mmask16* rmask) {
  for (int v = 0; v < nv; ++v) {
    const int64_t have = res.nr - (nb + v) * 16;
    rmask[v] = have >= 16 ? __mmask16(0xFFFF) : have <= 0 ? __mmask16(0) : __mmask16((1u << have) - 1);
  }
}

template <int MR, int NV, bool Flipped, class Y>
EF_AVX512 void tiles(const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb, Y* y, int64_t ldc, int nvalid,
                     const QResidual& res, int64_t count) {
  const Requant requant(g, res);
  const __m128i rfill = _mm_set1_epi8(int8_t(res.zp));
  const int8_t* rbase = res.r;  // locals: the int8 stores may alias res
  const int64_t ldr = res.ldr;
  __mmask16 rmask[NV];  // residual channels present
  residual_masks(res, nb, NV, rmask);
  for (int64_t t = 0; t < count; ++t, x += MR * lda, y += MR * ldc, rbase += rbase ? MR * ldr : 0)
    tile<MR, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, requant, rfill, rbase, ldr, rmask);
}

// count tiles of `rows` rows (rows < kMR: one).
template <int NV, bool Flipped, class Y>
void tile_rows(int rows, const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb, Y* y, int64_t ldc,
               int nvalid, const QResidual& res, int64_t count) {
  switch (rows) {
    case 8: return tiles<8, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, count);
    case 7: return tiles<7, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    case 6: return tiles<6, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    case 5: return tiles<5, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    case 4: return tiles<4, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    case 3: return tiles<3, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    case 2: return tiles<2, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
    default: return tiles<1, NV, Flipped>(g, x, lda, nb, y, ldc, nvalid, res, 1);
  }
}

template <int NV, class Y>
void tile_rows(int rows, const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb, Y* y, int64_t ldc,
               int nvalid, const QResidual& res, int64_t count) {
  if (g.x_flipped) tile_rows<NV, true>(rows, g, x, lda, nb, y, ldc, nvalid, res, count);
  else tile_rows<NV, false>(rows, g, x, lda, nb, y, ldc, nvalid, res, count);
}

// Column blocks of up to 3 vectors (48 outputs), as few as possible and
// even: each block broadcasts (and flips) every x group once, so fewer
// blocks mean fewer broadcasts (N = 36: 3 vectors, not 2 + 1; 64: 2 + 2).
struct Blocks {
  explicit Blocks(int64_t N) : vecs((N + 15) / 16), count((vecs + 2) / 3), base(vecs / count), rem(vecs % count) {}
  int64_t first(int64_t b) const { return b * base + std::min(b, rem); }  // its first 16-output vector
  int64_t vectors(int64_t b) const { return base + (b < rem); }
  int64_t vecs, count, base, rem;
};

// AMX: `count` tiles of 16 rows x nv 16-output vectors (from vector nb on),
// one below the other, as tiles() but the sums by the tile unit, four row
// tiles at a time (C: tiles 4-7): each C starts as the bias (a 64-byte row
// read with stride 0), then TDPBUSD (x flipped: unsigned, the same sums as
// vpdpbusd) or TDPBSSD (x as stored: signed, bias_signed) over K in chunks
// of 64 bytes (A: tile 0, B: tile 1) and a last shorter one (tiles 2, 3).
// g.w's [K/4][16][4] blocks are already AMX's B layout. C goes through
// memory into tiles()' epilogue. The caller has loaded amx_config(g).
#define EF_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8")))
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
TileConfig amx_config(const QGemmVnni& g) {
  TileConfig c;
  const int rem = int(g.Kp % 64);
  c.colsb[0] = 64, c.rows[0] = 16, c.colsb[1] = 64, c.rows[1] = 16;
  c.colsb[2] = uint16_t(rem), c.rows[2] = uint8_t(rem ? 16 : 0), c.colsb[3] = uint16_t(rem ? 64 : 0), c.rows[3] = uint8_t(rem / 4);
  for (int t = 4; t < 8; ++t) c.colsb[t] = 64, c.rows[t] = 16;
  return c;
}
// (The tile intrinsics paste their tile numbers into the asm: literals only.)
#define EF_AMX_DP(C, A, B)          \
  if constexpr (Flipped) {          \
    _tile_dpbusd(C, A, B);          \
  } else {                          \
    _tile_dpbssd(C, A, B);          \
  }
// C tile 4 + i += A . B for row tile i: A (its 16 rows of x) into tile 0
// against B in tile 1, or for the last, shorter chunk tile 2 against 3.
template <bool Flipped>
EF_AMX inline void amx_dot(int i, const int8_t* x, int64_t lda, bool last) {
  x += i * 16 * lda;
  if (last) _tile_loadd(2, x, lda);
  else _tile_loadd(0, x, lda);
  switch (i * 2 + last) {
    case 0: EF_AMX_DP(4, 0, 1) break;
    case 1: EF_AMX_DP(4, 2, 3) break;
    case 2: EF_AMX_DP(5, 0, 1) break;
    case 3: EF_AMX_DP(5, 2, 3) break;
    case 4: EF_AMX_DP(6, 0, 1) break;
    case 5: EF_AMX_DP(6, 2, 3) break;
    case 6: EF_AMX_DP(7, 0, 1) break;
    default: EF_AMX_DP(7, 2, 3) break;
  }
}
template <bool Flipped>
EF_AMX inline void amx_group(const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t vec, int tiles, int32_t (*c)[16][16]) {
  const int32_t* bias = (Flipped ? g.bias : g.bias_signed).data() + vec * 16;
  _tile_loadd(4, bias, 0);
  if (tiles > 1) _tile_loadd(5, bias, 0);
  if (tiles > 2) _tile_loadd(6, bias, 0);
  if (tiles > 3) _tile_loadd(7, bias, 0);
  const int64_t K4 = g.Kp / 4, full = g.Kp / 64;
  const int8_t* w = g.w.data() + vec * K4 * 64;
  for (int64_t k = 0; k <= full; ++k) {
    const bool last = k == full;
    if (last && g.Kp % 64 == 0) break;
    if (last) _tile_loadd(3, w + k * 16 * 64, 64);
    else _tile_loadd(1, w + k * 16 * 64, 64);
    for (int i = 0; i < tiles; ++i) amx_dot<Flipped>(i, x + k * 64, lda, last);
  }
  _tile_stored(4, c[0], 64);
  if (tiles > 1) _tile_stored(5, c[1], 64);
  if (tiles > 2) _tile_stored(6, c[2], 64);
  if (tiles > 3) _tile_stored(7, c[3], 64);
}
template <bool Flipped, class Y>
EF_AMX void amx_tiles(const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb, int nv, Y* y, int64_t ldc,
                      int nvalid, const QResidual& res, int64_t count) {
  const Requant requant(g, res);
  const __m128i rfill = _mm_set1_epi8(int8_t(res.zp));
  const int64_t ldr = res.ldr;
  __mmask16 rmask[3];
  residual_masks(res, nb, nv, rmask);
  alignas(64) int32_t c[4][16][16];
  for (int64_t t0 = 0; t0 < count; t0 += 4) {
    const int tiles = int(std::min<int64_t>(4, count - t0));
    for (int v = 0; v < nv; ++v) {
      amx_group<Flipped>(g, x + t0 * 16 * lda, lda, nb + v, tiles, c);
      for (int i = 0; i < tiles; ++i) {
        __m512i acc[16][1];
        for (int r = 0; r < 16; ++r) acc[r][0] = _mm512_load_si512(c[i][r]);
        const int64_t row = (t0 + i) * 16;
        epilogue<16, 1>(g, acc, nb + v, y + row * ldc + v * 16, ldc, v == nv - 1 ? nvalid : 16, requant, rfill,
                        res.r ? res.r + row * ldr + v * 16 : nullptr, ldr, rmask + v);
      }
    }
  }
}
// AMX applies: K >= 64 in one run (a matrix or a 1x1 conv); not for 17-24
// outputs, whose paired groups (w8) the VNNI tiles run well.
bool amx_fits(const QGemmVnni& g) {
  return g.amx && g.Kp >= kAmxMinK && g.w8.empty() && g.runs.size() == 1 && g.run_groups == g.Kp / 4;
}
// The whole 16-row tiles of `rows` rows on AMX (amx_fits(g)); returns the rows done.
template <class Y>
EF_AMX int64_t amx_rows(const QGemmVnni& g, const int8_t* x, int64_t lda, int64_t nb, int nv, Y* y, int64_t ldc,
                        int nvalid, const QResidual& res, int64_t rows) {
  if (rows < 16) return 0;
  const TileConfig cfg = amx_config(g);
  _tile_loadconfig(&cfg);  // (per thread, so per call: pool tasks run anywhere)
  if (g.x_flipped) amx_tiles<true>(g, x + g.runs[0], lda, nb, nv, y, ldc, nvalid, res, rows / 16);
  else amx_tiles<false>(g, x + g.runs[0], lda, nb, nv, y, ldc, nvalid, res, rows / 16);
  _tile_release();
  amx_tile_rows.fetch_add(rows / 16 * 16, std::memory_order_relaxed);
  return rows / 16 * 16;
}

template <class Y>
struct Job {
  const QGemmVnni* g;
  const int8_t* x;
  int64_t lda, M;
  Y* y;
  int64_t ldc;
  QResidual res;
  Blocks blocks;
  size_t mt, tiles;  // row tiles, and per task
  bool amx;          // whole 16-row tiles on AMX (amx_fits, big enough)
};

// Row tiles [t0, t1) of column block ni: the full ones in one call, then a partial last.
template <class Y>
void tile_task(const Job<Y>& j, size_t t0, size_t t1, size_t ni) {
  const QGemmVnni& g = *j.g;
  const int64_t nb = j.blocks.first(int64_t(ni)), nv = j.blocks.vectors(int64_t(ni));  // first 16-block, and count
  const int64_t n0 = nb * 16;
  const int nvalid = int(std::min<int64_t>(16, g.N - n0 - (nv - 1) * 16));  // outputs of its last vector
  int64_t m0 = int64_t(t0) * kMR;
  const int64_t end = std::min(j.M, int64_t(t1) * kMR);
  {
    QResidual res = j.res;
    if (res.r) res.r += m0 * res.ldr + n0;
    if (j.amx) m0 += amx_rows(g, j.x + m0 * j.lda, j.lda, nb, int(nv), j.y + m0 * j.ldc + n0, j.ldc, nvalid, res, end - m0);
  }
  while (m0 < end) {
    const int64_t rows = std::min<int64_t>(kMR, end - m0), count = rows < kMR ? 1 : (end - m0) / kMR;
    QResidual res = j.res;
    if (res.r) res.r += m0 * res.ldr + n0;
    const int8_t* x = j.x + m0 * j.lda;
    Y* y = j.y + m0 * j.ldc + n0;
    if (nv == 3) tile_rows<3>(int(rows), g, x, j.lda, nb, y, j.ldc, nvalid, res, count);
    else if (nv == 2) tile_rows<2>(int(rows), g, x, j.lda, nb, y, j.ldc, nvalid, res, count);
    else tile_rows<1>(int(rows), g, x, j.lda, nb, y, j.ldc, nvalid, res, count);
    m0 += rows * count;
  }
}

// One task of the thread pool: j.tiles row tiles of column block ni.
template <class Y>
void task(void* ctx, size_t ci, size_t ni) {
  const Job<Y>& j = *static_cast<const Job<Y>*>(ctx);
  tile_task(j, ci * j.tiles, std::min(j.mt, (ci + 1) * j.tiles), ni);
}

template <class Y>
void run_tasks(const QGemmVnni* g, const int8_t* x, int64_t lda, int64_t M, Y* y, int64_t ldc, pthreadpool_t pool,
               const QResidual& res) {
  const Blocks blocks(g->N);
  const size_t mt = size_t((M + kMR - 1) / kMR), nt = size_t(blocks.count);
  Job<Y> j{g, x, lda, M, y, ldc, res, blocks, mt, 1, M * g->Np * g->Kp >= kAmxMinMacs && amx_fits(*g)};
  if (!pool) {  // 16 row tiles (their x rows stay in cache) for every column block, then the next 16
    for (size_t a = 0; a < mt; a += 16)
      for (size_t b = 0; b < nt; ++b) tile_task(j, a, std::min(mt, a + 16), b);
    return;
  }
  // Narrow layers (selfie's 16-channel 1x1 convs: ~100 cycles a tile) would
  // spend as long claiming tiles from the pool as computing them: a task
  // takes at least ~32K multiply-adds, leaving at least 4 tasks per thread.
  const size_t per_tile = size_t(kMR * std::max<int64_t>(32, 16 * blocks.base) * g->Kp);
  const size_t threads = pthreadpool_get_threads_count(pool);
  j.tiles = std::max<size_t>(1, std::min(32768 / per_tile, mt / (4 * threads)));
  if (j.amx) j.tiles = std::max<size_t>(4, j.tiles + j.tiles % 2);  // whole 16-row AMX tiles, 2 at least
  pthreadpool_parallelize_2d(pool, task<Y>, &j, (mt + j.tiles - 1) / j.tiles, nt, 0);
}

}  // namespace

void QGemmVnni::run(const int8_t* x, int64_t lda, int64_t M, int8_t* y, int64_t ldc, pthreadpool_t pool,
                    const QResidual& res) const {
  run_tasks(this, x, lda, M, y, ldc, pool, res);
}

void QGemmVnni::run(const int8_t* x, int64_t lda, int64_t M, float* y, int64_t ldc, pthreadpool_t pool) const {
  run_tasks(this, x, lda, M, y, ldc, pool, {});
}

}  // namespace ef
