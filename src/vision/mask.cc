// Person-mask refinement (letterbox crop, temporal smoothing, edge-aware
// upsampling with a fast guided filter, smoothstep feathering) and background
// compositing.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "edgeflow/tensor.h"
#include "edgeflow/vision.h"

namespace ef::vision {

void guided_filter(const cv::Mat& I, const cv::Mat& p, cv::Mat& q, int radius, float eps, int scale) {
  CV_Assert(I.type() == CV_32F && p.type() == CV_32F && I.size() == p.size());
  scale = std::max(1, scale);
  cv::Mat Is, ps;
  cv::Size small(std::max(1, I.cols / scale), std::max(1, I.rows / scale));
  if (scale > 1) {
    cv::resize(I, Is, small, 0, 0, cv::INTER_AREA);
    cv::resize(p, ps, small, 0, 0, cv::INTER_AREA);
  } else {
    Is = I;
    ps = p;
  }
  int r = std::max(1, radius / scale);
  cv::Size k(2 * r + 1, 2 * r + 1);
  cv::Mat mI, mp, mIp, mII;
  cv::boxFilter(Is, mI, CV_32F, k);
  cv::boxFilter(ps, mp, CV_32F, k);
  cv::boxFilter(Is.mul(ps), mIp, CV_32F, k);
  cv::boxFilter(Is.mul(Is), mII, CV_32F, k);
  cv::Mat cov = mIp - mI.mul(mp);
  cv::Mat var = mII - mI.mul(mI);
  cv::Mat a = cov / (var + eps);
  cv::Mat b = mp - a.mul(mI);
  cv::boxFilter(a, a, CV_32F, k);
  cv::boxFilter(b, b, CV_32F, k);
  if (scale > 1) {
    cv::resize(a, a, I.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(b, b, I.size(), 0, 0, cv::INTER_LINEAR);
  }
  q = a.mul(I) + b;
}

const cv::Mat& MaskRefiner::refine(const cv::Mat& small_mask, const Letterbox& lb, const cv::Mat& frame) {
  CV_Assert(small_mask.type() == CV_32F);
  // 1. the part of the mask that covers the image (undo letterbox)
  int x0 = int(std::lround(lb.pad_left * small_mask.cols));
  int y0 = int(std::lround(lb.pad_top * small_mask.rows));
  int x1 = small_mask.cols - int(std::lround(lb.pad_right * small_mask.cols));
  int y1 = small_mask.rows - int(std::lround(lb.pad_bottom * small_mask.rows));
  cv::Mat m = small_mask(cv::Rect(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0)));
  // 2. temporal smoothing at model resolution (cheap)
  if (prev_.size() != m.size() || o_.temporal >= 1.f) {
    m.copyTo(prev_);
  } else {
    cv::addWeighted(m, o_.temporal, prev_, 1.f - o_.temporal, 0.0, prev_);
  }
  // 3. upsample, edge-aware refine against the frame
  cv::resize(prev_, up_, frame.size(), 0, 0, cv::INTER_LINEAR);
  if (o_.guided_radius > 0) {
    cv::cvtColor(frame, tmp_[0], cv::COLOR_BGR2GRAY);
    tmp_[0].convertTo(guide_, CV_32F, 1.0 / 255);
    guided_filter(guide_, up_, out_, o_.guided_radius, o_.guided_eps, o_.guided_scale);
  } else {
    up_.copyTo(out_);
  }
  // 4. feather: smoothstep between edge_lo and edge_hi
  float lo = o_.edge_lo, hi = std::max(o_.edge_hi, o_.edge_lo + 1e-3f);
  float inv = 1.f / (hi - lo);
  for (int y = 0; y < out_.rows; ++y) {
    float* p = out_.ptr<float>(y);
    for (int x = 0; x < out_.cols; ++x) {
      float t = std::clamp((p[x] - lo) * inv, 0.f, 1.f);
      p[x] = t * t * (3.f - 2.f * t);
    }
  }
  return out_;
}

void BackgroundCompositor::apply(const cv::Mat& frame, const cv::Mat& mask, cv::Mat& out) {
  CV_Assert(frame.type() == CV_8UC3 && mask.type() == CV_32F && mask.size() == frame.size());
  if (o_.mode == "none") {
    frame.copyTo(out);
    return;
  }
  if (o_.mode == "blur") {
    // blur at quarter resolution: same look, 16x fewer pixels
    int f = 4;
    cv::resize(frame, small_, cv::Size(std::max(1, frame.cols / f), std::max(1, frame.rows / f)), 0, 0, cv::INTER_AREA);
    int k = std::max(3, (o_.blur / f) | 1);
    cv::GaussianBlur(small_, small_, cv::Size(k, k), 0);
    cv::resize(small_, bg_, frame.size(), 0, 0, cv::INTER_LINEAR);
  } else if (o_.mode == "color") {
    bg_.create(frame.size(), CV_8UC3);
    bg_.setTo(o_.color);
  } else if (o_.mode == "image") {
    if (o_.image.empty()) throw Error("background: mode 'image' needs an image");
    if (resized_bg_.size() != frame.size()) cv::resize(o_.image, resized_bg_, frame.size(), 0, 0, cv::INTER_AREA);
    bg_ = resized_bg_;
  } else {
    throw Error("background mode '" + o_.mode + "': expected blur, color, image or none");
  }
  out.create(frame.size(), CV_8UC3);
  for (int y = 0; y < frame.rows; ++y) {
    const uint8_t* f = frame.ptr<uint8_t>(y);
    const uint8_t* b = bg_.ptr<uint8_t>(y);
    const float* m = mask.ptr<float>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < frame.cols; ++x) {
      float a = m[x];
      for (int c = 0; c < 3; ++c) o[3 * x + c] = uint8_t(b[3 * x + c] + a * (f[3 * x + c] - b[3 * x + c]) + 0.5f);
    }
  }
}

}  // namespace ef::vision
