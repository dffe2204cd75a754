// edgeflow's own implementation of the pthreadpool C API (the ABI of
// Debian's libpthreadpool 2021 snapshot, /usr/include/pthreadpool.h). It is
// exported from libedgeflow, which the dynamic linker searches before
// libpthreadpool, so XNNPACK's operators and our own kernels both use it.
//
// Why: pthreadpool ends each parallel call with a barrier that every worker
// must reach, even a worker that was descheduled and has no work left. On a
// busy machine (a camera's CPU runs other things too) every op then waits
// for a scheduler time slice: mobilenet_v2 at 2 threads took 160-280 ms
// instead of 5 ms at load 15. Here a call is finished when its items are:
// the calling thread claims items like the workers do, a worker that wakes
// late finds nothing left and goes back to waiting, and nobody waits for it.
//
// Items are claimed in shrinking chunks with a CAS on a word holding
// (generation << 32 | next item), so a late worker can never claim an item
// of a later call with a stale job description. (Claiming one item at a time
// made mobilenet_v2 at 2 threads 5.0 ms against pthreadpool's 3.2 on an idle
// machine: the shared words bounced between the cores; chunks: 3.5.)
#include <pthreadpool.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

struct pthreadpool {
  explicit pthreadpool(size_t threads);
  ~pthreadpool();

  template <class F>
  void run(size_t n, const F& f) {
    if (workers.empty() || n <= 1 || n >= kClosed) {
      for (size_t i = 0; i < n; ++i) f(i);
      return;
    }
    std::lock_guard<std::mutex> lock(calls);  // one call at a time, as pthreadpool
    call.store([](const void* d, size_t i) { (*static_cast<const F*>(d))(i); }, std::memory_order_relaxed);
    data.store(&f, std::memory_order_relaxed);
    publish(n);
    work();
    // Wait for items other threads claimed (spin briefly, then yield the core).
    for (int spins = 0; done.load(std::memory_order_acquire) != n; ++spins)
      if (spins < 2000) _mm_pause();
      else std::this_thread::yield();
  }

  size_t threads() const { return workers.size() + 1; }

 private:
  static constexpr uint64_t kClosed = 0xffffffffu;  // an item index no call reaches
  void publish(size_t n);
  void work();  // claim and run items of the current call until none are left
  void worker_loop();

