// overlay: debug drawing (face boxes, keypoints, mask tint, crop rectangle,
// FPS). Coordinates are frame coordinates; when the image is the auto-framed
// view, link its crop and everything is mapped into the view.
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

class Overlay : public Node {
 public:
  explicit Overlay(const Params& p) : enabled_(p.b("enabled", true)), view_(p.b("view", false)) {}
  void process(Context&, const Inputs& in, Outputs& out) override {
    const cv::Mat& src = in["image"].as<cv::Mat>();
    if (!enabled_) {
      out.emit("image", src);
      return;
    }
    cv::Mat img = src.clone();
    // frame -> image mapping
    cv::Size frame = img.size();
    if (in.has("detections")) frame = in["detections"].as<Detections>().image_size;
    cv::Rect2f crop(0, 0, float(frame.width), float(frame.height));
    bool have_crop = in.has("crop");
    if (have_crop) crop = in["crop"].as<cv::Rect2f>();
    // `view: true`: the image is the cropped view; otherwise the full frame
    cv::Rect2f ref = view_ ? crop : cv::Rect2f(0, 0, float(frame.width), float(frame.height));
    float sx = img.cols / ref.width, sy = img.rows / ref.height;
    auto map = [&](cv::Point2f p) { return cv::Point2f((p.x - ref.x) * sx, (p.y - ref.y) * sy); };
    if (in.has("mask")) {
      const cv::Mat& m = in["mask"].as<cv::Mat>();
      cv::Mat mv;
      if (view_) {
        cv::Matx23f a(sx, 0, -ref.x * sx, 0, sy, -ref.y * sy);
        cv::warpAffine(m, mv, a, img.size());
      } else {
        cv::resize(m, mv, img.size());
      }
      for (int y = 0; y < img.rows; ++y) {
        auto* p = img.ptr<cv::Vec3b>(y);
        const float* q = mv.ptr<float>(y);
        for (int x = 0; x < img.cols; ++x) p[x][2] = cv::saturate_cast<uint8_t>(p[x][2] * (1 - 0.35f * q[x]) + 255 * 0.35f * q[x]);
      }
    }
    if (in.has("detections")) {
      const auto& d = in["detections"].as<Detections>();
      float W = float(d.image_size.width), H = float(d.image_size.height);
      static const cv::Scalar kp_colors[6] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}};
      for (auto& x : d.items) {
        cv::Point2f a = map({x.box.x * W, x.box.y * H}), b = map({(x.box.x + x.box.width) * W, (x.box.y + x.box.height) * H});
        cv::rectangle(img, a, b, cv::Scalar(0, 255, 0), 2);
        char s[32];
        std::snprintf(s, sizeof s, "%.2f", x.score);
        cv::putText(img, s, a + cv::Point2f(0, -4), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 0), 1);
        for (size_t k = 0; k < x.keypoints.size(); ++k)
          cv::circle(img, map({x.keypoints[k].x * W, x.keypoints[k].y * H}), 3, kp_colors[k % 6], cv::FILLED);
      }
    }
    if (have_crop && !view_) cv::rectangle(img, map(crop.tl()), map(crop.br()), cv::Scalar(0, 200, 255), 2);
    auto now = Clock::now();
    if (last_ != Clock::time_point{}) {
      double dt = std::chrono::duration<double>(now - last_).count();
      fps_ = fps_ <= 0 ? 1 / dt : 0.9 * fps_ + 0.1 / dt;
    }
    last_ = now;
    char s[64];
    std::snprintf(s, sizeof s, "frame %lld  %.1f FPS", (long long)in.seq(), fps_);
    cv::putText(img, s, {10, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(255, 255, 255), 2);
    out.emit("image", img);
  }

 private:
  bool enabled_, view_;
  Clock::time_point last_{};
  double fps_ = 0;
};

NodeType type() {
  NodeType t;
  t.name = "overlay";
  t.help = "debug overlay: face boxes + keypoints, mask tint, crop rectangle, FPS";
  t.inputs = {{"image", types::image, false, "image to draw on"},
              {"detections", types::detections, true, "faces"},
              {"mask", types::mask, true, "person mask (frame size)"},
              {"crop", types::rect, true, "auto-framing crop"}};
  t.outputs = {{"image", types::image, false, "annotated image"}};
  t.params = {{"enabled", "bool", "true", "false: pass the image through untouched"},
              {"view", "bool", "false", "the image is the cropped view (map coordinates through crop)"}};
  t.create = [](const Params& p) { return std::make_unique<Overlay>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
