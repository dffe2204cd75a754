// `edgeflow audio doa|features|simulate`
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

#include "cli/commands.h"
#include "edgeflow/audio.h"

namespace ef::cli {
namespace {

namespace au = ef::audio;

struct DoaOpts {
  std::string input, array = "ula8", out, plot, estimator = "srp", model = au::CnnDoaParams{}.model;
  double spacing = 0.04;
  int rate = 16000;
  bool quiet = false;
  std::vector<std::string> set;
};

struct FeatOpts {
  std::string input, kind = "logmel", out;
  au::FeatureParams p;
};

struct SimOpts {
  std::string array = "ula8", out, truth;
  double spacing = 0.04;
  std::vector<std::string> sources;  // FILE:AZ[:START[:DIST]]
  double rt60 = 0.3, snr = 20, seconds = 0, dir_noise_az = 1000, dir_noise_db = -6;
  std::string room = "6,5,3";
  int rate = 16000;
  unsigned seed = 1;
  bool no_noise = false;
};

// --set key=value for DoaParams (tuning and experiments)
void apply_set(au::DoaParams& p, const std::vector<std::string>& sets) {
  for (auto& kv : sets) {
    auto e = kv.find('=');
    if (e == std::string::npos) throw Error("--set expects key=value, got '" + kv + "'");
    const std::string k = kv.substr(0, e);
    double v;
    try {
      v = std::stod(kv.substr(e + 1));
    } catch (const std::exception&) {
      throw Error("--set " + k + ": '" + kv.substr(e + 1) + "' is not a number");
    }
    if (k == "n_fft") p.n_fft = int(v);
    else if (k == "hop") p.hop = int(v);
    else if (k == "f_lo") p.f_lo = v;
    else if (k == "f_hi") p.f_hi = v;
    else if (k == "alias_factor") p.alias_factor = v;
    else if (k == "freq_weight_exp") p.freq_weight_exp = v;
    else if (k == "integration_s") p.integration_s = v;
    else if (k == "quiet_integration_s") p.quiet_integration_s = v;
    else if (k == "noise_subtract") p.noise_subtract = v != 0;
    else if (k == "onset_decay_db") p.onset_decay_db = v;
    else if (k == "onset_floor") p.onset_floor = v;
    else if (k == "max_sources") p.max_sources = int(v);
    else if (k == "secondary_ratio") p.secondary_ratio = v;
    else if (k == "vad_threshold_db") p.vad_threshold_db = v;
    else if (k == "vad_hangover_s") p.vad_hangover_s = v;
    else throw Error("--set: unknown DOA parameter '" + k + "'");
  }
}

std::string fmt(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

int run_doa(const DoaOpts& o) {
  auto g = au::load_geometry(o.array, o.spacing);
  auto a = au::read_audio(o.input);
  au::DoaParams p;
  p.sample_rate = o.rate;
  apply_set(p, o.set);
  au::CnnDoaParams cp;
  cp.model = o.model;
  auto r = au::estimate_doa(a, g, p, o.input, o.estimator == "cnn" ? &cp : nullptr);
  for (auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
  au::SpeakerTracker tracker;
  std::vector<au::TrackerOutput> states;
  std::vector<au::TrackEvent> events;
  std::unique_ptr<std::ofstream> js;
  if (!o.out.empty()) {
    js = std::make_unique<std::ofstream>(o.out);
    if (!*js) throw Error(o.out + ": cannot write");
  }
  int voiced = 0;
  for (auto& f : r.frames) {
    const size_t ev0 = events.size();
    states.push_back(tracker.update(f, events));
    const auto& st = states.back();
    voiced += f.voice;
    if (js) {
      auto& J = *js;
      for (size_t e = ev0; e < events.size(); ++e)
        J << "{\"type\":\"event\",\"t\":" << fmt(events[e].time, 3) << ",\"event\":\"" << events[e].type
          << "\",\"track\":" << events[e].track << ",\"previous\":" << events[e].previous
          << ",\"azimuth\":" << fmt(events[e].azimuth) << "}\n";
      J << "{\"type\":\"frame\",\"t\":" << fmt(f.time, 3) << ",\"voice\":" << (f.voice ? "true" : "false");
      if (!f.sources.empty()) {
        const double az = f.sources[0].azimuth;
        J << ",\"azimuth\":" << fmt(az) << ",\"bin\":" << int(std::lround((az + 90) / 5));
      } else {
        J << ",\"azimuth\":null,\"bin\":null";
      }
      J << ",\"confidence\":" << fmt(f.confidence, 3) << ",\"sources\":[";
      for (size_t i = 0; i < f.sources.size(); ++i)
        J << (i ? "," : "") << "{\"azimuth\":" << fmt(f.sources[i].azimuth) << ",\"strength\":" << fmt(f.sources[i].strength, 3) << "}";
      J << "],\"active\":" << st.active;
      if (st.active >= 0) J << ",\"active_azimuth\":" << fmt(st.active_azimuth);
      J << ",\"tracks\":[";
      for (size_t i = 0; i < st.tracks.size(); ++i)
        J << (i ? "," : "") << "{\"id\":" << st.tracks[i].id << ",\"azimuth\":" << fmt(st.tracks[i].azimuth) << "}";
      J << "],\"spectrum\":[";
      for (int k = 0; k < au::kNumBins; ++k) J << (k ? "," : "") << fmt(f.spectrum[k], 3);
      J << "]}\n";
    }
  }
  if (!o.plot.empty()) au::plot_doa(o.plot, r.frames, states, o.input);
  if (!o.quiet) {
    std::cout << o.input << ": " << r.frames.size() << " frames (" << fmt(p.hop * 1000.0 / p.sample_rate, 1)
              << " ms), " << voiced << " voiced, array " << g.name << " (" << g.mics() << " mics)\n";
    for (auto& e : events)
      if (e.type != "speaker_change" || e.track >= 0)
        std::cout << "  " << fmt(e.time, 2) << " s  " << e.type << "  track " << e.track << "  azimuth "
                  << fmt(e.azimuth, 1) << "\n";
  }
  return 0;
}

int run_features(const FeatOpts& o) {
  if (o.out.empty()) throw Error("audio features: --out x.npy is required");
  auto a = au::read_audio(o.input);
  Shape s;
  auto v = au::compute_features(a, o.kind, o.p, &s);
  au::write_npy(o.out, v, s);
  std::cout << o.out << ": " << o.kind << " " << shape_str(s) << " (channels, rows, frames)\n";
  return 0;
}

int run_simulate(const SimOpts& o) {
  if (o.out.empty()) throw Error("audio simulate: --out x.wav is required");
  auto g = au::load_geometry(o.array, o.spacing);
  au::Room room;
  {
    std::string s = o.room;
    std::replace(s.begin(), s.end(), ',', ' ');
    std::istringstream is(s);
    if (!(is >> room.lx >> room.ly >> room.lz)) throw Error("audio simulate: --room must be 'lx,ly,lz' in metres, got '" + o.room + "'");
  }
  room.rt60 = o.rt60;
  au::SimParams sp;
  sp.sample_rate = o.rate;
  sp.seed = o.seed;
  sp.array_x = room.lx / 2;
  sp.array_y = 0.3;
  sp.array_z = std::min(1.2, room.lz / 2);
  std::vector<au::SimSource> srcs;
  std::ostringstream truth;
  truth << "{\"sample_rate\":" << o.rate << ",\"rt60\":" << o.rt60 << ",\"snr_db\":" << o.snr << ",\"sources\":[";
  for (size_t i = 0; i < o.sources.size(); ++i) {
    std::string spec = o.sources[i];
    std::vector<std::string> parts;
    size_t pos;
    while ((pos = spec.rfind(':')) != std::string::npos && parts.size() < 3) {
      parts.insert(parts.begin(), spec.substr(pos + 1));
      spec = spec.substr(0, pos);
    }
    if (parts.empty()) throw Error("audio simulate: --source must be FILE:AZIMUTH[:START_S[:DISTANCE_M]], got '" + o.sources[i] + "'");
    double az, start = 0, dist = 1.5;
    try {
      az = std::stod(parts[0]);
      if (parts.size() > 1) start = std::stod(parts[1]);
      if (parts.size() > 2) dist = std::stod(parts[2]);
    } catch (const std::exception&) {
      throw Error("audio simulate: bad number in --source '" + o.sources[i] + "'");
    }
    if (az < -90 || az > 90) throw Error("audio simulate: source azimuth " + fmt(az) + " outside -90..90");
    auto a = au::read_audio(spec);
    if (a.channels() != 1) throw Error(spec + ": a simulated source must be mono, has " + std::to_string(a.channels()) + " channels");
    if (a.sample_rate != o.rate) a = au::resample(a, o.rate);
    au::SimSource s;
    s.signal = a.ch[0];
    au::place_at(sp, az, dist, &s.x, &s.y);
    s.z = sp.array_z;  // same height as the array: the azimuth is unambiguous for a linear array
    s.start_s = start;
    srcs.push_back(s);
    truth << (i ? "," : "") << "{\"file\":\"" << spec << "\",\"azimuth\":" << fmt(au::azimuth_of(sp, s.x, s.y), 3)
          << ",\"start\":" << start << ",\"seconds\":" << fmt(double(s.signal.size()) / o.rate, 3) << "}";
  }
  truth << "]}\n";
  au::Audio mix;
  if (srcs.empty()) {
    if (o.seconds <= 0) throw Error("audio simulate: give --source or --seconds (noise only)");
    mix.sample_rate = o.rate;
    mix.ch.assign(g.mics(), std::vector<float>(size_t(o.seconds * o.rate), 0.f));
  } else {
    mix = au::simulate_room(room, g, srcs, sp, o.seconds);
  }
  if (!o.no_noise) {
    auto noise = au::diffuse_noise(g, mix.frames(), o.rate, o.seed * 31 + 5);
    if (o.dir_noise_az <= 90) {
      std::mt19937 rng(o.seed * 13 + 1);
      std::normal_distribution<float> nd(0.f, 1.f);
      au::SimSource ns;
      ns.signal.resize(mix.frames());
      float lp = 0;
      for (auto& v : ns.signal) v = lp = 0.9f * lp + 0.1f * nd(rng);  // low-frequency fan-like noise
      au::place_at(sp, o.dir_noise_az, 2.0, &ns.x, &ns.y);
      ns.z = sp.array_z;
      auto dn = au::simulate_room(room, g, {ns}, sp, mix.seconds());
      au::add_noise(noise, dn, -o.dir_noise_db);
    }
    if (srcs.empty()) {
      for (int m = 0; m < g.mics(); ++m)
        for (size_t i = 0; i < mix.frames(); ++i) mix.ch[m][i] = noise.ch[m][i];
    } else {
      au::add_noise(mix, noise, o.snr);
    }
  }
  double peak = 0;
  for (auto& c : mix.ch)
    for (float v : c) peak = std::max(peak, double(std::abs(v)));
  if (peak > 0)
    for (auto& c : mix.ch)
      for (auto& v : c) v = float(v * 0.5 / peak);
  au::write_audio(o.out, mix);
  if (!o.truth.empty()) {
    std::ofstream t(o.truth);
    if (!t) throw Error(o.truth + ": cannot write");
    t << truth.str();
  }
  std::cout << o.out << ": " << g.mics() << " channels, " << fmt(mix.seconds(), 2) << " s, RT60 " << o.rt60
            << " s, SNR " << o.snr << " dB\n";
  return 0;
}

// Held-out sentences and voices for the benchmark (train/doa uses others).
const char* kBenchTexts[] = {
    "Good morning everyone, let us start the meeting with the quarterly numbers.",
    "I think we should move the launch to next month and test the camera again.",
    "Can you hear me now? The microphone was muted for a moment.",
    "The new office has three meeting rooms and a small kitchen on the second floor.",
    "Please share your screen so that everybody can see the latest design.",
    "We measured the latency on the device and it stays under thirty milliseconds.",
};
const char* kBenchVoices[] = {"en", "en-us+f3", "en+m3", "en-gb+f2", "en-us+m5", "en+f4"};

// Training sentences and voices for train/doa (disjoint from the benchmark's).
const char* kTrainTexts[] = {
    "The weather today is cloudy with a chance of rain in the afternoon.",
    "Our team finished the prototype and the first users liked it a lot.",
    "Could you send me the report before Friday so I can review it?",
    "Seven green bottles were standing on the wall near the window.",
    "We will travel by train because the airport is closed for repairs.",
    "Numbers one two three four five six seven eight nine ten.",
    "She sells sea shells by the sea shore every summer morning.",
    "The budget for next year includes two new engineers and a tester.",
};
const char* kTrainVoices[] = {"en+m1", "en-us+f1", "en+m2", "en-gb+f3", "en-us+m3", "en+f2", "en+m4", "en-us+f4"};

void make_dir(const std::string& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create " + what + ": " + ec.message());
}

std::vector<std::vector<float>> speech_set(const std::string& dir, const std::string& prefix, const char* const* texts,
                                           const char* const* voices, int n) {
  std::vector<std::vector<float>> out;
  make_dir(dir, "the speech cache directory");
  for (int i = 0; i < n; ++i) {
    const std::string f = dir + "/" + prefix + "_" + std::to_string(i) + ".wav";
    std::ifstream probe(f);
    if (!probe) {
      const std::string cmd = std::string("espeak-ng -s 160 -v ") + voices[i] + " -w '" + f + "' \"" + texts[i] +
                              "\" >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) throw Error("audio: espeak-ng failed (is it installed?): " + cmd);
    }
    auto a = au::read_audio(f);
    out.push_back(au::resample(a.ch[0], a.sample_rate, 16000));
  }
  return out;
}

std::vector<std::vector<float>> bench_speech(const std::string& dir) {
  return speech_set(dir, "bench", kBenchTexts, kBenchVoices, 6);
}

struct DatasetOpts {
  std::string out, cache = "/tmp/edgeflow-audio-cache";
  au::CnnDatasetOpts d;
  std::vector<double> snr{d.snr_lo, d.snr_hi}, rt60{d.rt60_lo, d.rt60_hi};
  double chunk_s = 0;
};

int run_dataset(const DatasetOpts& o) {
  if (o.d.seed0 < 20000) throw Error("audio dataset: --seed must be >= 20000 (lower seeds are the benchmark's held-out rooms)");
  au::CnnDatasetOpts d = o.d;
  d.snr_lo = o.snr[0], d.snr_hi = o.snr[1], d.rt60_lo = o.rt60[0], d.rt60_hi = o.rt60[1];
  make_dir(o.out, "the output directory");  // before minutes of simulation, not after
  auto speech = speech_set(o.cache, "train", kTrainTexts, kTrainVoices, 8);
  if (o.chunk_s > 0) {  // shorter scenes: more rooms and angles for the same simulation time
    std::vector<std::vector<float>> chunks;
    const size_t L = size_t(o.chunk_s * 16000);
    for (auto& s : speech)
      for (size_t b = 0; b + L <= s.size(); b += L) chunks.emplace_back(s.begin() + long(b), s.begin() + long(b + L));
    speech = std::move(chunks);
  }
  auto g = au::make_ula(8, 0.04, "ula8");
  std::vector<float> X, y;
  Shape xs;
  au::make_cnn_dataset(speech, g, d, &X, &y, &xs);
  au::write_npy(o.out + "/X.npy", X, xs);
  au::write_npy(o.out + "/y.npy", y, {int64_t(y.size())});
  std::cout << o.out << ": " << y.size() << " voiced frames from " << d.scenes << " rooms, features " << shape_str(xs) << "\n";
  return 0;
}

struct BenchOpts {
  int rooms = 6;
  std::string cache = "/tmp/edgeflow-audio-cache", model = au::CnnDoaParams{}.model;
  std::vector<double> snrs{30, 20, 10, 5, 0}, rt60s{0.2, 0.4, 0.7};
  std::vector<std::string> set, estimators{"srp", "cnn"};
  double seconds_rtf = 60;
  bool verbose = false;
  unsigned seed = 5000;
};

// Real-time factor of one estimator (+ tracker) streaming 8 channels in 16 ms
// blocks: thread CPU time (the machine may be shared, wall time would
// mislead), median of 5 runs.
double bench_rtf(const au::ArrayGeometry& g, const au::DoaParams& p, const au::CnnDoaParams* cnn,
                 const std::vector<std::vector<float>>& x, double seconds) {
  const size_t N = x[0].size();
  std::vector<double> rtf;
  std::vector<const float*> ptr(x.size());
  for (int rep = 0; rep < 5; ++rep) {
    std::unique_ptr<au::DoaEstimator> srp;
    std::unique_ptr<au::CnnDoaEstimator> net;
    if (cnn) net = std::make_unique<au::CnnDoaEstimator>(g, *cnn, p);
    else srp = std::make_unique<au::DoaEstimator>(g, p);
    au::SpeakerTracker tr;
    std::vector<au::DoaFrame> fr;
    std::vector<au::TrackEvent> ev;
    fr.reserve(16);
    timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (size_t b = 0; b < N; b += 256) {
      for (size_t m = 0; m < x.size(); ++m) ptr[m] = x[m].data() + b;
      fr.clear();
      if (net) net->push(ptr.data(), int(ptr.size()), std::min<size_t>(256, N - b), fr);
      else srp->push(ptr.data(), int(ptr.size()), std::min<size_t>(256, N - b), fr);
      for (auto& f : fr) tr.update(f, ev);
      ev.clear();
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    rtf.push_back(((c1.tv_sec - c0.tv_sec) + 1e-9 * (c1.tv_nsec - c0.tv_nsec)) / seconds);
  }
  std::sort(rtf.begin(), rtf.end());
  return rtf[2];
}

int run_bench(const BenchOpts& o) {
  auto speech = bench_speech(o.cache);
  auto g = au::make_ula(8, 0.04, "ula8");
  au::DoaParams p;
  apply_set(p, o.set);
  au::CnnDoaParams cp;
  cp.model = o.model;
  const size_t E = o.estimators.size();
  for (auto& e : o.estimators)
    if (e != "srp" && e != "cnn") throw Error("audio bench: unknown estimator '" + e + "' (srp or cnn)");
  auto run = [&](const au::BenchScene& sc, size_t e) {
    return au::estimate_doa(sc.audio, g, p, "scene", o.estimators[e] == "cnn" ? &cp : nullptr).frames;
  };
  auto name = [&](size_t e) { return o.estimators[e] == "cnn" ? std::string("learned CNN") : std::string("SRP-PHAT"); };
  // every scene is simulated once and given to all estimators
  std::vector<std::vector<au::SceneScore>> cells(E, std::vector<au::SceneScore>(o.snrs.size() * o.rt60s.size()));
  auto add = [](au::SceneScore& t, const au::SceneScore& s) {
    t.voiced += s.voiced, t.frame_ok += s.frame_ok, t.track_ok += s.track_ok;
    t.frames += s.frames, t.quiet_ok += s.quiet_ok, t.quiet_track_ok += s.quiet_track_ok;
  };
  unsigned seed = o.seed;
  for (size_t si = 0; si < o.snrs.size(); ++si)
    for (size_t ri = 0; ri < o.rt60s.size(); ++ri) {
      for (int i = 0; i < o.rooms; ++i) {
        auto sc = au::make_bench_scene("single", speech, g, o.snrs[si], o.rt60s[ri], seed++);
        for (size_t e = 0; e < E; ++e) {
          auto s = au::score_scene(sc, run(sc, e), p.hop, p.n_fft);
          if (o.verbose) {
            auto er = s.errors;
            std::sort(er.begin(), er.end());
            std::cerr << "  " << o.estimators[e] << " snr " << o.snrs[si] << " rt60 " << o.rt60s[ri] << " truth "
                      << fmt(sc.truth_az[0], 1) << ": voiced " << s.voiced << " estimated " << er.size() << " ok "
                      << s.frame_ok << " track " << s.track_ok << " median err " << (er.empty() ? 0.0 : er[er.size() / 2]) << "\n";
          }
          add(cells[e][si * o.rt60s.size() + ri], s);
        }
      }
      std::cerr << "." << std::flush;
    }
  std::vector<au::SceneScore> nz(E), tk(E);
  for (double rt : o.rt60s)
    for (int i = 0; i < o.rooms; ++i) {
      auto sc = au::make_bench_scene("noise", speech, g, 0, rt, seed++);
      auto st = au::make_bench_scene("turns", speech, g, 10, rt, seed++);
      for (size_t e = 0; e < E; ++e) {
        add(nz[e], au::score_scene(sc, run(sc, e), p.hop, p.n_fft));
        const auto ts = au::score_scene(st, run(st, e), p.hop, p.n_fft);
        if (o.verbose)
          std::cerr << "  " << o.estimators[e] << " turns rt60 " << rt << " truth " << fmt(st.truth_az[0], 1) << " / "
                    << fmt(st.truth_az[1], 1) << ": voiced " << ts.voiced << " ok " << ts.frame_ok << " track "
                    << ts.track_ok << "\n";
        add(tk[e], ts);
      }
      std::cerr << "." << std::flush;
    }
  std::cerr << "\n";
  // real-time factor: streaming estimator, 8 channels at 16 kHz, one thread
  std::vector<std::vector<float>> x(8);
  {
    auto sc = au::make_bench_scene("single", speech, g, 10, 0.4, 99);
    const size_t N = size_t(o.seconds_rtf * 16000);
    for (int m = 0; m < 8; ++m) {
      x[m].resize(N);
      for (size_t i = 0; i < N; ++i) x[m][i] = sc.audio.ch[m][i % sc.audio.frames()];
    }
  }
  for (size_t e = 0; e < E; ++e) {
    std::cout << name(e) << " (ula8, 4 cm, 16 kHz), " << o.rooms
              << " held-out rooms per cell; % of voiced frames within +-5 deg\n";
    std::cout << "frame = per-frame estimate, track = tracked active speaker\n\n";
    std::cout << "SNR\\RT60 ";
    for (double r : o.rt60s) std::cout << "| " << fmt(r, 1) << " s frame/track ";
    std::cout << "\n";
    for (size_t si = 0; si < o.snrs.size(); ++si) {
      std::cout << fmt(o.snrs[si], 0) << " dB" << std::string(o.snrs[si] < 10 ? 5 : 4, ' ');
      for (size_t ri = 0; ri < o.rt60s.size(); ++ri) {
        const auto& t = cells[e][si * o.rt60s.size() + ri];
        std::cout << "|    " << fmt(100.0 * t.frame_ok / std::max(1, t.voiced), 1) << " / "
                  << fmt(100.0 * t.track_ok / std::max(1, t.voiced), 1) << "    ";
      }
      std::cout << "\n";
    }
    std::cout << "\nnoise only (diffuse + directional fan), no speaker reported: frame "
              << fmt(100.0 * nz[e].quiet_ok / std::max(1, nz[e].frames), 1) << "%, track "
              << fmt(100.0 * nz[e].quiet_track_ok / std::max(1, nz[e].frames), 1) << "%\n";
    std::cout << "two talkers taking turns (SNR 10 dB, all RT60), active direction within +-5 deg: frame "
              << fmt(100.0 * tk[e].frame_ok / std::max(1, tk[e].voiced), 1) << "%, track "
              << fmt(100.0 * tk[e].track_ok / std::max(1, tk[e].voiced), 1) << "%\n";
    std::cout << "real-time factor (" << name(e) << " + VAD + tracker, 8 ch @ 16 kHz, 1 thread CPU time, median of 5 x "
              << fmt(o.seconds_rtf, 0) << " s): "
              << fmt(bench_rtf(g, p, o.estimators[e] == "cnn" ? &cp : nullptr, x, o.seconds_rtf), 4) << "\n\n";
  }
  return 0;
}

}  // namespace

void add_audio(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("audio", "microphone-array DOA, audio features, room simulation");
  cmd->require_subcommand(1);

  static DoaOpts d;
  auto* doa = cmd->add_subcommand("doa", "per-frame direction of arrival (SRP-PHAT), VAD and speaker tracks");
  doa->add_option("input", d.input, "multichannel WAV/FLAC (channel i = mic i)")->required();
  doa->add_option("--array", d.array, "ula8, ula4 or a geometry file")->capture_default_str();
  doa->add_option("--spacing", d.spacing, "mic spacing for ula presets (m)")->capture_default_str();
  doa->add_option("--rate", d.rate, "processing sample rate (input is resampled)")->capture_default_str();
  doa->add_option("--out", d.out, "per-frame JSON lines");
  doa->add_option("--plot", d.plot, "heatmap PNG");
  doa->add_flag("--quiet", d.quiet);
  doa->add_option("--estimator", d.estimator, "srp (SRP-PHAT) or cnn (the learned estimator)")
      ->check(CLI::IsMember({"srp", "cnn"}))->capture_default_str();
  doa->add_option("--model", d.model, "ONNX model of the learned estimator")->capture_default_str();
  doa->add_option("--set", d.set, "DOA parameter key=value (repeatable): n_fft, hop, f_lo, f_hi, integration_s, noise_subtract, onset_decay_db, ...");
  doa->callback([&action] { action = [] { return run_doa(d); }; });

  static FeatOpts f;
  auto* feat = cmd->add_subcommand("features", "STFT / mel / log-mel / MFCC as .npy (torchaudio conventions)");
  feat->add_option("input", f.input)->required();
  feat->add_option("--kind", f.kind, "stft | mel | logmel | mfcc")->capture_default_str();
  feat->add_option("--out", f.out, ".npy output [channels, rows, frames]")->required();
  feat->add_option("--n-fft", f.p.n_fft)->capture_default_str();
  feat->add_option("--win-length", f.p.win_length, "0 = n_fft");
  feat->add_option("--hop", f.p.hop_length, "0 = win_length/2");
  feat->add_option("--power", f.p.power)->capture_default_str();
  feat->add_option("--n-mels", f.p.n_mels)->capture_default_str();
  feat->add_option("--n-mfcc", f.p.n_mfcc)->capture_default_str();
  feat->add_option("--f-min", f.p.f_min)->capture_default_str();
  feat->add_option("--f-max", f.p.f_max, "0 = sample_rate/2");
  feat->add_option("--top-db", f.p.top_db, "< 0: none (mfcc: 80)");
  feat->add_option("--mel-scale", f.p.mel_scale, "htk | slaney")->capture_default_str();
  feat->add_option("--mel-norm", f.p.mel_norm, "'' | slaney");
  feat->callback([&action] { action = [] { return run_features(f); }; });

  static SimOpts s;
  auto* sim = cmd->add_subcommand("simulate", "shoebox room simulation for test data");
  sim->add_option("--source", s.sources, "FILE:AZIMUTH[:START_S[:DISTANCE_M]] (mono speech), repeatable");
  sim->add_option("--array", s.array)->capture_default_str();
  sim->add_option("--spacing", s.spacing)->capture_default_str();
  sim->add_option("--room", s.room, "lx,ly,lz metres")->capture_default_str();
  sim->add_option("--rt60", s.rt60, "seconds (0 = anechoic)")->capture_default_str();
  sim->add_option("--snr", s.snr, "dB, diffuse noise (+ directional)")->capture_default_str();
  sim->add_option("--directional-noise", s.dir_noise_az, "azimuth of a fan-like noise source");
  sim->add_option("--seconds", s.seconds, "duration (noise only when no --source)");
  sim->add_option("--rate", s.rate)->capture_default_str();
  sim->add_option("--seed", s.seed)->capture_default_str();
  sim->add_flag("--no-noise", s.no_noise);
  sim->add_option("--out", s.out)->required();
  sim->add_option("--truth", s.truth, "ground-truth JSON");
  sim->callback([&action] { action = [] { return run_simulate(s); }; });

  static DatasetOpts ds;
  auto* dat = cmd->add_subcommand("dataset", "training data for the learned DOA estimator (train/doa)");
  dat->add_option("--out", ds.out, "directory for X.npy and y.npy")->required();
  dat->add_option("--scenes", ds.d.scenes, "simulated rooms")->capture_default_str();
  dat->add_option("--seed", ds.d.seed0, "first room seed (>= 20000; the benchmark uses 5000..)")->capture_default_str();
  dat->add_option("--threads", ds.d.threads)->capture_default_str();
  dat->add_option("--snr", ds.snr, "SNR range LO HI (dB), uniform")->expected(2)->capture_default_str();
  dat->add_option("--rt60", ds.rt60, "RT60 range LO HI (s), uniform")->expected(2)->capture_default_str();
  dat->add_option("--max-az", ds.d.max_az, "talkers uniform in -MAX..+MAX degrees")->capture_default_str();
  dat->add_option("--stride", ds.d.stride, "keep every N-th voiced frame (neighbours are near-copies)")->capture_default_str();
  dat->add_option("--chunk", ds.chunk_s, "cut the speech into pieces of this many seconds (0 = whole sentences)");
  dat->add_option("--cache", ds.cache, "where espeak-ng speech is cached")->capture_default_str();
  dat->callback([&action] { action = [] { return run_dataset(ds); }; });

  static BenchOpts b;
  auto* ben = cmd->add_subcommand("bench", "DOA accuracy table on held-out simulated rooms + real-time factor");
  ben->add_option("--rooms", b.rooms, "rooms per cell")->capture_default_str();
  ben->add_option("--snr", b.snrs, "SNR values (dB)");
  ben->add_option("--rt60", b.rt60s, "RT60 values (s)");
  ben->add_option("--cache", b.cache, "where espeak-ng speech is cached")->capture_default_str();
  ben->add_option("--set", b.set, "DOA parameter key=value (repeatable)");
  ben->add_option("--estimator", b.estimators, "srp and/or cnn (repeatable; default both)");
  ben->add_option("--model", b.model, "ONNX model of the learned estimator")->capture_default_str();
  ben->add_option("--rtf-seconds", b.seconds_rtf)->capture_default_str();
  ben->add_option("--seed", b.seed, "first room seed (5000: the held-out benchmark; use others, e.g. 60000, to tune)")
      ->capture_default_str();
  ben->add_flag("--verbose", b.verbose, "per-scene truth and median error on stderr");
  ben->callback([&action] { action = [] { return run_bench(b); }; });
}

}  // namespace ef::cli
