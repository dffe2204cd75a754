// inference: image -> preprocessed tensor -> ef::Session -> output tensors.
// With several models (e.g. general 256x256 and landscape 144x256) the one
// whose input aspect is closest to the frame's is picked at the first frame.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

// The `delta:` block: temporal delta execution of the model (see the README).
DeltaOptions delta_options(const Params& p) {
  DeltaOptions d;
  d.enabled = p.b("delta.enabled", p.has("delta.threshold"));
  d.threshold = float(p.f("delta.threshold", d.threshold));
  d.input_threshold = float(p.f("delta.input_threshold", d.input_threshold));
  d.global_threshold = float(p.f("delta.global_threshold", d.global_threshold));
  d.refresh_every = int(p.i("delta.refresh", d.refresh_every));
  d.dense_above = float(p.f("delta.dense_above", d.dense_above));
  d.frame_skip = float(p.f("delta.frame_skip", d.frame_skip));
  d.auto_fallback = p.b("delta.fallback", d.auto_fallback);
  if (p.has("delta.layer_thresholds")) {
    d.enabled = true;
    d.layer_thresholds = load_delta_layer_thresholds(p.str("delta.layer_thresholds", ""));
  }
  if (d.threshold < 0) throw Error(p.where("delta.threshold") + ": must be >= 0");
  if (d.refresh_every < 0) throw Error(p.where("delta.refresh") + ": must be >= 0");
  return d;
}

class Inference : public Node {
 public:
  explicit Inference(const Params& p) {
    auto models = p.strings("model");
    if (models.empty()) throw Error(p.where("model") + ": missing (a .tflite or .onnx file, or a list of them)");
    std::string mode = p.str("mode", "stretch");
    if (mode != "stretch" && mode != "letterbox") throw Error(p.where("mode") + ": expected stretch or letterbox, got '" + mode + "'");
    auto range = p.floats("range", {0.0, 1.0});
    if (range.size() != 2) throw Error(p.where("range") + ": expected [lo, hi]");
    CompileOptions copts{.threads = int(p.i("threads", 1))};
    copts.delta = delta_options(p);
    for (auto& path : models) {
      if (!std::filesystem::exists(path))
        throw Error(p.where("model") + ": model file '" + path + "' does not exist (run tools/fetch_models.sh)");
      Entry e;
      e.path = path;
      try {
        e.session = std::make_unique<Session>(Model::load(path), copts);
      } catch (const Error& err) {
        throw Error(p.where("model") + ": " + err.what());
      }
      const Value& in = e.session->input_info(0);
      if (in.shape.size() != 4 || in.dtype != DType::f32)
        throw Error(p.where("model") + ": '" + path + "': expected one float NHWC or NCHW image input, got " +
                    shape_str(in.shape));
      e.nchw = in.shape[1] == 3 && in.shape[3] != 3;
      e.opt.height = int(e.nchw ? in.shape[2] : in.shape[1]);
      e.opt.width = int(e.nchw ? in.shape[3] : in.shape[2]);
      e.opt.keep_aspect = mode == "letterbox";
      e.opt.lo = float(range[0]);
      e.opt.hi = float(range[1]);
      e.opt.rgb = p.b("rgb", true);
      entries_.push_back(std::move(e));
    }
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const cv::Mat& img = in["image"].as<cv::Mat>();
    if (!chosen_) {
      double a = std::log(double(img.cols) / img.rows), best = 1e9;
      for (auto& e : entries_) {
        double d = std::abs(std::log(double(e.opt.width) / e.opt.height) - a);
        if (d < best) best = d, chosen_ = &e;
      }
    }
    Entry& e = *chosen_;
    Tensor& t = e.session->input(0);
    vision::Letterbox lb;
    if (e.nchw) {
      buf_.resize(size_t(e.opt.width) * e.opt.height * 3);
      lb = vision::image_to_tensor(img, buf_.data(), e.opt, &scratch_);
      float* d = t.data_as<float>();
      size_t hw = size_t(e.opt.width) * e.opt.height;
      for (size_t i = 0; i < hw; ++i)
        for (int c = 0; c < 3; ++c) d[c * hw + i] = buf_[i * 3 + c];
    } else {
      lb = vision::image_to_tensor(img, t.data_as<float>(), e.opt, &scratch_);
    }
    e.session->run();
    TensorPacket tp;
    tp.outputs = copy_outputs(*e.session);
    tp.letterbox = lb;
    tp.image_size = img.size();
    tp.model = e.path;
    out.emit("tensors", std::move(tp));
  }

 private:
  // The session's outputs copied into a set of tensors no downstream node
  // still holds (a ring, like vision::unshared_buffer for images): no
  // allocation per frame once the ring covers the frames in flight.
  std::vector<Tensor> copy_outputs(const Session& s) {
    auto fits = [&](const std::vector<Tensor>& set) {
      if (set.size() != s.num_outputs()) return false;
      for (size_t i = 0; i < set.size(); ++i)
        if (!set[i].unshared() || set[i].shape() != s.output(i).shape() || set[i].dtype() != s.output(i).dtype())
          return false;
      return true;
    };
    auto set = std::find_if(ring_.begin(), ring_.end(), fits);
    if (set == ring_.end()) {
      set = ring_.emplace(ring_.end());
      for (size_t i = 0; i < s.num_outputs(); ++i) set->push_back(s.output(i).clone());
    } else {
      for (size_t i = 0; i < set->size(); ++i) {
        std::memcpy((*set)[i].data(), s.output(i).data(), s.output(i).nbytes());
        (*set)[i].quant = s.output(i).quant;
      }
    }
    return *set;  // copies share the storage: the set is now held downstream
  }

  struct Entry {
    std::string path;
    std::unique_ptr<Session> session;
    vision::ToTensorOptions opt;
    bool nchw = false;
  };
  std::vector<Entry> entries_;
  Entry* chosen_ = nullptr;
  cv::Mat scratch_;
  std::vector<float> buf_;
  std::vector<std::vector<Tensor>> ring_;
};

NodeType type() {
  NodeType t;
  t.name = "inference";
  t.help = "runs a model (ef::Session) on the frame with configurable preprocessing";
  t.inputs = {{"image", types::image, false, "BGR frame"}};
  t.outputs = {{"tensors", types::tensors, false, "model outputs + letterbox"}};
  t.params = {{"model", "strings", "", "model file, or a list: the one whose input aspect fits the frame best", true},
              {"threads", "int", "1", "threads of the session"},
              {"mode", "string", "stretch", "stretch | letterbox"},
              {"range", "strings", "[0, 1]", "input value range [lo, hi]"},
              {"rgb", "bool", "true", "RGB channel order (false: BGR)"},
              {"delta.enabled", "bool", "false", "temporal delta execution (on when delta.threshold is given)"},
              {"delta.threshold", "float", "0", "delta gate on convolution inputs (output units; 0 = exact)"},
              {"delta.input_threshold", "float", "-1", "delta gate on the frame itself (-1 = delta.threshold)"},
              {"delta.global_threshold", "float", "0", "delta gate on pooled channel scales (largest |change|)"},
              {"delta.layer_thresholds", "string", "", "per-layer thresholds file (bench --calibrate --per-layer)"},
              {"delta.refresh", "int", "0", "dense refresh every N frames (0 = never)"},
              {"delta.dense_above", "float", "0.5", "reached fraction above which a convolution runs densely"},
              {"delta.frame_skip", "float", "-1", "skip frames whose mean |input change| is below this"},
              {"delta.fallback", "bool", "true", "run densely while delta frames are slower"}};
  t.create = [](const Params& p) { return std::make_unique<Inference>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
