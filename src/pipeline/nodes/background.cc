// background: blur or replace everything the person mask does not cover.
#include <opencv2/imgcodecs.hpp>

#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

class Background : public Node {
 public:
  explicit Background(const Params& p) {
    vision::BackgroundOptions o;
    o.mode = p.str("mode", "blur");
    if (o.mode != "blur" && o.mode != "color" && o.mode != "image" && o.mode != "none")
      throw Error(p.where("mode") + ": expected blur, color, image or none, got '" + o.mode + "'");
    o.blur = int(p.i("blur", 25));
    if (o.blur < 1) throw Error(p.where("blur") + ": must be >= 1");
    auto c = p.floats("color", {0, 255, 0});
    if (c.size() != 3) throw Error(p.where("color") + ": expected [B, G, R]");
    o.color = cv::Scalar(c[0], c[1], c[2]);
    if (o.mode == "image") {
      std::string path = p.str("image");
      o.image = cv::imread(path, cv::IMREAD_COLOR);
      if (o.image.empty()) throw Error(p.where("image") + ": cannot read image '" + path + "'");
    }
    comp_ = vision::BackgroundCompositor(o);
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const cv::Mat& img = in["image"].as<cv::Mat>();
    const cv::Mat& m = in["mask"].as<cv::Mat>();
    if (m.size() != img.size()) throw Error("mask and image sizes differ");
    cv::Mat& o = vision::unshared_buffer(ring_, img.size(), CV_8UC3);
    comp_.apply(img, m, o);
    out.emit("image", o);
  }

 private:
  vision::BackgroundCompositor comp_;
  std::vector<cv::Mat> ring_;
};

NodeType type() {
  NodeType t;
  t.name = "background";
  t.help = "background blur or replacement (colour or image) behind the person mask";
  t.inputs = {{"image", types::image, false, "the frame"}, {"mask", types::mask, false, "person mask"}};
  t.outputs = {{"image", types::image, false, "composited frame"}};
  t.params = {{"mode", "string", "blur", "blur | color | image | none"},
              {"blur", "int", "25", "blur kernel size in pixels"},
              {"color", "strings", "[0, 255, 0]", "replacement colour [B, G, R]"},
              {"image", "string", "", "replacement image (mode: image)"}};
  t.create = [](const Params& p) { return std::make_unique<Background>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
