// audio_source: a multichannel WAV/FLAC file (libsndfile) or an ALSA capture
// device, cut into blocks stamped with media time (first sample / rate), the
// clock video_source uses for its frames.
#include <cmath>
#include <iostream>

#ifdef EF_HAVE_ALSA
#include <alsa/asoundlib.h>
#endif

#include "pipeline/nodes/audio_packets.h"
#include "pipeline/nodes/sources.h"

namespace ef::pipe {
namespace {

class AudioSource : public Node {
 public:
  explicit AudioSource(const Params& p) {
    const std::string path = p.str("path"), device = p.str("device");
    block_ = int(p.i("block", 512));
    if (block_ < 16 || block_ > 65536) throw Error(p.where("block") + ": must be 16..65536 samples");
    const int rate = int(p.i("rate", 16000));
    const int channels = int(p.i("channels", 0));
    max_s_ = p.f("max_seconds", 0);
    if (path.empty() == device.empty()) throw Error(p.where() + ": give exactly one of 'path' (a file) or 'device' (ALSA)");
    if (!path.empty()) {
      audio_ = audio::read_audio(path);  // names the file on every error
      if (channels > 0 && audio_.channels() != channels)
        throw Error(p.where("channels") + ": '" + path + "' has " + std::to_string(audio_.channels()) +
                    " channel(s), expected " + std::to_string(channels));
      if (rate > 0 && audio_.sample_rate != rate) {
        std::cerr << "warning: " << path << ": resampled from " << audio_.sample_rate << " Hz to " << rate << " Hz\n";
        audio_ = audio::resample(audio_, rate);
      }
      if (audio::signal_stats(audio_).silent) std::cerr << "warning: " << path << ": the recording is silent\n";
      live_ = p.b("live", false);
      if (live_) pacer_ = std::make_unique<Pacer>(double(audio_.sample_rate) / block_);
    } else {
#ifdef EF_HAVE_ALSA
      if (channels <= 0) throw Error(p.where("channels") + ": an ALSA device needs 'channels' (the array's mic count)");
      open_alsa(p, device, channels, rate > 0 ? rate : 16000);
      live_ = true;
#else
      throw Error(p.where("device") + ": this build has no ALSA support (install libasound2-dev and rebuild)");
#endif
    }
  }
  ~AudioSource() override {
#ifdef EF_HAVE_ALSA
    if (pcm_) snd_pcm_close(pcm_);
#endif
  }
  bool live() const override { return live_; }
  int64_t frame_count() const override {
    if (pcm_) return -1;
    size_t n = audio_.frames();
    if (max_s_ > 0) n = std::min(n, size_t(max_s_ * audio_.sample_rate));
    return int64_t((n + size_t(block_) - 1) / size_t(block_));
  }
  bool generate(Context&, Outputs& out) override {
    AudioBlock b;
    if (pcm_) {
      if (!read_alsa(b)) return false;
    } else {
      size_t end = audio_.frames();
      if (max_s_ > 0) end = std::min(end, size_t(max_s_ * audio_.sample_rate));
      if (pos_ >= end) return false;
      if (pacer_) pacer_->wait();
      const size_t n = std::min(size_t(block_), end - pos_);
      b.sample_rate = audio_.sample_rate;
      b.first_sample = int64_t(pos_);
      for (auto& c : audio_.ch) b.ch.emplace_back(c.begin() + long(pos_), c.begin() + long(pos_ + n));
      pos_ += n;
    }
    out.set_time(media_us(double(b.first_sample) / b.sample_rate), seq_++);
    out.emit("audio", std::move(b));
    return true;
  }

 private:
#ifdef EF_HAVE_ALSA
  void open_alsa(const Params& p, const std::string& dev, int channels, int rate) {
    auto check = [&](int rc, const char* what) {
      if (rc < 0) throw Error(p.where("device") + ": ALSA '" + dev + "': " + what + ": " + snd_strerror(rc));
    };
    check(snd_pcm_open(&pcm_, dev.c_str(), SND_PCM_STREAM_CAPTURE, 0), "cannot open capture device");
    check(snd_pcm_set_params(pcm_, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, unsigned(channels),
                             unsigned(rate), 1, 100000),
          "cannot set S16 / channels / rate");
    channels_ = channels;
    rate_ = rate;
    buf_.resize(size_t(block_) * channels);
  }
  bool read_alsa(AudioBlock& b) {
    snd_pcm_sframes_t n = snd_pcm_readi(pcm_, buf_.data(), snd_pcm_uframes_t(block_));
    if (n == -EPIPE) {  // overrun: the pipeline was too slow; restart, keep the clock honest
      std::cerr << "warning: ALSA overrun (samples lost)\n";
      snd_pcm_prepare(pcm_);
      return read_alsa(b);
    }
    if (n < 0) throw Error("ALSA read: " + std::string(snd_strerror(int(n))));
    b.sample_rate = rate_;
    b.first_sample = pos_;
    b.ch.assign(size_t(channels_), std::vector<float>(size_t(n)));
    for (snd_pcm_sframes_t i = 0; i < n; ++i)
      for (int c = 0; c < channels_; ++c) b.ch[size_t(c)][size_t(i)] = buf_[size_t(i) * channels_ + c] / 32768.f;
    pos_ += size_t(n);
    return n > 0;
  }
  snd_pcm_t* pcm_ = nullptr;
  std::vector<int16_t> buf_;
  int channels_ = 0, rate_ = 0;
#else
  bool read_alsa(AudioBlock&) { return false; }
  void* pcm_ = nullptr;
#endif
  audio::Audio audio_;
  size_t pos_ = 0;
  int64_t seq_ = 0;
  int block_ = 512;
  double max_s_ = 0;
  bool live_ = false;
  std::unique_ptr<Pacer> pacer_;
};

NodeType type() {
  NodeType t;
  t.name = "audio_source";
  t.help = "multichannel WAV/FLAC file or ALSA capture device -> audio blocks on the video clock";
  t.source = true;
  t.outputs = {{"audio", types::audio, false, "planar float blocks, ts = first sample / rate"}};
  t.params = {{"path", "string", "", "WAV/FLAC/OGG file (channel i = mic i)"},
              {"device", "string", "", "ALSA capture device, e.g. default or hw:1,0 (instead of path)"},
              {"channels", "int", "0", "expected channel count (required for a device; checked for a file)"},
              {"rate", "int", "16000", "output sample rate; a file at another rate is resampled (0 = keep)"},
              {"block", "int", "512", "samples per packet"},
              {"live", "bool", "false", "pace a file in real time (a device is always live)"},
              {"max_seconds", "float", "0", "stop after this much audio (0 = all)"}};
  t.create = [](const Params& p) { return std::make_unique<AudioSource>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
