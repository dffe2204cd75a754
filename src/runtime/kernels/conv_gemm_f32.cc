#include "runtime/kernels/conv_gemm_f32.h"

// GCC 12 warns about _mm512_undefined_ps inside _mm512_{min,max}_ps.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace ef {
namespace {

// Pixels per microkernel tile for a panel of nv vectors: about 24 accumulators.
constexpr int tile_rows(int nv) { return nv >= 4 ? 6 : 8; }
constexpr int kPanel = 64;    // output channels per weight panel (4 zmm)
constexpr int64_t kKBlock = 128;   // K per block: a 128x64 weight block (32 KB) stays in L1
constexpr int64_t kPanelMajorBytes = 1 << 20;  // input rows of a pixel block that stay in L2 (2 MB)
constexpr int64_t kL2Weights = 512 << 10;  // packed weights below this stay in L2 between runs
constexpr int64_t kRowModeCin = 16;  // below, one indirection entry per kernel row
constexpr int64_t kMBlock = 192;  // a multiple of every tile_rows()   // pixels per block: their input rows stay in L2

struct UkArgs {
  const float* const* ind;  // row pointers of the tile's first pixel, [pixel][tap]
  int64_t ind_stride;       // taps per pixel
  int64_t t0, t1, c0, len;
  const float* b;           // packed weights at (t0, c0) of this panel
  int64_t b_tap_stride;     // floats per tap in the panel
  float* c;
  int64_t ldc;
  const float* bias;  // first block: initial value (padded), may be null
  const float* res;   // last block: added before the clamp (ldc apart), may be null
  bool first, last;
  float mn, mx;
  __mmask16 mask;  // valid lanes of the panel's last vector
  const char* pf;      // next weight block: one cache line per k step is prefetched into L2
  const char* pf_end;  // its end
};

#define EF_AVX512 __attribute__((target("avx512f,avx2,fma")))

// Returns where the next tile continues prefetching.
template <int MR, int NV>
EF_AVX512 const char* ukernel(const UkArgs& p) {
  const char* pf = p.pf;
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (p.first)
        acc[i][v] = p.bias ? _mm512_loadu_ps(p.bias + 16 * v) : _mm512_setzero_ps();
      else if (v == NV - 1)
        acc[i][v] = _mm512_maskz_loadu_ps(p.mask, p.c + i * p.ldc + 16 * v);
      else
        acc[i][v] = _mm512_loadu_ps(p.c + i * p.ldc + 16 * v);
    }
  for (int64_t t = p.t0; t < p.t1; ++t) {
    const float* a[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = p.ind[i * p.ind_stride + t] + p.c0;
    const float* b = p.b + (t - p.t0) * p.b_tap_stride;
    for (int64_t k = 0; k < p.len; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
      b += 16 * NV;
      if (pf < p.pf_end) {
        _mm_prefetch(pf, _MM_HINT_T1);
        pf += 64;
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(a[i][k]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
  }
  if (p.last && p.res) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const float* r = p.res + i * p.ldc + 16 * v;
        acc[i][v] = _mm512_add_ps(acc[i][v], v == NV - 1 ? _mm512_maskz_loadu_ps(p.mask, r) : _mm512_loadu_ps(r));
      }
  }
  if (p.last) {
    const __m512 lo = _mm512_set1_ps(p.mn), hi = _mm512_set1_ps(p.mx);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_min_ps(_mm512_max_ps(acc[i][v], lo), hi);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (v == NV - 1)
        _mm512_mask_storeu_ps(p.c + i * p.ldc + 16 * v, p.mask, acc[i][v]);
      else
        _mm512_storeu_ps(p.c + i * p.ldc + 16 * v, acc[i][v]);
    }
  return pf;
}

using Ukernel = const char* (*)(const UkArgs&);

template <int MR>
constexpr Ukernel row_of(int nv) {
  return nv == 1 ? ukernel<MR, 1> : nv == 2 ? ukernel<MR, 2> : nv == 3 ? ukernel<MR, 3> : ukernel<MR, 4>;
}

Ukernel pick(int mr, int nv) {
  switch (mr) {
    case 1: return row_of<1>(nv);
    case 2: return row_of<2>(nv);
    case 3: return row_of<3>(nv);
    case 4: return row_of<4>(nv);
    case 5: return row_of<5>(nv);
    case 6: return row_of<6>(nv);
    case 7: return row_of<7>(nv);
    default: return row_of<8>(nv);
  }
}

}  // namespace

bool ConvGemmF32::supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  return ok;
}

