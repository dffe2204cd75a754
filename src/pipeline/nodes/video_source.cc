// video_source: a video file (OpenCV/FFmpeg) or a V4L2 camera (index or
// /dev/videoN). Cameras are live: frames are dropped when the pipeline is busy.
#include <cctype>
#include <filesystem>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "pipeline/nodes/sources.h"

namespace ef::pipe {
namespace {

bool is_device(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit((unsigned char)c); })) return true;
  return s.rfind("/dev/video", 0) == 0;
}

class VideoSource : public Node {
 public:
  explicit VideoSource(const Params& p) : path_(p.str("path")) {
    device_ = is_device(path_);
    live_ = p.b("live", device_);
    max_frames_ = p.i("max_frames", 0);
    loop_ = p.b("loop", false);
    if (p.has("resize") && !p.str("resize").empty()) resize_ = parse_size(p.str("resize"), p.where("resize"));
    if (device_) {
      bool ok = std::all_of(path_.begin(), path_.end(), [](char c) { return std::isdigit((unsigned char)c); })
                    ? cap_.open(std::stoi(path_), cv::CAP_V4L2)
                    : cap_.open(path_, cv::CAP_V4L2);
      if (!ok || !cap_.isOpened())
        throw Error(p.where("path") + ": cannot open camera '" + path_ + "' (no such V4L2 device, or it is busy)");
    } else {
      if (!std::filesystem::exists(path_)) throw Error(p.where("path") + ": video file '" + path_ + "' does not exist");
      if (!cap_.open(path_, cv::CAP_FFMPEG) || !cap_.isOpened())
        throw Error(p.where("path") + ": cannot open video '" + path_ + "' (not a video, or corrupt)");
      count_ = int64_t(cap_.get(cv::CAP_PROP_FRAME_COUNT));
      if (max_frames_ > 0 && (count_ <= 0 || count_ > max_frames_)) count_ = max_frames_;
    }
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 30;
    if (p.has("fps") && !device_) {  // e.g. play a 24 fps clip as a 30 fps camera
      fps_ = p.f("fps", fps_);
      if (!(fps_ > 0 && fps_ < 1000)) throw Error(p.where("fps") + ": must be in (0, 1000)");
    }
    if (live_ && !device_) pacer_ = std::make_unique<Pacer>(fps_);
  }
  bool live() const override { return live_; }
  int64_t frame_count() const override { return loop_ ? -1 : count_; }
  bool generate(Context&, Outputs& out) override {
    if (max_frames_ > 0 && n_ >= max_frames_) return false;
    if (pacer_) {  // a file played like a camera: the frame "arrives" now and is decoded
      pacer_->wait();
      out.set_captured();
    }
    bool got = cap_.grab();  // a camera: waits for the next frame
    if (device_) out.set_captured();
    // decode into memory nobody downstream holds any more (no allocation per frame)
    const bool resizing = resize_.width > 0;
    cv::Mat& f = resizing ? raw_ : vision::unshared_buffer(ring_, last_size_, CV_8UC3);
    if (!got || !cap_.retrieve(f) || f.empty()) {
      if (loop_ && n_ > 0 && !device_) {
        cap_.set(cv::CAP_PROP_POS_FRAMES, 0);
        if (!cap_.read(f) || f.empty()) return false;
      } else {
        if (n_ == 0) throw Error("'" + path_ + "': no frame could be decoded (corrupt or empty video)");
        return false;
      }
    }
    if (f.type() != CV_8UC3) {
      cv::Mat c;
      if (f.channels() == 1) cv::cvtColor(f, c, cv::COLOR_GRAY2BGR);
      else if (f.channels() == 4) cv::cvtColor(f, c, cv::COLOR_BGRA2BGR);
      else f.convertTo(c, CV_8UC3);
      f = c;
    }
    last_size_ = f.size();
    cv::Mat frame = f;
    if (resizing && f.size() != resize_) {
      frame = vision::unshared_buffer(ring_, resize_, CV_8UC3);
      cv::resize(f, frame, resize_, 0, 0, cv::INTER_LINEAR);
    }
    out.set_time(int64_t(n_ * 1e6 / fps_), n_);
    out.emit("image", frame);
    ++n_;
    return true;
  }

 private:
  std::string path_;
  bool device_ = false, live_ = false, loop_ = false;
  int64_t max_frames_ = 0, count_ = -1, n_ = 0;
  double fps_ = 30;
  cv::Size resize_{0, 0};
  cv::VideoCapture cap_;
  cv::Mat raw_;  // decoded frame before resizing
  cv::Size last_size_;
  std::vector<cv::Mat> ring_;
  std::unique_ptr<Pacer> pacer_;
};

NodeType type() {
  NodeType t;
  t.name = "video_source";
  t.help = "video file (FFmpeg) or V4L2 camera (0, /dev/video0)";
  t.source = true;
  t.outputs = {{"image", types::image, false, "BGR frame"}};
  t.params = {{"path", "string", "", "file, camera index or /dev/videoN", true},
              {"live", "bool", "auto", "drop frames when busy (default: true for cameras; files are paced to their fps)"},
              {"max_frames", "int", "0", "stop after N frames (0 = all)"},
              {"loop", "bool", "false", "restart a file at its end"},
              {"fps", "float", "the file's", "frame rate of a file (timestamps, and pacing when live)"},
              {"resize", "string", "", "resize frames to WxH (e.g. 1280x720)"}};
  t.create = [](const Params& p) { return std::make_unique<VideoSource>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
