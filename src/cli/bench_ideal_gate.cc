// `bench --video --delta --ideal-gate K`: the frames a perfect
// noise-suppressing input gate would integrate. The clip's per-pixel temporal
// median is its static background; a pixel moves where some channel differs
// from it by more than K (0-255), dilated by D pixels; the ideal frame is the
// frame where it moves and the background elsewhere. Dense execution on these
// frames against dense execution on the raw frames says how much the model's
// output depends on what a gate skipping noise must skip.
#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "cli/bench_video.h"

namespace ef::cli {

IdealGate::IdealGate(std::vector<cv::Mat> frames, int k, int dilate) : frames_(std::move(frames)), k_(k) {
  if (frames_.empty()) throw Error("--ideal-gate: the video has no frames");
  for (const cv::Mat& f : frames_)
    if (f.size() != frames_[0].size() || f.type() != CV_8UC3)
      throw Error("--ideal-gate needs a video whose frames all have one size (8-bit colour)");
  background_.create(frames_[0].size(), CV_8UC3);
  const size_t n = frames_.size(), bytes = background_.total() * 3;
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < bytes; ++i) {
    for (size_t t = 0; t < n; ++t) v[t] = frames_[t].data[i];
    std::nth_element(v.begin(), v.begin() + long(n / 2), v.end());
    background_.data[i] = v[n / 2];
  }
  if (dilate > 0) kernel_ = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(2 * dilate + 1, 2 * dilate + 1));
}

cv::Mat IdealGate::frame(size_t i, double* moving) const {
  cv::Mat diff, mask, out;
  cv::absdiff(frames_[i], background_, diff);
  cv::threshold(diff.reshape(1, int(diff.total())), mask, k_, 255, cv::THRESH_BINARY);  // per channel
  cv::reduce(mask, mask, 1, cv::REDUCE_MAX);  // any channel
  mask = mask.reshape(1, frames_[i].rows);
  if (!kernel_.empty()) cv::dilate(mask, mask, kernel_);
  if (moving) *moving = double(cv::countNonZero(mask)) / double(mask.total());
  background_.copyTo(out);
  frames_[i].copyTo(out, mask);
  return out;
}

}  // namespace ef::cli
