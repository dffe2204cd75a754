// image_folder_source: every image of a folder, in name order.
#include <algorithm>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "pipeline/nodes/sources.h"

namespace ef::pipe {
namespace {

class ImageFolder : public Node {
 public:
  explicit ImageFolder(const Params& p) : fps_(p.f("fps", 30)), live_(p.b("live", false)), loop_(p.b("loop", false)) {
    std::string dir = p.str("path");
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw Error(p.where("path") + ": '" + dir + "' is not a folder");
    for (auto& e : fs::directory_iterator(dir)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") files_.push_back(e.path().string());
    }
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) throw Error(p.where("path") + ": no .png/.jpg/.bmp images in '" + dir + "'");
    if (live_) pacer_ = std::make_unique<Pacer>(fps_);
  }
  bool live() const override { return live_; }
  int64_t frame_count() const override { return loop_ ? -1 : int64_t(files_.size()); }
  bool generate(Context&, Outputs& out) override {
    if (!loop_ && n_ >= int64_t(files_.size())) return false;
    if (pacer_) pacer_->wait();
    out.set_captured();
    const std::string& f = files_[n_ % files_.size()];
    cv::Mat img = cv::imread(f, cv::IMREAD_COLOR);
    if (img.empty()) throw Error("'" + f + "': cannot decode image");
    out.set_time(int64_t(n_ * 1e6 / fps_), n_);
    out.emit("image", img);
    ++n_;
    return true;
  }

 private:
  double fps_;
  bool live_, loop_;
  std::vector<std::string> files_;
  int64_t n_ = 0;
  std::unique_ptr<Pacer> pacer_;
};

NodeType type() {
  NodeType t;
  t.name = "image_folder_source";
  t.help = "the images of a folder in name order";
  t.source = true;
  t.outputs = {{"image", types::image, false, "BGR frame"}};
  t.params = {{"path", "string", "", "folder", true},
              {"fps", "float", "30", "frame rate for timestamps"},
              {"live", "bool", "false", "pace to fps, drop frames when busy"},
              {"loop", "bool", "false", "repeat forever"}};
  t.create = [](const Params& p) { return std::make_unique<ImageFolder>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
