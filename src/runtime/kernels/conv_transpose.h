// ConvTranspose geometry shared by the float kernels (conv_transpose.cc), the
// direct kernel for kernel == stride (conv_transpose_direct.cc) and the pass
// that lets that kernel read int8 input (fuse_dequantize_conv_transpose.cc).
#pragma once
#include <cstdint>

#include "edgeflow/graph.h"

namespace ef {

struct DeconvGeom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0, adj_h = 0, adj_w = 0;
  int64_t group = 1;
};

// NHWC input x, IOHW weights w, NHWC output y (1-D as H = 1) of node n, whose
// pads and output_padding shape inference has made explicit.
DeconvGeom deconv_geom(const Node& n, const Shape& x, const Shape& w, const Shape& y);

// Kernel size equal to the stride, one group, no dilation or output
// adjustment, non-negative pads: every output pixel takes exactly one input
// pixel, and ConvTranspose is a small GEMM per input pixel scattered to a
// KH x KW block.
bool deconv_is_blockwise(const DeconvGeom& g);

// The direct kernel (conv_transpose_direct.cc) can run NHWC ConvTranspose
// node n of graph g (blockwise, at most 16 outputs per input pixel, constant
// float weights and bias, AVX-512), with a float32 input or an int8 one whose
// per-tensor scale and zero point are inputs 3 and 4.
bool deconv_direct_fits(const Graph& g, const Node& n);

}  // namespace ef
