#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace ef {

MemoryPlan plan_memory(const std::vector<BufferRequest>& req) {
  constexpr size_t kAlign = 64;
  MemoryPlan plan;
  plan.offsets.assign(req.size(), 0);
  std::vector<size_t> order(req.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return req[a].bytes > req[b].bytes; });
  struct Placed {
    size_t off, end;
    int first, last;
  };
  std::vector<Placed> placed;
  for (size_t idx : order) {
    const auto& r = req[idx];
    size_t bytes = (r.bytes + kAlign - 1) / kAlign * kAlign + kAlign;  // + tail padding for SIMD over-reads
    plan.naive_bytes += bytes;
    std::vector<std::pair<size_t, size_t>> busy;
    for (const auto& p : placed)
      if (p.first <= r.last && r.first <= p.last) busy.push_back({p.off, p.end});
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (auto [b, e] : busy) {
      if (off + bytes <= b) break;
      off = std::max(off, e);
    }
    plan.offsets[idx] = off;
    placed.push_back({off, off + bytes, r.first, r.last});
    plan.arena_bytes = std::max(plan.arena_bytes, off + bytes);
  }
  return plan;
}

}  // namespace ef
