// Data-rearranging kernels, all dtypes (moved by element size): Transpose
// (blocked batched 2-D fast path, covers NCHW<->NHWC, with AVX-512 permutes
// for 2-4 channels; general strided path),
// Concat, Split, Slice (negative steps), Pad (constant/reflect/edge/wrap,
// negative pads; XNNPACK constant_pad_nd_x32 for 4-byte constant padding),
// Gather (any axis, negative int32/int64 indices), Tile.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

constexpr int64_t kGrain = 16384;

// Drop size-1 dims and merge neighbours whose strides chain (stride[d] ==
// stride[d+1] * shape[d+1]) in a one-input plan.
void simplify(bcast::Plan& p) {
  int n = 0;
  int64_t sh[bcast::kMaxDims], st[bcast::kMaxDims];
  for (int d = 0; d < p.rank; ++d) {
    if (p.shape[d] == 1) continue;
    if (n > 0 && st[n - 1] == p.stride[0][d] * p.shape[d]) {
      sh[n - 1] *= p.shape[d];
      st[n - 1] = p.stride[0][d];
      continue;
    }
    sh[n] = p.shape[d];
    st[n] = p.stride[0][d];
    ++n;
  }
  if (n == 0) {
    sh[0] = 1;
    st[0] = 1;
    n = 1;
  }
  p.rank = n;
  for (int d = 0; d < n; ++d) {
    p.shape[d] = sh[d];
    p.stride[0][d] = st[d];
  }
}

// y[i...] = x[base + sum(i_d * stride_d)] for an arbitrary strided view.
struct StridedView {
  bcast::Plan plan;
  int64_t base = 0;
  size_t es = 1;
  void build(const Shape& out, const int64_t* strides, int64_t base_off, size_t esize) {
    if (int(out.size()) > bcast::kMaxDims) throw Error("rank " + std::to_string(out.size()) + " is too large");
    plan = bcast::Plan();
    plan.nin = 1;
    plan.rank = int(out.size());
    plan.numel = numel(out);
    for (size_t d = 0; d < out.size(); ++d) {
      plan.shape[d] = out[d];
      plan.stride[0][d] = strides[d];
    }
    if (out.empty()) {
      plan.rank = 1;
      plan.shape[0] = 1;
      plan.stride[0][0] = 1;
    }
    simplify(plan);
    base = base_off;
    es = esize;
  }
  void copy(const void* src, void* dst, pthreadpool_t pool) const {
    const auto* x = static_cast<const uint8_t*>(src) + base * int64_t(es);
    auto* y = static_cast<uint8_t*>(dst);
    const bcast::Plan& p = plan;
    const size_t e = es;
    bcast::parallel_for(pool, p.numel, kGrain, [&](int64_t b, int64_t f) {
      bcast::for_each_span(p, b, f, [&](int64_t o, const int64_t* off, int64_t len) {
        bcast::strided_copy(y + o * int64_t(e), x + off[0] * int64_t(e), len, p.inner_stride(0), e);
      });
    });
  }
};

