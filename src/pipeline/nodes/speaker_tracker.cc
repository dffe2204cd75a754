// speaker_tracker: DOA frames -> speaker tracks, the active speaker and
// birth/death/speaker_change events, with a short history of states.
#include <iostream>

#include "pipeline/nodes/audio_packets.h"

namespace ef::pipe {
namespace {

class SpeakerTrackerNode : public Node {
 public:
  explicit SpeakerTrackerNode(const Params& p)
      : timeline_(std::make_shared<TrackerTimeline>(p.f("history_s", 10.0))), log_(p.b("log_events", false)) {
    audio::TrackerParams tp;
    tp.gate_deg = p.f("gate_deg", tp.gate_deg);
    tp.death_s = p.f("death_s", tp.death_s);
    tp.switch_s = p.f("switch_s", tp.switch_s);
    tracker_ = audio::SpeakerTracker(tp);
  }
  void process(Context& ctx, const Inputs& in, Outputs& out) override {
    const auto& d = in["doa"].as<DoaPacket>();
    AudioSpeaker sp;
    for (auto& f : d.frames) timeline_->add(f.time, tracker_.update(f, sp.events));
    if (log_)
      for (auto& e : sp.events)
        std::cerr << ctx.node_id() << ": " << e.time << " s " << e.type << " track " << e.track << " azimuth "
                  << e.azimuth << "\n";
    sp.timeline = timeline_;
    out.emit("speaker", std::move(sp));
  }
  void close(Context&) override { timeline_->finish(); }

 private:
  audio::SpeakerTracker tracker_;
  std::shared_ptr<TrackerTimeline> timeline_;
  bool log_;
};

NodeType type() {
  NodeType t;
  t.name = "speaker_tracker";
  t.help = "speaker tracks over DOA frames: smoothing, birth/death, active speaker and speaker-change events";
  t.inputs = {{"doa", types::doa, false, "from the doa node"}};
  t.outputs = {{"speaker", types::audio_speaker, false, "recent tracker states + new events"}};
  t.params = {{"gate_deg", "float", "12", "association gate (degrees)"},
              {"death_s", "float", "2", "a track silent this long dies"},
              {"switch_s", "float", "0.25", "a new talker must lead this long while the active one still talks"},
              {"history_s", "float", "10", "seconds of states kept for lookup by video timestamp"},
              {"log_events", "bool", "false", "print events on stderr"}};
  t.create = [](const Params& p) { return std::make_unique<SpeakerTrackerNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
