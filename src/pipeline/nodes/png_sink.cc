// png_sink: writes frames as PNG images (DIR/PREFIX000123.png).
#include <cstdio>

#include <opencv2/imgcodecs.hpp>

#include "pipeline/nodes/sinks.h"

namespace ef::pipe {
namespace {

class PngSink : public Node {
 public:
  explicit PngSink(const Params& p)
      : dir_(p.str("dir")), prefix_(p.str("prefix", "frame_")), every_(p.i("every", 1)), where_(p.where("dir")) {
    if (every_ < 1) throw Error(p.where("every") + ": must be >= 1");
    std::filesystem::create_directories(dir_);
  }
  void process(Context&, const Inputs& in, Outputs&) override {
    if (in.seq() % every_ != 0) return;
    char name[64];
    std::snprintf(name, sizeof name, "%06lld.png", (long long)in.seq());
    std::string path = (std::filesystem::path(dir_) / (prefix_ + name)).string();
    if (!cv::imwrite(path, in["image"].as<cv::Mat>())) throw Error(where_ + ": cannot write '" + path + "'");
  }

 private:
  std::string dir_, prefix_;
  int64_t every_;
  std::string where_;
};

NodeType type() {
  NodeType t;
  t.name = "png_sink";
  t.help = "PNG frames in a folder";
  t.inputs = {{"image", types::image, false, "frames"}};
  t.params = {{"dir", "string", "", "output folder", true},
              {"prefix", "string", "frame_", "file name prefix"},
              {"every", "int", "1", "write every N-th frame"}};
  t.create = [](const Params& p) { return std::make_unique<PngSink>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