// ---- Transpose
// 2 to 4 rows interleaved (an image's planes to NHWC pixels: NCHW -> NHWC of
// 3 channels): y[c][r] = x[r][c] for the columns [c0, c1) in whole blocks of
// 16, one permute an output vector (4-byte elements: two, blended; 1-byte
// elements: with AVX512-VBMI). Return the columns done (a multiple of 16).
bool interleave_rows_fits(size_t es, int64_t rows) {
  static const bool f = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"),
                    vbmi = f && __builtin_cpu_supports("avx512vbmi");
  return rows >= 2 && rows <= 4 && ((es == 4 && f) || (es == 1 && vbmi));
}
__attribute__((target("avx512f"))) int64_t interleave_rows(const uint32_t* x, uint32_t* y, int64_t R, int64_t cols,
                                                           int64_t c0, int64_t c1) {
  alignas(64) int32_t idx[4][16];  // output element m: row m % R of column m / R, from (row 0 | 1) or (row 2 | 3)
  __mmask16 hi[4] = {};
  for (int64_t m = 0; m < 16 * R; ++m) {
    idx[m / 16][m % 16] = int32_t((m % R & 1) * 16 + m / R);
    if (m % R >= 2) hi[m / 16] = __mmask16(hi[m / 16] | (1u << (m % 16)));
  }
  const int64_t end = c0 + (c1 - c0) / 16 * 16;
  for (int64_t c = c0; c < end; c += 16) {
    __m512i v[4];
    for (int64_t r = 0; r < 4; ++r) v[r] = _mm512_loadu_si512(x + std::min(r, R - 1) * cols + c);
    for (int64_t k = 0; k < R; ++k) {
      const __m512i ik = _mm512_load_si512(idx[k]), lo = _mm512_permutex2var_epi32(v[0], ik, v[1]);
      _mm512_storeu_si512(y + c * R + 16 * k,
                          R > 2 ? _mm512_mask_blend_epi32(hi[k], lo, _mm512_permutex2var_epi32(v[2], ik, v[3])) : lo);
    }
  }
  return end - c0;
}
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) int64_t interleave_rows(const uint8_t* x, uint8_t* y, int64_t R,
                                                                              int64_t cols, int64_t c0, int64_t c1) {
  alignas(64) uint8_t idx[64] = {};
  for (int64_t m = 0; m < 16 * R; ++m) idx[m] = uint8_t(m % R * 16 + m / R);
  const __m512i vi = _mm512_load_si512(idx);
  const __mmask64 out = ~0ull >> (64 - 16 * R);
  const int64_t end = c0 + (c1 - c0) / 16 * 16;
  for (int64_t c = c0; c < end; c += 16) {
    auto row = [&](int64_t r) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + r * cols + c)); };
    __m512i v = _mm512_inserti32x4(_mm512_castsi128_si512(row(0)), row(1), 1);
    if (R > 2) v = _mm512_inserti32x4(v, row(2), 2);
    if (R > 3) v = _mm512_inserti32x4(v, row(3), 3);
    _mm512_mask_storeu_epi8(y + c * R, out, _mm512_permutexvar_epi8(vi, v));
  }
  return end - c0;
}
template <class T>
int64_t interleave_rows(const T*, T*, int64_t, int64_t, int64_t, int64_t) {
  return 0;
}

template <class T>
void transpose_2d(const T* x, T* y, int64_t batch, int64_t rows, int64_t cols, pthreadpool_t pool) {
  if (interleave_rows_fits(sizeof(T), rows)) {  // column ranges of about 16K values
    const int64_t per = std::max<int64_t>(16, 16384 / rows / 16 * 16), tasks = (cols + per - 1) / per;
    bcast::parallel_for(pool, batch * tasks, 1, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        const int64_t b = w / tasks, c0 = (w % tasks) * per, c1 = std::min(cols, c0 + per);
        const T* xb = x + b * rows * cols;
        T* yb = y + b * rows * cols;
        for (int64_t c = c0 + interleave_rows(xb, yb, rows, cols, c0, c1); c < c1; ++c)
          for (int64_t r = 0; r < rows; ++r) yb[c * rows + r] = xb[r * cols + c];
      }
    });
    return;
  }
  // y[b][c][r] = x[b][r][c], 32x32 blocks; work items are (batch, block of rows of y).
  constexpr int64_t B = 32;
  const int64_t cblocks = (cols + B - 1) / B;
  bcast::parallel_for(pool, batch * cblocks, std::max<int64_t>(1, 4096 / (B * std::max<int64_t>(rows, 1))),
                      [&](int64_t w0, int64_t w1) {
                        for (int64_t w = w0; w < w1; ++w) {
                          const int64_t b = w / cblocks, c0 = (w % cblocks) * B, c1 = std::min(cols, c0 + B);
                          const T* xb = x + b * rows * cols;
                          T* yb = y + b * rows * cols;
                          for (int64_t r0 = 0; r0 < rows; r0 += B) {
                            const int64_t r1 = std::min(rows, r0 + B);
                            for (int64_t c = c0; c < c1; ++c)
                              for (int64_t r = r0; r < r1; ++r) yb[c * rows + r] = xb[r * cols + c];
                          }
                        }
                      });
}

