// audio_features: streaming STFT / log-mel / MFCC (torchaudio conventions,
// center=False framing) of audio blocks; every packet carries the frames that
// completed in its block, so the concatenation equals the whole-file result.
#include "pipeline/nodes/audio_packets.h"

namespace ef::pipe {
namespace {

class AudioFeaturesNode : public Node {
 public:
  explicit AudioFeaturesNode(const Params& p) : kind_(p.str("kind", "logmel")) {
    if (kind_ != "stft" && kind_ != "mel" && kind_ != "logmel" && kind_ != "mfcc")
      throw Error(p.where("kind") + ": expected stft, mel, logmel or mfcc, got '" + kind_ + "'");
    fp_.n_fft = int(p.i("n_fft", 400));
    fp_.hop_length = int(p.i("hop", 160));
    fp_.n_mels = int(p.i("n_mels", 64));
    fp_.n_mfcc = int(p.i("n_mfcc", 20));
    fp_.center = false;  // streaming: no look-ahead padding
    fp_.top_db = 1e9;    // no clamp relative to a whole-file maximum
    if (fp_.n_fft < 16 || fp_.hop_length < 1 || fp_.hop_length > fp_.n_fft)
      throw Error(p.where("hop") + ": need n_fft >= 16 and 1 <= hop <= n_fft");
  }
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& b = in["audio"].as<AudioBlock>();
    if (buf_.empty()) buf_.resize(b.ch.size());
    if (b.ch.size() != buf_.size()) throw Error("audio_features: channel count changed mid-stream");
    fp_.sample_rate = b.sample_rate;
    for (size_t c = 0; c < b.ch.size(); ++c) buf_[c].insert(buf_[c].end(), b.ch[c].begin(), b.ch[c].end());
    AudioFeatures f;
    f.kind = kind_;
    f.first_frame = frames_;
    const size_t L = buf_[0].size(), N = size_t(fp_.n_fft), H = size_t(fp_.hop_length);
    if (L >= N) {
      const size_t nf = (L - N) / H + 1;
      audio::Audio chunk;
      chunk.sample_rate = b.sample_rate;
      for (auto& c : buf_) chunk.ch.emplace_back(c.begin(), c.begin() + long((nf - 1) * H + N));
      f.data = audio::compute_features(chunk, kind_, fp_, &f.shape);
      for (auto& c : buf_) c.erase(c.begin(), c.begin() + long(nf * H));
      frames_ += int64_t(nf);
    } else {
      f.shape = {int64_t(buf_.size()), 0, 0};
    }
    out.emit("features", std::move(f));
  }

 private:
  std::string kind_;
  audio::FeatureParams fp_;
  std::vector<std::vector<float>> buf_;
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
