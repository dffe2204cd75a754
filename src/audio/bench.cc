// Simulated benchmark scenes and their scoring.
#include <algorithm>
#include <cmath>
#include <random>

#include "edgeflow/audio.h"

namespace ef::audio {

BenchScene make_bench_scene(const std::string& kind, const std::vector<std::vector<float>>& speech,
                            const ArrayGeometry& g, double snr_db, double rt60, unsigned seed, double max_az) {
  // seed_seq scrambles the seed: consecutive plain seeds give mt19937 first
  // draws that are far from uniform (the old bench put most talkers beyond 55 deg)
  std::seed_seq sq{seed, 0x9e3779b9u, seed * 2654435761u};
  std::mt19937 rng(sq);
  std::uniform_real_distribution<double> U(0, 1);
  auto uni = [&](double a, double b) { return a + (b - a) * U(rng); };
  BenchScene sc;
  sc.kind = kind;
  sc.snr_db = snr_db;
  sc.rt60 = rt60;
  Room room{uni(4, 8), uni(4, 7), uni(2.5, 3.5), rt60};
  SimParams sp;
  sp.seed = seed;
  sp.array_x = room.lx / 2 + uni(-0.5, 0.5);
  sp.array_y = uni(0.3, 0.6);
  sp.array_z = uni(1.0, 1.4);
  const int fs = sp.sample_rate;
  std::vector<SimSource> srcs;
  auto add_talker = [&](const std::vector<float>& sig, double az, double start) {
    SimSource s;
    s.signal = sig;
    // distance so that the talker stays 0.5 m inside the room
    double dist = uni(1.0, 3.0);
    for (int it = 0; it < 50; ++it) {
      place_at(sp, az, dist, &s.x, &s.y);
      if (s.x > 0.5 && s.x < room.lx - 0.5 && s.y < room.ly - 0.5) break;
      dist *= 0.9;
    }
    s.z = sp.array_z + uni(-0.2, 0.2);
    s.start_s = start;
    srcs.push_back(s);
    // ground truth: the angle to the array axis (what a linear array measures)
    const double dx = s.x - sp.array_x, dy = s.y - sp.array_y, dz = s.z - sp.array_z;
    sc.truth_az.push_back(std::asin(dx / std::sqrt(dx * dx + dy * dy + dz * dz)) * 180 / M_PI);
  };
  double seconds = 5.0;
  if (kind == "single") {
    const auto& sig = speech[rng() % speech.size()];
    add_talker(sig, uni(-max_az, max_az), 0.5);
    seconds = 0.5 + double(sig.size()) / fs + 0.3;
  } else if (kind == "turns") {
    const auto& a = speech[rng() % speech.size()];
    const auto& b = speech[rng() % speech.size()];
    double az1 = uni(-70, 70), az2;
    do az2 = uni(-70, 70);
    while (std::abs(az2 - az1) < 30);
    const double t1 = 0.5, t2 = t1 + double(a.size()) / fs + 0.4;
    add_talker(a, az1, t1);
    add_talker(b, az2, t2);
    seconds = t2 + double(b.size()) / fs + 0.3;
  } else if (kind != "noise") {
    throw Error("bench: unknown scene kind '" + kind + "'");
  }
  const size_t N = size_t(seconds * fs);
  if (srcs.empty()) {
    sc.audio.sample_rate = fs;
    sc.audio.ch.assign(g.mics(), std::vector<float>(N, 0.f));
  } else {
    sc.audio = simulate_room(room, g, srcs, sp, seconds);
    for (auto& c : sc.audio.ch) c.resize(N, 0.f);
  }
  for (auto& s : srcs) {
    std::vector<float> d(N, 0.f);
    const size_t off = size_t(s.start_s * fs);
    for (size_t i = 0; i < s.signal.size() && off + i < N; ++i) d[off + i] = s.signal[i];
    sc.dry.push_back(std::move(d));
  }
  // noise: diffuse + a reverberant directional fan-like source 6 dB below it
  Audio noise = diffuse_noise(g, N, fs, seed * 31 + 7);
  {
    std::normal_distribution<float> nd(0.f, 1.f);
    SimSource ns;
    ns.signal.resize(N);
    float lp = 0;
    for (auto& v : ns.signal) v = lp = 0.9f * lp + 0.1f * nd(rng);
    place_at(sp, uni(-80, 80), 1.5, &ns.x, &ns.y);
    ns.x = std::clamp(ns.x, 0.3, room.lx - 0.3);
    ns.y = std::clamp(ns.y, 0.3, room.ly - 0.3);
    ns.z = std::clamp(sp.array_z + 0.5, 0.3, room.lz - 0.3);
    Room r2 = room;
    Audio dn = simulate_room(r2, g, {ns}, sp, seconds);
    for (auto& c : dn.ch) c.resize(N, 0.f);
    add_noise(noise, dn, 6.0);
  }
  if (kind == "noise") {
    double ss = 0;
    for (auto& c : noise.ch)
      for (float v : c) ss += double(v) * v;
    const double g0 = 0.01 / std::sqrt(ss / double(N * g.mics()));
    for (int m = 0; m < g.mics(); ++m)
      for (size_t i = 0; i < N; ++i) sc.audio.ch[m][i] = float(noise.ch[m][i] * g0);
  } else {
    add_noise(sc.audio, noise, snr_db);
    double peak = 0;
    for (auto& c : sc.audio.ch)
      for (float v : c) peak = std::max(peak, double(std::abs(v)));
    for (auto& c : sc.audio.ch)
      for (auto& v : c) v = float(v * 0.5 / peak);
  }
  return sc;
}

std::vector<int> talker_frames(const BenchScene& s, int hop, int n_fft, size_t T, double voiced_db) {
  std::vector<std::vector<double>> e(s.dry.size(), std::vector<double>(T, 0.0));
  std::vector<double> peak(s.dry.size(), 0.0);
  for (size_t k = 0; k < s.dry.size(); ++k)
    for (size_t t = 0; t < T; ++t) {
      double a = 0;
      const size_t b = t * size_t(hop);
      for (size_t i = b; i < b + size_t(n_fft) && i < s.dry[k].size(); ++i) a += double(s.dry[k][i]) * s.dry[k][i];
      e[k][t] = a;
      peak[k] = std::max(peak[k], a);
    }
  const double rel = std::pow(10.0, -voiced_db / 10);
  std::vector<int> who(T, -1);
  for (size_t t = 0; t < T; ++t) {
    double best = 0;
    for (size_t k = 0; k < s.dry.size(); ++k)
      if (e[k][t] > peak[k] * rel && e[k][t] > best) best = e[k][t], who[t] = int(k);
  }
  return who;
}

SceneScore score_scene(const BenchScene& s, const std::vector<DoaFrame>& frames, int hop, int n_fft, double tol) {
  SceneScore r;
  SpeakerTracker tracker;
  std::vector<TrackEvent> ev;
  const size_t T = frames.size();
  const std::vector<int> talker = talker_frames(s, hop, n_fft, T);
  for (size_t t = 0; t < T; ++t) {
    const auto st = tracker.update(frames[t], ev);
    const int who = talker[t];
    r.frames++;
    if (s.kind == "noise") {
      r.quiet_ok += !frames[t].voice || frames[t].sources.empty();
      r.quiet_track_ok += st.active < 0;
      continue;
    }
    if (who < 0) continue;
    r.voiced++;
    const double truth = s.truth_az[size_t(who)];
    if (frames[t].voice && !frames[t].sources.empty()) {
      const double err = frames[t].sources[0].azimuth - truth;
      r.errors.push_back(err);
      if (std::abs(err) <= tol) r.frame_ok++;
    }
    if (st.active >= 0 && std::abs(st.active_azimuth - truth) <= tol) r.track_ok++;
  }
  return r;
}

}  // namespace ef::audio