class TransposeKernel : public Kernel {
 public:
  TransposeKernel(std::vector<int64_t> perm, pthreadpool_t pool) : perm_(std::move(perm)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    const int r = int(s.size());
    es_ = dtype_size(in[0].dtype);
    // collapse: drop size-1 input dims, merge input dims adjacent in both orders
    std::vector<int> keep;  // input dims kept, in input order
    for (int d = 0; d < r; ++d)
      if (s[d] != 1) keep.push_back(d);
    std::vector<int> order;  // kept input dims in output order
    for (int k = 0; k < r; ++k) {
      int d = int(perm_[k] < 0 ? perm_[k] + r : perm_[k]);
      if (s[d] != 1) order.push_back(d);
    }
    // groups: maximal runs in `order` that are consecutive kept input dims
    std::vector<int> gid(r, -1);
    std::vector<int64_t> gsize;
    std::vector<int> gfirst;
    for (size_t i = 0; i < order.size(); ++i) {
      int d = order[i];
      auto pos = std::find(keep.begin(), keep.end(), d) - keep.begin();
      if (i > 0 && pos > 0 && keep[pos - 1] == order[i - 1]) {
        gid[d] = gid[order[i - 1]];
        gsize[gid[d]] *= s[d];
      } else {
        gid[d] = int(gsize.size());
        gsize.push_back(s[d]);
        gfirst.push_back(d);
      }
    }
    const int m = int(gsize.size());
    // reduced input shape: groups in input order
    std::vector<int> in_order;  // group ids sorted by their first input dim
    for (int d : keep)
      if (gfirst[gid[d]] == d) in_order.push_back(gid[d]);
    std::vector<int64_t> ish(m), istride(m);
    std::vector<int> gpos(m);
    for (int i = 0; i < m; ++i) {
      ish[i] = gsize[in_order[i]];
      gpos[in_order[i]] = i;
    }
    int64_t acc = 1;
    for (int i = m - 1; i >= 0; --i) {
      istride[i] = acc;
      acc *= ish[i];
    }
    // reduced perm: output group k is input group gpos[k]
    std::vector<int> rp(m);
    for (int k = 0; k < m; ++k) rp[k] = gpos[k];
    mode_ = general;
    bool batched2d = m >= 2 && rp[m - 2] == m - 1 && rp[m - 1] == m - 2;
    for (int k = 0; k + 2 < m && batched2d; ++k) batched2d = rp[k] == k;
    if (m <= 1 || std::is_sorted(rp.begin(), rp.end())) {
      mode_ = copy;
    } else if (batched2d && (es_ == 1 || es_ == 2 || es_ == 4 || es_ == 8)) {
      mode_ = blocked;
      rows_ = ish[m - 2];
      cols_ = ish[m - 1];
      batch_ = 1;
      for (int k = 0; k + 2 < m; ++k) batch_ *= ish[k];
    } else {
      Shape osh(m);
      std::vector<int64_t> ost(m);
      for (int k = 0; k < m; ++k) {
        osh[k] = ish[rp[k]];
        ost[k] = istride[rp[k]];
      }
      view_.build(osh, ost.data(), 0, es_);
    }
  }
  void run() override {
    const void* x = in_[0].data;
    void* y = out_[0].data;
    switch (mode_) {
      case copy: std::memcpy(y, x, size_t(in_[0].numel()) * es_); return;
      case general: view_.copy(x, y, pool_); return;
      case blocked:
        switch (es_) {
          case 1: return transpose_2d(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), batch_, rows_, cols_, pool_);
          case 2: return transpose_2d(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), batch_, rows_, cols_, pool_);
          case 4: return transpose_2d(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), batch_, rows_, cols_, pool_);
          case 8: return transpose_2d(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), batch_, rows_, cols_, pool_);
        }
    }
  }
  const char* impl() const override {
    if (mode_ == blocked) return interleave_rows_fits(es_, rows_) ? "interleave" : "blocked";
    return mode_ == copy ? "copy" : "ref";
  }

 private:
  enum Mode { copy, blocked, general } mode_ = general;
  std::vector<int64_t> perm_;
  pthreadpool_t pool_;
  size_t es_ = 4;
  int64_t batch_ = 1, rows_ = 1, cols_ = 1;
  StridedView view_;
};
std::unique_ptr<Kernel> make_transpose(const KernelContext& c) {
  std::vector<int64_t> perm = c.node.attrs.ints("perm");
  if (perm.empty())
    for (int64_t i = int64_t(c.input(0).shape.size()) - 1; i >= 0; --i) perm.push_back(i);
  return std::make_unique<TransposeKernel>(perm, c.pool);
}

