// Parallel loops for our own kernels (pthreadpool; serial without a pool).
#pragma once
#include <pthreadpool.h>

#include <algorithm>

#include "runtime/kernel.h"

namespace ef {

template <class F>
void parallel_for(pthreadpool_t pool, size_t n, const F& f) {
  if (!pool || n <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  pthreadpool_parallelize_1d(
      pool, [](void* ctx, size_t i) { (*static_cast<const F*>(ctx))(i); }, const_cast<F*>(&f), n, 0);
}

// Rows [r0, r1) of `width` values each, in tasks of about 16K values; an
// input of one task stays on this thread.
template <class F>
void parallel_rows(pthreadpool_t pool, int64_t rows, int64_t width, const F& f) {
  const int64_t per = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width));
  const int64_t tasks = (rows + per - 1) / per;
  parallel_for(tasks > 1 ? pool : nullptr, size_t(tasks), [&](size_t t) {
    const int64_t r0 = int64_t(t) * per;
    f(r0, std::min(rows, r0 + per));
  });
}

// A fused activation XNNPACK cannot clamp itself, applied in parallel chunks.
inline void apply_act(const FusedActivation& act, float* y, size_t n, pthreadpool_t pool) {
  const size_t chunk = 16384, tasks = (n + chunk - 1) / chunk;
  parallel_for(pool, tasks, [&](size_t t) { act.apply(y + t * chunk, std::min(chunk, n - t * chunk)); });
}

}  // namespace ef
