// Audio pipeline nodes: a simulated 8-mic recording (talker at +20 degrees,
// shoebox room) next to a synthetic video with two faces -> doa ->
// speaker_tracker -> av_fusion picks the face on the talker's side; the
// streaming features equal the whole-file features; bad input names the node.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "edgeflow/audio.h"
#include "pipeline/nodes/audio_packets.h"

using namespace ef::pipe;
namespace au = ef::audio;
namespace fs = std::filesystem;

namespace {

// two faces: left at -25 degrees, right at +20 degrees (hfov 78, 640 px wide)
class TwoFaces : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs& out) override {
    const auto& img = in["image"].as<cv::Mat>();
    Detections d;
    d.image_size = img.size();
    for (double az : {-25.0, 20.0}) {
      const double u = au::azimuth_to_column(az, img.cols, 78) / img.cols;
      ef::vision::Detection det;
      det.box = cv::Rect2f(float(u - 0.05), 0.3f, 0.1f, 0.15f);
      det.score = 0.9f;
      d.items.push_back(det);
    }
    out.emit("detections", d);
  }
};

struct SpeakerLog {
  std::mutex m;
  std::vector<std::pair<int64_t, int>> v;
};
SpeakerLog& speaker_log() {
  static SpeakerLog s;
  return s;
}
class SpeakerCollect : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs&) override {
    std::lock_guard<std::mutex> l(speaker_log().m);
    speaker_log().v.push_back({in.ts(), in["speaker"].as<int>()});
  }
};
struct FeatureLog {
  std::mutex m;
  std::vector<AudioFeatures> v;
};
FeatureLog& feature_log() {
  static FeatureLog s;
  return s;
}
class FeatureCollect : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs&) override {
    std::lock_guard<std::mutex> l(feature_log().m);
    feature_log().v.push_back(in["features"].as<AudioFeatures>());
  }
};

