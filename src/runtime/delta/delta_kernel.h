// Temporal delta execution: kernels that keep per-layer state across frames.
//
// conv(x_t) = conv(x_prev) + conv(x_t - x_prev): a DeltaConv keeps the input
// it last integrated (x_prev) and its pre-activation output (y_acc); each
// frame it gates the residual per tile, convolves only the significant tiles
// (gathered with their halo into an im2col block and multiplied with packed
// weights by XNNPACK's GEMM, or a direct depthwise loop) and scatter-adds the
// result into y_acc. x_prev is updated only where the residual was
// integrated, so small changes accumulate instead of drifting away.
#pragma once
#include <memory>

#include "runtime/kernel.h"

namespace ef {

class DeltaKernel : public Kernel {
 public:
  virtual void reset() = 0;                 // next run is dense
  virtual int64_t dense_macs() const = 0;   // MACs of one dense run
  virtual int64_t last_macs() const = 0;    // MACs of the last run
  virtual double last_changed() const = 0;  // changed fraction of the last run (1 when dense)
  virtual bool last_dense() const = 0;
  virtual size_t state_bytes() const = 0;
};

// A delta version of a Conv node (NHWC, float32, constant weights, batch 1,
// groups 1 or depthwise), or nullptr when the node is not supported (it then
// runs densely).
std::unique_ptr<DeltaKernel> make_delta_conv(const KernelContext& ctx, const DeltaOptions& opts);
bool delta_conv_supported(const KernelContext& ctx);
// The output buffer of a delta kernel must keep its contents between frames
// (the memory planner gives it bytes of its own): only changed pixels are
// rewritten.

}  // namespace ef
