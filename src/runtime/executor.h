// Session internals, shared with runtime extensions (delta execution,
// quantization, analysis) that need per-step access to kernels and buffers.
#pragma once
#include <pthreadpool.h>

#include <memory>
#include <vector>

#include "edgeflow/session.h"
#include "runtime/kernel.h"
#include "runtime/memory_planner.h"

namespace ef {

struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};

struct Session::Impl {
  Graph g;  // optimized; g.nodes[i] is step i
  CompileOptions opts;
  OptimizeReport report;
  std::unique_ptr<pthreadpool, PoolDeleter> pool;
  std::vector<std::unique_ptr<Kernel>> kernels;  // one per step; kernels may keep state across runs
  std::vector<void*> ptr;                        // data pointer per value id
  MemoryPlan plan;
  Tensor arena;
  std::vector<Tensor> inputs, outputs;  // views into the arena
  std::vector<double> prof_ms;
  std::vector<int> prof_runs;

  void compile();  // plan memory, create and set up kernels
  void run_range(size_t begin, size_t end);
};

}  // namespace ef
