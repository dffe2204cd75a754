// Person-mask refinement (letterbox crop, temporal smoothing, edge-aware
// upsampling with a fast guided filter, smoothstep feathering) and background
// compositing.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "edgeflow/tensor.h"
#include "edgeflow/vision.h"

namespace ef::vision {

MaskOverlap mask_overlap(const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::f32 || b.dtype() != DType::f32 || a.numel() != b.numel())
    throw Error("mask_overlap: two float32 masks of the same size expected, got " + std::to_string(a.numel()) +
                " and " + std::to_string(b.numel()) + " elements");
  MaskOverlap o;
  const float *x = a.data_as<float>(), *y = b.data_as<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    const bool p = x[i] > 0.5f, q = y[i] > 0.5f;
    o.inter += p && q, o.uni += p || q;
  }
  return o;
}

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

namespace {

// Per-row kernels, written so that GCC vectorizes them (without trapping
// math the clamps become min/max instructions; nothing here reads FP flags).
[[gnu::optimize("no-trapping-math")]] void guided_feather_row(const uint8_t* __restrict g, const float* __restrict a,
                                                               const float* __restrict b, float* __restrict o, int n,
                                                               float lo, float inv) {
  const float s255 = 1.f / 255;
  for (int x = 0; x < n; ++x) {
    float t = (a[x] * (float(g[x]) * s255) + b[x] - lo) * inv;
    t = t < 0.f ? 0.f : t;
    t = t > 1.f ? 1.f : t;
    o[x] = t * t * (3.f - 2.f * t);
  }
}
[[gnu::optimize("no-trapping-math")]] void feather_row(const float* __restrict u, float* __restrict o, int n, float lo,
                                                        float inv) {
  for (int x = 0; x < n; ++x) {
    float t = (u[x] - lo) * inv;
    t = t < 0.f ? 0.f : t;
    t = t > 1.f ? 1.f : t;
    o[x] = t * t * (3.f - 2.f * t);
  }
}
// out = (frame * a + bg * (256 - a) + 128) >> 8 with a = round(mask * 256):
// 8-bit fixed point, within 1 of the float blend.
[[gnu::optimize("no-trapping-math")]] void blend_row(const uint8_t* __restrict f, const uint8_t* __restrict bg,
                                                      const float* __restrict m, uint16_t* __restrict a1,
                                                      uint16_t* __restrict a3, uint8_t* __restrict o, int n) {
  for (int x = 0; x < n; ++x) {
    float v = m[x] * 256.f + 0.5f;
    v = v < 0.f ? 0.f : v;
    v = v > 256.f ? 256.f : v;
    a1[x] = uint16_t(v);
  }
  for (int x = 0; x < n; ++x) a3[3 * x] = a3[3 * x + 1] = a3[3 * x + 2] = a1[x];
  for (int i = 0; i < 3 * n; ++i) o[i] = uint8_t((f[i] * a3[i] + bg[i] * (256 - a3[i]) + 128) >> 8);
}

// INTER_AREA downscaling to `size`; when that halves the image (once or
// more) exactly, as a chain of 2x steps, which OpenCV runs 3x faster than
// one 4x step, with the same result (to rounding).
void area_downscale(const cv::Mat& src, cv::Mat& half, cv::Mat& dst, cv::Size size) {
  if (src.cols == 4 * size.width && src.rows == 4 * size.height) {
    cv::resize(src, half, cv::Size(2 * size.width, 2 * size.height), 0, 0, cv::INTER_AREA);
    cv::resize(half, dst, size, 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(src, dst, size, 0, 0, cv::INTER_AREA);
  }
}

}  // namespace

cv::Mat& unshared_buffer(std::vector<cv::Mat>& ring, cv::Size size, int type, size_t max_ring) {
  for (auto& m : ring)
    if (!m.u || __atomic_load_n(&m.u->refcount, __ATOMIC_ACQUIRE) == 1) {
      m.create(size, type);
      return m;
    }
  // every buffer is still held downstream: add one (or replace the oldest
  // reference; its holders keep their copy alive)
  if (ring.size() < max_ring) ring.emplace_back();
  else std::rotate(ring.begin(), ring.begin() + 1, ring.end()), ring.back() = cv::Mat();
  ring.back().create(size, type);
  return ring.back();
}

cv::Mat MaskRefiner::refine(const cv::Mat& small_mask, const Letterbox& lb, const cv::Mat& frame) {
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
  // Background probabilities decay towards 0 frame after frame and become
  // denormal floats, which make every later step twice as slow: flush them.
  cv::threshold(prev_, prev_, 1e-6, 0, cv::THRESH_TOZERO);
  // 3. edge-aware upsampling: a fast guided filter whose coefficients are
  // computed at 1/scale of the frame (guide from the frame, mask from the
  // model resolution), upsampled, and applied to the full-resolution guide;
  // 4. feathering (smoothstep between edge_lo and edge_hi) in the same pass.
  // Every buffer keeps its size from frame to frame (no allocation); the
  // output comes from a ring, so a mask still held downstream is never
  // overwritten.
  float lo = o_.edge_lo, hi = std::max(o_.edge_hi, o_.edge_lo + 1e-3f);
  float inv = 1.f / (hi - lo);
  cv::Mat& out = unshared_buffer(ring_, frame.size(), CV_32F);
  if (o_.guided_radius > 0) {
    int scale = std::max(1, o_.guided_scale);
    cv::Size small(std::max(1, frame.cols / scale), std::max(1, frame.rows / scale));
    cv::cvtColor(frame, gray_, cv::COLOR_BGR2GRAY);                  // full-res guide, 8 bit
    area_downscale(gray_, t0_, gray_small_, small);
    gray_small_.convertTo(I_, CV_32F, 1.0 / 255);                    // I (small)
    cv::resize(prev_, P_, small, 0, 0, cv::INTER_LINEAR);            // p (small)
    int r = std::max(1, o_.guided_radius / scale);
    cv::Size k(2 * r + 1, 2 * r + 1);
    cv::boxFilter(I_, mI_, CV_32F, k);                               // mean I
    cv::boxFilter(P_, mP_, CV_32F, k);                               // mean p
    cv::multiply(I_, P_, t0_);
    cv::boxFilter(t0_, mIP_, CV_32F, k);                             // mean Ip
    cv::multiply(I_, I_, t0_);
    cv::boxFilter(t0_, mII_, CV_32F, k);                             // mean II
    // a = cov(I,p) / (var(I) + eps), b = mean p - a mean I
    cv::multiply(mI_, mP_, t0_);
    cv::subtract(mIP_, t0_, t0_);                                    // cov
    cv::multiply(mI_, mI_, t1_);
    cv::subtract(mII_, t1_, t1_);                                    // var
    cv::add(t1_, cv::Scalar(o_.guided_eps), t1_);
    cv::divide(t0_, t1_, a_);
    cv::multiply(a_, mI_, t0_);
    cv::subtract(mP_, t0_, b_);
    cv::boxFilter(a_, a_, CV_32F, k);
    cv::boxFilter(b_, b_, CV_32F, k);
    cv::resize(a_, up_a_, frame.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(b_, up_b_, frame.size(), 0, 0, cv::INTER_LINEAR);
    for (int y = 0; y < frame.rows; ++y)
      guided_feather_row(gray_.ptr<uint8_t>(y), up_a_.ptr<float>(y), up_b_.ptr<float>(y), out.ptr<float>(y),
                         frame.cols, lo, inv);
  } else {
    cv::resize(prev_, up_a_, frame.size(), 0, 0, cv::INTER_LINEAR);
    for (int y = 0; y < frame.rows; ++y) feather_row(up_a_.ptr<float>(y), out.ptr<float>(y), frame.cols, lo, inv);
  }
  return out;
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
    area_downscale(frame, half_, small_, cv::Size(std::max(1, frame.cols / f), std::max(1, frame.rows / f)));
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
  a1_.resize(frame.cols);
  a3_.resize(3 * size_t(frame.cols));
  for (int y = 0; y < frame.rows; ++y)
    blend_row(frame.ptr<uint8_t>(y), bg_.ptr<uint8_t>(y), mask.ptr<float>(y), a1_.data(), a3_.data(),
              out.ptr<uint8_t>(y), frame.cols);
}

}  // namespace ef::vision
