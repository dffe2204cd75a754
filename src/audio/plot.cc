// DOA plot: 37-bin SRP-PHAT spectrum over time as a heatmap, VAD strip,
// confirmed tracks as coloured dots, the active speaker as a white line.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "edgeflow/audio.h"

namespace ef::audio {

void plot_doa(const std::string& path, const std::vector<DoaFrame>& frames, const std::vector<TrackerOutput>& tracks,
              const std::string& title) {
  if (frames.empty()) throw Error(path + ": no DOA frames to plot");
  const int T = int(frames.size());
  const int left = 60, top = 30, right = 20, bottom = 50, H = 37 * 8, vad_h = 10;
  const int Wp = std::clamp(T, 400, 1600);
  cv::Mat heat(kNumBins, T, CV_8UC1);
  for (int t = 0; t < T; ++t) {
    const auto& s = frames[t].spectrum;
    float mx = 1e-6f;
    for (float v : s) mx = std::max(mx, v);
    for (int k = 0; k < kNumBins; ++k) {
      // row 0 = +90 degrees (top)
      const float v = s.empty() ? 0.f : s[k] / std::max(mx, 0.15f);
      heat.at<uint8_t>(kNumBins - 1 - k, t) = uint8_t(std::clamp(v, 0.f, 1.f) * 255);
    }
  }
  cv::Mat heat_big, heat_col;
  cv::resize(heat, heat_big, cv::Size(Wp, H), 0, 0, cv::INTER_NEAREST);
  cv::applyColorMap(heat_big, heat_col, cv::COLORMAP_VIRIDIS);
  cv::Mat img(top + H + vad_h + 4 + bottom, left + Wp + right, CV_8UC3, cv::Scalar(255, 255, 255));
  heat_col.copyTo(img(cv::Rect(left, top, Wp, H)));
  auto xof = [&](int t) { return left + int((t + 0.5) * Wp / T); };
  auto yof = [&](double az) { return top + int((90.0 - az) / 180.0 * (H - 1)); };
  // VAD strip
  for (int t = 0; t < T; ++t)
    cv::line(img, {xof(t), top + H + 2}, {xof(t), top + H + 2 + vad_h}, frames[t].voice ? cv::Scalar(40, 160, 40) : cv::Scalar(220, 220, 220),
             std::max(1, Wp / T + 1));
  // tracks
  static const cv::Scalar colors[] = {{0, 0, 255}, {255, 128, 0}, {0, 200, 255}, {255, 0, 255}, {0, 255, 0}, {255, 255, 0}};
  for (int t = 0; t < int(tracks.size()) && t < T; ++t) {
    for (auto& tr : tracks[t].tracks)
      cv::circle(img, {xof(t), yof(tr.azimuth)}, 2, colors[tr.id % 6], cv::FILLED);
    if (t > 0 && tracks[t].active >= 0 && tracks[t - 1].active == tracks[t].active)
      cv::line(img, {xof(t - 1), yof(tracks[t - 1].active_azimuth) - 5}, {xof(t), yof(tracks[t].active_azimuth) - 5},
               cv::Scalar(255, 255, 255), 2);
  }
  // axes
  for (int az = -90; az <= 90; az += 30) {
    cv::line(img, {left - 5, yof(az)}, {left, yof(az)}, cv::Scalar(0, 0, 0), 1);
    cv::putText(img, std::to_string(az), {5, yof(az) + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1);
  }
  const double dur = frames.back().time;
  const double step = dur > 20 ? 5 : dur > 8 ? 2 : dur > 3 ? 1 : 0.5;
  for (double s = 0; s <= dur; s += step) {
    int t = 0;
    while (t < T - 1 && frames[t].time < s) ++t;
    const int x = xof(t);
    cv::line(img, {x, top + H + vad_h + 4}, {x, top + H + vad_h + 9}, cv::Scalar(0, 0, 0), 1);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    cv::putText(img, buf, {x - 6, top + H + vad_h + 22}, cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1);
  }
  cv::putText(img, "time (s)   [green strip: voice activity; dots: tracks; white: active speaker]",
              {left, top + H + vad_h + 40}, cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1);
  cv::putText(img, "azimuth (deg, + = right)  " + title, {left, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1);
  if (!cv::imwrite(path, img)) throw Error(path + ": cannot write the plot image");
}

}  // namespace ef::audio
