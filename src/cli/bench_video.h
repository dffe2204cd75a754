// `edgeflow bench MODEL --video FILE [--delta ...]`: dense vs delta execution
// of the same model on the same real frames, in one run.
#pragma once
#include "cli/util.h"

namespace ef::cli {

struct VideoBenchArgs {
  std::string model, video;
  CommonOptions common;
  ImageOptions image;
  DeltaOptions delta;
  bool use_delta = false;
  int frames = 0;  // 0 = all
  int top = 15;
  bool json = false;
  bool explain = false;       // per-layer table in graph order: why each layer changed (bench_explain.cc)
  bool calibrate = false;     // pick thresholds instead (bench_calibrate.cc)
  double target_error = 0;    // calibration: mean |dense - delta| of the outputs
  double target_iou = 0;      // calibration: mean mask IoU against dense
  bool per_layer = false;     // calibration: then raise single layers' thresholds greedily
  std::string save_thresholds;  // calibration: write the per-layer thresholds here
  std::string layer_thresholds;  // read per-layer thresholds from this file
  std::string save_masks;  // folder: frame | dense mask | delta mask | |difference| PNGs every 25 frames
  int ideal_gate = -1;     // >= 0: feed delta the ideal-gate frames (bench_ideal_gate.cc) with this K
  int ideal_dilate = 4;    // their moving mask dilated by this many pixels
};
int bench_video(const VideoBenchArgs& a);
int calibrate_delta(const VideoBenchArgs& a);

// The frames a perfect noise-suppressing input gate would integrate: the
// clip's temporal median (its static background) except where some channel
// of the frame differs from it by more than k (0-255), dilated by `dilate`
// pixels (bench_ideal_gate.cc).
class IdealGate {
 public:
  IdealGate(std::vector<cv::Mat> frames, int k, int dilate);
  size_t size() const { return frames_.size(); }
  const cv::Mat& raw(size_t i) const { return frames_[i]; }
  cv::Mat frame(size_t i, double* moving = nullptr) const;  // moving: the fraction of pixels kept from the frame

 private:
  std::vector<cv::Mat> frames_;
  cv::Mat background_, kernel_;
  int k_;
};

// Helpers shared by the two.
bool is_mask_tensor(const Tensor& t);  // float values in [0,1], one channel
int64_t model_cost_macs(const Session& s);
void print_delta_explain(const Graph& g, const DeltaStats& s);

}  // namespace ef::cli
