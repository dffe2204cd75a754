// auto_framer: the virtual camera. Detections -> a smooth crop of fixed
// aspect (rect) and the frame cropped and scaled to the output size (image).
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

float parse_aspect(const Params& p) {
  std::string s = p.str("aspect", "16:9");
  float a = 0, b = 0;
  if (std::sscanf(s.c_str(), "%f:%f", &a, &b) == 2 && a > 0 && b > 0) return a / b;
  if (std::sscanf(s.c_str(), "%f", &a) == 1 && a > 0) return a;
  throw Error(p.where("aspect") + ": expected W:H or a number, got '" + s + "'");
}

class AutoFramerNode : public Node {
 public:
  explicit AutoFramerNode(const Params& p) {
    vision::AutoFramerOptions o;
    o.aspect = parse_aspect(p);
    o.margin_side = float(p.f("margin_side", o.margin_side));
    o.margin_top = float(p.f("margin_top", o.margin_top));
    o.margin_bottom = float(p.f("margin_bottom", o.margin_bottom));
    o.min_width = float(p.f("min_width", o.min_width));
    o.max_pan_speed = float(p.f("max_pan_speed", o.max_pan_speed));
    o.max_zoom_speed = float(p.f("max_zoom_speed", o.max_zoom_speed));
    o.easing = float(p.f("easing", o.easing));
    o.dead_zone = float(p.f("dead_zone", o.dead_zone));
    o.hold_frames = int(p.i("hold_frames", o.hold_frames));
    if (o.easing <= 0 || o.easing > 1) throw Error(p.where("easing") + ": must be in (0, 1]");
    if (p.has("output_size") && !p.str("output_size").empty()) out_size_ = parse_size(p.str("output_size"), p.where("output_size"));
    aspect_ = o.aspect;
    framer_ = vision::AutoFramer(o);
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& d = in["detections"].as<Detections>();
    const cv::Mat& img = in["image"].as<cv::Mat>();
    int speaker = in.has("speaker") ? in["speaker"].as<int>() : -1;
    boxes_.clear();  // kept between frames: no allocation per frame
    for (auto& x : d.items)
      boxes_.emplace_back(x.box.x * img.cols, x.box.y * img.rows, x.box.width * img.cols, x.box.height * img.rows);
    cv::Rect2f r = framer_.update(boxes_, img.size(), speaker);
    out.emit("crop", r);
    // default view: the frame's width at the crop's aspect (even height for codecs)
    cv::Size os = out_size_.width > 0 ? out_size_ : cv::Size(img.cols, (int(std::lround(img.cols / aspect_)) + 1) & ~1);
    // crop (whole pixels) + scale; the full view is passed through
    cv::Rect ri(cv::Point(int(std::lround(r.x)), int(std::lround(r.y))),
                cv::Size(int(std::lround(r.width)), int(std::lround(r.height))));
    ri &= cv::Rect(0, 0, img.cols, img.rows);
    cv::Mat& o = vision::unshared_buffer(ring_, os, img.type());  // memory no downstream node still holds
    if (ri.size() == os) img(ri).copyTo(o);
    else cv::resize(img(ri), o, os, 0, 0, cv::INTER_LINEAR);
    out.emit("image", o);
  }

 private:
  vision::AutoFramer framer_;
  cv::Size out_size_{0, 0};
  float aspect_ = 16.f / 9.f;
  std::vector<cv::Rect2f> boxes_;
  std::vector<cv::Mat> ring_;
};

NodeType type() {
  NodeType t;
  t.name = "auto_framer";
  t.help = "virtual camera: smooth crop that keeps every face (or the active speaker) in frame";
  t.inputs = {{"detections", types::detections, false, "faces"},
              {"image", types::image, false, "the frame to crop"},
              {"speaker", types::speaker, true, "index of the active speaker's face (side input)"}};
  t.outputs = {{"crop", types::rect, false, "crop rectangle in frame pixels"},
               {"image", types::image, false, "the cropped view at output_size"}};
  t.params = {{"aspect", "string", "16:9", "output aspect W:H"},
              {"output_size", "string", "", "WxH of the view (default: frame width at the aspect)"},
              {"margin_side", "float", "0.6", "space each side, x face width"},
              {"margin_top", "float", "0.6", "headroom, x face height"},
              {"margin_bottom", "float", "1.5", "space below, x face height"},
              {"min_width", "float", "0.3", "smallest crop width, fraction of the frame"},
              {"max_pan_speed", "float", "0.015", "max centre motion per frame, fraction of frame width"},
              {"max_zoom_speed", "float", "0.015", "max width change per frame, fraction of frame width"},
              {"easing", "float", "0.12", "fraction of the remaining distance moved per frame"},
              {"dead_zone", "float", "0.08", "re-target only beyond this fraction of the crop width"},
              {"hold_frames", "int", "45", "frames without faces before zooming out"}};
  t.create = [](const Params& p) { return std::make_unique<AutoFramerNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
