// SRP-PHAT direction of arrival over the 37-bin azimuth grid with fine
// refinement, an energy/noise-floor voice activity detector, and up to 3
// sources.
//
// The steered response is computed from the pairwise cross-spectra
// C_mn(k) = X_m X_n^* (SRP-PHAT = the sum over pairs and bins of GCC-PHAT,
// DiBiase):
// - the noise cross-spectra (estimated in frames without voice) are
//   subtracted before whitening, so a stationary directional noise (a fan)
//   pulls the peak less;
// - each whitened term is weighted by the bin's SNR, the frame's speech
//   level, an onset (precedence) weight (bins whose power rises faster than a
//   reverberant decay carry the direct path) and (f / 1 kHz)^freq_weight_exp;
// - the weighted terms are integrated over time (leaky, integration_s in
//   voiced frames, quiet_integration_s otherwise): a talker's direction is
//   stable while reflections and grating lobes move with the phonemes, and
//   the short constant between words lets the next talker take over.
#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>

#include "edgeflow/audio.h"

namespace ef::audio {

using cf = std::complex<float>;

struct DoaEstimator::Impl {
  ArrayGeometry g;
  DoaParams p;
  int M = 0, N = 0, F = 0, kb0 = 0, kb1 = 0, nb = 0, kv0 = 0, kv1 = 0;
  int P = 0;                    // mic pairs m < n
  std::vector<int> pm, pn;      // [P]
  kiss_fftr_cfg cfg = nullptr;
  std::vector<float> win;
  std::vector<std::vector<float>> ring;  // per channel, last N samples (linear buffer, shifted)
  size_t filled = 0, since = 0;
  int64_t frame_index = 0;
  std::vector<float> frame;
  std::vector<kiss_fft_cpx> spec;
  std::vector<cf> X;            // [M][nb] current frame spectra
  std::vector<double> power;    // [nb] mean power across channels
  std::vector<double> noise;    // [nb] noise PSD estimate
  std::vector<cf> noise_cs;     // [nb][P] noise cross-spectra
  std::vector<double> prev;     // [nb] previous frame's power (onset weighting)
  bool noise_init = false;
  float lam_voice = 0, lam_quiet = 0;  // per-frame forgetting factors of G
  std::vector<cf> G;            // [nb][P] integrated, whitened, weighted cross-spectra
  std::vector<float> wsum;      // [nb] integrated weights of G's terms
  double gden = 0;              // the map's normalizer: P * sum of wsum
  std::vector<float> steer;     // [37][nb][P] (cos, -sin) of the pair phase, interleaved
  // VAD: ring of smoothed energies over the minimum-statistics window
  std::vector<double> energy_hist;
  size_t eh_pos = 0, eh_count = 0;
  double smooth_e = -200;
  double last_voice_t = -1e9;
  std::vector<double> omega;  // [nb] rad/s
  std::vector<double> fw;     // [nb] frequency weight (power)
  std::vector<double> map;    // [37] map
  std::vector<int> peaks;     // candidate peaks (capacity 37)
  FrameHook hook;
  mutable std::vector<cf> rot;  // [M][nb] steering for one refinement angle

  double tau(int m, double az_deg) const {  // arrival time at mic m relative to origin
    const double a = az_deg * M_PI / 180.0;
    return -(g.x[m] * std::sin(a) + g.y[m] * std::cos(a)) / kSpeedOfSound;
  }

  // sum over pairs and bins of Re(G_mn e^{j w (tau_m - tau_n)})
  double srp_num(double az) const {
    // omega is an arithmetic sequence: e^{j omega_k t} by a complex recurrence
    // (two sincos per mic instead of one per bin; double keeps it exact enough)
    const double dw = nb > 1 ? omega[1] - omega[0] : 0.0;
    for (int m = 0; m < M; ++m) {
      const double t = tau(m, az);
      std::complex<double> r = std::polar(1.0, omega[0] * t);
      const std::complex<double> step = std::polar(1.0, dw * t);
      for (int k = 0; k < nb; ++k, r *= step) rot[size_t(k) * M + m] = cf(float(r.real()), float(r.imag()));
    }
    double num = 0;
    for (int k = 0; k < nb; ++k) {
      const cf* r = &rot[size_t(k) * M];
      const cf* gk = &G[size_t(k) * P];
      float acc = 0;
      for (int q = 0; q < P; ++q) acc += (gk[q] * r[pm[q]] * std::conj(r[pn[q]])).real();
      num += acc;
    }
    return num;
  }

