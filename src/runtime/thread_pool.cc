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
// Items are split into one contiguous range per thread, as pthreadpool
// does: each thread takes items from the front of its own range (its own
// cache line: no bouncing between cores) and, when that is empty, steals
// from the back of the others'. A range is one 16-byte word (generation,
// next, end) changed only by a 16-byte compare-and-swap, so a late worker
// holding a stale job description can never claim an item of a later call.
// Each thread adds the items it ran to the done count once, when it finds
// nothing left. (History: one shared counter claimed item by item made
// mobilenet_v2 at 2 threads 5.0 ms against pthreadpool's 3.2 on an idle
// machine; shrinking chunks from one shared word: 3.5.)
#include <pthreadpool.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// One thread's range of the current call: hi = generation, lo = next << 32 | end.
struct alignas(64) Range {
  unsigned __int128 word = 0;

  struct Value {
    uint64_t gen;
    uint32_t next, end;
  };
  static unsigned __int128 pack(Value v) {
    return (unsigned __int128)v.gen << 64 | (uint64_t(v.next) << 32 | v.end);
  }
  // May read a torn value: the compare-and-swap that follows checks it.
  Value load() const {
    const auto* h = reinterpret_cast<const uint64_t*>(&word);
    const uint64_t gen = __atomic_load_n(h + 1, __ATOMIC_ACQUIRE), lo = __atomic_load_n(h, __ATOMIC_ACQUIRE);
    return {gen, uint32_t(lo >> 32), uint32_t(lo)};
  }
  __attribute__((target("cx16"))) bool cas(Value from, Value to) {
    return __sync_bool_compare_and_swap(&word, pack(from), pack(to));
  }
  // The caller opens a call: the generation first, so no torn value pairs a
  // new range with an old generation (x86 keeps the two stores in order).
  void open(uint64_t gen, uint32_t next, uint32_t end) {
    auto* h = reinterpret_cast<uint64_t*>(&word);
    __atomic_store_n(h + 1, gen, __ATOMIC_RELEASE);
    __atomic_store_n(h, uint64_t(next) << 32 | end, __ATOMIC_RELEASE);
  }
};

}  // namespace

struct pthreadpool {
  explicit pthreadpool(size_t threads);
  ~pthreadpool();

  template <class F>
  void run(size_t n, const F& f) {
    if (workers.empty() || n <= 1 || n > UINT32_MAX) {
      for (size_t i = 0; i < n; ++i) f(i);
      return;
    }
    std::lock_guard<std::mutex> lock(calls);  // one call at a time, as pthreadpool
    call.store([](const void* d, size_t i) { (*static_cast<const F*>(d))(i); }, std::memory_order_relaxed);
    data.store(&f, std::memory_order_relaxed);
    publish(n);
    work(0, generation);
    // Wait for items other threads claimed (spin briefly, then yield the core).
    for (int spins = 0; done.load(std::memory_order_acquire) != n; ++spins)
      if (spins < 2000) _mm_pause();
      else std::this_thread::yield();
  }

  size_t threads() const { return workers.size() + 1; }

 private:
  void publish(size_t n);
  void work(size_t self, uint64_t g);  // run items of call g: own range, then steal
  void worker_loop(size_t self);

  std::vector<std::thread> workers;
  std::unique_ptr<Range[]> ranges;
  uint32_t generation = 0;  // the caller's (under `calls`); 32 bits: a futex word to sleep on
  alignas(64) std::atomic<uint32_t> gen{0};  // published generation (workers spin on it, sleep on it)
  std::atomic<void (*)(const void*, size_t)> call{nullptr};
  std::atomic<const void*> data{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<int> sleepers{0};  // workers in gen.wait()
  alignas(64) std::atomic<size_t> done{0};
  std::mutex calls;
};

pthreadpool::pthreadpool(size_t threads) : ranges(new Range[threads]) {
  for (size_t t = 1; t < threads; ++t) workers.emplace_back([this, t] { worker_loop(t); });
}

pthreadpool::~pthreadpool() {
  stop.store(true);
  gen.fetch_add(1);
  gen.notify_all();
  for (auto& w : workers) w.join();
}

void pthreadpool::publish(size_t n) {
  // The previous call's items are all done, so every range is empty: a late
  // worker of that call claims nothing, and its generation matches no range
  // opened from here on.
  const uint32_t g = ++generation;
  done.store(0, std::memory_order_relaxed);
  const size_t T = threads();
  for (size_t t = 0; t < T; ++t) ranges[t].open(g, uint32_t(n * t / T), uint32_t(n * (t + 1) / T));
  gen.store(g, std::memory_order_seq_cst);
  // Wake sleepers only if there are any: most calls find the workers still
  // spinning, and a futex wake per call costs a system call each.
  if (sleepers.load(std::memory_order_seq_cst) > 0) gen.notify_all();
}

void pthreadpool::work(size_t self, uint64_t g) {
  const auto fn = call.load(std::memory_order_relaxed);
  const void* d = data.load(std::memory_order_relaxed);
  size_t ran = 0;
  const size_t T = threads();
  for (size_t k = 0; k < T; ++k) {
    Range& r = ranges[(self + k) % T];
    for (;;) {
      Range::Value v = r.load();
      if (v.gen != g || v.next >= v.end) break;
      // Own range from the front, others' from the back (where their owner is not).
      const bool own = k == 0;
      const uint32_t item = own ? v.next : v.end - 1;
      if (!r.cas(v, own ? Range::Value{g, v.next + 1, v.end} : Range::Value{g, v.next, v.end - 1})) continue;
      fn(d, item);
      ++ran;
    }
  }
  if (ran) done.fetch_add(ran, std::memory_order_release);
}

void pthreadpool::worker_loop(size_t self) {
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
    if (!stop.load(std::memory_order_acquire)) work(self, g);
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
  // Every item in order, counting like an odometer (no division per item:
  // the one-thread path of XNNPACK's many small per-row calls).
  template <class F>
  void each(const F& body) const {
    if (total == 0) return;
    size_t start[D] = {}, size[D];
    for (size_t d = 0; d < D; ++d) size[d] = std::min(tile[d], range[d]);
    for (size_t n = 0; n < total; ++n) {
      body(start, size);
      for (size_t d = D; d-- > 0;) {
        start[d] += tile[d];
        if (start[d] < range[d]) {
          size[d] = std::min(tile[d], range[d] - start[d]);
          break;
        }
        start[d] = 0;
        size[d] = std::min(tile[d], range[d]);
      }
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
  if (pool && pool->threads() > 1 && g.total > 1) pool->run(g.total, item);
  else g.each(body);
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
