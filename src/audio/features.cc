// STFT, mel filterbank, log-mel and MFCC with torchaudio 0.13 conventions.
#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>

#include "edgeflow/audio.h"

namespace ef::audio {
namespace {

struct Resolved {
  int n_fft, win, hop;
  double f_max;
};

Resolved resolve(const FeatureParams& p) {
  Resolved r;
  r.n_fft = p.n_fft;
  r.win = p.win_length > 0 ? p.win_length : p.n_fft;
  r.hop = p.hop_length > 0 ? p.hop_length : r.win / 2;
  r.f_max = p.f_max > 0 ? p.f_max : p.sample_rate / 2.0;
  if (r.n_fft < 4 || r.n_fft % 2) throw Error("features: n_fft must be even and >= 4, got " + std::to_string(r.n_fft));
  if (r.win > r.n_fft) throw Error("features: win_length " + std::to_string(r.win) + " > n_fft " + std::to_string(r.n_fft));
  if (r.hop <= 0) throw Error("features: hop_length must be positive");
  if (p.sample_rate <= 0) throw Error("features: sample_rate must be positive");
  if (p.n_mels <= 0) throw Error("features: n_mels must be positive");
  if (p.f_min < 0 || p.f_min >= r.f_max) throw Error("features: need 0 <= f_min < f_max");
  return r;
}

// periodic Hann of win_length, centred in n_fft
std::vector<float> hann_window(const Resolved& r) {
  std::vector<float> w(size_t(r.n_fft), 0.f);
  const int off = (r.n_fft - r.win) / 2;
  for (int i = 0; i < r.win; ++i) w[size_t(off + i)] = float(0.5 - 0.5 * std::cos(2 * M_PI * i / r.win));
  return w;
}

// |X|^power from |X|^2
float spectrum_power(const kiss_fft_cpx& c, double power) {
  const double pw = double(c.r) * c.r + double(c.i) * c.i;
  return float(power == 2.0 ? pw : power == 1.0 ? std::sqrt(pw) : std::pow(pw, power / 2));
}

void check_kind(const std::string& kind) {
  if (!feature_kind_ok(kind)) throw Error("features: kind must be stft, mel, logmel or mfcc, got '" + kind + "'");
}

double hz_to_mel(double f, const std::string& scale) {
  if (scale == "htk") return 2595.0 * std::log10(1.0 + f / 700.0);
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  return f >= min_log_hz ? min_log_mel + std::log(f / min_log_hz) / logstep : f / f_sp;
}
double mel_to_hz(double m, const std::string& scale) {
  if (scale == "htk") return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  return m >= min_log_mel ? min_log_hz * std::exp(logstep * (m - min_log_mel)) : f_sp * m;
}

void to_db(std::vector<float>& v, double top_db) {
  float mx = -1e30f;
  for (auto& x : v) {
    x = float(10.0 * std::log10(std::max(double(x), 1e-10)));
    mx = std::max(mx, x);
  }
  if (top_db >= 0)
    for (auto& x : v) x = std::max(x, float(mx - top_db));
}

std::vector<float> dct_ortho(int n_mfcc, int n_mels) {  // [n_mfcc, n_mels]
  std::vector<float> d(size_t(n_mfcc) * n_mels);
  for (int k = 0; k < n_mfcc; ++k)
    for (int n = 0; n < n_mels; ++n) {
      double v = std::cos(M_PI / n_mels * (n + 0.5) * k) * std::sqrt(2.0 / n_mels);
      if (k == 0) v *= 1.0 / std::sqrt(2.0);
      d[size_t(k) * n_mels + n] = float(v);
    }
  return d;
}

std::vector<float> apply_dct(const std::vector<float>& db, int n_mels, int T, int n_mfcc) {
  if (n_mfcc <= 0 || n_mfcc > n_mels) throw Error("features: n_mfcc must be in 1..n_mels");
  auto d = dct_ortho(n_mfcc, n_mels);
  std::vector<float> out(size_t(n_mfcc) * T);
  for (int k = 0; k < n_mfcc; ++k)
    for (int t = 0; t < T; ++t) {
      double acc = 0;
      for (int m = 0; m < n_mels; ++m) acc += double(d[size_t(k) * n_mels + m]) * db[size_t(m) * T + t];
      out[size_t(k) * T + t] = float(acc);
    }
  return out;
}

}  // namespace

bool feature_kind_ok(const std::string& kind) {
  return kind == "stft" || kind == "mel" || kind == "logmel" || kind == "mfcc";
}

std::vector<float> spectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_freq, int* n_frames) {
  const Resolved r = resolve(p);
  const int pad = p.center ? r.n_fft / 2 : 0;
  const int64_t len = int64_t(x.size());
  if (p.center && len <= pad)
    throw Error("features: signal of " + std::to_string(len) + " samples is too short for n_fft " +
                std::to_string(r.n_fft) + " (reflect padding needs more than n_fft/2)");
  if (!p.center && len < r.n_fft) throw Error("features: signal shorter than n_fft");
  const int64_t T = 1 + (len + 2 * pad - r.n_fft) / r.hop;
  const int F = r.n_fft / 2 + 1;
  const std::vector<float> w = hann_window(r);
  kiss_fftr_cfg cfg = kiss_fftr_alloc(r.n_fft, 0, nullptr, nullptr);
  std::vector<float> frame(r.n_fft);
  std::vector<kiss_fft_cpx> spec(F);
  std::vector<float> out(size_t(F) * T);
  auto at = [&](int64_t i) -> float {  // reflect padding
    i -= pad;
    if (i < 0) i = -i;
    if (i >= len) i = 2 * (len - 1) - i;
    return x[size_t(i)];
  };
  for (int64_t t = 0; t < T; ++t) {
    for (int i = 0; i < r.n_fft; ++i) frame[i] = at(t * r.hop + i) * w[i];
    kiss_fftr(cfg, frame.data(), spec.data());
    for (int f = 0; f < F; ++f) out[size_t(f) * T + t] = spectrum_power(spec[f], p.power);
  }
  kiss_fftr_free(cfg);
  if (n_freq) *n_freq = F;
  if (n_frames) *n_frames = int(T);
  return out;
}

