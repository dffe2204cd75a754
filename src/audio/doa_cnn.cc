// The learned DOA estimator: SRP-PHAT's integrated cross-spectra -> small CNN
// (trained by train/doa/train.py on simulated rooms, exported to ONNX) -> 37
// azimuth probabilities, run by the edgeflow engine.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "edgeflow/audio.h"
#include "edgeflow/session.h"

namespace ef::audio {

namespace {
// the learned estimator takes DoaEstimator's VAD and integrated cross-spectra
// but not its map and peaks
DoaParams without_srp(DoaParams p) {
  p.srp = false;
  return p;
}
}  // namespace

// ---------------------------------------------------------------- estimator

struct CnnDoaEstimator::Impl {
  CnnDoaParams cp;
  DoaEstimator est;
  std::unique_ptr<Session> session;
  std::array<double, kNumBins> prob{}, integ{};
  double integ_w = 0, lam_voice = 0, lam_quiet = 0;  // the probabilities are integrated like SRP's cross-spectra

  Impl(const ArrayGeometry& g, const CnnDoaParams& c, const DoaParams& p)
      : cp(c), est(g, without_srp(p)) {
    if (p.n_fft != 512 || p.sample_rate != 16000)
      throw Error("doa cnn: the learned estimator works on n_fft 512 at 16000 Hz (got n_fft " + std::to_string(p.n_fft) +
                  " at " + std::to_string(p.sample_rate) + " Hz)");
    Model model = [&] {
      try {
        return Model::load(c.model);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) +
                    "\n(the learned DOA model is made by `./x test` (when missing) or train/doa/train.sh; see README \"Audio\")");
      }
    }();
    // est (constructed above with the same p) has checked the integration times
    lam_voice = p.forgetting(p.integration_s);
    lam_quiet = p.forgetting(p.quiet_integration_s);
    session = std::make_unique<Session>(model, CompileOptions{.threads = 1});
    const Shape want = est.cross_spectra_shape(c.pool);
    if (session->num_inputs() != 1 || session->num_outputs() != 1 || session->input(0).shape() != want ||
        session->output(0).numel() != kNumBins)
      throw Error(c.model + ": not a DOA model for this array: expected one input " + shape_str(want) + " (" +
                  std::to_string(g.mics()) + " mics) and one output of " + std::to_string(kNumBins) +
                  " logits, got input " + shape_str(session->input(0).shape()) + " and output " +
                  shape_str(session->output(0).shape()));
    est.set_frame_hook([this](DoaFrame& fr) { on_frame(fr); });
  }

  void on_frame(DoaFrame& fr) {
    est.cross_spectra(session->input(0).data_as<float>(), cp.pool);
    session->run();
    const float* lg = session->output(0).data_as<float>();
    double mx = lg[0];
    for (int a = 1; a < kNumBins; ++a) mx = std::max(mx, double(lg[a]));
    double z = 0;
    for (int a = 0; a < kNumBins; ++a) z += prob[a] = std::exp(double(lg[a]) - mx);
    // leaky average over voiced frames (integration_s, 0.5 s by default): a
    // talker's direction is stable, single-frame posteriors are not; on top
    // of the integrated input it still helps (tuning set without it: 0 dB
    // tracked 87 -> 82 % at RT60 0.4 s, 35 -> 29 % at 0.7 s, turns 91 -> 90 %)
    const double lam = fr.voice ? lam_voice : lam_quiet, w = fr.voice ? 1.0 : 0.0;
    integ_w = lam * integ_w + w;
    for (int a = 0; a < kNumBins; ++a) integ[a] = lam * integ[a] + w * prob[a] / z;
    for (int a = 0; a < kNumBins; ++a) prob[a] = integ_w > 1e-9 ? integ[a] / integ_w : prob[a] / z;
    for (int a = 0; a < kNumBins; ++a) fr.spectrum[a] = float(prob[a]);
    fr.sources.clear();
    fr.confidence = 0;
    if (!fr.voice) return;
    // strongest peak, then at most two more that are local maxima >= secondary_prob
    std::array<int, kNumBins> order;
    for (int a = 0; a < kNumBins; ++a) order[a] = a;
    std::sort(order.begin(), order.end(), [&](int i, int j) { return prob[i] > prob[j]; });
    for (int a : order) {
      if (fr.sources.size() >= DoaSources::kMax) break;
      const bool peak = (a == 0 || prob[a] >= prob[a - 1]) && (a == kNumBins - 1 || prob[a] >= prob[a + 1]);
      if (!peak) continue;
      if (!fr.sources.empty() && prob[a] < cp.secondary_prob) break;
      bool close = false;
      for (auto& s : fr.sources) close |= std::abs(s.azimuth - bin_angle(a)) < 20;
      if (close) continue;
      double w = 0, m = 0;
      for (int b = std::max(0, a - 2); b <= std::min(kNumBins - 1, a + 2); ++b) w += prob[b], m += prob[b] * bin_angle(b);
      fr.sources.push_back({m / w, std::clamp(w, 0.0, 1.0)});
    }
    fr.confidence = fr.sources.empty() ? 0 : fr.sources[0].strength;
  }
};