  std::vector<std::thread> workers;
  std::atomic<uint64_t> state{0};  // generation << 32 | next item
  std::atomic<uint32_t> gen{0};    // generation, for sleeping workers (atomic wait)
  std::atomic<size_t> items{0}, done{0};
  std::atomic<void (*)(const void*, size_t)> call{nullptr};
  std::atomic<const void*> data{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<int> sleepers{0};  // workers in gen.wait()
  std::mutex calls;
};

pthreadpool::pthreadpool(size_t threads) {
  state.store(kClosed);
  for (size_t t = 1; t < threads; ++t) workers.emplace_back([this] { worker_loop(); });
}

pthreadpool::~pthreadpool() {
  stop.store(true);
  gen.fetch_add(1);
  gen.notify_all();
  for (auto& w : workers) w.join();
}

void pthreadpool::publish(size_t n) {
  const uint64_t g = (state.load(std::memory_order_relaxed) >> 32) + 1;
  state.store(g << 32 | kClosed, std::memory_order_seq_cst);  // close: stale claims fail from here on
  items.store(n, std::memory_order_release);  // a worker seeing it also sees the closed state
  done.store(0, std::memory_order_relaxed);
  state.store(g << 32, std::memory_order_release);
  gen.store(uint32_t(g), std::memory_order_seq_cst);
  // Wake sleepers only if there are any: most calls find the workers still
  // spinning, and a futex wake per call costs a system call each.
  if (sleepers.load(std::memory_order_seq_cst) > 0) gen.notify_all();
}

void pthreadpool::work() {
  // Items are claimed in shrinking chunks (guided: 1/(2 x threads) of what is
  // left): one CAS and one done-count update per chunk instead of per item
  // keeps the two shared words from bouncing between cores on calls with
  // thousands of small items, and the small last chunks balance the end.
  const uint64_t split = threads() * 2;
  uint64_t s = state.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t idx = s & kClosed;
    if (idx >= items.load(std::memory_order_acquire)) return;
    const uint64_t n = items.load(std::memory_order_acquire);
    const uint64_t end = std::min<uint64_t>(idx + std::max<uint64_t>(1, (n - idx) / split), n);
    if (!state.compare_exchange_weak(s, (s & ~uint64_t(kClosed)) | end, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
      continue;
    // Claimed: the call cannot finish (and its job change) before these items are done.
    const auto fn = call.load(std::memory_order_relaxed);
    const void* d = data.load(std::memory_order_relaxed);
    for (uint64_t i = idx; i < end; ++i) fn(d, size_t(i));
    done.fetch_add(size_t(end - idx), std::memory_order_release);
    s = state.load(std::memory_order_acquire);
  }
}

void pthreadpool::worker_loop() {
  uint32_t seen = 0;
  while (!stop.load(std::memory_order_acquire)) {
    // Spin a little for the next call (consecutive ops follow closely), then sleep.
    uint32_t g = gen.load(std::memory_order_acquire);
    for (int spins = 0; g == seen && spins < 20000; ++spins) {
      _mm_pause();
      g = gen.load(std::memory_order_acquire);
    }
    if (g == seen) {
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      gen.wait(seen, std::memory_order_seq_cst);
      sleepers.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    seen = g;
    if (!stop.load(std::memory_order_acquire)) work();
  }
}

namespace {

// An index space of D dimensions, each split in tiles; item i -> tile starts and sizes.
template <size_t D>
struct Grid {
  size_t range[D], tile[D], count[D];
  size_t total = 1;
  Grid(const size_t (&r)[D], const size_t (&t)[D]) {
    for (size_t d = 0; d < D; ++d) {
      range[d] = r[d], tile[d] = std::max<size_t>(1, t[d]);
      count[d] = (range[d] + tile[d] - 1) / tile[d];
      total *= count[d];
    }
  }
  void at(size_t i, size_t* start, size_t* size) const {
    for (size_t d = D; d-- > 0;) {
      const size_t k = i % count[d];
      i /= count[d];
      start[d] = k * tile[d];
      size[d] = std::min(tile[d], range[d] - start[d]);
    }
  }
};

template <size_t D, class F>
void run_grid(pthreadpool_t pool, const size_t (&r)[D], const size_t (&t)[D], const F& body) {
  const Grid<D> g(r, t);
  auto item = [&](size_t i) {
    size_t s[D], z[D];
    g.at(i, s, z);
    body(s, z);
  };
  if (pool) pool->run(g.total, item);
  else
    for (size_t i = 0; i < g.total; ++i) item(i);
}

}  // namespace

extern "C" {

pthreadpool_t pthreadpool_create(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  return new pthreadpool(threads);
}

void pthreadpool_destroy(pthreadpool_t pool) { delete pool; }

size_t pthreadpool_get_threads_count(pthreadpool_t pool) { return pool ? pool->threads() : 1; }

void pthreadpool_parallelize_1d(pthreadpool_t p, pthreadpool_task_1d_t f, void* c, size_t r, uint32_t) {
  run_grid<1>(p, {r}, {1}, [&](const size_t* s, const size_t*) { f(c, s[0]); });
}

void pthreadpool_parallelize_1d_with_uarch(pthreadpool_t p, pthreadpool_task_1d_with_id_t f, void* c, uint32_t u,
                                           uint32_t, size_t r, uint32_t) {
  run_grid<1>(p, {r}, {1}, [&](const size_t* s, const size_t*) { f(c, u, s[0]); });
}

void pthreadpool_parallelize_1d_tile_1d(pthreadpool_t p, pthreadpool_task_1d_tile_1d_t f, void* c, size_t r,
                                        size_t t, uint32_t) {
  run_grid<1>(p, {r}, {t}, [&](const size_t* s, const size_t* z) { f(c, s[0], z[0]); });
}

void pthreadpool_parallelize_2d(pthreadpool_t p, pthreadpool_task_2d_t f, void* c, size_t ri, size_t rj, uint32_t) {
  run_grid<2>(p, {ri, rj}, {1, 1}, [&](const size_t* s, const size_t*) { f(c, s[0], s[1]); });
}

void pthreadpool_parallelize_2d_tile_1d(pthreadpool_t p, pthreadpool_task_2d_tile_1d_t f, void* c, size_t ri,
                                        size_t rj, size_t tj, uint32_t) {
  run_grid<2>(p, {ri, rj}, {1, tj}, [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], z[1]); });
}

void pthreadpool_parallelize_2d_tile_2d(pthreadpool_t p, pthreadpool_task_2d_tile_2d_t f, void* c, size_t ri,
                                        size_t rj, size_t ti, size_t tj, uint32_t) {
  run_grid<2>(p, {ri, rj}, {ti, tj}, [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], z[0], z[1]); });
}

void pthreadpool_parallelize_2d_tile_2d_with_uarch(pthreadpool_t p, pthreadpool_task_2d_tile_2d_with_id_t f, void* c,
                                                   uint32_t u, uint32_t, size_t ri, size_t rj, size_t ti, size_t tj,
                                                   uint32_t) {
  run_grid<2>(p, {ri, rj}, {ti, tj}, [&](const size_t* s, const size_t* z) { f(c, u, s[0], s[1], z[0], z[1]); });
}

void pthreadpool_parallelize_3d(pthreadpool_t p, pthreadpool_task_3d_t f, void* c, size_t ri, size_t rj, size_t rk,
                                uint32_t) {
  run_grid<3>(p, {ri, rj, rk}, {1, 1, 1}, [&](const size_t* s, const size_t*) { f(c, s[0], s[1], s[2]); });
}

void pthreadpool_parallelize_3d_tile_1d(pthreadpool_t p, pthreadpool_task_3d_tile_1d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t tk, uint32_t) {
  run_grid<3>(p, {ri, rj, rk}, {1, 1, tk}, [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], z[2]); });
}

