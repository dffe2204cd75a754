// The learned DOA estimator: pairwise PHAT cross-spectra -> small CNN
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

using cf = std::complex<float>;

CnnFeatures::CnnFeatures(int mics, const CnnFeatureParams& p) : p_(p), M_(mics) {
  if (mics < 2) throw Error("doa cnn: the array needs at least 2 mics");
  if (p.pool < 1 || p.bins < p.pool || p.bins % p.pool || p.frames < 1)
    throw Error("doa cnn: bins must be a positive multiple of pool, frames >= 1");
  P_ = M_ * (M_ - 1) / 2;
  F_ = p.bins / p.pool;
  ring_.assign(size_t(p.frames) * P_ * p.bins, cf(0, 0));
  xn_.assign(size_t(M_) * p.bins, cf(0, 0));
}

Shape CnnFeatures::shape() const { return {1, 2 * P_, 1, F_}; }

void CnnFeatures::add(const cf* X, int n_freq) {
  if (p_.bin0 + p_.bins > n_freq)
    throw Error("doa cnn: features need " + std::to_string(p_.bin0 + p_.bins) + " frequency bins, the STFT has " +
                std::to_string(n_freq) + " (n_fft must be " + std::to_string(p_.n_fft) + ")");
  for (int m = 0; m < M_; ++m)
    for (int k = 0; k < p_.bins; ++k) {
      const cf v = X[size_t(m) * n_freq + p_.bin0 + k];
      const float a = std::abs(v);
      xn_[size_t(m) * p_.bins + k] = a > 1e-20f ? v / a : cf(0, 0);
    }
  cf* r = &ring_[size_t(pos_) * P_ * p_.bins];
  for (int i = 0, q = 0; i < M_; ++i)
    for (int j = i + 1; j < M_; ++j, ++q)
      for (int k = 0; k < p_.bins; ++k)
        r[size_t(q) * p_.bins + k] = xn_[size_t(i) * p_.bins + k] * std::conj(xn_[size_t(j) * p_.bins + k]);
  pos_ = (pos_ + 1) % p_.frames;
  count_ = std::min(count_ + 1, p_.frames);
}

void CnnFeatures::get(float* out) const {
  const float s = 1.0f / float(p_.frames * p_.pool);  // missing frames count as zeros (start-up)
  for (int q = 0; q < P_; ++q)
    for (int f = 0; f < F_; ++f) {
      cf acc(0, 0);
      for (int t = 0; t < p_.frames; ++t) {
        const cf* r = &ring_[(size_t(t) * P_ + q) * p_.bins + size_t(f) * p_.pool];
        for (int u = 0; u < p_.pool; ++u) acc += r[u];
      }
      out[size_t(q) * F_ + f] = acc.real() * s;
      out[size_t(P_ + q) * F_ + f] = acc.imag() * s;
    }
}

// ---------------------------------------------------------------- estimator

struct CnnDoaEstimator::Impl {
  CnnDoaParams cp;
  DoaEstimator est;
  CnnFeatures feats;
  std::unique_ptr<Session> session;
  std::array<double, kNumBins> prob{}, integ{};
  double integ_w = 0, lam_voice = 0, lam_quiet = 0;  // the probabilities are integrated like SRP's cross-spectra

  static DoaParams without_srp(DoaParams p) {
    p.srp = false;
    return p;
  }
  Impl(const ArrayGeometry& g, const CnnDoaParams& c, const DoaParams& p)
      : cp(c), est(g, without_srp(p)), feats(g.mics()) {
    if (p.n_fft != 512 || p.sample_rate != 16000)
      throw Error("doa cnn: the learned estimator works on n_fft 512 at 16000 Hz (got n_fft " + std::to_string(p.n_fft) +
                  " at " + std::to_string(p.sample_rate) + " Hz)");
    Model model = [&] {
      try {
        return Model::load(c.model);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) +
                    "\n(the learned DOA model is made by `./x setup` or train/doa/train.sh; see README \"Audio\")");
      }
    }();
    // est (constructed above with the same p) has checked the integration times
    lam_voice = p.forgetting(p.integration_s);
    lam_quiet = p.forgetting(p.quiet_integration_s);
    session = std::make_unique<Session>(model, CompileOptions{.threads = 1});
    const Shape want = feats.shape();
    if (session->num_inputs() != 1 || session->num_outputs() != 1 || session->input(0).shape() != want ||
        session->output(0).numel() != kNumBins)
      throw Error(c.model + ": not a DOA model for this array: expected one input " + shape_str(want) + " (" +
                  std::to_string(g.mics()) + " mics) and one output of " + std::to_string(kNumBins) +
                  " logits, got input " + shape_str(session->input(0).shape()) + " and output " +
                  shape_str(session->output(0).shape()));
    est.set_frame_hook([this](const cf* X, int F, DoaFrame& fr) { on_frame(X, F, fr); });
  }

  void on_frame(const cf* X, int F, DoaFrame& fr) {
    feats.add(X, F);
    feats.get(session->input(0).data_as<float>());
    session->run();
    const float* lg = session->output(0).data_as<float>();
    double mx = lg[0];
    for (int a = 1; a < kNumBins; ++a) mx = std::max(mx, double(lg[a]));
    double z = 0;
    for (int a = 0; a < kNumBins; ++a) z += prob[a] = std::exp(double(lg[a]) - mx);
    // leaky average over voiced frames (0.25 s by default): the direction of
    // a talker is stable, single-frame posteriors in a reverberant room are not
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

void make_cnn_dataset(const std::vector<std::vector<float>>& speech, const ArrayGeometry& g, int scenes,
                      unsigned seed0, int threads, std::vector<float>* X, std::vector<float>* y, Shape* x_shape) {
  if (speech.empty()) throw Error("doa cnn dataset: no speech");
  const DoaParams p;
  const Shape fs = CnnFeatures(g.mics()).shape();
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
      const unsigned seed = seed0 + unsigned(i);
      std::seed_seq sq{seed, 17u};
      std::mt19937 r(sq);
      const double snr = std::uniform_real_distribution<double>(0, 30)(r);
      const double rt = std::uniform_real_distribution<double>(0.1, 0.9)(r);
      BenchScene sc = make_bench_scene("single", speech, g, snr, rt, seed);
      DoaEstimator est(g, p);
      CnnFeatures feats(g.mics());
      std::vector<float> feat(D);
      std::vector<float> xv, yv;
      const std::vector<int> who = talker_frames(sc, p.hop, p.n_fft, (sc.audio.frames() - size_t(p.n_fft)) / p.hop + 1);
      size_t t = 0;
      est.set_frame_hook([&](const cf* Xs, int F, DoaFrame&) {
        feats.add(Xs, F);
        if (t < who.size() && who[t] >= 0) {
          feats.get(feat.data());
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
  for (int k = 0; k < std::max(1, threads); ++k) th.emplace_back(work);
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
