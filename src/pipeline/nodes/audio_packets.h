// Payloads of the audio pipeline nodes (audio_source, audio_features, doa,
// speaker_tracker, av_fusion). Audio packets are timestamped on the video's
// clock: microseconds of media time since the stream started (sample index /
// rate for audio, frame index / fps for video).
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "edgeflow/audio.h"
#include "edgeflow/pipeline.h"

namespace ef::pipe {

namespace types {
inline constexpr const char* audio = "audio";                  // pipe::AudioBlock
inline constexpr const char* audio_features = "audio_features";  // pipe::AudioFeatures
inline constexpr const char* doa = "doa";                      // pipe::DoaPacket
inline constexpr const char* audio_speaker = "audio_speaker";  // pipe::AudioSpeaker
}  // namespace types

struct AudioBlock {
  int sample_rate = 0;
  int64_t first_sample = 0;            // index of ch[c][0] since the stream started
  std::vector<std::vector<float>> ch;  // planar, [-1, 1]
};
struct AudioFeatures {
  std::string kind;                    // logmel | mfcc | stft
  std::vector<float> data;             // [channels, rows, frames] of this block
  ef::Shape shape;
  int64_t first_frame = 0;             // index of the first feature frame
};
struct DoaPacket {
  std::vector<audio::DoaFrame> frames;  // DoaFrame::time is media time (s)
};
struct TimedTrackerState {
  double time = 0;
  audio::TrackerOutput state;
};
// The tracker's states over media time, shared by speaker_tracker (writer)
// and av_fusion (reader): a video frame asks for the state at its own
// timestamp and waits until the audio has got that far (or ended), so file
// processing does not depend on which branch runs faster.
class TrackerTimeline {
 public:
  explicit TrackerTimeline(double keep_s) : keep_s_(keep_s) {}
  void add(double t, const audio::TrackerOutput& s) {
    {
      std::lock_guard<std::mutex> l(m_);
      h_.push_back({t, s});
      while (h_.front().time < t - keep_s_) h_.pop_front();
    }
    cv_.notify_all();
  }
  void finish() {
    {
      std::lock_guard<std::mutex> l(m_);
      done_ = true;
    }
    cv_.notify_all();
  }
  // The newest state not later than t (nobody talking before the first).
  audio::TrackerOutput at(double t, std::chrono::milliseconds wait) const {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait_for(l, wait, [&] { return done_ || (!h_.empty() && h_.back().time >= t); });
    for (auto it = h_.rbegin(); it != h_.rend(); ++it)
      if (it->time <= t) return it->state;
    return {};
  }

 private:
  double keep_s_;
  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  std::deque<TimedTrackerState> h_;
  bool done_ = false;
};

struct AudioSpeaker {
  std::shared_ptr<const TrackerTimeline> timeline;
  std::vector<audio::TrackEvent> events;  // new in this packet
};

inline int64_t media_us(double seconds) { return int64_t(std::llround(seconds * 1e6)); }

}  // namespace ef::pipe