std::vector<float> mel_filterbank(const FeatureParams& p, int n_freq) {
  const Resolved r = resolve(p);
  if (p.mel_scale != "htk" && p.mel_scale != "slaney")
    throw Error("features: mel_scale must be 'htk' or 'slaney', got '" + p.mel_scale + "'");
  const int M = p.n_mels;
  std::vector<double> all(n_freq);
  for (int i = 0; i < n_freq; ++i) all[i] = n_freq == 1 ? 0 : double(p.sample_rate / 2) * i / (n_freq - 1);
  const double m0 = hz_to_mel(p.f_min, p.mel_scale), m1 = hz_to_mel(r.f_max, p.mel_scale);
  std::vector<double> fp(M + 2);
  for (int i = 0; i < M + 2; ++i) fp[i] = mel_to_hz(m0 + (m1 - m0) * i / (M + 1), p.mel_scale);
  std::vector<float> fb(size_t(n_freq) * M);
  for (int f = 0; f < n_freq; ++f)
    for (int m = 0; m < M; ++m) {
      const double down = (all[f] - fp[m]) / (fp[m + 1] - fp[m]);
      const double up = (fp[m + 2] - all[f]) / (fp[m + 2] - fp[m + 1]);
      double v = std::max(0.0, std::min(down, up));
      if (p.mel_norm == "slaney") v *= 2.0 / (fp[m + 2] - fp[m]);
      fb[size_t(f) * M + m] = float(v);
    }
  return fb;
}

std::vector<float> melspectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_frames) {
  int F = 0, T = 0;
  auto spec = spectrogram(x, p, &F, &T);
  auto fb = mel_filterbank(p, F);
  const int M = p.n_mels;
  std::vector<float> out(size_t(M) * T);
  std::vector<double> acc(T);
  for (int m = 0; m < M; ++m) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int f = 0; f < F; ++f) {
      const double w = fb[size_t(f) * M + m];
      if (w == 0) continue;
      const float* row = &spec[size_t(f) * T];
      for (int t = 0; t < T; ++t) acc[t] += w * row[t];
    }
    for (int t = 0; t < T; ++t) out[size_t(m) * T + t] = float(acc[t]);
  }
  if (n_frames) *n_frames = T;
  return out;
}

std::vector<float> log_melspectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_frames) {
  auto m = melspectrogram(x, p, n_frames);
  to_db(m, p.top_db);
  return m;
}

std::vector<float> mfcc(const std::vector<float>& x, const FeatureParams& p, int* n_frames) {
  int T = 0;
  auto m = melspectrogram(x, p, &T);
  to_db(m, p.top_db >= 0 ? p.top_db : 80.0);
  if (n_frames) *n_frames = T;
  return apply_dct(m, p.n_mels, T, p.n_mfcc);
}

