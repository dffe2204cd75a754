// Active-speaker fusion: DOA <-> image column through the camera's
// horizontal field of view (pinhole model), face association, hysteresis.
#include <algorithm>
#include <cmath>

#include "edgeflow/audio.h"

namespace ef::audio {

double column_to_azimuth(double u, int W, double hfov) {
  if (W <= 0 || !(hfov > 0 && hfov < 180)) throw Error("fusion: need image width > 0 and 0 < hfov < 180 degrees");
  const double xn = 2.0 * u / W - 1.0;
  return std::atan(xn * std::tan(hfov * M_PI / 360.0)) * 180.0 / M_PI;
}

double azimuth_to_column(double az, int W, double hfov) {
  if (W <= 0 || !(hfov > 0 && hfov < 180)) throw Error("fusion: need image width > 0 and 0 < hfov < 180 degrees");
  const double xn = std::tan(std::clamp(az, -89.0, 89.0) * M_PI / 180.0) / std::tan(hfov * M_PI / 360.0);
  return (xn + 1.0) * W / 2.0;
}

FusionResult ActiveSpeakerFusion::update(double t, const TrackerOutput& audio, const std::vector<FaceBox>& faces,
                                         int W) {
  FusionResult r;
  if (audio.active < 0) return r;  // nobody is talking: keep no target
  const double az = audio.active_azimuth - p_.camera_offset_deg;
  int best = -1;
  double be = p_.max_error_deg;
  for (size_t i = 0; i < faces.size(); ++i) {
    const double fa = column_to_azimuth(0.5 * (faces[i].x0 + faces[i].x1), W, p_.hfov_deg);
    const double e = std::abs(fa - az);
    if (e < be) be = e, best = int(i);
  }
  r.target_column = azimuth_to_column(az, W, p_.hfov_deg);
  if (best < 0) return r;
  const int id = faces[best].id >= 0 ? faces[best].id : best;
  r.face = best;
  r.face_id = id;
  r.score = 1.0 - be / p_.max_error_deg;
  r.target_column = 0.5 * (faces[best].x0 + faces[best].x1);
  if (id != current_id_) {
    if (current_id_ < 0) {
      current_id_ = id;
      r.changed = true;
    } else if (candidate_id_ != id) {
      candidate_id_ = id;
      candidate_since_ = t;
    } else if (t - candidate_since_ >= p_.switch_s) {
      current_id_ = id;
      candidate_id_ = -1;
      r.changed = true;
    }
  } else {
    candidate_id_ = -1;
  }
  return r;
}

}  // namespace ef::audio