CnnDoaEstimator::CnnDoaEstimator(const ArrayGeometry& g, const CnnDoaParams& cp, const DoaParams& p)
    : impl_(std::make_unique<Impl>(g, cp, p)) {}
CnnDoaEstimator::~CnnDoaEstimator() = default;
CnnDoaEstimator::CnnDoaEstimator(CnnDoaEstimator&&) noexcept = default;

void CnnDoaEstimator::push(const float* const* chans, int channels, size_t n, std::vector<DoaFrame>& out) {
  impl_->est.push(chans, channels, n, out);
}

// ---------------------------------------------------------------- training data

void make_cnn_dataset(const std::vector<std::vector<float>>& speech, const ArrayGeometry& g, const CnnDatasetOpts& o,
                      std::vector<float>* X, std::vector<float>* y, Shape* x_shape) {
  if (speech.empty()) throw Error("doa cnn dataset: no speech");
  if (o.stride < 1) throw Error("doa cnn dataset: --stride must be >= 1");
  if (!(o.rt60_lo > 0 && o.rt60_lo <= o.rt60_hi)) throw Error("doa cnn dataset: --rt60 needs 0 < LO <= HI seconds");
  if (!(o.snr_lo <= o.snr_hi)) throw Error("doa cnn dataset: --snr needs LO <= HI dB");
  if (!(o.max_az > 0 && o.max_az < 90)) throw Error("doa cnn dataset: --max-az must be in (0, 90) degrees");
  const int scenes = o.scenes;
  const DoaParams p = without_srp({});
  const int pool = CnnDoaParams{}.pool;
  const Shape fs = DoaEstimator(g, p).cross_spectra_shape(pool);
  const size_t D = size_t(numel(fs));
  *x_shape = {0, fs[1], fs[2], fs[3]};
  std::mutex mu;
  std::vector<std::vector<float>> xparts(static_cast<size_t>(scenes)), yparts(static_cast<size_t>(scenes));
  int next = 0;
  auto work = [&] {
    for (;;) {
      int i;
      {
        std::lock_guard<std::mutex> l(mu);
        if (next >= scenes) return;
        i = next++;
      }
      const unsigned seed = o.seed0 + unsigned(i);
      std::seed_seq sq{seed, 17u};
      std::mt19937 r(sq);
      const double snr = std::uniform_real_distribution<double>(o.snr_lo, o.snr_hi)(r);
      const double rt = std::uniform_real_distribution<double>(o.rt60_lo, o.rt60_hi)(r);
      BenchScene sc = make_bench_scene("single", speech, g, snr, rt, seed, o.max_az);
      DoaEstimator est(g, p);
      std::vector<float> feat(D);
      std::vector<float> xv, yv;
      const std::vector<int> who = talker_frames(sc, p.hop, p.n_fft, (sc.audio.frames() - size_t(p.n_fft)) / p.hop + 1);
      size_t t = 0, voiced = 0;
      est.set_frame_hook([&](DoaFrame&) {
        if (t < who.size() && who[t] >= 0 && voiced++ % size_t(o.stride) == 0) {
          est.cross_spectra(feat.data(), pool);
          xv.insert(xv.end(), feat.begin(), feat.end());
          yv.push_back(float(sc.truth_az[0]));
        }
        ++t;
      });
      std::vector<const float*> ptr;
      for (auto& c : sc.audio.ch) ptr.push_back(c.data());
      std::vector<DoaFrame> frames;
      est.push(ptr.data(), int(ptr.size()), sc.audio.frames(), frames);
      xparts[size_t(i)] = std::move(xv);
      yparts[size_t(i)] = std::move(yv);
    }
  };
  std::vector<std::thread> th;
  for (int k = 0; k < std::max(1, o.threads); ++k) th.emplace_back(work);
  for (auto& t : th) t.join();
  X->clear();
  y->clear();
  for (int i = 0; i < scenes; ++i) {
    X->insert(X->end(), xparts[size_t(i)].begin(), xparts[size_t(i)].end());
    y->insert(y->end(), yparts[size_t(i)].begin(), yparts[size_t(i)].end());
  }
  (*x_shape)[0] = int64_t(y->size());
}

}  // namespace ef::audio
