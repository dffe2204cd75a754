// edgeflow's pthreadpool implementation (src/runtime/thread_pool.cc): every
// item of every parallelize variant runs exactly once, with the right tile
// starts and sizes (ranges that tiles do not divide), with no pool, on 1-3 threads and in
// many back-to-back calls (the case where a late worker could pick up a
// stale call); and the calls resolve to edgeflow's pool, not libpthreadpool.
#include <gtest/gtest.h>
#include <pthreadpool.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <memory>
#include <vector>

namespace {

// Counts visits per cell of a (up to 6-D) index space.
struct Cells {
  std::vector<size_t> r;
  std::vector<std::atomic<int>> hits;
  explicit Cells(std::vector<size_t> ranges) : r(std::move(ranges)), hits(count()) {}
  size_t count() const {
    size_t n = 1;
    for (size_t x : r) n *= x;
    return n;
  }
  // Visit the tile [start, start+size) of every dimension.
  void visit(const size_t* start, const size_t* size) {
    std::vector<size_t> idx(r.size());
    std::function<void(size_t, size_t)> rec = [&](size_t d, size_t flat) {
      if (d == r.size()) {
        hits[flat].fetch_add(1);
        return;
      }
      for (size_t k = start[d]; k < start[d] + size[d]; ++k) rec(d + 1, flat * r[d] + k);
    };
    rec(0, 0);
  }
  bool each_once() const {
    for (auto& h : hits)
      if (h.load() != 1) return false;
    return true;
  }
};

struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};

TEST(ThreadPool, EveryVariantVisitsEachItemOnce) {
  for (size_t threads : {0, 1, 2, 3}) {  // 0: no pool (a NULL pthreadpool_t runs on the caller)
    std::unique_ptr<pthreadpool, PoolDeleter> pool(threads ? pthreadpool_create(threads) : nullptr);
    ASSERT_EQ(pthreadpool_get_threads_count(pool.get()), std::max<size_t>(threads, 1));
    pthreadpool_t p = pool.get();
    SCOPED_TRACE("threads " + std::to_string(threads));
    {
      Cells c({37});
      pthreadpool_parallelize_1d(
          p, [](void* x, size_t i) { size_t s[] = {i}, z[] = {1}; static_cast<Cells*>(x)->visit(s, z); }, &c, 37, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({37});
      pthreadpool_parallelize_1d_tile_1d(
          p, [](void* x, size_t i, size_t n) { size_t s[] = {i}, z[] = {n}; static_cast<Cells*>(x)->visit(s, z); }, &c,
          37, 5, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({7, 11});
      pthreadpool_parallelize_2d_tile_2d(
          p,
          [](void* x, size_t i, size_t j, size_t ni, size_t nj) {
            size_t s[] = {i, j}, z[] = {ni, nj};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 7, 11, 3, 4, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({3, 5, 9});
      pthreadpool_parallelize_3d_tile_2d(
          p,
          [](void* x, size_t i, size_t j, size_t k, size_t nj, size_t nk) {
            size_t s[] = {i, j, k}, z[] = {1, nj, nk};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 3, 5, 9, 2, 4, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({2, 3, 5, 7});
      pthreadpool_parallelize_4d_tile_2d(
          p,
          [](void* x, size_t i, size_t j, size_t k, size_t l, size_t nk, size_t nl) {
            size_t s[] = {i, j, k, l}, z[] = {1, 1, nk, nl};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 2, 3, 5, 7, 2, 3, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({2, 2, 3, 5, 7});
      pthreadpool_parallelize_5d_tile_2d(
          p,
          [](void* x, size_t i, size_t j, size_t k, size_t l, size_t m, size_t nl, size_t nm) {
            size_t s[] = {i, j, k, l, m}, z[] = {1, 1, 1, nl, nm};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 2, 2, 3, 5, 7, 4, 2, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({2, 1, 2, 3, 5, 7});
      pthreadpool_parallelize_6d_tile_2d(
          p,
          [](void* x, size_t i, size_t j, size_t k, size_t l, size_t m, size_t n, size_t nm, size_t nn) {
            size_t s[] = {i, j, k, l, m, n}, z[] = {1, 1, 1, 1, nm, nn};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 2, 1, 2, 3, 5, 7, 3, 3, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({4, 6});
      pthreadpool_parallelize_2d(
          p, [](void* x, size_t i, size_t j) { size_t s[] = {i, j}, z[] = {1, 1}; static_cast<Cells*>(x)->visit(s, z); },
          &c, 4, 6, 0);
      EXPECT_TRUE(c.each_once());
    }
    {
      Cells c({3, 4, 5});
      pthreadpool_parallelize_3d(
          p,
          [](void* x, size_t i, size_t j, size_t k) {
            size_t s[] = {i, j, k}, z[] = {1, 1, 1};
            static_cast<Cells*>(x)->visit(s, z);
          },
          &c, 3, 4, 5, 0);
      EXPECT_TRUE(c.each_once());
    }
  }
}

TEST(ThreadPool, BackToBackCallsNeverMixJobs) {
  std::unique_ptr<pthreadpool, PoolDeleter> pool(pthreadpool_create(2));
  struct Job {
    std::atomic<long> sum{0};
    long add;
  };
  for (int call = 0; call < 20000; ++call) {
    Job j;
    j.add = call;
    const size_t n = 1 + call % 5;  // tiny calls: workers often arrive after the caller finished
    pthreadpool_parallelize_1d(
        pool.get(), [](void* x, size_t i) { static_cast<Job*>(x)->sum.fetch_add(static_cast<Job*>(x)->add + long(i)); },
        &j, n, 0);
    ASSERT_EQ(j.sum.load(), long(n) * call + long(n * (n - 1) / 2)) << "call " << call;
  }
}

TEST(ThreadPool, XnnpackAndEdgeflowShareOnePoolImplementation) {
  // The symbol the process resolves is edgeflow's, not libpthreadpool's.
  Dl_info info{};
  void* resolved = dlsym(RTLD_DEFAULT, "pthreadpool_parallelize_2d_tile_2d");
  ASSERT_NE(resolved, nullptr);
  ASSERT_NE(dladdr(resolved, &info), 0);
  EXPECT_NE(std::string(info.dli_fname).find("libedgeflow"), std::string::npos) << info.dli_fname;
}

}  // namespace
