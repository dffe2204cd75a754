// Static memory plan: every intermediate value gets an offset in one arena;
// values whose lifetimes do not overlap share bytes.
#pragma once
#include <cstddef>
#include <vector>

namespace ef {

struct BufferRequest {
  size_t bytes = 0;
  int first = 0;  // first step that writes or reads it
  int last = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;  // sum of all requests (no reuse)
};

// Greedy by size (largest first), lowest offset that does not collide with a
// placed buffer whose lifetime overlaps. Offsets are 64-byte aligned.
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace ef