// ---- Concat / Split: rows of `outer`, each a run of bytes per piece.
class ConcatKernel : public Kernel {
 public:
  ConcatKernel(int64_t axis, bool split, pthreadpool_t pool) : axis_(axis), split_(split), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const TensorView& whole = split_ ? in[0] : out[0];
    const std::vector<TensorView>& parts = split_ ? out : in;
    const Shape& s = whole.shape;
    const int64_t a = axis_ < 0 ? axis_ + int64_t(s.size()) : axis_;
    const size_t es = dtype_size(whole.dtype);
    outer_ = 1;
    int64_t inner = 1;
    for (int64_t d = 0; d < a; ++d) outer_ *= s[d];
    for (int64_t d = a + 1; d < int64_t(s.size()); ++d) inner *= s[d];
    row_ = size_t(s[a] * inner) * es;
    chunk_.clear();
    offset_.clear();
    size_t off = 0;
    for (const TensorView& p : parts) {
      size_t ch = p.data ? size_t(p.shape[a] * inner) * es : 0;
      chunk_.push_back(ch);
      offset_.push_back(off);
      off += p.data ? ch : size_t(p.shape.empty() ? 0 : p.shape[a] * inner) * es;
    }
  }
  void run() override {
    auto* w = static_cast<uint8_t*>(split_ ? in_[0].data : out_[0].data);
    const std::vector<TensorView>& parts = split_ ? out_ : in_;
    const size_t np = parts.size();
    bcast::parallel_for(pool_, outer_, std::max<int64_t>(1, int64_t(65536 / std::max<size_t>(row_, 1))),
                        [&](int64_t o0, int64_t o1) {
                          for (int64_t o = o0; o < o1; ++o)
                            for (size_t i = 0; i < np; ++i) {
                              if (!chunk_[i]) continue;
                              auto* p = static_cast<uint8_t*>(parts[i].data) + o * chunk_[i];
                              uint8_t* q = w + o * row_ + offset_[i];
                              if (split_) std::memcpy(p, q, chunk_[i]);
                              else std::memcpy(q, p, chunk_[i]);
                            }
                        });
  }
  const char* impl() const override { return "copy"; }

 private:
  int64_t axis_;
  bool split_;
  pthreadpool_t pool_;
  int64_t outer_ = 1;
  size_t row_ = 0;
  std::vector<size_t> chunk_, offset_;
};
std::unique_ptr<Kernel> make_concat(const KernelContext& c) {
  return std::make_unique<ConcatKernel>(c.node.attrs.i("axis"), false, c.pool);
}
std::unique_ptr<Kernel> make_split(const KernelContext& c) {
  return std::make_unique<ConcatKernel>(c.node.attrs.i("axis", 0), true, c.pool);
}

// ---- Slice: a strided view of the input.
class SliceKernel : public Kernel {
 public:
  SliceKernel(std::vector<int64_t> start, std::vector<int64_t> step, pthreadpool_t pool)
      : start_(std::move(start)), step_(std::move(step)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    int64_t st[bcast::kMaxDims], ist[bcast::kMaxDims];
    if (s.size() > size_t(bcast::kMaxDims)) throw Error("Slice: rank too large");
    bcast::strides_of(s, ist);
    int64_t base = 0;
    for (size_t d = 0; d < s.size(); ++d) {
      base += start_[d] * ist[d];
      st[d] = step_[d] * ist[d];
    }
    view_.build(out[0].shape, st, base, dtype_size(in[0].dtype));
    empty_ = out[0].numel() == 0;
  }
  void run() override {
    if (!empty_) view_.copy(in_[0].data, out_[0].data, pool_);
  }
  const char* impl() const override { return "copy"; }

 private:
  std::vector<int64_t> start_, step_;
  pthreadpool_t pool_;
  StridedView view_;
  bool empty_ = false;
};

