// Graph passes, one a file. Each returns how many changes it made and may
// append human-readable lines to report.log.
#pragma once
#include "edgeflow/graph.h"
#include "edgeflow/session.h"

namespace ef {

// Identity, Dropout (inference), and no-op Reshape/Transpose/Cast removed;
// chains of Reshape/Flatten/Squeeze/Unsqueeze merged into one Reshape.
int remove_identity(Graph& g, OptimizeReport& report);
// BatchNormalization after Conv/ConvTranspose/Gemm folded into its weights.
int fold_batchnorm(Graph& g, OptimizeReport& report);
// x * HardSigmoid(x; 1/6, 0.5) (HardSwish before opset 14) -> HardSwish.
int fuse_hardswish(Graph& g, OptimizeReport& report);
// Relu, Clip/Relu6, HardSwish, Sigmoid, Tanh, LeakyRelu merged into the
// producing Conv/ConvTranspose/Gemm/MatMul/Add/... as attr "activation".
int fuse_activation(Graph& g, OptimizeReport& report);
// QDQ patterns (DequantizeLinear -> op -> QuantizeLinear) with an int8
// kernel fused into quantized operators (QLinearConv, QLinearMatMul,
// QLinearAdd, ...); DequantizeLinear of constants left over folded.
int fuse_qdq(Graph& g, OptimizeReport& report);
// fuse_qdq's last step on its own: DequantizeLinear nodes of constants
// become float32 constants (marked dead; the caller compacts).
int fold_const_dequantize(Graph& g, OptimizeReport& report);
// NCHW -> NHWC once at the graph edges: spatial ops get layout=NHWC, axis
// attributes are remapped, constants permuted; transposes only where an op
// needs the original order. Returns transposes inserted.
int to_nhwc(Graph& g, OptimizeReport& report);
// Add(y, Pad(x)) with zero padding on the last axis only -> AddChannelPad(y, x)
// (attr pad_before), unless the Pad's output is listed in `keep`. Run by the
// session after optimize() (not for delta execution, not for export).
int fuse_channel_pad_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// Zero Pad on H/W only -> NHWC Conv: the pads move into the Conv's pads
// (same conditions and caller as fuse_channel_pad_add).
int fuse_pad_conv(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// Add(Conv(x), r) [+ clamp activation] -> Conv with residual input 3 when
// the Conv runs on the own GEMM (same conditions and caller as
// fuse_channel_pad_add; not with --precision fp16).
int fuse_conv_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// DequantizeLinear(int8, per-tensor) -> ConvTranspose run by the direct
// kernel -> one ConvTranspose reading the int8 value (inputs 3, 4: scale and
// zero point). Run by the session after optimize() (not for delta execution,
// not for export).
int fuse_dequantize_conv_transpose(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// QLinearAdd(QLinearMul(a, b), r) -> QLinearMul with the residual r as
// inputs 8-12 (see fuse_qmul_add.cc); run by the session after optimize()
// (not for delta execution, not for export).
int fuse_qmul_add(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// QuantizeLinear(x float, per-tensor int8) -> QLinearConv (ungrouped, NHWC,
// VNNI CPU) reading it with the same scale and zero point: the conv reads x
// and quantizes it while copying its padded input (see
// fuse_quantize_conv.cc); run by the session after optimize() (not for
// delta execution, not for export).
int fuse_quantize_conv(Graph& g, OptimizeReport& report, const std::vector<std::string>& keep);
// Nodes whose outputs are not used by anything reaching a graph output.
int eliminate_dead(Graph& g, OptimizeReport& report);

// --precision fp16: constant weights of NHWC Conv (group 1), Gemm and
// MatMul converted to float16 (see weights_to_fp16.cc). Returns layers converted.
int weights_to_fp16(Graph& g, OptimizeReport& report);
// The node's weights (input 1) can be float16 with the f16-weight kernels.
bool fp16_weight_eligible(const Graph& g, const Node& n);
// Float16 constants that stand for float32 ones (LoadOptions::keep_float16)
// widened to float32 for their float32 consumers, except (keep_fp16_weights)
// the weights of fp16_weight_eligible layers (see widen_float16.cc).
int widen_float16_weights(Graph& g, bool keep_fp16_weights, OptimizeReport& report);

// The whole pipeline: shape inference with constant folding, then the passes
// above (the fold/fuse ones only when `full`; to_nhwc unless `layout` is
// false, which keeps ONNX's NCHW for exporting), then shapes again.
void optimize(Graph& g, const ConstEvaluator& eval, OptimizeReport& report, bool full, bool layout = true);

}  // namespace ef