bool ConvGemmF32::row_mode(int64_t cin, int64_t kw, int64_t dw) { return dw == 1 && kw > 1 && cin < kRowModeCin; }

ConvGemmF32::ConvGemmF32(const ConvGemmGeom& g, const float* w, const float* bias, float out_min, float out_max)
    : g_(g), min_(out_min), max_(out_max) {
  const int64_t taps = g.kh * g.kw;
  k_ = taps * g.cin;
  m_ = g.n * g.oh * g.ow;
  panels_ = (g.cout + kPanel - 1) / kPanel;
  // Few input channels (a network's first layers): one indirection entry
  // per kernel row, kw * cin contiguous floats of an input row (padded
  // columns from a zero-bordered copy), instead of one per tap with a
  // k loop of cin steps.
  rows_ = row_mode(g.cin, g.kw, g.dw);
  segs_ = rows_ ? g.kh : taps;
  seg_len_ = rows_ ? g.kw * g.cin : g.cin;
  // Weights: OIHW -> per panel [tap][ci][width] (= [ky][kx][ci][width]), zero-padded lanes.
  int64_t total = 0;
  for (int64_t j = 0; j < panels_; ++j) {
    const int64_t width = std::min<int64_t>(kPanel, g.cout - j * kPanel);
    panel_nv_.push_back((width + 15) / 16);
    panel_off_.push_back(total);
    total += k_ * panel_nv_.back() * 16;
  }
  const size_t bytes = (size_t(total) * sizeof(float) + 63) / 64 * 64;
  packed_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  std::memset(packed_, 0, bytes);
  for (int64_t j = 0; j < panels_; ++j) {
    const int64_t width = panel_nv_[j] * 16;
    for (int64_t o = j * kPanel; o < std::min<int64_t>(g.cout, (j + 1) * kPanel); ++o)
      for (int64_t ci = 0; ci < g.cin; ++ci)
        for (int64_t t = 0; t < taps; ++t)
          packed_[panel_off_[j] + (t * g.cin + ci) * width + (o - j * kPanel)] = w[(o * g.cin + ci) * taps + t];
  }
  stream_weights_ = total * int64_t(sizeof(float)) > kL2Weights;
  bias_.assign(size_t(panels_ * kPanel), 0.f);
  if (bias) std::copy(bias, bias + g.cout, bias_.begin());
  zeros_.assign(size_t(seg_len_), 0.f);
  // K blocks: whole segments while they fit kKBlock, else slices of one segment.
  if (seg_len_ >= kKBlock) {
    const int64_t pieces = (seg_len_ + kKBlock - 1) / kKBlock;
    for (int64_t t = 0; t < segs_; ++t)
      for (int64_t p = 0; p < pieces; ++p) {
        const int64_t c0 = seg_len_ * p / pieces, c1 = seg_len_ * (p + 1) / pieces;
        kblocks_.push_back({t, t + 1, c0, c1 - c0});
      }
  } else {
    const int64_t per = std::max<int64_t>(1, kKBlock / seg_len_);
    for (int64_t t = 0; t < segs_; t += per) kblocks_.push_back({t, std::min(segs_, t + per), 0, seg_len_});
  }
}

ConvGemmF32::~ConvGemmF32() { std::free(packed_); }