std::vector<int64_t> ints_of(const KernelContext& c, size_t i) {
  if (!Graph::has_input(c.node, i)) return {};
  const Tensor* t = c.const_input(i);
  if (!t) throw Error(c.graph.describe(c.node) + ": input '" + c.input(i).name + "' must be a constant");
  std::vector<int64_t> r(size_t(t->numel()));
  for (size_t k = 0; k < r.size(); ++k)
    r[k] = t->dtype() == DType::i64 ? t->data_as<int64_t>()[k] : int64_t(t->data_as<int32_t>()[k]);
  return r;
}

std::unique_ptr<Kernel> make_slice(const KernelContext& c) {
  const Shape& s = c.input(0).shape;
  const int64_t r = int64_t(s.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.node.inputs.size() >= 3) {
    starts = ints_of(c, 1);
    ends = ints_of(c, 2);
    axes = ints_of(c, 3);
    steps = ints_of(c, 4);
  } else {
    starts = c.node.attrs.ints("starts");
    ends = c.node.attrs.ints("ends");
    axes = c.node.attrs.ints("axes");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  std::vector<int64_t> start(size_t(r), 0), step(size_t(r), 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    int64_t dim = s[a], st = steps[i], b = starts[i];
    if (b < 0) b += dim;
    b = st > 0 ? std::clamp<int64_t>(b, 0, dim) : std::clamp<int64_t>(b, 0, std::max<int64_t>(dim - 1, 0));
    start[a] = b;
    step[a] = st;
  }
  return std::make_unique<SliceKernel>(start, step, c.pool);
}

// ---- Pad: per-dim index maps (source index or -1 for the constant).
class PadKernel : public Kernel {
 public:
  PadKernel(std::vector<int64_t> begin, std::string mode, int64_t value_bits, bool runtime_value)
      : begin_(std::move(begin)), mode_(std::move(mode)), value_(value_bits), runtime_value_(runtime_value) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& is = in[0].shape;
    const Shape& os = out[0].shape;
    es_ = dtype_size(in[0].dtype);
    rank_ = int(is.size());
    maps_.assign(rank_, {});
    for (int d = 0; d < rank_; ++d) {
      const int64_t n = is[d];
      for (int64_t j = 0; j < os[d]; ++j) {
        int64_t i = j - begin_[d];
        if (i < 0 || i >= n) {
          if (mode_ == "constant") i = -1;
          else if (mode_ == "edge") i = std::clamp<int64_t>(i, 0, n - 1);
          else if (mode_ == "wrap") i = ((i % n) + n) % n;
          else {  // reflect (schema checked pad < n)
            if (n == 1) i = 0;
            else {
              const int64_t period = 2 * (n - 1);
              i = ((i % period) + period) % period;
              if (i >= n) i = period - i;
            }
          }
        }
        maps_[d].push_back(i);
      }
    }
    bcast::strides_of(is, istride_);
    inner_ = rank_ ? os[rank_ - 1] : 1;
    rows_ = inner_ ? out[0].numel() / inner_ : 0;
    last_only_ = mode_ == "constant" && rank_ > 0;
    for (int d = 0; d + 1 < rank_; ++d) last_only_ &= is[d] == os[d] && begin_[d] == 0;
    if (last_only_) last_only_ = begin_[rank_ - 1] >= 0 && os[rank_ - 1] >= is[rank_ - 1] + begin_[rank_ - 1];
    // middle run of the innermost dim that maps 1:1
    mid0_ = mid1_ = 0;
    if (rank_) {
      const auto& m = maps_[rank_ - 1];
      int64_t j0 = std::max<int64_t>(0, begin_[rank_ - 1]);
      int64_t j1 = std::min<int64_t>(inner_, is[rank_ - 1] + begin_[rank_ - 1]);
      if (j1 > j0 && m[j0] == j0 - begin_[rank_ - 1]) {
        mid0_ = j0;
        mid1_ = j1;
      }
    }
  }
  void run() override {
    int64_t v = value_;
    if (runtime_value_ && in_.size() > 2 && in_[2].data) std::memcpy(&v, in_[2].data, es_);
    switch (es_) {
      case 1: return go<uint8_t>(uint8_t(v));
      case 2: return go<uint16_t>(uint16_t(v));
      case 4: return go<uint32_t>(uint32_t(v));
      case 8: return go<uint64_t>(uint64_t(v));
    }
  }

 private:
  template <class T>
  void go(T value) {
    const T* x = in_[0].as<T>();
    T* y = out_[0].as<T>();
    if (rank_ == 0) {
      y[0] = x[0];
      return;
    }
    if (last_only_) {  // channel padding (BlazeFace's residuals): copy each row, fill before/after
      const int64_t in_inner = in_[0].shape[rank_ - 1], pre = begin_[rank_ - 1], post = inner_ - in_inner - pre;
      for (int64_t row = 0; row < rows_; ++row) {
        T* yr = y + row * inner_;
        std::fill(yr, yr + pre, value);
        std::memcpy(yr + pre, x + row * in_inner, size_t(in_inner) * sizeof(T));
        std::fill(yr + pre + in_inner, yr + pre + in_inner + post, value);
      }
      return;
    }
    int64_t idx[bcast::kMaxDims] = {};
    const auto& last = maps_[rank_ - 1];
    for (int64_t row = 0; row < rows_; ++row) {
      T* yr = y + row * inner_;
      bool outside = false;
      int64_t off = 0;
      for (int d = 0; d < rank_ - 1; ++d) {
        int64_t i = maps_[d][idx[d]];
        if (i < 0) outside = true;
        off += i * istride_[d];
      }
      if (outside) {
        for (int64_t j = 0; j < inner_; ++j) yr[j] = value;
      } else {
        const T* xr = x + off;
        for (int64_t j = 0; j < mid0_; ++j) yr[j] = last[j] < 0 ? value : xr[last[j]];
        if (mid1_ > mid0_) std::memcpy(yr + mid0_, xr + last[mid0_], size_t(mid1_ - mid0_) * sizeof(T));
        for (int64_t j = std::max(mid1_, mid0_); j < inner_; ++j) yr[j] = last[j] < 0 ? value : xr[last[j]];
      }
      for (int d = rank_ - 2; d >= 0; --d) {
        if (++idx[d] < int64_t(maps_[d].size())) break;
        idx[d] = 0;
      }
    }
  }
  std::vector<int64_t> begin_;
  std::string mode_;
  int64_t value_;
  bool runtime_value_;
  bool last_only_ = false;
  size_t es_ = 4;
  int rank_ = 0;
  std::vector<std::vector<int64_t>> maps_;
  int64_t istride_[bcast::kMaxDims] = {};
  int64_t inner_ = 1, rows_ = 0, mid0_ = 0, mid1_ = 0;
};