std::vector<float> compute_features(const Audio& a, const std::string& kind, const FeatureParams& p0, Shape* shape) {
  FeatureParams p = p0;
  p.sample_rate = a.sample_rate;
  if (a.ch.empty()) throw Error("features: no channels");
  check_kind(kind);
  std::vector<float> all;
  int rows = 0, T = 0;
  for (auto& c : a.ch) {
    std::vector<float> v;
    if (kind == "stft") {
      v = spectrogram(c, p, &rows, &T);
    } else {
      v = melspectrogram(c, p, &T);
      rows = p.n_mels;
    }
    all.insert(all.end(), v.begin(), v.end());
  }
  if (kind == "logmel" || kind == "mfcc") {
    to_db(all, kind == "mfcc" ? (p.top_db >= 0 ? p.top_db : 80.0) : p.top_db);
  }
  if (kind == "mfcc") {
    std::vector<float> out;
    const size_t per = size_t(p.n_mels) * T;
    for (int c = 0; c < a.channels(); ++c) {
      std::vector<float> db(all.begin() + c * per, all.begin() + (c + 1) * per);
      auto m = apply_dct(db, p.n_mels, T, p.n_mfcc);
      out.insert(out.end(), m.begin(), m.end());
    }
    all.swap(out);
    rows = p.n_mfcc;
  }
  if (shape) *shape = {a.channels(), rows, T};
  return all;
}

FeatureStream::FeatureStream(const std::string& kind, const FeatureParams& p, int channels)
    : kind_(kind), p_(p), C_(channels) {
  check_kind(kind);
  if (channels < 1) throw Error("features: no channels");
  const Resolved r = resolve(p);
  if (r.hop > r.n_fft) throw Error("features: hop_length must be <= n_fft for streaming");
  N_ = r.n_fft, H_ = r.hop, F_ = N_ / 2 + 1;
  win_ = hann_window(r);
  ring_.assign(size_t(C_) * N_, 0.f);
  frame_.resize(size_t(N_));
  spec_.resize(size_t(F_));
  pow_.resize(size_t(F_));
  rows_ = F_;
  if (kind != "stft") {
    fb_ = mel_filterbank(p, F_);
    mel_.resize(size_t(p.n_mels));
    rows_ = p.n_mels;
  }
  if (kind == "mfcc") {
    if (p.n_mfcc <= 0 || p.n_mfcc > p.n_mels) throw Error("features: n_mfcc must be in 1..n_mels");
    dct_ = dct_ortho(p.n_mfcc, p.n_mels);
    rows_ = p.n_mfcc;
  }
  to_next_ = size_t(N_);
  fft_ = kiss_fftr_alloc(N_, 0, nullptr, nullptr);
}

FeatureStream::~FeatureStream() { kiss_fftr_free(static_cast<kiss_fftr_cfg>(fft_)); }

int FeatureStream::push(const float* const* chans, int channels, size_t n, std::vector<float>& out) {
  if (channels != C_)
    throw Error("features: got " + std::to_string(channels) + " channel(s), the stream has " + std::to_string(C_));
  const size_t T = n >= to_next_ ? 1 + (n - to_next_) / size_t(H_) : 0;
  out.assign(size_t(C_) * rows_ * T, 0.f);
  const int M = p_.n_mels;
  size_t i = 0, t = 0;
  while (i < n) {
    const size_t take = std::min(to_next_, n - i);
    for (int c = 0; c < C_; ++c)
      for (size_t k = 0; k < take; ++k) ring_[size_t(c) * N_ + (pos_ + k) % size_t(N_)] = chans[c][i + k];
    pos_ = (pos_ + take) % size_t(N_);
    i += take;
    to_next_ -= take;
    if (to_next_) break;
    to_next_ = size_t(H_);
    for (int c = 0; c < C_; ++c) {  // the ring's oldest sample (at pos_) starts the frame
      const float* r = &ring_[size_t(c) * N_];
      for (int k = 0; k < N_; ++k) frame_[size_t(k)] = r[(pos_ + size_t(k)) % size_t(N_)] * win_[size_t(k)];
      auto* sp = reinterpret_cast<kiss_fft_cpx*>(spec_.data());
      kiss_fftr(static_cast<kiss_fftr_cfg>(fft_), frame_.data(), sp);
      for (int f = 0; f < F_; ++f) pow_[size_t(f)] = spectrum_power(sp[f], p_.power);
      float* col = &out[size_t(c) * rows_ * T + t];  // row r at col[r * T]
      if (kind_ == "stft") {
        for (int f = 0; f < F_; ++f) col[size_t(f) * T] = pow_[size_t(f)];
        continue;
      }
      for (int m = 0; m < M; ++m) {
        double acc = 0;
        for (int f = 0; f < F_; ++f) acc += double(fb_[size_t(f) * M + m]) * pow_[size_t(f)];
        mel_[size_t(m)] = kind_ == "mel" ? float(acc) : float(10.0 * std::log10(std::max(acc, 1e-10)));
      }
      if (kind_ != "mfcc") {
        for (int m = 0; m < M; ++m) col[size_t(m) * T] = mel_[size_t(m)];
        continue;
      }
      for (int k = 0; k < rows_; ++k) {
        double acc = 0;
        for (int m = 0; m < M; ++m) acc += double(dct_[size_t(k) * M + m]) * mel_[size_t(m)];
        col[size_t(k) * T] = float(acc);
      }
    }
    ++t;
  }
  return int(T);
}

}  // namespace ef::audio
