// Own float32 convolution as an implicit GEMM with AVX-512 (groups == 1,
// NHWC): weights packed once into 64-channel panels, an indirection buffer
// of input-row pointers (no im2col copy), a 6x64 (8x48, 8x32...)
// register-blocked microkernel, blocked over K so a weight block stays in L1 across pixel
// tiles, and each weight byte streamed once per pixel block. Threads split
// the output channels when the layer is weight-heavy (few pixels: XNNPACK's
// igemm re-streams all weights per row tile there), else the pixels.
#pragma once
#include <pthreadpool.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "edgeflow/graph.h"

namespace ef {

struct ConvGemmGeom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
};

class ConvGemmF32 {
 public:
  // The CPU runs the AVX-512F microkernels.
  static bool supported();
  // Few input channels: one indirection entry per kernel row (kw * cin
  // contiguous floats) instead of one per tap.
  static bool row_mode(int64_t cin, int64_t kw, int64_t dw);
  // w: OIHW [cout][cin][kh][kw]; bias may be null. Output clamped to [out_min, out_max].
  ConvGemmF32(const ConvGemmGeom& g, const float* w, const float* bias, float out_min, float out_max);
  ~ConvGemmF32();
  // Bind input/output (NHWC) and build the indirection buffer. threads: the
  // pool's thread count (the work is split into tasks here). residual (may
  // be null): a tensor of y's shape added in the epilogue before the clamp;
  // it must not overlap y.
  void setup(const float* x, float* y, size_t threads, const float* residual = nullptr);
  void run(pthreadpool_t pool);

  // One task: output pixels [m0, m1) x weight panels [j0, j1).
  struct Task {
    int64_t m0, m1, j0, j1;
  };

 private:
  void run_task(size_t t);
  void copy_padded(pthreadpool_t pool);
  struct KBlock {
    int64_t t0, t1, c0, len;  // segments [t0, t1), floats [c0, c0 + len) of each
  };
  ConvGemmGeom g_;
  int64_t k_ = 1, m_ = 1, panels_ = 1;
  // Indirection: segs_ entries per pixel of seg_len_ contiguous floats (a
  // tap's cin channels, or in row mode a kernel row's kw * cin).
  bool rows_ = false;
  int64_t segs_ = 1, seg_len_ = 1;
  std::vector<float> padded_;  // row mode: input rows with zero columns [pad_l_ | iw | ...] of pad_w_
  int64_t pad_l_ = 0, pad_w_ = 0;
  const float* x_ = nullptr;
  float min_, max_;
  float* packed_ = nullptr;  // [panel][tap][ci][width], width = 16 * panel_nv_[panel]
  std::vector<int64_t> panel_off_, panel_nv_;
  std::vector<float> bias_;  // padded to panels_ * 64
  std::vector<float> zeros_;
  std::vector<const float*> ind_;  // [pixel][segment]
  std::vector<KBlock> kblocks_;
  std::vector<Task> tasks_;
  bool stream_weights_ = false;  // weights too big to stay in L2: prefetch the next block
  float* y_ = nullptr;
  const float* res_ = nullptr;
};

// The Conv kernel registry runs node `n` (a Conv in graph `g`) on
// ConvGemmF32 once a residual input is fused into it (fuse_conv_add's
// question): NHWC, float32, constant weights and bias, group 1, a geometry
// where the GEMM is chosen (conv.cc, which holds the rules).
bool conv_runs_on_gemm(const Graph& g, const Node& n);

}  // namespace ef
