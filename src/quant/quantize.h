// Post-training static INT8 quantization to a standard QDQ ONNX graph.
//
//   Graph g = quant::prepare(model, shapes);        // fold BN, fuse activations (float)
//   quant::Plan plan = quant::plan(g, options);      // which layers, which tensors
//   auto cal = quant::calibrate(g, plan, n, fill, options);  // run float frames, collect ranges
//   auto c = quant::correct(g, plan, cal.stats, options, n, fill);  // optional refit (--correct)
//   Graph q = quant::build_qdq(c.graph, plan, cal.stats, options);
//   export_onnx(q, "model.int8.onnx");
//
// The scheme is the one ONNX Runtime's quantize_static writes (QDQ, S8S8):
//   * weights: int8, symmetric (zero point 0), per output channel (Conv OIHW
//     axis 0, ConvTranspose IOHW axis 1, Gemm/MatMul the output column), or
//     per tensor; behind a DequantizeLinear;
//   * biases: int32 with scale s_x * s_w[c] and zero point 0, behind a
//     DequantizeLinear (axis 0);
//   * activations: int8, asymmetric, per tensor: QuantizeLinear ->
//     DequantizeLinear on every input and output of a quantized layer (after
//     its fused activation: Conv -> Relu -> Q -> DQ), shared by all
//     consumers. Graph inputs are quantized where a quantized layer reads
//     them; graph outputs stay float, as do values that reach them only
//     through data movement (Reshape, Concat, ...).
// Quantized layers: Conv, ConvTranspose, Gemm and MatMul with constant float
// weights, and Add, Mul, Concat, GlobalAveragePool, AveragePool, MaxPool of
// activations. Everything else runs in float on dequantized values and is
// reported.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "edgeflow/session.h"
#include "quant/calibration.h"

namespace ef::quant {

// Sequential correction of the weighted layers after calibration (correct.cc).
enum class Correct { none, bias, weights };
Correct parse_correct(const std::string& s);  // throws ef::Error naming the value
const char* correct_name(Correct c);

struct Options {
  Method method = Method::minmax;
  double percentile = 99.99;
  bool per_channel = true;
  // Layers (node names) to keep in float; "first" is the first weighted
  // layer, "last" every weighted layer no other weighted layer follows.
  std::vector<std::string> keep_float;
  int bins = 2048;
  bool equalize = true;  // cross-layer equalization of Conv -> Conv pairs (equalize.cc)
  Correct correct = Correct::none;
  double ridge = 1e-3;  // Correct::weights: ridge, relative to the inputs' mean energy
};

// The float graph quantization works on: input shapes bound (dynamic
// dimensions from `shapes`, else 1), constants folded, no-ops removed,
// BatchNorm folded and activations fused; layout as imported (ONNX: NCHW,
// TFLite: NHWC). Throws ef::Error if the model is already quantized.
Graph prepare(const Model& model, const std::map<std::string, Shape>& shapes = {});
// Throws ef::Error naming the file and a quantized tensor or node if the
// graph is already quantized (QDQ/QOperator ONNX, int8 TFLite).
void check_float(const Graph& g);

struct KeptFloat {
  std::string name, op, reason;
};
struct Plan {
  std::vector<int> layers;            // node ids quantized (weighted layers and activation ops), topological order
  std::vector<int> tensors;           // activation value ids that get QuantizeLinear -> DequantizeLinear
  std::vector<KeptFloat> kept_float;  // weighted layers left in float, with the reason
  std::map<std::string, int> float_ops;  // other ops without an int8 form here, by op type
  std::map<std::string, int> int8_moves; // data movement between quantized tensors (runs on int8), by op type
};
// Ops that only move or select values (MaxPool, zero Pad, Reshape, ...), and
// linear/nearest Resize (its output stays within the input's range): their
// output gets the input's quantization parameters.
bool shares_input_params(const Graph& g, const Node& n);
// Throws ef::Error on an unknown --keep-float name (listing the layers).
Plan plan(const Graph& g, const Options& o);
bool is_weighted(const std::string& op);

// Cross-layer equalization: Conv L1 -> (relu) -> Conv L2 pairs (both
// quantized, L1's output read by L2 alone) and the rescaling of one pair
// given the calibrated max|y_c| of L1's output; returns s (y_c becomes y_c / s_c).
struct EqualizePair {
  int l1 = -1, l2 = -1, value = -1;
};
std::vector<EqualizePair> equalize_candidates(const Graph& g, const Plan& p);
std::vector<float> equalize_pair(Graph& g, const EqualizePair& e, const std::vector<float>& absmax);

// Calibration: runs the float graph on `frames` frames; fill(i, session)
// writes frame i into session.input(...). Pass 1 collects min/max (and, for
// equalization, per-channel ranges; g's weights are then equalized and the
// stats rescaled); pass 2 (histograms) runs only for percentile/mse.
// progress(done, total) is called after every frame.
using FillFn = std::function<void(size_t frame, Session& s)>;
using ProgressFn = std::function<void(size_t done, size_t total)>;
struct Calibration {
  std::map<int, TensorStats> stats;  // by value id of g
  int equalized = 0;                 // Conv pairs equalized
};
Calibration calibrate(Graph& g, const Plan& p, size_t frames, const FillFn& fill, const Options& o,
                      int threads = 1, const ProgressFn& progress = {});

// Sequential correction of the quantized Conv layers (correct.cc), depth by
// depth: layer k's float weights and bias are refitted so that, on the
// calibration frames, its output from its quantized input (every layer
// before it already quantized and corrected) matches the float model's
// output from its float input:
//   bias     b_k += E[y_float] - E[y_quantized] per output channel
//            (the layers before k are corrected first, so nothing compounds);
//   weights  least squares per output channel, min ||W' x_q + b' - (W x + b)||^2
//            over the input patches (ridge-regularised towards W), then W'
//            rounded to int8 and b' refitted to the rounded W' as above;
//            layers with fewer than 32 patches per weight (squeeze-excitation
//            convs: one per frame) get the bias only.
// Patches whose float input leaves the input's int8 range (clipped) are left
// out; layers whose output stays float (heads feeding graph outputs) are not
// corrected: mean and squared error of raw logits are not what the outputs'
// users measure. Returns the corrected copy of g (same node and value ids;
// the float reference is g itself). One pass over the frames per depth.
struct Corrected {
  Graph graph;
  int layers = 0;  // Conv layers corrected
  int levels = 0;  // passes over the frames
};
Corrected correct(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats, const Options& o,
                  size_t frames, const FillFn& fill, int threads = 1, const ProgressFn& progress = {});

// Int8 weights of weighted layer n as build_qdq writes them: symmetric, per
// output channel (axis) or per tensor (axis -1, one scale).
struct QuantizedWeights {
  int axis = -1;
  std::vector<float> scale;
  std::vector<int8_t> q;
};
QuantizedWeights quantize_weights(const Graph& g, const Node& n, const Tensor& w, bool per_channel);

// The QDQ graph (same inputs and outputs as g).
Graph build_qdq(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats, const Options& o);
// The QDQ graph simulated in float as the runtime runs it fast: the
// DequantizeLinear of constants (weights, biases) folded into float
// constants, so that layers get their float kernels (the reference kernel
// takes weights computed at run time); activations keep Q -> DQ.
Graph fold_constant_dequantize(Graph qdq);
// Name of the dequantized copy of activation `name` in the QDQ graph.
std::string dequantized_name(const std::string& name);

}  // namespace ef::quant
