// Image -> tensor with stretch or letterbox (MediaPipe ImageToTensor semantics).
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "edgeflow/tensor.h"
#include "edgeflow/vision.h"

namespace ef::vision {

cv::Point2f Letterbox::to_image(cv::Point2f t) const {
  float sx = 1.f - pad_left - pad_right, sy = 1.f - pad_top - pad_bottom;
  return {(t.x - pad_left) / sx, (t.y - pad_top) / sy};
}

Letterbox image_to_tensor(const cv::Mat& bgr, float* dst, const ToTensorOptions& o, cv::Mat* scratch) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("image_to_tensor: expected a non-empty 8-bit BGR image");
  if (o.width <= 0 || o.height <= 0) throw Error("image_to_tensor: bad tensor size");
  cv::Mat local;
  cv::Mat& resized = scratch ? *scratch : local;
  Letterbox lb;
  int nw = o.width, nh = o.height, ox = 0, oy = 0;
  if (o.keep_aspect) {
    double s = std::min(double(o.width) / bgr.cols, double(o.height) / bgr.rows);
    nw = std::max(1, int(std::lround(bgr.cols * s)));
    nh = std::max(1, int(std::lround(bgr.rows * s)));
    ox = (o.width - nw) / 2;
    oy = (o.height - nh) / 2;
    lb.pad_left = float(ox) / o.width;
    lb.pad_right = float(o.width - nw - ox) / o.width;
    lb.pad_top = float(oy) / o.height;
    lb.pad_bottom = float(o.height - nh - oy) / o.height;
  }
  cv::resize(bgr, resized, cv::Size(nw, nh), 0, 0, cv::INTER_LINEAR);
  const float a = (o.hi - o.lo) / 255.f, b = o.lo;
  // padding
  if (nw != o.width || nh != o.height) std::fill(dst, dst + size_t(o.width) * o.height * 3, o.lo);
  for (int y = 0; y < nh; ++y) {
    const uint8_t* s = resized.ptr<uint8_t>(y);
    float* d = dst + (size_t(y + oy) * o.width + ox) * 3;
    if (o.rgb) {
      for (int x = 0; x < nw; ++x) {
        d[3 * x + 0] = s[3 * x + 2] * a + b;
        d[3 * x + 1] = s[3 * x + 1] * a + b;
        d[3 * x + 2] = s[3 * x + 0] * a + b;
      }
    } else {
      for (int x = 0; x < 3 * nw; ++x) d[x] = s[x] * a + b;
    }
  }
  return lb;
}

}  // namespace ef::vision
