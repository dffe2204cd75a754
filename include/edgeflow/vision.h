// Vision building blocks on cv::Mat, usable without the pipeline: image ->
// tensor (stretch or letterbox), SSD anchors + box/keypoint decoding +
// weighted NMS (MediaPipe BlazeFace), person-mask refinement and background
// compositing, and the auto-framing virtual camera.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "edgeflow/tensor.h"

namespace ef::vision {

// ---------------------------------------------------------------- image -> tensor
// Where the image landed inside the tensor, in normalized tensor units
// (MediaPipe's letterbox padding): image x in [0,1] maps to tensor
// pad_left + x * (1 - pad_left - pad_right).
struct Letterbox {
  float pad_left = 0, pad_top = 0, pad_right = 0, pad_bottom = 0;
  // normalized tensor coords -> normalized image coords
  cv::Point2f to_image(cv::Point2f t) const;
};

struct ToTensorOptions {
  int width = 0, height = 0;  // tensor size
  bool keep_aspect = false;   // letterbox (pad with `lo`) instead of stretch
  float lo = 0.f, hi = 1.f;   // value range: pixel * (hi-lo)/255 + lo
  bool rgb = true;            // channel order of the tensor (images are BGR)
};
// Writes an NHWC float tensor of height x width x 3 into `dst`. `scratch`
// avoids per-frame allocation when reused.
Letterbox image_to_tensor(const cv::Mat& bgr, float* dst, const ToTensorOptions& o, cv::Mat* scratch = nullptr);

// ---------------------------------------------------------------- SSD anchors
// MediaPipe SsdAnchorsCalculator options (the subset BlazeFace uses).
struct SsdAnchorOptions {
  int input_width = 128, input_height = 128;
  float min_scale = 0.1484375f, max_scale = 0.75f;
  float anchor_offset_x = 0.5f, anchor_offset_y = 0.5f;
  std::vector<int> strides = {8, 16, 16, 16};
  std::vector<float> aspect_ratios = {1.0f};
  float interpolated_scale_aspect_ratio = 1.0f;  // 0 = none
  bool fixed_anchor_size = true;
};
struct Anchor {
  float x_center, y_center, w, h;
};
std::vector<Anchor> ssd_anchors(const SsdAnchorOptions& o);

// ---------------------------------------------------------------- detections
struct Detection {
  cv::Rect2f box;                       // normalized [0,1] coords (tensor or image)
  float score = 0;
  std::vector<cv::Point2f> keypoints;   // normalized
};

// MediaPipe TensorsToDetectionsCalculator options (single class).
struct DecodeOptions {
  int num_boxes = 896, num_coords = 16;
  int box_coord_offset = 0, keypoint_coord_offset = 4;
  int num_keypoints = 6, num_values_per_keypoint = 2;
  float x_scale = 128, y_scale = 128, w_scale = 128, h_scale = 128;
  bool reverse_output_order = true;  // x before y
  bool apply_exponential_on_box_size = false;
  bool sigmoid_score = true;
  float score_clipping_thresh = 100.f;
  float min_score_thresh = 0.5f;
};
// raw_boxes: num_boxes x num_coords, raw_scores: num_boxes.
std::vector<Detection> decode_detections(const float* raw_boxes, const float* raw_scores,
                                         const std::vector<Anchor>& anchors, const DecodeOptions& o);
float iou(const cv::Rect2f& a, const cv::Rect2f& b);
// MediaPipe NonMaxSuppressionCalculator, algorithm WEIGHTED, IoU overlap.
std::vector<Detection> weighted_nms(std::vector<Detection> dets, float min_suppression_threshold = 0.3f,
                                    int max_detections = -1);
// Map detections from tensor coords to image coords (undo the letterbox).
void remove_letterbox(std::vector<Detection>& dets, const Letterbox& lb);

// BlazeFace presets: "short" (128x128, 896 anchors) or "full" (192x192, 2304).
struct FaceDetectorConfig {
  SsdAnchorOptions anchors;
  DecodeOptions decode;
  float nms_threshold = 0.3f;
};
FaceDetectorConfig blazeface_config(const std::string& variant);  // throws on unknown

// ---------------------------------------------------------------- mask agreement
// Two soft masks compared as binary masks (value > 0.5): the pixels set in
// both and in either. Summing overlaps over frames gives the pooled IoU of a
// clip; iou() of each frame's overlap, averaged, the mean per-frame IoU.
struct MaskOverlap {
  int64_t inter = 0, uni = 0;
  double iou() const { return uni ? double(inter) / double(uni) : 1.0; }  // two empty masks agree
  MaskOverlap& operator+=(const MaskOverlap& o) {
    inter += o.inter, uni += o.uni;
    return *this;
  }
};
// a, b: float32 tensors of the same element count (else an Error naming both sizes).
MaskOverlap mask_overlap(const Tensor& a, const Tensor& b);
inline double mask_iou(const Tensor& a, const Tensor& b) { return mask_overlap(a, b).iou(); }

// ---------------------------------------------------------------- masks
struct MaskRefineOptions {
  float temporal = 0.6f;     // weight of the new mask in the running average (1 = no smoothing)
  int guided_radius = 6;     // edge-aware upsampling radius in output pixels (0 = plain bilinear)
  float guided_eps = 1e-3f;  // guided filter regularization (image in [0,1])
  int guided_scale = 4;      // fast guided filter: compute at 1/scale resolution
  float edge_lo = 0.25f, edge_hi = 0.75f;  // feathering: smoothstep between these
};
// Keeps state between frames (temporal smoothing). Input: mask at model
// resolution (CV_32F, [0,1]) plus its letterbox; output: CV_32F mask at the
// frame size.
// The returned mask is never overwritten while anyone still holds it (each
// frame's mask comes from a small ring of buffers), so it can be passed on
// without a copy.
class MaskRefiner {
 public:
  explicit MaskRefiner(MaskRefineOptions o = {}) : o_(o) {}
  cv::Mat refine(const cv::Mat& small_mask, const Letterbox& lb, const cv::Mat& frame_bgr);
  void reset() { prev_.release(); }

