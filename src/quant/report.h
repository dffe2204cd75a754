// Quantization error: the float graph against the quantized one on held-out
// frames, per quantized layer and on the final outputs.
#pragma once
#include <string>
#include <vector>

#include "edgeflow/session.h"
#include "quant/quantize.h"

namespace ef::quant {

// Sums for SNR and cosine similarity of x against a reference.
struct ErrorSums {
  double ref2 = 0, x2 = 0, err2 = 0, dot = 0, max_abs = 0;
  int64_t n = 0;
  void add(const float* ref, const float* x, int64_t count);
  double snr_db() const;   // 10 log10(sum ref^2 / sum (ref - x)^2); 200 when exact
  double cosine() const;   // 1 when both are zero
};

struct LayerError {
  std::string name, op;
  ErrorSums err;
};

struct OutputAgreement {
  std::string name;
  std::string kind;  // classifier | segmentation | detection scores | tensor
  ErrorSums err;
  int frames = 0;
  int top1_agree = 0;                         // classifier
  double iou_sum = 0, iou_min = 1;            // segmentation (foreground mask IoU per frame)
  double score_diff = 0, score_diff_conf = 0;  // detection scores: max |diff|, and where float score >= 0.5
  // The detection that matters: on frames whose best float score is >= 0.5,
  // |best float score - best quantized score| (max and sum over those frames).
  double top_diff_max = 0, top_diff_sum = 0;
  int top_frames = 0;
};

// Adds one frame's float output f and quantized output q to o (by o.kind).
void compare_output(OutputAgreement& o, const Tensor& f, const Tensor& q);

struct Report {
  std::vector<LayerError> layers;  // the plan's layers, in order
  std::vector<OutputAgreement> outputs;
  int frames = 0;
};

// What kind of output a tensor of this (logical) shape is, by shape alone.
std::string output_kind(const Shape& s);

// Runs three sessions on `frames` frames: the float graph, the QDQ graph
// simulated in float (fake quantization: per-layer errors) and `int8` (the
// written file as the engine runs it: final outputs). With an empty plan
// (no layers) the QDQ simulation is skipped: final outputs only.
Report evaluate(const Graph& fp, const Graph& qdq, const Model& int8, const Plan& p, size_t frames,
                const FillFn& fill, int threads = 1, const ProgressFn& progress = {});

}  // namespace ef::quant
