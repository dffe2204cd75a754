// Temporal delta execution of a whole compiled graph (see delta_op.h): one
// DeltaOp per step, persistent activations, changed regions propagated from
// the inputs through every op, gates on convolution inputs and on global
// values. Built by the session next to its plain kernels, which it reuses
// (no second copy of their weights) for the steps it runs densely.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "runtime/delta/delta_op.h"

namespace ef {

struct DeltaStepInfo {
  int64_t dense_macs = 0, last_macs = 0;
  double last_changed = 0;  // fraction of the output rewritten in the last frame
  double last_in_raw = 0;   // fraction of input 0 its producer rewrote in the last frame (-1: a forced full frame)
  double last_in_pub = 0;   // fraction of input 0 published to this op (after its gate)
  bool last_global = false;  // a changed global (broadcast) operand made the whole output change
  bool last_dense = false;  // recomputed everything in the last frame
  bool sparse = false;      // false: runs densely whenever an input changed
  size_t state_bytes = 0;   // bytes kept between frames for this step (activations, gate copies, op state)
  double last_ms = 0;       // wall-clock of the last frame (when profiling)
  double breakeven = 2;     // convolutions: measured changed fraction above which dense is faster (> 1: not known)
};

class DeltaProgram {
 public:
  // kernels[i] / ptr[v]: the session's plain kernel of step i and buffer of value v.
  DeltaProgram(const Graph& g, const CompileOptions& opts, pthreadpool_t pool,
               const std::vector<std::unique_ptr<Kernel>>& kernels, const std::vector<void*>& ptr);
  ~DeltaProgram();
  void run(bool profile = false);  // one frame: inputs read from, outputs written to the session's buffers
  void reset();  // the next frame recomputes everything
  const std::vector<DeltaStepInfo>& steps() const { return info_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  void gate(DValue& v, bool force);
  const Graph& g_;
  DeltaOptions opts_;
  std::vector<std::unique_ptr<DValue>> values_;  // by value id (nullptr: constant/unused)
  std::vector<std::unique_ptr<DeltaOp>> ops_;
  std::vector<DeltaStepInfo> info_;
  std::vector<std::string> notes_;
  std::vector<float> tile_ss_;
  std::vector<uint8_t> tile_hit_;
  std::vector<int32_t> touched_, tile_of_;
  std::vector<void*> out_ptr_;
  bool first_ = true;
  int64_t frame_ = 0;
};

}  // namespace ef
