// SSD anchors, box + keypoint decoding and weighted NMS, following MediaPipe's
// SsdAnchorsCalculator, TensorsToDetectionsCalculator and
// NonMaxSuppressionCalculator (WEIGHTED).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "edgeflow/tensor.h"
#include "edgeflow/vision.h"

namespace ef::vision {

namespace {
float calculate_scale(float min_scale, float max_scale, int index, int count) {
  if (count == 1) return (min_scale + max_scale) * 0.5f;
  return min_scale + (max_scale - min_scale) * 1.0f * index / (count - 1.0f);
}
}  // namespace

std::vector<Anchor> ssd_anchors(const SsdAnchorOptions& o) {
  std::vector<Anchor> anchors;
  const int n = int(o.strides.size());
  int layer = 0;
  while (layer < n) {
    std::vector<float> heights, widths, ratios, scales;
    int last = layer;
    while (last < n && o.strides[last] == o.strides[layer]) {
      float scale = calculate_scale(o.min_scale, o.max_scale, last, n);
      for (float ar : o.aspect_ratios) {
        ratios.push_back(ar);
        scales.push_back(scale);
      }
      if (o.interpolated_scale_aspect_ratio > 0.f) {
        float next = last == n - 1 ? 1.0f : calculate_scale(o.min_scale, o.max_scale, last + 1, n);
        scales.push_back(std::sqrt(scale * next));
        ratios.push_back(o.interpolated_scale_aspect_ratio);
      }
      ++last;
    }
    for (size_t i = 0; i < ratios.size(); ++i) {
      float r = std::sqrt(ratios[i]);
      heights.push_back(scales[i] / r);
      widths.push_back(scales[i] * r);
    }
    int stride = o.strides[layer];
    int fh = int(std::ceil(1.0f * o.input_height / stride));
    int fw = int(std::ceil(1.0f * o.input_width / stride));
    for (int y = 0; y < fh; ++y)
      for (int x = 0; x < fw; ++x)
        for (size_t a = 0; a < heights.size(); ++a) {
          Anchor an;
          an.x_center = (x + o.anchor_offset_x) * 1.0f / fw;
          an.y_center = (y + o.anchor_offset_y) * 1.0f / fh;
          an.w = o.fixed_anchor_size ? 1.f : widths[a];
          an.h = o.fixed_anchor_size ? 1.f : heights[a];
          anchors.push_back(an);
        }
    layer = last;
  }
  return anchors;
}

std::vector<Detection> decode_detections(const float* raw_boxes, const float* raw_scores,
                                         const std::vector<Anchor>& anchors, const DecodeOptions& o) {
  if (int(anchors.size()) != o.num_boxes)
    throw Error("decode_detections: " + std::to_string(anchors.size()) + " anchors for " +
                std::to_string(o.num_boxes) + " boxes");
  std::vector<Detection> out;
  for (int i = 0; i < o.num_boxes; ++i) {
    float score = raw_scores[i];
    if (o.sigmoid_score) {
      if (o.score_clipping_thresh > 0)
        score = std::clamp(score, -o.score_clipping_thresh, o.score_clipping_thresh);
      score = 1.f / (1.f + std::exp(-score));
    }
    if (score < o.min_score_thresh) continue;
    const float* r = raw_boxes + size_t(i) * o.num_coords;
    const Anchor& an = anchors[i];
    int b = o.box_coord_offset;
    float yc = r[b], xc = r[b + 1], h = r[b + 2], w = r[b + 3];
    if (o.reverse_output_order) {
      xc = r[b];
      yc = r[b + 1];
      w = r[b + 2];
      h = r[b + 3];
    }
    xc = xc / o.x_scale * an.w + an.x_center;
    yc = yc / o.y_scale * an.h + an.y_center;
    if (o.apply_exponential_on_box_size) {
      h = std::exp(h / o.h_scale) * an.h;
      w = std::exp(w / o.w_scale) * an.w;
    } else {
      h = h / o.h_scale * an.h;
      w = w / o.w_scale * an.w;
    }
    Detection d;
    d.score = score;
    d.box = cv::Rect2f(xc - w / 2, yc - h / 2, w, h);
    for (int k = 0; k < o.num_keypoints; ++k) {
      int off = o.keypoint_coord_offset + k * o.num_values_per_keypoint;
      float kx = r[off], ky = r[off + 1];
      if (!o.reverse_output_order) std::swap(kx, ky);
      d.keypoints.emplace_back(kx / o.x_scale * an.w + an.x_center, ky / o.y_scale * an.h + an.y_center);
    }
    out.push_back(std::move(d));
  }
  return out;
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  float ix = std::max(0.f, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
  float iy = std::max(0.f, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
  float inter = ix * iy;
  float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<Detection> weighted_nms(std::vector<Detection> dets, float thr, int max_detections) {
  std::vector<int> remained(dets.size());
  std::iota(remained.begin(), remained.end(), 0);
  std::stable_sort(remained.begin(), remained.end(), [&](int a, int b) { return dets[a].score > dets[b].score; });
  std::vector<Detection> out;
  while (!remained.empty()) {
    const Detection& top = dets[remained[0]];
    std::vector<int> candidates, next;
    for (int i : remained) (iou(top.box, dets[i].box) > thr ? candidates : next).push_back(i);
    Detection w = top;
    if (!candidates.empty()) {
      float total = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
      std::vector<cv::Point2f> kps(top.keypoints.size(), cv::Point2f(0, 0));
      for (int i : candidates) {
        const Detection& c = dets[i];
        float s = c.score;
        total += s;
        x0 += c.box.x * s;
        y0 += c.box.y * s;
        x1 += (c.box.x + c.box.width) * s;
        y1 += (c.box.y + c.box.height) * s;
        for (size_t k = 0; k < kps.size() && k < c.keypoints.size(); ++k) kps[k] += c.keypoints[k] * s;
      }
      w.box = cv::Rect2f(x0 / total, y0 / total, (x1 - x0) / total, (y1 - y0) / total);
      for (auto& k : kps) k /= total;
      w.keypoints = kps;
    }
    out.push_back(std::move(w));
    if (max_detections > 0 && int(out.size()) >= max_detections) break;
    if (next.size() == remained.size()) break;
    remained = std::move(next);
  }
  return out;
}

void remove_letterbox(std::vector<Detection>& dets, const Letterbox& lb) {
  float sx = 1.f - lb.pad_left - lb.pad_right, sy = 1.f - lb.pad_top - lb.pad_bottom;
  for (auto& d : dets) {
    cv::Point2f p = lb.to_image({d.box.x, d.box.y});
    d.box = cv::Rect2f(p.x, p.y, d.box.width / sx, d.box.height / sy);
    for (auto& k : d.keypoints) k = lb.to_image(k);
  }
}

FaceDetectorConfig blazeface_config(const std::string& variant) {
  FaceDetectorConfig c;
  if (variant == "short" || variant == "short_range") return c;
  if (variant == "full" || variant == "full_range") {
    c.anchors.input_width = c.anchors.input_height = 192;
    c.anchors.strides = {4};
    c.anchors.interpolated_scale_aspect_ratio = 0.f;
    c.decode.num_boxes = 2304;
    c.decode.x_scale = c.decode.y_scale = c.decode.w_scale = c.decode.h_scale = 192;
    c.decode.min_score_thresh = 0.6f;
    c.nms_threshold = 0.3f;
    return c;
  }
  throw Error("face detector variant '" + variant + "': expected short or full");
}

}  // namespace ef::vision
