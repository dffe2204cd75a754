// audio_features: streaming STFT / log-mel / MFCC (torchaudio conventions,
// center=False framing) of audio blocks; every packet carries the frames that
// completed in its block, so the concatenation equals the whole-file result.
#include "pipeline/nodes/audio_packets.h"

namespace ef::pipe {
namespace {

class AudioFeaturesNode : public Node {
 public:
  explicit AudioFeaturesNode(const Params& p) : kind_(p.str("kind", "logmel")) {
    if (!audio::feature_kind_ok(kind_))
      throw Error(p.where("kind") + ": expected stft, mel, logmel or mfcc, got '" + kind_ + "'");
    fp_.n_fft = int(p.i("n_fft", 400));
    fp_.hop_length = int(p.i("hop", 160));
    fp_.n_mels = int(p.i("n_mels", 64));
    fp_.n_mfcc = int(p.i("n_mfcc", 20));
    if (fp_.n_fft < 16 || fp_.hop_length < 1 || fp_.hop_length > fp_.n_fft)
      throw Error(p.where("hop") + ": need n_fft >= 16 and 1 <= hop <= n_fft");
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& b = in["audio"].as<AudioBlock>();
    if (!stream_) {  // the first block gives the channel count and rate
      fp_.sample_rate = b.sample_rate;
      stream_ = std::make_unique<audio::FeatureStream>(kind_, fp_, int(b.ch.size()));
      ptr_.resize(b.ch.size());
    }
    if (b.ch.size() != ptr_.size()) throw Error("audio_features: channel count changed mid-stream");
    if (b.sample_rate != fp_.sample_rate) throw Error("audio_features: sample rate changed mid-stream");
    for (size_t c = 0; c < b.ch.size(); ++c) ptr_[c] = b.ch[c].data();
    AudioFeatures f;
    f.kind = kind_;
    f.first_frame = frames_;
    const int n = stream_->push(ptr_.data(), int(ptr_.size()), b.ch.empty() ? 0 : b.ch[0].size(), f.data);
    f.shape = {int64_t(ptr_.size()), stream_->rows(), n};
    frames_ += n;
    out.emit("features", std::move(f));
  }

 private:
  std::string kind_;
  audio::FeatureParams fp_;
  std::unique_ptr<audio::FeatureStream> stream_;
  std::vector<const float*> ptr_;
  int64_t frames_ = 0;
};

NodeType type() {
  NodeType t;
  t.name = "audio_features";
  t.help = "streaming STFT / mel / log-mel / MFCC of audio blocks (torchaudio conventions, center=False)";
  t.inputs = {{"audio", types::audio, false, "blocks from audio_source"}};
  t.outputs = {{"features", types::audio_features, false, "[channels, rows, frames] completed in this block"}};
  t.params = {{"kind", "string", "logmel", "stft | mel | logmel | mfcc"},
              {"n_fft", "int", "400", "window (samples)"},
              {"hop", "int", "160", "hop (samples)"},
              {"n_mels", "int", "64", "mel bands"},
              {"n_mfcc", "int", "20", "MFCC coefficients"}};
  t.create = [](const Params& p) { return std::make_unique<AudioFeaturesNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
