// jsonl_sink: one JSON line per frame with every detection (pixels), mask
// statistics, the crop rectangle and the latency so far.
#include <cstdio>

#include "pipeline/nodes/sinks.h"

namespace ef::pipe {
namespace {

class JsonlSink : public Node {
 public:
  explicit JsonlSink(const Params& p) : path_(p.str("path")) {
    make_parent_dir(path_);
    f_ = std::fopen(path_.c_str(), "w");
    if (!f_) throw Error(p.where("path") + ": cannot write '" + path_ + "'");
  }
  ~JsonlSink() override {
    if (f_) std::fclose(f_);
  }
  void process(Context&, const Inputs& in, Outputs&) override {
    std::string s;
    char b[160];
    std::snprintf(b, sizeof b, "{\"frame\":%lld,\"ts_us\":%lld", (long long)in.seq(), (long long)in.ts());
    s += b;
    if (in.has("detections")) {
      const auto& d = in["detections"].as<Detections>();
      float W = float(d.image_size.width), H = float(d.image_size.height);
      s += ",\"faces\":[";
      for (size_t i = 0; i < d.items.size(); ++i) {
        auto& x = d.items[i];
        std::snprintf(b, sizeof b, "%s{\"score\":%.4f,\"box\":[%.1f,%.1f,%.1f,%.1f],\"keypoints\":[", i ? "," : "",
                      x.score, x.box.x * W, x.box.y * H, x.box.width * W, x.box.height * H);
        s += b;
        for (size_t k = 0; k < x.keypoints.size(); ++k) {
          std::snprintf(b, sizeof b, "%s[%.1f,%.1f]", k ? "," : "", x.keypoints[k].x * W, x.keypoints[k].y * H);
          s += b;
        }
        s += "]}";
      }
      s += "]";
    }
    if (in.has("mask")) {
      const auto& m = in["mask"].as<cv::Mat>();
      double cov = cv::mean(m)[0];
      cv::Mat fg = m > 0.5f;
      std::snprintf(b, sizeof b, ",\"mask\":{\"mean\":%.4f,\"person_fraction\":%.4f}", cov,
                    double(cv::countNonZero(fg)) / std::max<int>(1, m.rows * m.cols));
      s += b;
    }
    if (in.has("crop")) {
      const auto& r = in["crop"].as<cv::Rect2f>();
      std::snprintf(b, sizeof b, ",\"crop\":[%.1f,%.1f,%.1f,%.1f]", r.x, r.y, r.width, r.height);
      s += b;
    }
    double lat = std::chrono::duration<double, std::milli>(Clock::now() - in.items.front().second.born).count();
    std::snprintf(b, sizeof b, ",\"latency_ms\":%.2f}\n", lat);
    s += b;
    std::fwrite(s.data(), 1, s.size(), f_);
  }
  void close(Context&) override {
    if (f_) std::fflush(f_);
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

NodeType type() {
  NodeType t;
  t.name = "jsonl_sink";
  t.help = "JSON lines: one line per frame (detections, mask statistics, crop, latency)";
  t.inputs = {{"detections", types::detections, true, "faces"},
              {"mask", types::mask, true, "person mask"},
              {"crop", types::rect, true, "auto-framing crop"}};
  t.params = {{"path", "string", "", "output file, e.g. out/results.jsonl", true}};
  t.create = [](const Params& p) { return std::make_unique<JsonlSink>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