void pthreadpool_parallelize_3d_tile_2d(pthreadpool_t p, pthreadpool_task_3d_tile_2d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t tj, size_t tk, uint32_t) {
  run_grid<3>(p, {ri, rj, rk}, {1, tj, tk},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], z[1], z[2]); });
}

void pthreadpool_parallelize_3d_tile_2d_with_uarch(pthreadpool_t p, pthreadpool_task_3d_tile_2d_with_id_t f, void* c,
                                                   uint32_t u, uint32_t, size_t ri, size_t rj, size_t rk, size_t tj,
                                                   size_t tk, uint32_t) {
  run_grid<3>(p, {ri, rj, rk}, {1, tj, tk},
              [&](const size_t* s, const size_t* z) { f(c, u, s[0], s[1], s[2], z[1], z[2]); });
}

void pthreadpool_parallelize_4d(pthreadpool_t p, pthreadpool_task_4d_t f, void* c, size_t ri, size_t rj, size_t rk,
                                size_t rl, uint32_t) {
  run_grid<4>(p, {ri, rj, rk, rl}, {1, 1, 1, 1},
              [&](const size_t* s, const size_t*) { f(c, s[0], s[1], s[2], s[3]); });
}

void pthreadpool_parallelize_4d_tile_1d(pthreadpool_t p, pthreadpool_task_4d_tile_1d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t tl, uint32_t) {
  run_grid<4>(p, {ri, rj, rk, rl}, {1, 1, 1, tl},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], z[3]); });
}

void pthreadpool_parallelize_4d_tile_2d(pthreadpool_t p, pthreadpool_task_4d_tile_2d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t tk, size_t tl, uint32_t) {
  run_grid<4>(p, {ri, rj, rk, rl}, {1, 1, tk, tl},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], z[2], z[3]); });
}

void pthreadpool_parallelize_4d_tile_2d_with_uarch(pthreadpool_t p, pthreadpool_task_4d_tile_2d_with_id_t f, void* c,
                                                   uint32_t u, uint32_t, size_t ri, size_t rj, size_t rk, size_t rl,
                                                   size_t tk, size_t tl, uint32_t) {
  run_grid<4>(p, {ri, rj, rk, rl}, {1, 1, tk, tl},
              [&](const size_t* s, const size_t* z) { f(c, u, s[0], s[1], s[2], s[3], z[2], z[3]); });
}

void pthreadpool_parallelize_5d(pthreadpool_t p, pthreadpool_task_5d_t f, void* c, size_t ri, size_t rj, size_t rk,
                                size_t rl, size_t rm, uint32_t) {
  run_grid<5>(p, {ri, rj, rk, rl, rm}, {1, 1, 1, 1, 1},
              [&](const size_t* s, const size_t*) { f(c, s[0], s[1], s[2], s[3], s[4]); });
}

void pthreadpool_parallelize_5d_tile_1d(pthreadpool_t p, pthreadpool_task_5d_tile_1d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t rm, size_t tm, uint32_t) {
  run_grid<5>(p, {ri, rj, rk, rl, rm}, {1, 1, 1, 1, tm},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], s[4], z[4]); });
}

void pthreadpool_parallelize_5d_tile_2d(pthreadpool_t p, pthreadpool_task_5d_tile_2d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t rm, size_t tl, size_t tm, uint32_t) {
  run_grid<5>(p, {ri, rj, rk, rl, rm}, {1, 1, 1, tl, tm},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], s[4], z[3], z[4]); });
}

void pthreadpool_parallelize_6d(pthreadpool_t p, pthreadpool_task_6d_t f, void* c, size_t ri, size_t rj, size_t rk,
                                size_t rl, size_t rm, size_t rn, uint32_t) {
  run_grid<6>(p, {ri, rj, rk, rl, rm, rn}, {1, 1, 1, 1, 1, 1},
              [&](const size_t* s, const size_t*) { f(c, s[0], s[1], s[2], s[3], s[4], s[5]); });
}

void pthreadpool_parallelize_6d_tile_1d(pthreadpool_t p, pthreadpool_task_6d_tile_1d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t rm, size_t rn, size_t tn, uint32_t) {
  run_grid<6>(p, {ri, rj, rk, rl, rm, rn}, {1, 1, 1, 1, 1, tn},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], s[4], s[5], z[5]); });
}

void pthreadpool_parallelize_6d_tile_2d(pthreadpool_t p, pthreadpool_task_6d_tile_2d_t f, void* c, size_t ri,
                                        size_t rj, size_t rk, size_t rl, size_t rm, size_t rn, size_t tm, size_t tn,
                                        uint32_t) {
  run_grid<6>(p, {ri, rj, rk, rl, rm, rn}, {1, 1, 1, 1, tm, tn},
              [&](const size_t* s, const size_t* z) { f(c, s[0], s[1], s[2], s[3], s[4], s[5], z[4], z[5]); });
}

}  // extern "C"