  void process_frame(std::vector<DoaFrame>& out) {
    out.emplace_back();
    DoaFrame& fr = out.back();
    fr.time = (double(frame_index) * p.hop + N / 2.0) / p.sample_rate;
    ++frame_index;
    std::fill(power.begin(), power.end(), 0.0);
    for (int m = 0; m < M; ++m) {
      const float* r = ring[m].data();
      for (int i = 0; i < N; ++i) frame[i] = r[i] * win[i];
      kiss_fftr(cfg, frame.data(), spec.data());
      for (int k = 0; k < nb; ++k) {
        const auto& c = spec[kb0 + k];
        X[size_t(m) * nb + k] = cf(c.r, c.i);
        power[k] += (double(c.r) * c.r + double(c.i) * c.i) / M;
      }
    }
    // ---- VAD: speech-band energy against a minimum-statistics noise floor
    double e = 0;
    for (int k = kv0; k < kv1; ++k) e += power[k];
    const double e_db = 10 * std::log10(e / (kv1 - kv0) + 1e-20);
    smooth_e = smooth_e < -150 ? e_db : 0.5 * smooth_e + 0.5 * e_db;
    energy_hist[eh_pos] = smooth_e;
    eh_pos = (eh_pos + 1) % energy_hist.size();
    eh_count = std::min(eh_count + 1, energy_hist.size());
    const double floor_db = *std::min_element(energy_hist.begin(), energy_hist.begin() + long(eh_count));
    const bool silent = e_db < -100;  // digital silence (16-bit quantisation is ~-110 dB)
    const bool above = !silent && smooth_e > floor_db + p.vad_threshold_db && e_db > floor_db + p.vad_threshold_db * 0.5;
    if (above) last_voice_t = fr.time;
    fr.voice = !silent && (above || fr.time - last_voice_t <= p.vad_hangover_s);
    fr.energy_db = e_db;
    fr.noise_db = floor_db;
    const double speech_w = silent ? 0.0 : std::clamp((e_db - floor_db) / 10.0, 0.0, 1.0);
    // ---- per-bin noise PSD and cross-spectra: fast down, slow up outside speech
    for (int k = 0; k < nb; ++k) {
      double a = 1.0;  // new = (1 - a) * old + a * frame
      if (!noise_init) a = 1.0;
      else if (power[k] < noise[k]) a = 0.3;
      else if (!above) a = 0.1;
      else a = 0.0;
      const cf* xk = &X[k];
      cf* ncs = &noise_cs[size_t(k) * P];
      if (a > 0) {
        noise[k] = (1 - a) * noise[k] + a * power[k];
        for (int q = 0; q < P; ++q)
          ncs[q] = float(1 - a) * ncs[q] + float(a) * xk[size_t(pm[q]) * nb] * std::conj(xk[size_t(pn[q]) * nb]);
      } else {
        noise[k] *= 1.001;
      }
    }
    noise_init = true;
    // ---- leaky integration of the whitened, weighted, noise-subtracted cross-spectra
    const float lam = above ? lam_voice : lam_quiet;
    gden = 0;
    for (int k = 0; k < nb; ++k) {
      // precedence: bins whose power rises faster than a reverberant decay
      // carry the direct path; decaying (reverberant) bins get little weight
      double onset_w = 1.0;
      if (p.onset_decay_db > 0 && power[k] > 0) {
        const double d = std::pow(10.0, -p.onset_decay_db / 10.0);
        onset_w = std::clamp(1.0 - d * prev[k] / power[k], p.onset_floor, 1.0);
      }
      prev[k] = power[k];
      const double snr_w = power[k] > 0 ? std::clamp(1.0 - 1.5 * noise[k] / power[k], 0.0, 1.0) : 0.0;
      const float w = float(speech_w * onset_w * snr_w * fw[k]);
      const cf* xk = &X[k];
      const cf* ncs = &noise_cs[size_t(k) * P];
      cf* gk = &G[size_t(k) * P];
      const float ns = p.noise_subtract ? 1.f : 0.f;
      for (int q = 0; q < P; ++q) {
        cf c = xk[size_t(pm[q]) * nb] * std::conj(xk[size_t(pn[q]) * nb]) - ns * ncs[q];
        const float m2 = std::norm(c);  // (std::abs is hypot: slow)
        c = m2 > 1e-30f ? c * (w / std::sqrt(m2)) : cf(0, 0);
        gk[q] = lam * gk[q] + c;
      }
      // every whitened term has magnitude w: the map is normalized by the
      // integrated weights, so a peak of 1 means all pairs, bins and frames agree
      wsum[k] = lam * wsum[k] + w;
      gden += double(wsum[k]) * P;
    }
    fr.spectrum.fill(0.f);
    if (p.srp) steered_response(fr, e_db, floor_db);
    if (hook) hook(fr);
  }