class XnnPad : public Kernel {
 public:
  XnnPad(xnn_operator_t op, std::vector<int64_t> pre, std::vector<int64_t> post, std::string what, pthreadpool_t pool)
      : op_(op), pre_(std::move(pre)), post_(std::move(post)), what_(std::move(what)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    size_t r = in[0].shape.size();
    size_t shape[XNN_MAX_TENSOR_DIMS], pre[XNN_MAX_TENSOR_DIMS], post[XNN_MAX_TENSOR_DIMS];
    for (size_t d = 0; d < r; ++d) {
      shape[d] = size_t(in[0].shape[d]);
      pre[d] = size_t(pre_[d]);
      post[d] = size_t(post_[d]);
    }
    const size_t es = dtype_size(in[0].dtype);
    const xnn_status st =
        es == 1   ? xnn_setup_constant_pad_nd_x8(op_.get(), r, shape, pre, post, in[0].data, out[0].data, pool_)
        : es == 2 ? xnn_setup_constant_pad_nd_x16(op_.get(), r, shape, pre, post, in[0].data, out[0].data, pool_)
                  : xnn_setup_constant_pad_nd_x32(op_.get(), r, shape, pre, post, in[0].data, out[0].data, pool_);
    xnn_check(st, "setup_constant_pad_nd", what_);
  }
  void run() override { xnn_check(xnn_run_operator(op_.get(), pool_), "run", what_); }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  std::vector<int64_t> pre_, post_;
  std::string what_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_pad_impl(const KernelContext& c, bool xnn) {
  const Shape& s = c.input(0).shape;
  const int64_t r = int64_t(s.size());
  std::vector<int64_t> pads = Graph::has_input(c.node, 1) ? ints_of(c, 1) : c.node.attrs.ints("pads");
  std::vector<int64_t> axes = ints_of(c, 3);
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  std::vector<int64_t> pre(size_t(r), 0), post(size_t(r), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    pre[a] = pads[i];
    post[a] = pads[i + axes.size()];
  }
  std::string mode = c.node.attrs.s("mode", "constant");
  const DType dt = c.input(0).dtype;
  const size_t es = dtype_size(dt);
  int64_t bits = 0;
  bool runtime_value = false;
  if (Graph::has_input(c.node, 2)) {
    const Tensor* t = c.const_input(2);
    if (t && t->numel() == 0) {
      // empty constant_value: pad with zeros
    } else if (t && t->dtype() != dt) {  // e.g. a float value imported from opset < 11 for int data
      double v = t->dtype() == DType::f32 ? t->data_as<float>()[0]
                 : t->dtype() == DType::i64 ? double(t->data_as<int64_t>()[0])
                 : t->dtype() == DType::i32 ? double(t->data_as<int32_t>()[0])
                                            : throw Error(c.graph.describe(c.node) + ": constant_value '" +
                                                          c.input(2).name + "' must be " + dtype_name(dt));
      switch (dt) {
        case DType::f32: { float f = float(v); std::memcpy(&bits, &f, 4); break; }
        case DType::f16: bits = float_to_half(float(v)); break;
        case DType::i32: { int32_t i = int32_t(v); std::memcpy(&bits, &i, 4); break; }
        case DType::i64: bits = int64_t(v); break;
        case DType::i8: bits = uint8_t(int8_t(v)); break;
        default: bits = uint8_t(v); break;
      }
    } else if (t) {
      std::memcpy(&bits, t->data(), es);
    } else if (c.input(2).dtype != dt) {
      throw Error(c.graph.describe(c.node) + ": constant_value '" + c.input(2).name + "' must be " + dtype_name(dt));
    } else {
      runtime_value = true;
    }
  } else if (c.node.attrs.has("value") && dt == DType::f32) {
    float f = c.node.attrs.f("value", 0.f);
    std::memcpy(&bits, &f, 4);
  }
  if (xnn) {
    bool ok = xnn_available() && mode == "constant" && (es == 1 || es == 2 || es == 4) && !runtime_value &&
              r <= XNN_MAX_TENSOR_DIMS && r > 0 && numel(s) > 0;
    for (int64_t d = 0; d < r && ok; ++d) ok = pre[d] >= 0 && post[d] >= 0;
    bool last_only = true;  // the own kernel copies whole rows: faster than XNNPACK's one task per row
    for (int64_t d = 0; d + 1 < r; ++d) last_only &= pre[d] == 0 && post[d] == 0;
    if (!ok || last_only) return nullptr;
    const uint32_t v32 = uint32_t(bits);  // little-endian: the low es bytes are the value
    xnn_operator_t op = nullptr;
    std::string what = c.graph.describe(c.node);
    auto st = es == 1   ? xnn_create_constant_pad_nd_x8(&v32, 0, &op)
              : es == 2 ? xnn_create_constant_pad_nd_x16(&v32, 0, &op)
                        : xnn_create_constant_pad_nd_x32(&v32, 0, &op);
    if (st != xnn_status_success) {
      if (op) xnn_delete_operator(op);
      xnn_check(st, "create_constant_pad_nd", what);
    }
    return std::make_unique<XnnPad>(op, pre, post, what, c.pool);
  }
  return std::make_unique<PadKernel>(pre, mode, bits, runtime_value);
}
std::unique_ptr<Kernel> xnn_pad(const KernelContext& c) { return make_pad_impl(c, true); }
std::unique_ptr<Kernel> ref_pad(const KernelContext& c) { return make_pad_impl(c, false); }

// ---- Gather
class GatherKernel : public Kernel {
 public:
  GatherKernel(int64_t axis, std::string what) : axis_(axis), what_(std::move(what)) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    const int64_t a = axis_ < 0 ? axis_ + int64_t(s.size()) : axis_;
    outer_ = 1;
    inner_ = 1;
    for (int64_t d = 0; d < a; ++d) outer_ *= s[d];
    for (int64_t d = a + 1; d < int64_t(s.size()); ++d) inner_ *= s[d];
    dim_ = s[a];
    n_ = in[1].numel();
    i64_ = in[1].dtype == DType::i64;
    bytes_ = size_t(inner_) * dtype_size(in[0].dtype);
  }
  void run() override {
    for (int64_t j = 0; j < n_; ++j) {
      int64_t v = index(j);
      if (v < -dim_ || v >= dim_)
        throw Error(what_ + ": index " + std::to_string(v) + " is out of range for an axis of size " +
                    std::to_string(dim_));
    }
    const auto* x = static_cast<const uint8_t*>(in_[0].data);
    auto* y = static_cast<uint8_t*>(out_[0].data);
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t j = 0; j < n_; ++j) {
        int64_t v = index(j);
        if (v < 0) v += dim_;
        std::memcpy(y + (o * n_ + j) * bytes_, x + (o * dim_ + v) * bytes_, bytes_);
      }
  }
  const char* impl() const override { return "copy"; }

 private:
  int64_t index(int64_t j) const { return i64_ ? in_[1].as<int64_t>()[j] : int64_t(in_[1].as<int32_t>()[j]); }
  int64_t axis_;
  std::string what_;
  int64_t outer_ = 1, inner_ = 1, dim_ = 1, n_ = 0;
  bool i64_ = true;
  size_t bytes_ = 0;
};
std::unique_ptr<Kernel> make_gather(const KernelContext& c) {
  return std::make_unique<GatherKernel>(c.node.attrs.i("axis", 0), c.graph.describe(c.node));
}

