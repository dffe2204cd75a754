// Payloads of the audio pipeline nodes (audio_source, audio_features, doa,
// speaker_tracker, av_fusion). Audio packets are timestamped on the video's
// clock: microseconds of media time since the stream started (sample index /
// rate for audio, frame index / fps for video).
#pragma once
#include <deque>
#include <memory>

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
struct AudioSpeaker {
  // recent tracker states (oldest first), so a video frame can pick the state
  // at its own timestamp even when the audio branch runs ahead
  std::shared_ptr<const std::deque<TimedTrackerState>> history;
  std::vector<audio::TrackEvent> events;  // new in this packet
};

inline int64_t media_us(double seconds) { return int64_t(std::llround(seconds * 1e6)); }

}  // namespace ef::pipe
