// av_fusion: which face is talking. The audio tracker's active direction at
// the video frame's timestamp, matched to the face columns through the
// camera's horizontal field of view -> the index of the active speaker's box
// (auto_framer's `speaker` input), -1 when nobody talks or no face matches.
#include <iostream>

#include "pipeline/nodes/audio_packets.h"

namespace ef::pipe {
namespace {

class AvFusionNode : public Node {
 public:
  explicit AvFusionNode(const Params& p)
      : log_(p.b("log_events", false)), wait_(std::chrono::milliseconds(p.i("audio_wait_ms", 2000))) {
    audio::FusionParams fp;
    fp.hfov_deg = p.f("hfov", fp.hfov_deg);
    fp.camera_offset_deg = p.f("camera_offset", fp.camera_offset_deg);
    fp.max_error_deg = p.f("max_error", fp.max_error_deg);
    fp.switch_s = p.f("switch_s", fp.switch_s);
    if (!(fp.hfov_deg > 1 && fp.hfov_deg < 179)) throw Error(p.where("hfov") + ": must be in (1, 179) degrees");
    fusion_ = audio::ActiveSpeakerFusion(fp);
  }
  void process(Context& ctx, const Inputs& in, Outputs& out) override {
    const auto& d = in["detections"].as<Detections>();
    const double t = double(in.ts()) * 1e-6;
    audio::TrackerOutput st;  // nobody talking unless the audio says so
    if (in.has("audio") && !in["audio"].empty())  // the state at this frame's time (waits for the audio to get there)
      st = in["audio"].as<AudioSpeaker>().timeline->at(t, wait_);
    faces_.clear();  // kept between frames: no allocation per frame
    const int W = d.image_size.width;
    for (size_t i = 0; i < d.items.size(); ++i) {
      const auto& b = d.items[i].box;
      faces_.push_back({b.x * W, b.y * d.image_size.height, (b.x + b.width) * W, (b.y + b.height) * d.image_size.height,
                       int(i)});
    }
    const auto r = fusion_.update(t, st, faces_, W > 0 ? W : 1);
    if (log_ && r.changed) std::cerr << ctx.node_id() << ": " << t << " s active face " << r.face << "\n";
    out.emit("speaker", r.face);
  }

 private:
  audio::ActiveSpeakerFusion fusion_;
  std::vector<audio::FaceBox> faces_;
  bool log_;
  std::chrono::milliseconds wait_;
};

NodeType type() {
  NodeType t;
  t.name = "av_fusion";
  t.help = "active speaker: audio direction at the frame's time matched to the face columns";
  t.inputs = {{"detections", types::detections, false, "faces of the frame"},
              {"audio", types::audio_speaker, true, "speaker_tracker output (link it with sync: false)"}};
  t.outputs = {{"speaker", types::speaker, false, "index of the talking face in detections, -1 none"}};
  t.params = {{"hfov", "float", "78", "camera horizontal field of view (degrees)"},
              {"camera_offset", "float", "0", "array-to-camera yaw offset (degrees)"},
              {"max_error", "float", "12", "a face farther than this from the audio direction cannot be the talker"},
              {"switch_s", "float", "0.3", "hysteresis for speaker changes (s)"},
              {"audio_wait_ms", "int", "2000", "longest wait for the audio to reach a frame's time"},
              {"log_events", "bool", "false", "print active-face changes on stderr"}};
  t.create = [](const Params& p) { return std::make_unique<AvFusionNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
