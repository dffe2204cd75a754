// Accuracy-driven mixed precision (quantize --keep-float auto, --target):
// which quantized layers to keep in float so that the int8 model meets an
// accuracy target, chosen on the calibration frames (never the held-out ones).
//
//   Reference ref(g, frames, fill, threads);             // float outputs, once
//   auto harm = rank_layers(g, plan, stats, o, ref, kind, threads);
//   Mixed m = search_mixed(harm, target, max_keep, build, ref, threads);
//
// Ranking: each layer is quantized alone (its input and output tensors and
// its weights; everything else float), run by the int8 runtime, and its
// harm is the error it leaves in the outputs the target is about, in the
// space the metric sees (probabilities for segmentation maps and detection
// scores, softmax for classifiers), relative to the float outputs' energy.
// Quantization noise from independent layers adds in power, so this ranks
// each layer's share of the all-int8 error. Search: the k most harmful
// layers kept float, k found by doubling then bisection (the metric is
// close to monotone in k), each k checked with the int8 runtime on the
// target's metric.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "quant/report.h"

namespace ef::quant {

// --target METRIC=VALUE: iou (mean mask IoU of segmentation outputs, >=),
// score (best-detection score |diff|, max over frames, <=), top1 (top-1
// agreement of classifier outputs, fraction, >=), snr (dB, every float
// output, >=).
struct Target {
  std::string metric;  // iou | score | top1 | snr
  double value = 0;
  // The output kind the metric reads ("" for snr: every float output).
  std::string kind() const;
};
Target parse_target(const std::string& s);  // throws ef::Error naming the value
// Throws ef::Error if g has no output the target's metric reads.
void check_applies(const Target& t, const Graph& g);
// Whether the outputs meet t, and the metric's value (worst over the outputs
// it reads). Throws ef::Error if no output is of t's kind, or (score) if the
// float model detects nothing (score >= 0.5) on any frame.
struct TargetCheck {
  bool met = false;
  double value = 0;
};
TargetCheck check_target(const Target& t, const std::vector<OutputAgreement>& outputs);
std::string describe(const Target& t, double value);  // e.g. "mask IoU mean 0.9812 (target >= 0.98)"

// The float model's outputs on the frames, computed once.
class Reference {
 public:
  Reference(const Graph& fp, size_t frames, const FillFn& fill, int threads);
  size_t frames() const { return outputs_.size(); }
  const std::vector<Tensor>& outputs(size_t frame) const { return outputs_[frame]; }
  const std::vector<std::pair<std::string, std::string>>& names_kinds() const { return names_kinds_; }
  const FillFn& fill() const { return fill_; }

 private:
  std::vector<std::vector<Tensor>> outputs_;
  std::vector<std::pair<std::string, std::string>> names_kinds_;  // output name, kind (output_kind)
  FillFn fill_;
};

// The QDQ graph run by the int8 runtime on the reference frames: the output
// agreement (as the report computes it) and, if `harm` is given, the error
// in metric space of the outputs of `kind` ("" = every float output),
// relative to the float outputs' energy.
std::vector<OutputAgreement> compare(const Graph& qdq, const Reference& ref, int threads,
                                     const std::string& kind = "", double* harm = nullptr);

struct LayerHarm {
  std::string name, op;
  double harm = 0;
};
// Every layer of p, quantized alone, most harmful first. (Harm per
// estimated float cost ranked worse: selfie needed 82 layers float for IoU
// 0.98 instead of 24, segnet got slower files. The harm sits in a few costly
// layers, and many cheap float layers add int8 <-> float conversions.)
std::vector<LayerHarm> rank_layers(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats,
                                   const Options& o, const Reference& ref, const std::string& kind, int threads,
                                   const ProgressFn& progress = {});

// The smallest k in (0, max] with met(k), given not met(0), for a met that is
// (close to) monotone: doubling from 1, then bisection; max if met(max) is false.
size_t smallest_meeting(size_t max, const std::function<bool(size_t)>& met);
// The smallest k in (lo, hi] with met(k), given met(hi) and not met(lo).
size_t bisect_meeting(size_t lo, size_t hi, const std::function<bool(size_t)>& met);

// The QDQ graph with these layers (names) kept float besides the user's.
using BuildFn = std::function<Graph(const std::vector<std::string>& keep)>;
struct Mixed {
  size_t kept = 0;       // the first `kept` layers of the ranking stay float
  bool met = false;      // the target was met with them (by `refine` if given, else `build`)
  double all_int8 = 0;   // the target metric with none kept (choose_float_layers)
  int evaluations = 0;
};
// The fewest most-harmful layers (1 to max_keep) to keep float for t, which
// every layer int8 misses, each try built by `build`. Then, if `refine` is
// given (a slower, better build: --correct for the layers that stay int8),
// the count is searched again with it: bisection below the first count if
// it meets t there, else upwards from it. step(phase, k, check) after each try.
using StepFn = std::function<void(const char* phase, size_t kept, const TargetCheck& check)>;
Mixed search_mixed(const std::vector<LayerHarm>& ranking, const Target& t, size_t max_keep, const BuildFn& build,
                   const Reference& ref, int threads, const StepFn& step = {}, const BuildFn& refine = {});

// --keep-float auto[:N] and --target as quantize runs them: p's layers
// ranked on the reference (calibration) frames; without a target the
// max_keep most harmful are kept float, with one the search decides (its
// tries use `fitted`, the graph whose weights build_qdq quantizes for p,
// with the float weights back for layers kept float; with o.correct the
// count is then refined with the refit redone per try).
struct Choice {
  std::vector<std::string> keep, reasons;  // layers kept float, most harmful first, and why
  Mixed search;                            // with a target
};
Choice choose_float_layers(const Graph& g, const Graph& fitted, const Plan& p, const std::map<int, TensorStats>& stats,
                           const Options& o, const Reference& ref, const std::optional<Target>& t, size_t max_keep,
                           int threads, const ProgressFn& ranking = {}, const StepFn& step = {});

}  // namespace ef::quant