// ---- Tile
class TileKernel : public Kernel {
 public:
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    es_ = dtype_size(in[0].dtype);
    rank_ = int(in[0].shape.size());
    bcast::strides_of(in[0].shape, istride_);
  }
  void run() override {
    const auto* x = static_cast<const uint8_t*>(in_[0].data);
    auto* y = static_cast<uint8_t*>(out_[0].data);
    const int64_t n = out_[0].numel();
    if (n == 0) return;
    if (rank_ == 0) {
      std::memcpy(y, x, es_);
      return;
    }
    const Shape& is = in_[0].shape;
    const Shape& os = out_[0].shape;
    const int64_t inner_in = is[rank_ - 1], inner_out = os[rank_ - 1];
    int64_t idx[bcast::kMaxDims] = {};
    for (int64_t row = 0; row * inner_out < n; ++row) {
      int64_t off = 0;
      for (int d = 0; d < rank_ - 1; ++d) off += (idx[d] % is[d]) * istride_[d];
      uint8_t* yr = y + row * inner_out * int64_t(es_);
      for (int64_t j = 0; j < inner_out; j += inner_in) std::memcpy(yr + j * es_, x + off * es_, size_t(inner_in) * es_);
      for (int d = rank_ - 2; d >= 0; --d) {
        if (++idx[d] < os[d]) break;
        idx[d] = 0;
      }
    }
  }
  const char* impl() const override { return "copy"; }

 private:
  size_t es_ = 4;
  int rank_ = 0;
  int64_t istride_[bcast::kMaxDims] = {};
};
std::unique_ptr<Kernel> make_tile(const KernelContext& c) { return std::make_unique<TileKernel>(); }

}  // namespace

EF_REGISTER_KERNEL("Transpose", 0, make_transpose, "ref");
EF_REGISTER_KERNEL("Concat", 0, make_concat, "copy");
EF_REGISTER_KERNEL("Split", 0, make_split, "copy");
EF_REGISTER_KERNEL("Slice", 0, make_slice, "copy");
EF_REGISTER_KERNEL("Pad", 100, xnn_pad, "xnnpack");
EF_REGISTER_KERNEL("Pad", 0, ref_pad, "ref");
EF_REGISTER_KERNEL("Gather", 0, make_gather, "copy");
EF_REGISTER_KERNEL("Tile", 0, make_tile, "copy");
}  // namespace ef
