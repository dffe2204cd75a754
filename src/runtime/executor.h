// Session internals, shared with runtime extensions (delta execution,
// quantization, analysis) that need per-step access to kernels and buffers.
#pragma once
#include <pthreadpool.h>

#include <map>
#include <memory>
#include <vector>

#include "edgeflow/session.h"
#include "runtime/kernel.h"
#include "runtime/delta/delta_program.h"
#include "runtime/memory_planner.h"

namespace ef {

// Sets the shapes of graph inputs by name (throws on an unknown name or a
// conflicting rank/dimension); remaining dynamic dimensions become 1.
void bind_input_shapes(Graph& g, const std::map<std::string, Shape>& shapes);

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

  // Delta execution: the program (its own persistent activations, the plain
  // kernels reused for dense steps), statistics, the last inputs for
  // frame-level skipping, and the auto-fallback state (plain frames left,
  // delta frames since the last (re)start).
  std::unique_ptr<DeltaProgram> dprog;
  DeltaStats dstats;
  std::vector<Tensor> last_inputs;
  bool have_last_inputs = false;
  int dense_window = 0;
  int delta_run_frames = 0;

  void setup_delta();
  void run_all();  // run every step (with frame skipping in delta mode)

  void compile();  // plan memory, create and set up kernels
  void run_range(size_t begin, size_t end);
};

}  // namespace ef