  // the map over the 37 bins from G, its peaks and their refinement
  void steered_response(DoaFrame& fr, double e_db, double floor_db) {
    std::fill(map.begin(), map.end(), 0.0);
    if (gden > 1e-12) {
      const float* gf = reinterpret_cast<const float*>(G.data());
      const size_t L = size_t(nb) * P * 2;
      for (int a = 0; a < kNumBins; ++a) {
        const float* st = &steer[size_t(a) * L];
        float acc = 0;
        for (size_t i = 0; i < L; ++i) acc += gf[i] * st[i];
        map[a] = acc / gden;
        fr.spectrum[a] = float(std::clamp(map[a], 0.0, 1.0));
      }
    }
    if (fr.voice && gden > 1e-12) {
      // local maxima, strongest first
      peaks.clear();
      for (int a = 0; a < kNumBins; ++a) {
        const bool left = a == 0 || map[a] >= map[a - 1];
        const bool right = a == kNumBins - 1 || map[a] > map[a + 1];
        if (left && right) peaks.push_back(a);
      }
      std::sort(peaks.begin(), peaks.end(), [&](int i, int j) { return map[i] > map[j]; });
      const double mn = *std::min_element(map.begin(), map.end());
      const double top = peaks.empty() ? 0 : map[peaks[0]];
      for (int a : peaks) {
        if (int(fr.sources.size()) >= p.max_sources) break;
        if (map[a] <= 0) break;
        const double height = map[a] - mn;
        if (!fr.sources.empty() && height < p.secondary_ratio * (top - mn)) break;
        // refine: halving search (2.5, 1.25 degrees) around the coarse peak,
        // then a parabola at step refine_step
        double best = bin_angle(a), bestv = map[a] * gden;
        for (double st : {2.5, 1.25}) {
          const double c = best;
          for (double d : {-st, st}) {
            const double az = std::clamp(c + d, -90.0, 90.0);
            const double v = srp_num(az);
            if (v > bestv) { bestv = v; best = az; }
          }
        }
        const double st = p.refine_step;
        const double lo = srp_num(std::max(-90.0, best - st)), hi = srp_num(std::min(90.0, best + st));
        double az = best;
        const double den2 = lo - 2 * bestv + hi;
        if (den2 < 0 && best - st >= -90 && best + st <= 90) az = best + 0.5 * st * (lo - hi) / den2;
        az = std::clamp(az, -90.0, 90.0);
        bool close = false;
        for (auto& s : fr.sources) close |= std::abs(s.azimuth - az) < p.min_separation;
        if (close) continue;
        fr.sources.push_back({az, std::clamp(bestv / gden, 0.0, 1.0)});
      }
      if (!fr.sources.empty()) {
        const double margin = std::clamp((e_db - floor_db - p.vad_threshold_db) / 10.0 + 0.5, 0.0, 1.0);
        fr.confidence = std::clamp(fr.sources[0].strength, 0.0, 1.0) * margin;
      }
    }
  }
};

DoaEstimator::DoaEstimator(const ArrayGeometry& g, const DoaParams& p) : impl_(new Impl) {
  auto& I = *impl_;
  I.g = g;
  I.p = p;
  I.M = g.mics();
  I.N = p.n_fft;
  if (I.M < 2) throw Error("doa: the array needs at least 2 mics");
  if (I.N < 64 || I.N % 2) throw Error("doa: n_fft must be even and >= 64");
  if (p.hop <= 0 || p.hop > I.N) throw Error("doa: hop must be in 1..n_fft");
  I.F = I.N / 2 + 1;
  // spatial aliasing: keep f below c / (2 * smallest spacing)
  double dmin = 1e9;
  for (int i = 0; i < I.M; ++i)
    for (int j = i + 1; j < I.M; ++j) dmin = std::min(dmin, std::hypot(g.x[i] - g.x[j], g.y[i] - g.y[j]));
  const double f_alias = p.alias_factor * kSpeedOfSound / (2 * dmin);
  const double fhi = std::min({p.f_hi, f_alias, p.sample_rate / 2.0 * 0.95});
  const double df = double(p.sample_rate) / I.N;
  I.kb0 = std::max(1, int(std::ceil(p.f_lo / df)));
  I.kb1 = std::min(I.F - 1, int(std::floor(fhi / df)) + 1);
  if (I.kb1 <= I.kb0 + 2) throw Error("doa: analysed band is empty; check f_lo/f_hi and the mic spacing");
  I.nb = I.kb1 - I.kb0;
  // VAD band 300..3400 Hz inside the analysed band
  I.kv0 = std::clamp(int(300 / df) - I.kb0, 0, I.nb - 1);
  I.kv1 = std::clamp(int(3400 / df) - I.kb0, I.kv0 + 1, I.nb);
  I.cfg = kiss_fftr_alloc(I.N, 0, nullptr, nullptr);
  I.win.resize(I.N);
  for (int i = 0; i < I.N; ++i) I.win[i] = float(0.5 - 0.5 * std::cos(2 * M_PI * i / I.N));
  I.ring.assign(I.M, std::vector<float>(I.N, 0.f));
  I.frame.resize(I.N);
  I.spec.resize(I.F);
  I.X.resize(size_t(I.M) * I.nb);
  I.power.resize(I.nb);
  I.noise.assign(I.nb, 0.0);
  I.prev.assign(I.nb, 0.0);
  I.omega.resize(I.nb);
  I.fw.resize(I.nb);
  for (int k = 0; k < I.nb; ++k) {
    I.omega[k] = 2 * M_PI * (I.kb0 + k) * df;
    I.fw[k] = std::pow((I.kb0 + k) * df / 1000.0, p.freq_weight_exp);
  }
  for (int m = 0; m < I.M; ++m)
    for (int n = m + 1; n < I.M; ++n) I.pm.push_back(m), I.pn.push_back(n);
  I.P = int(I.pm.size());
  I.noise_cs.assign(size_t(I.nb) * I.P, cf(0, 0));
  I.G.assign(size_t(I.nb) * I.P, cf(0, 0));
  I.wsum.assign(I.nb, 0.f);
  // coarse steering: Re(G e^{j phi}) = G.re cos(phi) + G.im (-sin(phi))
  I.steer.resize(size_t(kNumBins) * I.nb * I.P * 2);
  for (int a = 0; a < kNumBins; ++a)
    for (int k = 0; k < I.nb; ++k)
      for (int q = 0; q < I.P; ++q) {
        const double ph = I.omega[k] * (I.tau(I.pm[q], bin_angle(a)) - I.tau(I.pn[q], bin_angle(a)));
        float* s = &I.steer[((size_t(a) * I.nb + k) * I.P + q) * 2];
        s[0] = float(std::cos(ph));
        s[1] = float(-std::sin(ph));
      }
  I.energy_hist.assign(size_t(std::max(1.0, p.noise_window_s * p.sample_rate / p.hop)), 0.0);
  I.map.assign(kNumBins, 0.0);
  I.rot.resize(size_t(I.M) * I.nb);
  I.peaks.reserve(kNumBins);
  if (p.integration_s <= 0 || p.quiet_integration_s <= 0) throw Error("doa: integration times must be > 0");
  I.lam_voice = float(p.forgetting(p.integration_s));
  I.lam_quiet = float(p.forgetting(p.quiet_integration_s));
}

DoaEstimator::~DoaEstimator() {
  if (impl_) {
    kiss_fftr_free(impl_->cfg);
    delete impl_;
  }
}
DoaEstimator::DoaEstimator(DoaEstimator&& o) noexcept : impl_(o.impl_) { o.impl_ = nullptr; }
const DoaParams& DoaEstimator::params() const { return impl_->p; }

double DoaEstimator::srp_at(double az) const {
  const double d = impl_->gden;
  return d > 1e-12 ? impl_->srp_num(az) / d : 0.0;
}

void DoaEstimator::set_frame_hook(FrameHook h) { impl_->hook = std::move(h); }

Shape DoaEstimator::cross_spectra_shape(int pool) const {
  const auto& I = *impl_;
  if (pool < 1) throw Error("doa: pool must be >= 1");
  return {1, 2 * I.P, 1, I.nb / pool};
}

void DoaEstimator::cross_spectra(float* out, int pool) const {
  const auto& I = *impl_;
  const int K = I.nb / pool;
  for (int f = 0; f < K; ++f) {
    double w = 0;
    for (int u = 0; u < pool; ++u) w += I.wsum[size_t(f * pool + u)];
    const float s = w > 1e-12 ? float(1.0 / w) : 0.f;
    for (int q = 0; q < I.P; ++q) {
      cf acc(0, 0);
      for (int u = 0; u < pool; ++u) acc += I.G[size_t(f * pool + u) * I.P + q];
      out[size_t(q) * K + f] = acc.real() * s;
      out[size_t(I.P + q) * K + f] = acc.imag() * s;
    }
  }
}

void DoaEstimator::push(const float* const* chans, int channels, size_t n, std::vector<DoaFrame>& out) {
  auto& I = *impl_;
  if (channels != I.M)
    throw Error("doa: got " + std::to_string(channels) + " channels for an array of " + std::to_string(I.M) + " mics");
  size_t i = 0;
  while (i < n) {
    // fill up to the next frame boundary
    const size_t need = I.filled < size_t(I.N) ? size_t(I.N) - I.filled : size_t(I.p.hop) - I.since;
    const size_t take = std::min(need, n - i);
    for (int m = 0; m < I.M; ++m) {
      auto& r = I.ring[m];
      std::memmove(r.data(), r.data() + take, (I.N - take) * sizeof(float));
      std::memcpy(r.data() + I.N - take, chans[m] + i, take * sizeof(float));
    }
    i += take;
    if (I.filled < size_t(I.N)) {
      I.filled += take;
      if (I.filled == size_t(I.N)) {
        I.process_frame(out);
        I.since = 0;
      }
    } else {
      I.since += take;
      if (I.since == size_t(I.p.hop)) {
        I.process_frame(out);
        I.since = 0;
      }
    }
  }
}

DoaResult estimate_doa(const Audio& a0, const ArrayGeometry& g, const DoaParams& p, const std::string& src,
                       const CnnDoaParams* cnn) {
  DoaResult r;
  if (a0.channels() != g.mics())
    throw Error(src + ": has " + std::to_string(a0.channels()) + " channel(s) but array '" + g.name + "' has " +
                std::to_string(g.mics()) + " microphones (one channel per mic, channel i = mic i)");
  if (a0.sample_rate < 8000 || a0.sample_rate > 384000)
    throw Error(src + ": sample rate " + std::to_string(a0.sample_rate) + " Hz is not supported (need 8000..384000 Hz)");
  const Audio* a = &a0;
  Audio res;
  if (a0.sample_rate != p.sample_rate) {
    res = resample(a0, p.sample_rate);
    a = &res;
    r.warnings.push_back(src + ": resampled from " + std::to_string(a0.sample_rate) + " Hz to " +
                         std::to_string(p.sample_rate) + " Hz");
  }
  if (a->frames() < size_t(p.n_fft))
    throw Error(src + ": only " + std::to_string(a->frames()) + " samples at " + std::to_string(p.sample_rate) +
                " Hz; DOA needs at least one frame of " + std::to_string(p.n_fft));
  r.stats = signal_stats(*a);
  if (r.stats.silent) r.warnings.push_back(src + ": the recording is silent (digital zero); no speaker reported");
  if (r.stats.clipped_fraction > 0.001)
    r.warnings.push_back(src + ": " + std::to_string(r.stats.clipped_fraction * 100).substr(0, 5) +
                         "% of samples are clipped; directions may be less accurate");
  std::vector<const float*> ptr;
  for (auto& c : a->ch) ptr.push_back(c.data());
  r.frames.reserve(a->frames() / p.hop + 1);
  if (cnn) CnnDoaEstimator(g, *cnn, p).push(ptr.data(), int(ptr.size()), a->frames(), r.frames);
  else DoaEstimator(g, p).push(ptr.data(), int(ptr.size()), a->frames(), r.frames);
  return r;
}

double gcc_phat_delay(const std::vector<float>& x1, const std::vector<float>& x2, int fs, double max_delay_s) {
  const size_t n = std::max(x1.size(), x2.size());
  if (n < 16) throw Error("gcc_phat: signals too short");
  size_t L = 1;
  while (L < 2 * n) L <<= 1;
  kiss_fftr_cfg f = kiss_fftr_alloc(int(L), 0, nullptr, nullptr), b = kiss_fftr_alloc(int(L), 1, nullptr, nullptr);
  std::vector<float> a(L, 0.f), c(L, 0.f);
  std::copy(x1.begin(), x1.end(), a.begin());
  std::copy(x2.begin(), x2.end(), c.begin());
  std::vector<kiss_fft_cpx> A(L / 2 + 1), C(L / 2 + 1);
  kiss_fftr(f, a.data(), A.data());
  kiss_fftr(f, c.data(), C.data());
  for (size_t k = 0; k < A.size(); ++k) {
    const std::complex<double> g = std::complex<double>(C[k].r, C[k].i) * std::conj(std::complex<double>(A[k].r, A[k].i));
    const double m = std::abs(g);
    A[k].r = m > 1e-20 ? float(g.real() / m) : 0.f;
    A[k].i = m > 1e-20 ? float(g.imag() / m) : 0.f;
  }
  // 8x interpolation of the correlation by zero-padding the spectrum
  const int U = 8;
  const size_t LU = L * U;
  kiss_fftr_cfg bu = kiss_fftr_alloc(int(LU), 1, nullptr, nullptr);
  std::vector<kiss_fft_cpx> AU(LU / 2 + 1, kiss_fft_cpx{0, 0});
  std::copy(A.begin(), A.end(), AU.begin());
  AU[L / 2].r *= 0.5f, AU[L / 2].i *= 0.5f;
  std::vector<float> au(LU);
  kiss_fftri(bu, AU.data(), au.data());
  kiss_fftr_free(f);
  kiss_fftr_free(b);
  kiss_fftr_free(bu);
  const int maxlag = std::max(1, int(std::ceil(max_delay_s * fs * U)) + U);
  auto at = [&](int lag) { return au[size_t((lag + int64_t(LU)) % int64_t(LU))]; };
  int best = 0;
  for (int l = -maxlag; l <= maxlag; ++l)
    if (at(l) > at(best)) best = l;
  const double y0 = at(best - 1), y1 = at(best), y2 = at(best + 1);
  const double den = y0 - 2 * y1 + y2;
  const double frac = den < 0 ? 0.5 * (y0 - y2) / den : 0.0;
  return (best + frac) / (double(fs) * U);
}

}  // namespace ef::audio
