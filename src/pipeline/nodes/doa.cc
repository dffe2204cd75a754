// doa: audio blocks -> per-hop direction-of-arrival frames (SRP-PHAT or the
// learned estimator) with voice activity.
#include "pipeline/nodes/audio_packets.h"

namespace ef::pipe {
namespace {

class DoaNode : public Node {
 public:
  explicit DoaNode(const Params& p) : where_(p.where()) {
    g_ = audio::load_geometry(p.str("array", "ula8"), p.f("spacing", 0.04));
    audio::DoaParams dp;
    dp.sample_rate = int(p.i("rate", 16000));
    const std::string est = p.str("estimator", "srp");
    if (est == "cnn") {
      audio::CnnDoaParams cp;
      cp.model = p.str("model", cp.model);
      cnn_ = std::make_unique<audio::CnnDoaEstimator>(g_, cp, dp);
    } else if (est == "srp") {
      srp_ = std::make_unique<audio::DoaEstimator>(g_, dp);
    } else {
      throw Error(p.where("estimator") + ": expected srp or cnn, got '" + est + "'");
    }
    rate_ = dp.sample_rate;
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& b = in["audio"].as<AudioBlock>();
    if (b.sample_rate != rate_)
      throw Error(where_ + ": audio at " + std::to_string(b.sample_rate) + " Hz, the estimator runs at " +
                  std::to_string(rate_) + " Hz (set the audio_source's rate)");
    if (int(b.ch.size()) != g_.mics())
      throw Error(where_ + ": audio has " + std::to_string(b.ch.size()) + " channel(s) but array '" + g_.name + "' has " +
                  std::to_string(g_.mics()) + " microphones");
    ptr_.resize(b.ch.size());
    for (size_t c = 0; c < b.ch.size(); ++c) ptr_[c] = b.ch[c].data();
    DoaPacket pk;
    const size_t n = b.ch.empty() ? 0 : b.ch[0].size();
    if (cnn_) cnn_->push(ptr_.data(), int(ptr_.size()), n, pk.frames);
    else srp_->push(ptr_.data(), int(ptr_.size()), n, pk.frames);
    out.emit("doa", std::move(pk));
  }

 private:
  std::string where_;
  audio::ArrayGeometry g_;
  std::unique_ptr<audio::DoaEstimator> srp_;
  std::unique_ptr<audio::CnnDoaEstimator> cnn_;
  std::vector<const float*> ptr_;
  int rate_ = 16000;
};

NodeType type() {
  NodeType t;
  t.name = "doa";
  t.help = "direction of arrival on a microphone array (SRP-PHAT or the learned CNN) + voice activity";
  t.inputs = {{"audio", types::audio, false, "blocks from audio_source"}};
  t.outputs = {{"doa", types::doa, false, "DOA frames (16 ms) of the block"}};
  t.params = {{"array", "string", "ula8", "ula8, ula4 or a geometry file"},
              {"spacing", "float", "0.04", "mic spacing of the ula presets (m)"},
              {"rate", "int", "16000", "sample rate the estimator expects"},
              {"estimator", "string", "srp", "srp | cnn"},
              {"model", "string", ".cache/models/doa_cnn_xspec.onnx", "ONNX model for estimator: cnn"}};
  t.create = [](const Params& p) { return std::make_unique<DoaNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
