// Features against torchaudio 0.13 (Debian python3-torchaudio), run as
// /usr/bin/python3 on the same WAV. Tolerance: |a - b| <= 1e-4 * max(1, |b|)
// for dB/MFCC values and <= 1e-4 * max|b| + 1e-4*|b| for linear spectra
// (float32 FFTs on both sides).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "edgeflow/audio.h"
#include "support/assets.h"

namespace au = ef::audio;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("ef_audio_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}

au::Audio test_signal() {
  au::Audio a;
  a.sample_rate = 16000;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  for (int c = 0; c < 2; ++c) {
    std::vector<float> x(16000 + 123);
    for (size_t i = 0; i < x.size(); ++i) {
      const double t = double(i) / 16000;
      x[i] = float(0.3 * std::sin(2 * M_PI * (220 + 40 * c) * t) * (0.6 + 0.4 * std::sin(2 * M_PI * 3 * t)) +
                   0.1 * std::sin(2 * M_PI * 1800 * t) + 0.02 * nd(rng));
    }
    a.ch.push_back(x);
  }
  return a;
}

void expect_close(const std::vector<float>& got, const ef::Shape& gs, const std::string& ref, bool linear) {
  ef::Shape rs;
  auto r = au::read_npy(ref, &rs);
  ASSERT_EQ(gs, rs) << ref;
  float mx = 0;
  for (float v : r) mx = std::max(mx, std::abs(v));
  double worst = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const double tol = linear ? 1e-4 * mx + 1e-4 * std::abs(r[i]) : 1e-4 * std::max(1.0f, std::abs(r[i]));
    worst = std::max(worst, std::abs(got[i] - r[i]) / tol);
  }
  EXPECT_LE(worst, 1.0) << ref << ": worst error / tolerance";
}

}  // namespace

TEST(AudioFeatures, MatchTorchaudio) {
  EF_NEED(std::system("/usr/bin/python3 -c 'import torchaudio' >/dev/null 2>&1") == 0, std::string("torchaudio"));
  const std::string d = tmpdir("feat");
  auto a = test_signal();
  au::write_audio(d + "/x.wav", a, /*float32=*/true);
  const std::string cmd = "/usr/bin/python3 " EF_SOURCE_DIR "/tests/unit/audio/torchaudio_ref.py " + d + "/x.wav " + d;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto x = au::read_audio(d + "/x.wav");
  ef::Shape s;
  au::FeatureParams p;
  expect_close(au::compute_features(x, "stft", p, &s), s, d + "/stft.npy", true);
  {
    au::FeatureParams q;
    q.n_fft = 512, q.hop_length = 160, q.win_length = 400, q.power = 1;
    expect_close(au::compute_features(x, "stft", q, &s), s, d + "/stft_mag512.npy", true);
  }
  {
    au::FeatureParams q;
    q.n_mels = 64;
    expect_close(au::compute_features(x, "logmel", q, &s), s, d + "/logmel.npy", false);
  }
  {
    au::FeatureParams q;
    q.n_fft = 512, q.hop_length = 160, q.n_mels = 40, q.f_min = 50, q.f_max = 7000, q.mel_scale = "slaney", q.mel_norm = "slaney";
    expect_close(au::compute_features(x, "mel", q, &s), s, d + "/mel_slaney.npy", true);
  }
  {
    au::FeatureParams q;
    q.n_mfcc = 13, q.n_mels = 40;
    expect_close(au::compute_features(x, "mfcc", q, &s), s, d + "/mfcc.npy", false);
  }
  fs::remove_all(d);
}

TEST(AudioFeatures, NpyRoundTripAndErrors) {
  const std::string d = tmpdir("npy");
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  au::write_npy(d + "/a.npy", v, {2, 3});
  ef::Shape s;
  EXPECT_EQ(au::read_npy(d + "/a.npy", &s), v);
  EXPECT_EQ(s, (ef::Shape{2, 3}));
  EXPECT_THROW(au::write_npy(d + "/b.npy", v, {4}), ef::Error);
  au::FeatureParams p;
  EXPECT_THROW(au::spectrogram(std::vector<float>(100, 0.f), p, nullptr, nullptr), ef::Error);  // too short
  p.mel_scale = "bark";
  au::Audio a = test_signal();
  EXPECT_THROW(au::compute_features(a, "mel", p, &s), ef::Error);
  EXPECT_THROW(au::compute_features(a, "chroma", au::FeatureParams{}, &s), ef::Error);
  fs::remove_all(d);
}

TEST(AudioResample, SineKeepsFrequencyAndLevel) {
  std::vector<float> x(48000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 * std::sin(2 * M_PI * 1000.0 * i / 48000));
  auto y = au::resample(x, 48000, 16000);
  ASSERT_NEAR(double(y.size()), 16000.0, 1.0);
  double err = 0;
  for (size_t i = 200; i + 200 < y.size(); ++i)
    err = std::max(err, std::abs(y[i] - 0.5 * std::sin(2 * M_PI * 1000.0 * i / 16000)));
  EXPECT_LT(err, 2e-3);
  auto z = au::resample(x, 44100, 16000);  // rational 160/441
  EXPECT_NEAR(double(z.size()), 48000.0 * 16000 / 44100, 1.0);
}

TEST(AudioFeatures, StreamEqualsWholeSignal) {
  // blocks of uneven sizes (some shorter than a hop, one longer than n_fft)
  // against compute_features with center=false and no top_db clamp
  const au::Audio a = test_signal();
  au::FeatureParams p;
  p.n_fft = 400, p.hop_length = 160, p.n_mels = 40, p.n_mfcc = 13, p.center = false, p.top_db = 1e9;
  for (const char* kind : {"stft", "mel", "logmel", "mfcc"}) {
    ef::Shape rs;
    const auto ref = au::compute_features(a, kind, p, &rs);  // [2, rows, T]
    const int64_t R = rs[1], T = rs[2];
    au::FeatureStream st(kind, p, 2);
    ASSERT_EQ(st.rows(), R) << kind;
    std::vector<float> out;
    const float* ptr[2];
    int64_t t = 0;
    double max_rel = 0;
    const size_t sizes[] = {37, 1, 900, 159, 160, 161, 3000};
    for (size_t b = 0, i = 0; b < a.frames(); ++i) {
      const size_t n = std::min(sizes[i % 7], a.frames() - b);
      for (int c = 0; c < 2; ++c) ptr[c] = a.ch[size_t(c)].data() + b;
      const int64_t k = st.push(ptr, 2, n, out);
      ASSERT_EQ(out.size(), size_t(2 * R * k));
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t j = 0; j < k; ++j) {
            const double want = ref[size_t((c * R + r) * T + t + j)], got = out[size_t((c * R + r) * k + j)];
            max_rel = std::max(max_rel, std::abs(got - want) / std::max(1.0, std::abs(want)));
          }
      t += k;
      b += n;
    }
    EXPECT_EQ(t, T) << kind;
    EXPECT_LT(max_rel, 1e-4) << kind;
  }
  EXPECT_THROW(au::FeatureStream("chroma", p, 2), ef::Error);
  au::FeatureStream st("logmel", p, 2);
  std::vector<float> out;
  const float* one[1] = {a.ch[0].data()};
  EXPECT_THROW(st.push(one, 1, 10, out), ef::Error);  // channel count
}
