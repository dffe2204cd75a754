// video_sink: writes frames to a video file (OpenCV VideoWriter, mp4v).
#include <opencv2/videoio.hpp>

#include "pipeline/nodes/sinks.h"

namespace ef::pipe {
namespace {

class VideoSink : public Node {
 public:
  explicit VideoSink(const Params& p) : path_(p.str("path")), fps_(p.f("fps", 30)), where_(p.where("path")) {
    std::string fc = p.str("fourcc", "mp4v");
    if (fc.size() != 4) throw Error(p.where("fourcc") + ": a fourcc has 4 characters, got '" + fc + "'");
    fourcc_ = cv::VideoWriter::fourcc(fc[0], fc[1], fc[2], fc[3]);
    if (fps_ <= 0) throw Error(p.where("fps") + ": must be > 0");
  }
  void process(Context&, const Inputs& in, Outputs&) override {
    const cv::Mat& img = in["image"].as<cv::Mat>();
    if (!w_.isOpened()) {
      make_parent_dir(path_);
      if (!w_.open(path_, cv::CAP_FFMPEG, fourcc_, fps_, img.size(), true))
        throw Error(where_ + ": cannot write video '" + path_ + "'");
      size_ = img.size();
    }
    if (img.size() != size_) throw Error(where_ + ": frame size changed during the video");
    w_.write(img);
  }
  void close(Context&) override { w_.release(); }

 private:
  std::string path_;
  double fps_;
  std::string where_;
  int fourcc_;
  cv::Size size_;
  cv::VideoWriter w_;
};

NodeType type() {
  NodeType t;
  t.name = "video_sink";
  t.help = "video file (mp4v by default)";
  t.inputs = {{"image", types::image, false, "frames"}};
  t.params = {{"path", "string", "", "output file, e.g. out/demo.mp4", true},
              {"fps", "float", "30", "frame rate of the file"},
              {"fourcc", "string", "mp4v", "codec"}};
  t.create = [](const Params& p) { return std::make_unique<VideoSink>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