void ConvGemmF32::setup(const float* x, float* y, size_t threads, const float* residual) {
  x_ = x;
  y_ = y;
  res_ = residual;
  ind_.resize(size_t(m_ * segs_));
  if (rows_) {
    // Columns a kernel row reaches: [-pl, last_ix]; a zero-bordered copy
    // of the input when that leaves the image, else the input itself.
    const int64_t last_ix = (g_.ow - 1) * g_.sw - g_.pl + g_.kw - 1;
    pad_l_ = g_.pl;
    pad_w_ = g_.pl + std::max(g_.iw, last_ix + 1);
    padded_.clear();
    if (g_.pl > 0 || last_ix >= g_.iw) padded_.assign(size_t(g_.n * g_.ih * pad_w_ * g_.cin), 0.f);
    const float* base = padded_.empty() ? x : padded_.data();
    const int64_t row_w = padded_.empty() ? g_.iw : pad_w_, col0 = padded_.empty() ? 0 : g_.pl;
    for (int64_t m = 0; m < m_; ++m) {
      const int64_t n = m / (g_.oh * g_.ow), oy = m / g_.ow % g_.oh, ox = m % g_.ow;
      for (int64_t ky = 0; ky < g_.kh; ++ky) {
        const int64_t iy = oy * g_.sh - g_.pt + ky * g_.dh, ix = ox * g_.sw - g_.pl + col0;
        const bool inside = iy >= 0 && iy < g_.ih;
        ind_[size_t(m * segs_ + ky)] = inside ? base + ((n * g_.ih + iy) * row_w + ix) * g_.cin : zeros_.data();
      }
    }
  } else {
    for (int64_t m = 0; m < m_; ++m) {
      const int64_t n = m / (g_.oh * g_.ow), oy = m / g_.ow % g_.oh, ox = m % g_.ow;
      for (int64_t ky = 0; ky < g_.kh; ++ky)
        for (int64_t kx = 0; kx < g_.kw; ++kx) {
          const int64_t iy = oy * g_.sh - g_.pt + ky * g_.dh, ix = ox * g_.sw - g_.pl + kx * g_.dw;
          const bool inside = iy >= 0 && iy < g_.ih && ix >= 0 && ix < g_.iw;
          ind_[size_t(m * segs_ + ky * g_.kw + kx)] =
              inside ? x + ((n * g_.ih + iy) * g_.iw + ix) * g_.cin : zeros_.data();
        }
    }
  }
  // Tasks: weight-heavy layers (at least twice as many output channels as
  // pixels: resnet18's layer4, mobilenet_v2's last 7x7 layers) one per
  // weight panel, so each thread streams only its share of the weights; else
  // 4 equal pixel ranges per thread (resnet18's layer3, 256 channels x 196
  // pixels, 2 threads: 0.82 -> 0.73 ms split by pixels). Several tasks per
  // thread let the pool rebalance when a thread is descheduled.
  const int64_t T = int64_t(std::max<size_t>(1, threads));
  tasks_.clear();
  if (T > 1 && g_.cout >= 2 * m_ && panels_ >= 2) {
    // A panel count the threads do not divide (mobilenet_v2's 960->320: 5
    // panels, 3 + 2) is balanced by splitting each panel's pixels too.
    const int64_t parts = T / std::gcd(panels_, T);
    for (int64_t j = 0; j < panels_; ++j)
      for (int64_t p = 0; p < parts; ++p) tasks_.push_back({m_ * p / parts, m_ * (p + 1) / parts, j, j + 1});
  } else {
    const int64_t unit = 8;  // pixels; whole tiles mostly
    const int64_t units = (m_ + unit - 1) / unit, parts = std::min(units, T > 1 ? 4 * T : 1);
    for (int64_t p = 0; p < parts; ++p)
      tasks_.push_back({units * p / parts * unit, std::min(m_, units * (p + 1) / parts * unit), 0, panels_});
  }
}

// The zero-bordered input rows (row mode with padded columns), in parallel over rows.
void ConvGemmF32::copy_padded(pthreadpool_t pool) {
  struct Ctx {
    ConvGemmF32* self;
  } ctx{this};
  auto row = [](void* c, size_t r) {
    ConvGemmF32* s = static_cast<Ctx*>(c)->self;
    const int64_t cin = s->g_.cin;
    std::memcpy(s->padded_.data() + (int64_t(r) * s->pad_w_ + s->pad_l_) * cin, s->x_ + int64_t(r) * s->g_.iw * cin,
                size_t(s->g_.iw * cin) * sizeof(float));
  };
  const size_t rows = size_t(g_.n * g_.ih);
  if (!pool) {
    for (size_t r = 0; r < rows; ++r) row(&ctx, r);
    return;
  }
  pthreadpool_parallelize_1d(pool, row, &ctx, rows, 0);
}

