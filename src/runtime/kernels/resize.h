// Resize index/weight tables, shared with sparse (delta) execution.
#pragma once
#include <vector>

#include "runtime/kernel.h"

namespace ef {

// Per output row (and column): the two source indices and the weight of the
// second (nearest: both the same, weight 0). Throws like the Resize kernel on
// unsupported configurations.
struct ResizeTables {
  int64_t ih = 1, iw = 1, oh = 1, ow = 1, c = 1;
  std::vector<int64_t> y0, y1, x0, x1;
  std::vector<float> wy, wx;
};
ResizeTables resize_tables(const KernelContext& c);

}  // namespace ef
