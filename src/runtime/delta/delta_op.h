// Temporal delta execution: the per-op interface.
//
// Every activation on the delta path keeps its bytes between frames. Each
// frame an op recomputes only the output pixels its changed inputs reach
// (through its receptive field) and marks them in its output's region; ops
// whose inputs did not change do not run at all. Gates (see delta_program.cc)
// sit on the inputs of convolutions and on small global values (pooled
// channel scales): they publish a change to the consumers only where it is
// significant and keep the integrated value otherwise, so sub-threshold
// changes accumulate until they count instead of drifting.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "runtime/delta/region.h"
#include "runtime/kernel.h"

namespace ef {

// One activation as the delta program sees it (f32).
struct DValue {
  int id = -1;
  int64_t h = 1, w = 1, c = 1;  // pixels (h x w) of c floats; non-spatial: one pixel
  float* buf = nullptr;  // where the producer writes
  float* pub = nullptr;  // what consumers read (== buf unless gated)
  float* arena = nullptr;  // the session's buffer of this value (plain kernels read/write here)
  size_t nbytes = 0;
  bool graph_input = false;
  bool frame_like = false;  // the frame itself, or the frame padded / rearranged (its gate uses the input threshold)
  enum Gate { none, tile, global } gate = none;
  float wnorm = 0;        // tile gate: largest per-output-channel weight norm of the consuming convolutions
  float thr = -1;         // tile gate: per-layer threshold (smallest over its convolutions); < 0: the global one
  Region raw;             // pixels the producer rewrote this frame
  Region pubr;            // pixels published this frame (gated values)
  std::vector<float> own, own_pub;
  const Region& changed() const { return gate == none ? raw : pubr; }
  int64_t numel() const { return h * w * c; }
};

// What an op is built from.
struct DeltaOpCtx {
  const KernelContext& kc;
  const DeltaOptions& opts;
  std::vector<DValue*> in, out;  // nullptr: constant or omitted input
  Kernel* plain = nullptr;       // the session's kernel of this node (dense path, shared weights)
};

class DeltaOp {
 public:
  explicit DeltaOp(const DeltaOpCtx& c) : in_(c.in), out_(c.out), plain_(c.plain), opts_(c.opts) {}
  virtual ~DeltaOp() = default;
  // Recompute what the changed inputs reach (everything when `all`), mark
  // and finalize the outputs' raw regions. Returns the MACs executed.
  virtual int64_t run(bool all) = 0;
  virtual bool sparse() const { return true; }  // false: runs densely whenever an input changed
  virtual size_t state_bytes() const { return 0; }
  virtual float weight_norm() const { return 0; }  // convolutions: for the gate of their input
  // Convolutions: the changed fraction of the output above which their dense
  // kernel was measured faster than their sparse path (> 1: never or not known yet).
  virtual double breakeven() const { return 2.0; }
  bool last_dense() const { return last_dense_; }
  bool last_global() const { return last_global_; }

 protected:
  // The session's plain kernel on whole tensors: copy the inputs to its
  // buffers, run, copy the outputs back; `mark`: mark every output pixel
  // (else the caller has marked the pixels that can have changed).
  void run_plain(bool mark);
  // Mark (and finalize) the output pixels that the changed pixels of input 0
  // reach: all when `all`, else rect(y, x, region) marks them per pixel.
  template <class F> Region& mark_reached(bool all, F&& rect) {
    const Region& rin = in_[0]->changed();
    Region& r = out_[0]->raw;
    if (all || rin.all()) r.mark_all();
    else
      for (int32_t p : rin.list()) rect(p / rin.w(), p % rin.w(), r);
    r.finalize();
    return r;
  }
  std::vector<DValue*> in_, out_;
  Kernel* plain_;
  const DeltaOptions& opts_;
  bool last_dense_ = false;
  bool last_global_ = false;  // the whole output changed because a broadcast (1x1) operand changed
};

// Factories: nullptr when the node is not supported by that sparse op.
std::unique_ptr<DeltaOp> make_delta_conv(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_binary(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_resize(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_conv_transpose(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_global_pool(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_window_pool(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_pointwise(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_pad(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_depth_space(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_concat(const DeltaOpCtx& c);
std::unique_ptr<DeltaOp> make_delta_dense(const DeltaOpCtx& c);  // any node

}  // namespace ef
