// The auto-framing virtual camera: a crop of fixed aspect that keeps every
// target with headroom, moves with eased, speed-limited pan/zoom, and only
// re-targets when the goal moved more than a dead zone (no hunting on jitter).
#include <algorithm>
#include <cmath>

#include "edgeflow/vision.h"

namespace ef::vision {

cv::Rect2f AutoFramer::rect(const View& v) const {
  float h = v.w / o_.aspect;
  return cv::Rect2f(v.cx - v.w / 2, v.cy - h / 2, v.w, h);
}

AutoFramer::View AutoFramer::fit(View v, cv::Size frame) const {
  float W = float(frame.width), H = float(frame.height);
  float max_w = std::min(W, H * o_.aspect);
  float min_w = std::min(max_w, o_.min_width * W);
  v.w = std::clamp(v.w, min_w, max_w);
  float h = v.w / o_.aspect;
  v.cx = std::clamp(v.cx, v.w / 2, W - v.w / 2);
  v.cy = std::clamp(v.cy, h / 2, H - h / 2);
  return v;
}

cv::Rect2f AutoFramer::desired(const std::vector<cv::Rect2f>& boxes, cv::Size frame, int speaker) const {
  View v;
  std::vector<cv::Rect2f> use;
  if (speaker >= 0 && speaker < int(boxes.size()))
    use.push_back(boxes[speaker]);
  else
    use = boxes;
  if (use.empty()) {
    v = {frame.width / 2.f, frame.height / 2.f, float(frame.width)};
    return rect(fit(v, frame));
  }
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  for (auto& b : use) {
    x0 = std::min(x0, b.x - o_.margin_side * b.width);
    x1 = std::max(x1, b.x + b.width + o_.margin_side * b.width);
    y0 = std::min(y0, b.y - o_.margin_top * b.height);
    y1 = std::max(y1, b.y + b.height + o_.margin_bottom * b.height);
  }
  float w = std::max(x1 - x0, (y1 - y0) * o_.aspect);
  v = {(x0 + x1) / 2, (y0 + y1) / 2, w};
  // Keep the headroom: if the crop must grow vertically, anchor it at the top.
  float h = w / o_.aspect;
  if (h > y1 - y0) v.cy = y0 + h / 2;
  return rect(fit(v, frame));
}

cv::Rect2f AutoFramer::update(const std::vector<cv::Rect2f>& boxes, cv::Size frame, int speaker) {
  if (!init_ || frame != frame_) {
    frame_ = frame;
    cur_ = fit({frame.width / 2.f, frame.height / 2.f, float(frame.width)}, frame);
    goal_ = cur_;
    init_ = true;
    missing_ = 0;
  }
  bool have = !boxes.empty();
  missing_ = have ? 0 : missing_ + 1;
  if (have || missing_ > o_.hold_frames) {
    cv::Rect2f d = desired(boxes, frame, speaker);
    View want{d.x + d.width / 2, d.y + d.height / 2, d.width};
    // Hysteresis: keep the goal unless the wanted view moved beyond the dead
    // zone, or the current goal no longer contains the wanted view's targets.
    float dz = o_.dead_zone * goal_.w;
    bool moved = std::abs(want.cx - goal_.cx) > dz || std::abs(want.cy - goal_.cy) > dz / o_.aspect ||
                 std::abs(want.w - goal_.w) > dz;
    // ... or a target has eaten a quarter of its margin in the goal view
    if (!moved && have) {
      cv::Rect2f g = rect(goal_);
      const float eps = 0.5f;  // pixels
      for (size_t i = 0; i < boxes.size(); ++i) {
        if (speaker >= 0 && speaker < int(boxes.size()) && int(i) != speaker) continue;
        const cv::Rect2f& b = boxes[i];
        const float k = 0.75f;
        float x0 = b.x - k * o_.margin_side * b.width, x1 = b.x + b.width * (1 + k * o_.margin_side);
        float y0 = b.y - k * o_.margin_top * b.height, y1 = b.y + b.height * (1 + k * o_.margin_bottom);
        // only what the frame allows
        x0 = std::max(x0, 0.f), y0 = std::max(y0, 0.f);
        x1 = std::min(x1, float(frame.width)), y1 = std::min(y1, float(frame.height));
        if (x0 < g.x - eps || y0 < g.y - eps || x1 > g.x + g.width + eps || y1 > g.y + g.height + eps) moved = true;
      }
    }
    if (moved) goal_ = want;
  }
  // Move towards the goal: ease-out, speed-limited.
  const float W = float(frame.width);
  auto step = [&](float cur, float goal, float vmax) {
    float d = (goal - cur) * o_.easing;
    // finish small remainders instead of creeping forever
    if (std::abs(goal - cur) < 0.5f) d = goal - cur;
    return cur + std::clamp(d, -vmax, vmax);
  };
  View n;
  n.w = step(cur_.w, goal_.w, o_.max_zoom_speed * W);
  n.cx = step(cur_.cx, goal_.cx, o_.max_pan_speed * W);
  n.cy = step(cur_.cy, goal_.cy, o_.max_pan_speed * W);
  cur_ = fit(n, frame);
  return rect(cur_);
}

}  // namespace ef::vision
