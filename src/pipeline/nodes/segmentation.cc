// segmentation: model output (person probability) -> refined mask at frame
// size (temporal smoothing, guided-filter upsampling, feathered edges).
#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

class Segmentation : public Node {
 public:
  explicit Segmentation(const Params& p) {
    vision::MaskRefineOptions o;
    o.temporal = float(p.f("temporal", o.temporal));
    o.guided_radius = int(p.i("guided_radius", o.guided_radius));
    o.guided_eps = float(p.f("guided_eps", o.guided_eps));
    o.edge_lo = float(p.f("edge_lo", o.edge_lo));
    o.edge_hi = float(p.f("edge_hi", o.edge_hi));
    if (o.temporal <= 0 || o.temporal > 1) throw Error(p.where("temporal") + ": must be in (0, 1]");
    output_ = int(p.i("output", 0));
    refiner_ = vision::MaskRefiner(o);
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& tp = in["tensors"].as<TensorPacket>();
    const cv::Mat& img = in["image"].as<cv::Mat>();
    if (output_ >= int(tp.outputs.size())) throw Error("model has no output " + std::to_string(output_));
    const Tensor& t = tp.outputs[output_];
    // [1,H,W,1] (NHWC) or [1,1,H,W] or [1,H,W]
    int h, w;
    if (t.rank() == 4 && t.dim(3) == 1) h = int(t.dim(1)), w = int(t.dim(2));
    else if (t.rank() == 4 && t.dim(1) == 1) h = int(t.dim(2)), w = int(t.dim(3));
    else if (t.rank() == 3) h = int(t.dim(1)), w = int(t.dim(2));
    else throw Error("expected a one-channel mask output, got " + shape_str(t.shape()));
    if (t.dtype() != DType::f32) throw Error("expected a float mask output");
    cv::Mat small(h, w, CV_32F, const_cast<void*>(t.data()));
    out.emit("mask", refiner_.refine(small, tp.letterbox, img));  // a fresh buffer per frame in flight, no copy
  }

 private:
  int output_ = 0;
  vision::MaskRefiner refiner_;
};

NodeType type() {
  NodeType t;
  t.name = "segmentation";
  t.help = "person mask from a segmentation model's output, refined to the frame";
  t.inputs = {{"tensors", types::tensors, false, "segmentation model output"},
              {"image", types::image, false, "the frame (guide for edge-aware upsampling)"}};
  t.outputs = {{"mask", types::mask, false, "CV_32F person probability at frame size"}};
  t.params = {{"temporal", "float", "0.6", "weight of the new mask in the running average (1 = off)"},
              {"guided_radius", "int", "6", "guided filter radius in frame pixels (0 = bilinear only)"},
              {"guided_eps", "float", "0.001", "guided filter regularization"},
              {"edge_lo", "float", "0.25", "feathering: probability mapped to 0"},
              {"edge_hi", "float", "0.75", "feathering: probability mapped to 1"},
              {"output", "int", "0", "which model output holds the mask"}};
  t.create = [](const Params& p) { return std::make_unique<Segmentation>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
