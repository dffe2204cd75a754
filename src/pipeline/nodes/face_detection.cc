// face_detection: BlazeFace outputs -> faces (anchors, box + 6 keypoints,
// weighted NMS, letterbox removal).
#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

class FaceDetection : public Node {
 public:
  explicit FaceDetection(const Params& p) : variant_(p.str("variant", "auto")), p_(p) {
    if (variant_ != "auto" && variant_ != "short" && variant_ != "full")
      throw Error(p.where("variant") + ": expected auto, short or full, got '" + variant_ + "'");
    max_faces_ = int(p.i("max_faces", -1));
  }
  void configure(int num_boxes) {
    std::string v = variant_ != "auto" ? variant_ : num_boxes == 2304 ? "full" : "short";
    cfg_ = vision::blazeface_config(v);
    if (p_.has("min_score")) cfg_.decode.min_score_thresh = float(p_.f("min_score", 0.5));
    if (p_.has("nms_threshold")) cfg_.nms_threshold = float(p_.f("nms_threshold", 0.3));
    anchors_ = vision::ssd_anchors(cfg_.anchors);
    if (int(anchors_.size()) != num_boxes)
      throw Error("the model has " + std::to_string(num_boxes) + " boxes but the " + v + "-range anchors number " + std::to_string(anchors_.size()));
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& tp = in["tensors"].as<TensorPacket>();
    if (tp.outputs.size() < 2) throw Error("expected 2 model outputs (regressors, classificators)");
    // regressors [1,N,16], classificators [1,N,1] (either order)
    const Tensor* reg = &tp.outputs[0];
    const Tensor* cls = &tp.outputs[1];
    if (reg->dim(-1) == 1) std::swap(reg, cls);
    int n = int(reg->dim(-2));
    if (reg->dim(-1) != 16 || cls->numel() != n)
      throw Error("expected BlazeFace outputs [1,N,16] and [1,N,1], got " + shape_str(reg->shape()) + " and " +
                  shape_str(cls->shape()));
    if (anchors_.empty()) configure(n);
    auto dets = vision::decode_detections(reg->data_as<float>(), cls->data_as<float>(), anchors_, cfg_.decode);
    dets = vision::weighted_nms(std::move(dets), cfg_.nms_threshold, max_faces_);
    vision::remove_letterbox(dets, tp.letterbox);
    Detections d;
    d.items = std::move(dets);
    d.image_size = tp.image_size;
    out.emit("detections", std::move(d));
  }

 private:
  std::string variant_;
  Params p_;
  vision::FaceDetectorConfig cfg_;
  std::vector<vision::Anchor> anchors_;
  int max_faces_ = -1;
};

NodeType type() {
  NodeType t;
  t.name = "face_detection";
  t.help = "BlazeFace post-processing: anchors, box + 6 keypoints, weighted NMS";
  t.inputs = {{"tensors", types::tensors, false, "BlazeFace outputs (inference with mode: letterbox, range: [-1, 1])"}};
  t.outputs = {{"detections", types::detections, false, "faces in normalized image coords"}};
  t.params = {{"variant", "string", "auto", "short | full | auto (by the number of boxes)"},
              {"min_score", "float", "0.5", "score threshold (full range: 0.6)"},
              {"nms_threshold", "float", "0.3", "IoU above which detections merge"},
              {"max_faces", "int", "-1", "keep at most N faces (-1 = all)"}};
  t.create = [](const Params& p) { return std::make_unique<FaceDetection>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
