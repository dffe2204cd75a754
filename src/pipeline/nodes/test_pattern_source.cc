// test_pattern_source: synthetic frames (a moving bright square and a
// face-like disc on a gradient), optionally paced like a live camera.
#include <opencv2/imgproc.hpp>

#include "pipeline/nodes/sources.h"

namespace ef::pipe {
namespace {

class TestPattern : public Node {
 public:
  explicit TestPattern(const Params& p)
      : size_(parse_size(p.str("size", "640x480"), p.where("size"))),
        frames_(p.i("frames", 100)),
        fps_(p.f("fps", 30)),
        live_(p.b("live", false)),
        pacer_(live_ ? fps_ : 0) {
    if (fps_ <= 0) throw Error(p.where("fps") + ": must be > 0");
    base_.create(size_, CV_8UC3);
    for (int y = 0; y < size_.height; ++y)
      for (int x = 0; x < size_.width; ++x)
        base_.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(255 * x / size_.width), uint8_t(255 * y / size_.height), 96);
  }
  bool live() const override { return live_; }
  int64_t frame_count() const override { return frames_; }
  bool generate(Context&, Outputs& out) override {
    if (frames_ >= 0 && n_ >= frames_) return false;
    pacer_.wait();
    out.set_captured();
    cv::Mat img = base_.clone();
    int s = std::max(8, size_.height / 8);
    int x = int((n_ * 7) % std::max(1, size_.width - s));
    cv::rectangle(img, cv::Rect(x, size_.height / 4, s, s), cv::Scalar(255, 255, 255), cv::FILLED);
    cv::circle(img, cv::Point(size_.width / 2, size_.height / 2), s, cv::Scalar(140, 170, 220), cv::FILLED);
    out.set_time(int64_t(n_ * 1e6 / fps_), n_);
    out.emit("image", img);
    ++n_;
    return true;
  }

 private:
  cv::Size size_;
  int64_t frames_;
  double fps_;
  bool live_;
  Pacer pacer_;
  cv::Mat base_;
  int64_t n_ = 0;
};

NodeType type() {
  NodeType t;
  t.name = "test_pattern_source";
  t.help = "synthetic frames (moving square on a gradient)";
  t.source = true;
  t.outputs = {{"image", types::image, false, "BGR frame"}};
  t.params = {{"size", "string", "640x480", "frame size WxH"},
              {"frames", "int", "100", "number of frames (-1 = endless)"},
              {"fps", "float", "30", "frame rate (timestamps; pacing when live)"},
              {"live", "bool", "false", "pace to fps and drop frames when the pipeline is busy"}};
  t.create = [](const Params& p) { return std::make_unique<TestPattern>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
