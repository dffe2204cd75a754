// Helpers for our own layout-free kernels: numpy broadcasting plans (shapes
// collapsed to the fewest dimensions), strided iteration over spans of the
// output, and splitting a 1-D range over the thread pool without allocation.
#pragma once
#include <pthreadpool.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "edgeflow/tensor.h"

namespace ef::bcast {

// A tensor [..., c] against a per-channel vector [c], streamed flat: the
// vector repeated over whole periods of lcm(c, 16) values (so every chunk
// of that length starts at channel 0), at least min_len long.
inline int64_t channel_tile_len(int64_t c, int64_t min_len) {
  const int64_t period = std::lcm<int64_t>(c, 16);
  return (std::max<int64_t>(min_len, 1) + period - 1) / period * period;
}
// tile = v (c values) repeated to tile's length (a multiple of c).
template <class T>
void fill_channel_tile(const T* v, int64_t c, std::vector<T>& tile) {
  for (size_t k = 0; k < tile.size(); k += size_t(c)) std::copy_n(v, c, tile.data() + k);
}

constexpr int kMaxDims = 16;
constexpr int kMaxInputs = 4;

// Output shape and per-input element strides (0 where an input is broadcast),
// after dropping size-1 output dims and merging neighbours that broadcast alike.
// The output is contiguous. Always rank >= 1.
struct Plan {
  int rank = 1;
  int nin = 0;
  int64_t shape[kMaxDims] = {1};
  int64_t stride[kMaxInputs][kMaxDims] = {};
  int64_t numel = 1;
  int64_t inner() const { return shape[rank - 1]; }
  int64_t inner_stride(int k) const { return stride[k][rank - 1]; }
};

// `ins` must each be broadcastable to `out` (the caller checked this at shape
// inference). Throws ef::Error when the rank exceeds kMaxDims.
inline Plan make_plan(const Shape& out, const Shape* const* ins, int nin) {
  Plan p;
  p.nin = nin;
  const int r = int(out.size());
  if (r > kMaxDims) throw Error("rank " + std::to_string(r) + " exceeds the supported maximum of " +
                                std::to_string(kMaxDims));
  p.numel = numel(out);
  // bit k of mask[d]: input k is broadcast (size 1) along output dim d
  int64_t dims[kMaxDims];
  unsigned mask[kMaxDims];
  int n = 0;
  for (int d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    unsigned m = 0;
    for (int k = 0; k < nin; ++k) {
      const Shape& s = *ins[k];
      int off = r - int(s.size());
      int64_t sd = d - off >= 0 ? s[d - off] : 1;
      if (sd == 1) m |= 1u << k;
    }
    if (n > 0 && mask[n - 1] == m) {
      dims[n - 1] *= out[d];
    } else {
      dims[n] = out[d];
      mask[n] = m;
      ++n;
    }
  }
  if (n == 0) {
    dims[0] = 1;
    mask[0] = (1u << nin) - 1;
    n = 1;
  }
  p.rank = n;
  for (int d = 0; d < n; ++d) p.shape[d] = dims[d];
  for (int k = 0; k < nin; ++k) {
    int64_t s = 1;
    for (int d = n - 1; d >= 0; --d) {
      if (mask[d] & (1u << k)) {
        p.stride[k][d] = 0;
      } else {
        p.stride[k][d] = s;
        s *= dims[d];
      }
    }
  }
  return p;
}

inline Plan make_plan(const Shape& out, const Shape& a) {
  const Shape* s[1] = {&a};
  return make_plan(out, s, 1);
}
inline Plan make_plan(const Shape& out, const Shape& a, const Shape& b) {
  const Shape* s[2] = {&a, &b};
  return make_plan(out, s, 2);
}
inline Plan make_plan(const Shape& out, const Shape& a, const Shape& b, const Shape& c) {
  const Shape* s[3] = {&a, &b, &c};
  return make_plan(out, s, 3);
}

// Calls f(out_offset, in_offsets, len) for consecutive spans covering the
// output elements [e0, e1); each span lies within one innermost row, where
// input k advances by p.inner_stride(k) (0 or 1) per element.
template <class F>
inline void for_each_span(const Plan& p, int64_t e0, int64_t e1, F&& f) {
  if (e0 >= e1) return;
  const int r = p.rank;
  const int64_t inner = p.inner();
  int64_t idx[kMaxDims];
  int64_t off[kMaxInputs] = {};
  int64_t row = e0 / inner, col = e0 % inner;
  for (int d = r - 2; d >= 0; --d) {
    idx[d] = row % p.shape[d];
    row /= p.shape[d];
  }
  for (int k = 0; k < p.nin; ++k) {
    int64_t o = col * p.stride[k][r - 1];
    for (int d = 0; d < r - 1; ++d) o += idx[d] * p.stride[k][d];
    off[k] = o;
  }
  int64_t e = e0;
  while (e < e1) {
    int64_t len = std::min(inner - col, e1 - e);
    f(e, static_cast<const int64_t*>(off), len);
    e += len;
    if (e >= e1) break;
    // advance to the start of the next row
    for (int k = 0; k < p.nin; ++k) off[k] -= col * p.stride[k][r - 1];
    col = 0;
    for (int d = r - 2; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < p.nin; ++k) off[k] += p.stride[k][d];
      if (idx[d] < p.shape[d]) break;
      for (int k = 0; k < p.nin; ++k) off[k] -= idx[d] * p.stride[k][d];
      idx[d] = 0;
    }
  }
}

// Runs f(begin, end) over [0, n) in chunks of at least `grain` items, on the
// pool when there is one and the work is big enough. No allocation.
template <class F>
inline void parallel_for(pthreadpool_t pool, int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  if (threads <= 1 || n < 2 * grain) {
    f(int64_t(0), n);
    return;
  }
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(threads) * 4);
  struct Ctx {
    F* f;
    int64_t n, chunks;
  } ctx{&f, n, chunks};
  pthreadpool_parallelize_1d(
      pool,
      [](void* c, size_t i) {
        auto* x = static_cast<Ctx*>(c);
        int64_t b = x->n * int64_t(i) / x->chunks, e = x->n * int64_t(i + 1) / x->chunks;
        (*x->f)(b, e);
      },
      &ctx, size_t(chunks), 0);
}

// Row-major element strides of a shape.
inline void strides_of(const Shape& s, int64_t* st) {
  int64_t acc = 1;
  for (int d = int(s.size()) - 1; d >= 0; --d) {
    st[d] = acc;
    acc *= s[d];
  }
}

// Copy `n` elements of size `esize` with a source stride (in elements).
inline void strided_copy(uint8_t* dst, const uint8_t* src, int64_t n, int64_t src_stride, size_t esize) {
  if (src_stride == 1) {
    std::memcpy(dst, src, size_t(n) * esize);
    return;
  }
  switch (esize) {
    case 1:
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i * src_stride];
      return;
    case 2: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      auto* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * src_stride];
      return;
    }
    case 4: {
      auto* d = reinterpret_cast<uint32_t*>(dst);
      auto* s = reinterpret_cast<const uint32_t*>(src);
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * src_stride];
      return;
    }
    case 8: {
      auto* d = reinterpret_cast<uint64_t*>(dst);
      auto* s = reinterpret_cast<const uint64_t*>(src);
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * src_stride];
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * esize, src + i * src_stride * esize, esize);
  }
}

}  // namespace ef::bcast