void ConvGemmF32::run_task(size_t ti) {
  const Task& task = tasks_[ti];
  UkArgs a;
  a.ind_stride = segs_;
  a.ldc = g_.cout;
  a.mn = min_;
  a.mx = max_;
  const int64_t nkb = int64_t(kblocks_.size()), np = task.j1 - task.j0, steps = nkb * np;
  for (int64_t mb = task.m0; mb < task.m1; mb += kMBlock) {
    const int64_t me = std::min(task.m1, mb + kMBlock);
    // Step order: panel-major (each panel's K blocks in turn: its weights are
    // one contiguous stream) when the block's input rows stay in L2 while
    // every panel re-reads them; else K-block-major (a K block of input rows
    // is reused across all panels).
    const bool panel_major = (me - mb) * k_ * int64_t(sizeof(float)) <= kPanelMajorBytes;
    auto step = [&](int64_t s, int64_t* kb, int64_t* j) {
      *kb = panel_major ? s % nkb : s / np;
      *j = task.j0 + (panel_major ? s / nkb : s % np);
    };
    auto weights = [&](int64_t kb, int64_t j) {
      const KBlock& blk = kblocks_[size_t(kb)];
      return packed_ + panel_off_[size_t(j)] + (blk.t0 * seg_len_ + blk.c0) * panel_nv_[size_t(j)] * 16;
    };
    for (int64_t s = 0; s < steps; ++s) {
      int64_t kb, j;
      step(s, &kb, &j);
      const KBlock& blk = kblocks_[size_t(kb)];
      a.t0 = blk.t0, a.t1 = blk.t1, a.c0 = blk.c0, a.len = blk.len;
      a.first = kb == 0;
      a.last = kb + 1 == nkb;
      const int nv = int(panel_nv_[size_t(j)]);
      const int64_t width = nv * 16;
      const int64_t valid = std::min<int64_t>(16, g_.cout - j * kPanel - (nv - 1) * 16);
      a.mask = __mmask16((1u << valid) - 1);
      a.b = weights(kb, j);
      a.b_tap_stride = seg_len_ * width;
      a.bias = bias_.data() + j * kPanel;
      // Prefetch the next step's weight block (contiguous: whole taps, or one tap's channel slice).
      a.pf = a.pf_end = nullptr;
      if (s + 1 < steps && stream_weights_) {
        int64_t nkb_, nj;
        step(s + 1, &nkb_, &nj);
        const KBlock& nb = kblocks_[size_t(nkb_)];
        a.pf = reinterpret_cast<const char*>(weights(nkb_, nj));
        a.pf_end = a.pf + (nb.t1 - nb.t0) * nb.len * panel_nv_[size_t(nj)] * 16 * int64_t(sizeof(float));
      }
      const int mr = tile_rows(nv);
      const Ukernel full = pick(mr, nv);
      for (int64_t m = mb; m < me; m += mr) {
        const int64_t rows = std::min<int64_t>(mr, me - m);
        a.ind = ind_.data() + m * segs_;
        a.c = y_ + m * g_.cout + j * kPanel;
        a.res = res_ ? res_ + m * g_.cout + j * kPanel : nullptr;
        a.pf = (rows == mr ? full : pick(int(rows), nv))(a);
      }
    }
  }
}

void ConvGemmF32::run(pthreadpool_t pool) {
  if (!padded_.empty()) copy_padded(pool);
  if (tasks_.size() == 1 || !pool) {
    for (size_t t = 0; t < tasks_.size(); ++t) run_task(t);
    return;
  }
  pthreadpool_parallelize_1d(
      pool, [](void* self, size_t t) { static_cast<ConvGemmF32*>(self)->run_task(t); }, this, tasks_.size(), 0);
}

}  // namespace ef
