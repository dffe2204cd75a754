// The C++ API: load -> compile -> run.
//
//   auto model = ef::Model::load("mobilenet_v2.onnx");
//   ef::Session s(model, {.threads = 2});
//   const auto& outs = s.run({input});   // no allocation after the first run
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "edgeflow/tensor.h"

namespace ef {

enum class Precision { fp32, fp16, int8 };
// Arithmetic of the float16-weight layers at Precision::fp16: `automatic`
// uses float16 FMAs (AVX512-FP16) where the CPU has them and the layer's
// shape gains from them (kernels/linear_f16.cc), else float32 with the
// weights widened on the fly; `f16` requires AVX512-FP16 (an error
// without it); `f32` always widens.
enum class Fp16Compute { automatic, f16, f32 };

// Temporal delta execution for video (see src/runtime/delta/): every op
// recomputes only the output pixels its changed inputs reach; gates on the
// inputs of convolutions publish a change only where it is significant and
// keep the integrated input elsewhere, so small changes accumulate instead of
// drifting.
struct DeltaOptions {
  bool enabled = false;
  // Gate: a tile of a convolution input counts as changed when
  // ||change over the tile||_2 times the largest per-output-channel weight
  // norm of its convolutions exceeds this (output units). 0 = exact.
  float threshold = 0.f;
  // The same gate on the model inputs (the frame itself: camera noise);
  // negative = `threshold`.
  float input_threshold = -1.f;
  // Gate on global values (pooled channel scales, 1x1 maps): published when
  // the largest absolute change exceeds this. 0 = exact.
  float global_threshold = 0.f;
  // Per-layer gate thresholds (from `bench --calibrate --per-layer`), by
  // convolution name: the threshold of that convolution's input gate,
  // replacing threshold / input_threshold there. Unknown names are an error.
  std::map<std::string, float> layer_thresholds;
  int refresh_every = 0;      // full dense recompute every N frames (0 = never)
  float dense_above = 0.5f;   // a convolution reaching a larger fraction of its output runs its dense kernel
  // ... and so does one reaching more than its measured break-even: the
  // fraction above which its dense kernel was timed faster than its sparse
  // path in this session (DeltaLayerStats::breakeven).
  bool measured_breakeven = true;
  // Skip the whole network (reuse the last outputs) when the mean absolute
  // input change is below this; negative = never skip.
  float frame_skip = -1.f;
  int tile = 4;  // tile edge in pixels for gating
  // Never slower than dense: when delta frames take longer than dense ones
  // (measured), run the plain kernels for `fallback_frames`, then try again.
  bool auto_fallback = true;
  int fallback_frames = 60;
};

// Per-layer thresholds as a text file: one "layer threshold" a line, '#'
// comments. load_* throws ef::Error naming the file and line of a bad entry.
std::map<std::string, float> load_delta_layer_thresholds(const std::string& path);
void save_delta_layer_thresholds(const std::string& path, const std::map<std::string, float>& t);

struct CompileOptions {
  int threads = 1;
  Precision precision = Precision::fp32;
  Fp16Compute fp16_compute = Fp16Compute::automatic;
  bool optimize = true;  // fold/fuse passes (layout lowering always runs)
  bool profile = false;  // time every step of every run
  // Shapes for inputs with dynamic dimensions, by input name. Dynamic
  // dimensions not given here become 1.
  std::map<std::string, Shape> input_shapes;
  DeltaOptions delta;
  // Intermediate values (by name) to keep readable after run() through
  // Session::value(): they get buffers of their own instead of sharing
  // arena bytes with later values (calibration, per-layer error reports).
  std::vector<std::string> keep_values;
};

// Per-layer delta-execution statistics (cumulative since the last reset).
struct DeltaLayerStats {
  std::string name, op;
  int64_t dense_macs = 0;     // per frame, if run densely
  int64_t executed_macs = 0;  // summed over frames
  double changed_fraction = 0;  // summed over frames (divide by frames)
  // Why (--explain): input 0's pixels its producer rewrote and the pixels its
  // gate published to this op, as fractions summed over the incremental delta
  // frames (DeltaStats::frames_explained); frames whose whole output changed
  // because a broadcast (1x1) operand changed.
  double input_rewritten = 0, input_published = 0, output_changed = 0;
  int global_frames = 0, dense_kernel_frames = 0;  // ... and frames it ran its dense kernel (above break-even)
  int dense_runs = 0;           // frames this layer ran densely (first, refresh, fallback)
  size_t state_bytes = 0;       // extra memory held between frames
  bool delta = false;           // false: the op runs densely whenever an input changed
  double ms = 0;                // wall-clock summed over delta frames (when profiling)
  // Convolutions: the changed fraction of the output above which their dense
  // kernel was measured faster than the sparse path (latest; > 1: not known).
  double breakeven = 2;
};
struct DeltaStats {
  int frames = 0, frames_skipped = 0;
  int frames_dense_fallback = 0;     // frames run with the plain kernels (auto fallback)
  int frames_explained = 0;          // incremental delta frames (not forced full ones): --explain's denominator
  double dense_ms = 0, delta_ms = 0;  // recent per-frame times the fallback compares
  int64_t dense_macs_per_frame = 0;  // whole model
  int64_t executed_macs = 0;         // whole model, summed over frames
  std::vector<DeltaLayerStats> layers;
  std::vector<std::string> notes;    // e.g. ops that always run densely
};

// What the optimizer did, for `edgeflow inspect`.
struct OptimizeReport {
  int nodes_before = 0, nodes_after = 0;
  int folded = 0;          // nodes replaced by constants
  int bn_folded = 0;       // BatchNormalization merged into Conv/ConvTranspose/Gemm
  int act_fused = 0;       // activations merged into their producer
  int removed = 0;         // Identity/Dropout and no-op nodes removed
  int dead = 0;            // nodes whose outputs nobody used
  int quantized = 0;       // QDQ patterns fused into quantized ops (+ DequantizeLinear of constants folded)
  int layout_converted = 0;   // ops switched to NHWC
  int transposes_inserted = 0;
  std::vector<std::string> log;  // one line per change, human readable
};

struct LoadOptions {
  // TFLite float16 weights (behind DEQUANTIZE) stay float16 constants, their
  // bits as in the file, instead of being folded to float32 at load: for a
  // Precision::fp16 session, whose f16-weight layers use them as they are
  // (no float32 copy); sessions widen the others (and all of them at fp32).
  // Only sessions take such a model (not convert/quantize/analyze).
  bool keep_float16 = false;
};

class Model {
 public:
  // Loads .onnx or .tflite (recognised by content). Throws ef::Error naming
  // the file on any problem.
  static Model load(const std::string& path, const LoadOptions& options = {});
  static Model from_graph(Graph g);
  Graph& graph() { return *g_; }
  const Graph& graph() const { return *g_; }
  const std::string& format() const { return format_; }  // "onnx", "tflite", "graph"