 private:
  MaskRefineOptions o_;
  std::vector<cv::Mat> ring_;
  cv::Mat prev_, gray_, gray_small_, I_, P_, mI_, mP_, mIP_, mII_, t0_, t1_, a_, b_, up_a_, up_b_;
};
// A buffer of `size` x `type` from `ring` that nobody else references (its
// cv::Mat refcount is 1), so writing into it cannot change a frame still in
// use downstream; the ring grows up to max_ring buffers. Lets a node reuse
// its output memory instead of allocating (and page-faulting) every frame.
cv::Mat& unshared_buffer(std::vector<cv::Mat>& ring, cv::Size size, int type, size_t max_ring = 8);
// Fast guided filter (He & Sun): edge-aware smoothing of `p` guided by gray `I`
// (both CV_32F same size), computed at 1/scale resolution.
void guided_filter(const cv::Mat& I, const cv::Mat& p, cv::Mat& q, int radius, float eps, int scale = 1);

struct BackgroundOptions {
  std::string mode = "blur";  // blur | color | image | none
  int blur = 25;              // blur kernel size in output pixels (odd-ised)
  cv::Scalar color = {0, 255, 0};
  cv::Mat image;              // replacement (resized to the frame)
};
class BackgroundCompositor {
 public:
  explicit BackgroundCompositor(BackgroundOptions o = {}) : o_(std::move(o)) {}
  // out = frame * mask + background * (1 - mask)
  void apply(const cv::Mat& frame_bgr, const cv::Mat& mask, cv::Mat& out);

 private:
  BackgroundOptions o_;
  cv::Mat half_, small_, bg_, resized_bg_;
  std::vector<uint16_t> a1_, a3_;
};

// ---------------------------------------------------------------- auto-framing
struct AutoFramerOptions {
  float aspect = 16.f / 9.f;      // output aspect (w/h)
  float margin_side = 0.6f;       // extra width each side, x target box width
  float margin_top = 0.6f;        // headroom above, x box height
  float margin_bottom = 1.5f;     // below (shoulders for face boxes), x box height
  float min_width = 0.3f;         // smallest crop width, fraction of frame width
  float max_pan_speed = 0.015f;   // per frame, fraction of frame width (centre motion)
  float max_zoom_speed = 0.015f;  // per frame, fraction of frame width (width change)
  float easing = 0.12f;           // fraction of the remaining distance moved per frame
  float dead_zone = 0.08f;        // re-target only when the goal moves more than this x crop width
  int hold_frames = 45;           // frames without targets before zooming out to the full view
};
// The virtual camera: feed the target boxes (pixels) of each frame, get the
// crop rectangle (pixels, inside the frame, fixed aspect).
class AutoFramer {
 public:
  explicit AutoFramer(AutoFramerOptions o = {}) : o_(o) {}
  // speaker: index into boxes of the active speaker, -1 = frame everyone.
  cv::Rect2f update(const std::vector<cv::Rect2f>& boxes, cv::Size frame, int speaker = -1);
  cv::Rect2f crop() const { return rect(cur_); }
  // The crop the camera is heading for (after hysteresis).
  cv::Rect2f goal() const { return rect(goal_); }
  // The ideal crop for these boxes, no motion limits (fit into the frame).
  cv::Rect2f desired(const std::vector<cv::Rect2f>& boxes, cv::Size frame, int speaker = -1) const;

 private:
  struct View {
    float cx = 0, cy = 0, w = 0;
  };
  cv::Rect2f rect(const View& v) const;
  View fit(View v, cv::Size frame) const;
  AutoFramerOptions o_;
  View cur_, goal_;
  bool init_ = false;
  int missing_ = 0;
  cv::Size frame_;
};

}  // namespace ef::vision
