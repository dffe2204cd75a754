// Speaker tracker over DOA frames: association with a gate, exponential
// smoothing, track birth (confirmed after a few hits) and death (silence),
// and the active speaker with hysteresis, reported as events.
#include <algorithm>
#include <cmath>

#include "edgeflow/audio.h"

namespace ef::audio {

SpeakerTracker::SpeakerTracker(const TrackerParams& p) : p_(p) {}

TrackerOutput SpeakerTracker::update(const DoaFrame& f, std::vector<TrackEvent>& events) {
  const double t = f.time;
  int main_track = -1;
  if (f.voice) {
    last_voice_ = t;
    for (size_t si = 0; si < f.sources.size(); ++si) {
      const auto& s = f.sources[si];
      Track* best = nullptr;
      double bd = p_.gate_deg;
      for (auto& tr : tracks_) {
        const double d = std::abs(tr.azimuth - s.azimuth);
        // confirmed tracks win ties against tentative ones
        if (d < bd || (best && !best->confirmed && tr.confirmed && d < p_.gate_deg)) {
          bd = d;
          best = &tr;
        }
      }
      if (!best) {
        Track nt;
        nt.id = next_id_++;
        nt.azimuth = s.azimuth;
        nt.born = nt.last_seen = t;
        nt.hits = 1;
        tracks_.push_back(nt);
        best = &tracks_.back();
      } else {
        const double a = best->confirmed ? p_.smoothing : 0.6;
        best->azimuth += a * (s.azimuth - best->azimuth);
        best->last_seen = t;
        best->hits++;
      }
      best->activity = std::min(1.0, best->activity + 0.2 * (si == 0 ? 1.0 : 0.5));
      if (!best->confirmed && best->hits >= p_.birth_hits) {
        best->confirmed = true;
        events.push_back({t, "birth", best->id, -1, best->azimuth});
      }
      if (si == 0) main_track = best->id;
    }
  }
  // decay, tentative expiry, death
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    it->activity *= 0.95;
    if (!it->confirmed && t - it->born > p_.birth_window_s) {
      it = tracks_.erase(it);
      continue;
    }
    if (it->confirmed && t - it->last_seen > p_.death_s) {
      events.push_back({t, "death", it->id, -1, it->azimuth});
      if (active_ == it->id) {
        events.push_back({t, "speaker_change", -1, active_, it->azimuth});
        active_ = -1;
      }
      it = tracks_.erase(it);
      continue;
    }
    ++it;
  }
  // merge confirmed tracks that converged
  for (size_t i = 0; i < tracks_.size(); ++i)
    for (size_t j = i + 1; j < tracks_.size(); ++j)
      if (tracks_[i].confirmed && tracks_[j].confirmed && std::abs(tracks_[i].azimuth - tracks_[j].azimuth) < p_.gate_deg / 2) {
        const size_t keep = tracks_[i].born <= tracks_[j].born ? i : j, drop = keep == i ? j : i;
        if (active_ == tracks_[drop].id) active_ = tracks_[keep].id;
        if (main_track == tracks_[drop].id) main_track = tracks_[keep].id;
        events.push_back({t, "death", tracks_[drop].id, -1, tracks_[drop].azimuth});
        tracks_.erase(tracks_.begin() + long(drop));
        j = i;
      }
  auto find = [&](int id) -> Track* {
    for (auto& tr : tracks_)
      if (tr.id == id) return &tr;
    return nullptr;
  };
  // active speaker with hysteresis
  Track* mt = main_track >= 0 ? find(main_track) : nullptr;
  if (mt && !mt->confirmed) mt = nullptr;
  if (mt) {
    if (active_ < 0) {
      events.push_back({t, "speaker_change", mt->id, -1, mt->azimuth});
      active_ = mt->id;
      candidate_ = -1;
    } else if (mt->id != active_) {
      const Track* cur = find(active_);
      if (!cur || t - cur->last_seen > p_.quiet_switch_s) {  // a turn: the active talker stopped
        events.push_back({t, "speaker_change", mt->id, active_, mt->azimuth});
        active_ = mt->id;
        candidate_ = -1;
      } else if (candidate_ != mt->id) {
        candidate_ = mt->id;
        candidate_since_ = t;
      } else if (t - candidate_since_ >= p_.switch_s) {
        events.push_back({t, "speaker_change", mt->id, active_, mt->azimuth});
        active_ = mt->id;
        candidate_ = -1;
      }
    } else {
      candidate_ = -1;
    }
  }
  if (active_ >= 0) {
    Track* at = find(active_);
    if (!at || t - at->last_seen > p_.active_hold_s) {
      events.push_back({t, "speaker_change", -1, active_, at ? at->azimuth : 0.0});
      active_ = -1;
      candidate_ = -1;
    }
  }
  TrackerOutput o;
  o.active = active_;
  for (auto& tr : tracks_)
    if (tr.confirmed) {
      o.tracks.push_back(tr);
      if (tr.id == active_) o.active_azimuth = tr.azimuth;
    }
  return o;
}

}  // namespace ef::audio