NodeType faces_type() {
  NodeType t;
  t.name = "test_two_faces";
  t.inputs = {{"image", types::image, false, ""}};
  t.outputs = {{"detections", types::detections, false, ""}};
  t.create = [](const Params&) { return std::make_unique<TwoFaces>(); };
  return t;
}
NodeType speaker_type() {
  NodeType t;
  t.name = "test_speaker_collect";
  t.inputs = {{"speaker", types::speaker, false, ""}};
  t.create = [](const Params&) { return std::make_unique<SpeakerCollect>(); };
  return t;
}
NodeType features_type() {
  NodeType t;
  t.name = "test_features_collect";
  t.inputs = {{"features", types::audio_features, false, ""}};
  t.create = [](const Params&) { return std::make_unique<FeatureCollect>(); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(faces_type);
EF_REGISTER_PIPELINE_NODE(speaker_type);
EF_REGISTER_PIPELINE_NODE(features_type);

std::string tmpdir() {
  auto d = fs::temp_directory_path() / ("ef_audio_nodes_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}

// 8-mic recording: amplitude-modulated noise (syllable-like) from `az`
// between 0.5 and 3.0 s in a 6 x 5 x 3 m room, RT60 0.2 s, SNR 20 dB.
std::string talker_wav(double az, int rate = 16000) {
  const std::string path = tmpdir() + "/talker_" + std::to_string(int(az)) + "_" + std::to_string(rate) + ".wav";
  if (fs::exists(path)) return path;
  auto g = au::make_ula(8, 0.04);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  au::SimSource s;
  s.signal.resize(16000 * 5 / 2);
  float lp = 0;
  for (size_t i = 0; i < s.signal.size(); ++i) {
    lp = 0.6f * lp + 0.4f * nd(rng);
    const double env = std::max(0.0, std::sin(2 * M_PI * 4.0 * double(i) / 16000));
    s.signal[i] = float(0.3 * env * lp);
  }
  au::SimParams sp;
  sp.array_x = 3, sp.array_y = 0.4, sp.array_z = 1.2;
  au::place_at(sp, az, 1.5, &s.x, &s.y);
  s.z = 1.2;
  s.start_s = 0.5;
  auto a = au::simulate_room(au::Room{6, 5, 3, 0.2}, g, {s}, sp, 3.5);
  au::add_noise(a, au::diffuse_noise(g, a.frames(), 16000, 4), 20);
  if (rate != 16000) a = au::resample(a, rate);
  au::write_audio(path, a);
  return path;
}

std::string av_yaml(const std::string& wav, const std::string& doa_params = "{}") {
  return R"(
pipeline: av_test
nodes:
  src:
    type: test_pattern_source
    params: {size: 640x360, frames: 90, fps: 30}
  faces:
    type: test_two_faces
    inputs: {image: src.image}
  mics:
    type: audio_source
    params: {path: ")" + wav + R"(", channels: 8}
  doa:
    type: doa
    inputs: {audio: mics.audio}
    params: )" + doa_params + R"(
  tracker:
    type: speaker_tracker
    inputs: {doa: doa.doa}
  fusion:
    type: av_fusion
    inputs: {detections: faces.detections, audio: {from: tracker.speaker, sync: false}}
  framer:
    type: auto_framer
    inputs: {detections: faces.detections, image: src.image, speaker: fusion.speaker}
  out:
    type: test_speaker_collect
    inputs: {speaker: fusion.speaker}
)";
}

std::string error_of(const std::string& yaml) {
  try {
    Pipeline p(parse_pipeline(yaml, "av.yaml"));
    p.run();
  } catch (const ef::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(AudioNodes, FusionPicksTheTalkingFace) {
  speaker_log().v.clear();
  Pipeline p(parse_pipeline(av_yaml(talker_wav(20)), "av.yaml"));
  p.run();
  auto& v = speaker_log().v;
  ASSERT_EQ(v.size(), 90u);
  int before = 0, right = 0, after_n = 0;
  for (auto& [ts, who] : v) {
    if (ts < 400000) before += who == -1;  // nobody talks before 0.5 s
    if (ts >= 1000000) ++after_n, right += who == 1;
  }
  EXPECT_EQ(before, 12);  // frames at 0..0.4 s
  // after the tracker confirms the talker, the right-hand face is chosen
  // (measured: every frame from 1 s on)
  EXPECT_GE(double(right) / after_n, 0.9) << right << " of " << after_n;
}

TEST(AudioNodes, StreamingFeaturesMatchTheWholeFile) {
  feature_log().v.clear();
  const std::string wav = talker_wav(20);
  Pipeline p(parse_pipeline(R"(
pipeline: feat
nodes:
  mics:
    type: audio_source
    params: {path: ")" + wav + R"(", block: 300}
  feat:
    type: audio_features
    inputs: {audio: mics.audio}
    params: {kind: logmel, n_fft: 400, hop: 160, n_mels: 40}
  out:
    type: test_features_collect
    inputs: {features: feat.features}
)", "feat.yaml"));
  p.run();
  auto a = au::read_audio(wav);
  au::FeatureParams fp;
  fp.n_fft = 400, fp.hop_length = 160, fp.n_mels = 40, fp.center = false;
  ef::Shape ref_shape;
  auto ref = au::compute_features(a, "logmel", fp, &ref_shape);  // [8, 40, T]
  const int64_t C = ref_shape[0], R = ref_shape[1], T = ref_shape[2];
  int64_t t = 0;
  double max_err = 0;
  for (auto& f : feature_log().v) {
    ASSERT_EQ(f.first_frame, t);
    const int64_t n = f.shape[2];
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t k = 0; k < n; ++k)
          max_err = std::max(max_err, double(std::abs(f.data[size_t((c * R + r) * n + k)] -
                                                      ref[size_t((c * R + r) * T + t + k)])));
    t += n;
  }
  EXPECT_EQ(t, T);
  EXPECT_LT(max_err, 1e-3);
}

TEST(AudioNodes, OtherSampleRateIsResampled) {
  speaker_log().v.clear();
  Pipeline p(parse_pipeline(av_yaml(talker_wav(20, 48000)), "av.yaml"));
  p.run();
  int right = 0, n = 0;
  for (auto& [ts, who] : speaker_log().v)
    if (ts >= 1000000) ++n, right += who == 1;
  EXPECT_GE(double(right) / n, 0.9);
}

TEST(AudioNodes, BadInputNamesTheNode) {
  const std::string wav = talker_wav(20);
  // the array has 4 mics, the file 8 channels
  auto m = error_of(av_yaml(wav, "{array: ula4}"));
  EXPECT_NE(m.find("doa"), std::string::npos) << m;
  EXPECT_NE(m.find("8 channel"), std::string::npos) << m;
  // a file that is not audio
  const std::string junk = tmpdir() + "/junk.wav";
  { std::ofstream(junk) << "this is not a wav file"; }
  m = error_of(av_yaml(junk));
  EXPECT_NE(m.find("junk.wav"), std::string::npos) << m;
  // unknown estimator, missing learned model
  m = error_of(av_yaml(wav, "{estimator: music}"));
  EXPECT_NE(m.find("srp or cnn"), std::string::npos) << m;
  m = error_of(av_yaml(wav, "{estimator: cnn, model: /nonexistent/doa.onnx}"));
  EXPECT_NE(m.find("/nonexistent/doa.onnx"), std::string::npos) << m;
  // both a file and a device
  m = error_of(R"(
pipeline: x
nodes:
  mics:
    type: audio_source
    params: {path: a.wav, device: default}
  doa:
    type: doa
    inputs: {audio: mics.audio}
)");
  EXPECT_NE(m.find("exactly one of 'path'"), std::string::npos) << m;
}