 private:
  std::shared_ptr<Graph> g_;
  std::string format_ = "graph";
};

struct LayerProfile {
  std::string name, op, impl;
  double total_ms = 0;  // summed over profiled runs
  int runs = 0;
  int64_t macs = 0;
};

class Session {
 public:
  explicit Session(const Model& model, CompileOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  size_t num_inputs() const;
  size_t num_outputs() const;
  const Value& input_info(size_t i) const;
  const Value& output_info(size_t i) const;
  int input_index(const std::string& name) const;  // -1 if none

  // Arena-backed input tensors: fill them, then run().
  Tensor& input(size_t i);
  const Tensor& output(size_t i) const;
  void run();
  // Copies the inputs in (checking shape and dtype), runs, returns outputs.
  const std::vector<Tensor>& run(const std::vector<Tensor>& inputs);
  const std::vector<Tensor>& run(const std::map<std::string, Tensor>& inputs);
  const std::vector<Tensor>& outputs() const;
  // A view of value `name` as the last run left it: graph inputs, outputs
  // and values listed in CompileOptions::keep_values. Shape and layout are
  // the optimized graph's (NHWC for spatial activations). Throws ef::Error
  // for other names (their bytes may have been reused).
  Tensor value(const std::string& name) const;

  // The compiled program is a list of steps (one per node, in order); a
  // sub-range can run on its own (inputs of the range must be in place).
  size_t num_steps() const;
  void run_range(size_t begin, size_t end);
  const Node& step_node(size_t i) const;

  const Graph& graph() const;  // the optimized graph
  const OptimizeReport& report() const;
  const CompileOptions& options() const;
  size_t arena_bytes() const;   // planned activation memory
  size_t naive_activation_bytes() const;  // without buffer reuse
  std::vector<LayerProfile> profile() const;
  void reset_profile();
  void set_profiling(bool on);  // time every step from now on (or stop)

  // Delta execution (options.delta.enabled): statistics, and a full reset of
  // the per-layer state (e.g. at a scene cut).
  DeltaStats delta_stats() const;
  void reset_delta();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ef
