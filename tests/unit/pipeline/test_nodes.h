// Node types used only by the pipeline tests: a collector sink, a slow
// pass-through, a node that fails at a given frame, a frame dropper and a
// two-input join that checks its inputs carry the same timestamp.
#pragma once
#include <mutex>
#include <thread>
#include <vector>

#include "edgeflow/pipeline.h"

namespace eftest {

struct Collected {
  std::mutex m;
  std::vector<int64_t> seqs, ts;
  void clear() {
    std::lock_guard<std::mutex> lk(m);
    seqs.clear();
    ts.clear();
  }
};
Collected& collected();

}  // namespace eftest
