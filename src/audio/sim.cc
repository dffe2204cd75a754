// Shoebox room simulation: image-source method (Allen & Berkley) with
// Sabine-derived wall reflection, fractional delays by windowed sinc, and a
// spatially coherent diffuse late tail; diffuse noise from plane waves.
#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <random>

#include "edgeflow/audio.h"

namespace ef::audio {
namespace {

size_t next_pow2(size_t n) {
  size_t L = 1;
  while (L < n) L <<= 1;
  return L;
}

inline void add_frac_impulse(std::vector<float>& h, double pos, double amp, int taps) {
  const int half = taps / 2;
  const int64_t c = int64_t(std::floor(pos));
  const double frac = pos - double(c);
  for (int k = -half; k <= half + 1; ++k) {
    const int64_t i = c + k;
    if (i < 0 || i >= int64_t(h.size())) continue;
    const double t = k - frac;
    const double s = std::abs(t) < 1e-9 ? 1.0 : std::sin(M_PI * t) / (M_PI * t);
    const double w = std::abs(t) >= half + 1 ? 0.0 : 0.5 + 0.5 * std::cos(M_PI * t / (half + 1));
    h[size_t(i)] += float(amp * s * w);
  }
}

// y = x * h (full length x.size() + h.size() - 1) by FFT.
std::vector<float> fft_convolve(const std::vector<float>& x, const std::vector<float>& h) {
  const size_t n = x.size() + h.size() - 1;
  const size_t L = next_pow2(n);
  kiss_fftr_cfg f = kiss_fftr_alloc(int(L), 0, nullptr, nullptr), b = kiss_fftr_alloc(int(L), 1, nullptr, nullptr);
  std::vector<float> a(L, 0.f), c(L, 0.f);
  std::copy(x.begin(), x.end(), a.begin());
  std::copy(h.begin(), h.end(), c.begin());
  std::vector<kiss_fft_cpx> A(L / 2 + 1), C(L / 2 + 1);
  kiss_fftr(f, a.data(), A.data());
  kiss_fftr(f, c.data(), C.data());
  for (size_t k = 0; k < A.size(); ++k) {
    const float r = A[k].r * C[k].r - A[k].i * C[k].i, i = A[k].r * C[k].i + A[k].i * C[k].r;
    A[k].r = r / float(L);
    A[k].i = i / float(L);
  }
  kiss_fftri(b, A.data(), a.data());
  kiss_fftr_free(f);
  kiss_fftr_free(b);
  a.resize(n);
  return a;
}

void check_inside(const Room& r, double x, double y, double z, const char* what) {
  if (!(x > 0 && x < r.lx && y > 0 && y < r.ly && z > 0 && z < r.lz))
    throw Error(std::string("simulate: ") + what + " position (" + std::to_string(x) + ", " + std::to_string(y) + ", " +
                std::to_string(z) + ") is outside the room " + std::to_string(r.lx) + " x " + std::to_string(r.ly) +
                " x " + std::to_string(r.lz) + " m");
}

}  // namespace

std::vector<float> fractional_delay(const std::vector<float>& x, double d, int taps) {
  std::vector<float> h(size_t(std::ceil(d)) + taps + 2, 0.f);
  add_frac_impulse(h, d, 1.0, taps);
  auto y = fft_convolve(x, h);
  y.resize(x.size());
  return y;
}

double azimuth_of(const SimParams& p, double sx, double sy) {
  return std::atan2(sx - p.array_x, sy - p.array_y) * 180.0 / M_PI;
}
void place_at(const SimParams& p, double az, double dist, double* sx, double* sy) {
  *sx = p.array_x + dist * std::sin(az * M_PI / 180.0);
  *sy = p.array_y + dist * std::cos(az * M_PI / 180.0);
}

Audio diffuse_noise(const ArrayGeometry& g, size_t frames, int fs, unsigned seed, int directions) {
  const size_t L = next_pow2(frames);
  const size_t F = L / 2 + 1;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  const int M = g.mics();
  std::vector<std::vector<std::complex<float>>> S(M, std::vector<std::complex<float>>(F));
  for (int d = 0; d < directions; ++d) {
    // uniform on the sphere
    const double z = 2 * ud(rng) - 1, phi = 2 * M_PI * ud(rng), r = std::sqrt(1 - z * z);
    const double ux = r * std::cos(phi), uy = r * std::sin(phi), uz = z;
    std::vector<std::complex<float>> n(F);
    for (size_t k = 1; k < F; ++k) n[k] = {nd(rng), nd(rng)};
    for (int m = 0; m < M; ++m) {
      const double tau = -(g.x[m] * ux + g.y[m] * uy + g.z[m] * uz) / kSpeedOfSound;
      // the phase ramp exp(i k dph) by recurrence (a sincos per bin was most of the simulation time)
      const std::complex<double> step = std::polar(1.0, -2 * M_PI * fs * tau / double(L));
      std::complex<double> ph = step;
      for (size_t k = 1; k < F; ++k, ph *= step) S[m][k] += n[k] * std::complex<float>(ph);
    }
  }
  Audio a;
  a.sample_rate = fs;
  kiss_fftr_cfg b = kiss_fftr_alloc(int(L), 1, nullptr, nullptr);
  std::vector<kiss_fft_cpx> C(F);
  std::vector<float> y(L);
  for (int m = 0; m < M; ++m) {
    for (size_t k = 0; k < F; ++k) {
      // gentle pink tilt above 200 Hz (room noise is not white)
      const double f = double(k) * fs / double(L);
      const float tilt = float(1.0 / std::sqrt(std::max(1.0, f / 200.0)));
      C[k].r = S[m][k].real() * tilt;
      C[k].i = S[m][k].imag() * tilt;
    }
    C[F - 1].i = 0;
    C[0] = {0, 0};
    kiss_fftri(b, C.data(), y.data());
    a.ch.emplace_back(y.begin(), y.begin() + long(frames));
  }
  kiss_fftr_free(b);
  double ss = 0;
  for (auto& c : a.ch)
    for (float v : c) ss += double(v) * v;
  const double rms = std::sqrt(ss / double(frames * M) + 1e-30);
  for (auto& c : a.ch)
    for (auto& v : c) v = float(v / rms * 0.05);
  return a;
}

std::vector<std::vector<float>> room_impulse_responses(const Room& r, const ArrayGeometry& g, double sx, double sy,
                                                       double sz, const SimParams& p) {
  if (!(r.lx > 0.5 && r.ly > 0.5 && r.lz > 0.5)) throw Error("simulate: room dimensions must be > 0.5 m");
  const int M = g.mics();
  const double fs = p.sample_rate;
  check_inside(r, sx, sy, sz, "source");
  std::vector<double> mx(M), my(M), mz(M);
  for (int m = 0; m < M; ++m) {
    mx[m] = p.array_x + g.x[m];
    my[m] = p.array_y + g.y[m];
    mz[m] = p.array_z + g.z[m];
    check_inside(r, mx[m], my[m], mz[m], "microphone");
  }
  const bool anechoic = r.rt60 <= 0;
  double beta = 0;
  if (!anechoic) {
    const double V = r.lx * r.ly * r.lz, S = 2 * (r.lx * r.ly + r.lx * r.lz + r.ly * r.lz);
    const double alpha = std::min(1.0, 0.161 * V / (S * r.rt60));
    beta = std::sqrt(1 - alpha);
  }
  const double dmax_direct = std::hypot(r.lx, r.ly, r.lz);
  const double t_ism = anechoic ? 0 : std::min(p.ism_time_s, r.rt60);
  const double reach = dmax_direct + kSpeedOfSound * t_ism;  // metres of path
  int N = 0;
  if (!anechoic) {
    N = p.max_order >= 0 ? p.max_order : int(std::ceil(reach / std::min({r.lx, r.ly, r.lz}))) + 1;
    N = std::min(N, 40);
  }
  const double tail_s = anechoic ? 0 : std::min(r.rt60 * 1.1, 1.2);
  const size_t len = size_t((reach / kSpeedOfSound + tail_s) * fs) + p.frac_taps + 8;
  std::vector<std::vector<float>> h(M, std::vector<float>(len, 0.f));
  const double src[3] = {sx, sy, sz}, L[3] = {r.lx, r.ly, r.lz};
  std::vector<double> powb(4 * N + 4, 1.0);
  for (size_t i = 1; i < powb.size(); ++i) powb[i] = powb[i - 1] * beta;
  double t_first = 1e9;
  for (int m = 0; m < M; ++m) t_first = std::min(t_first, std::hypot(sx - mx[m], sy - my[m], sz - mz[m]) / kSpeedOfSound);
  const double t_cut = t_first + t_ism;  // images later than this are replaced by the tail
  for (int m = 0; m < M; ++m) {
    const double mic[3] = {mx[m], my[m], mz[m]};
    for (int nx = -N; nx <= N; ++nx)
      for (int qx = 0; qx < 2; ++qx) {
        const double ix = (1 - 2 * qx) * src[0] + 2 * nx * L[0] - mic[0];
        const int rx = std::abs(nx - qx) + std::abs(nx);
        for (int ny = -N; ny <= N; ++ny)
          for (int qy = 0; qy < 2; ++qy) {
            const double iy = (1 - 2 * qy) * src[1] + 2 * ny * L[1] - mic[1];
            const int ry = std::abs(ny - qy) + std::abs(ny);
            const double dxy2 = ix * ix + iy * iy;
            if (!anechoic && std::sqrt(dxy2) / kSpeedOfSound > t_cut) continue;
            for (int nz = -N; nz <= N; ++nz)
              for (int qz = 0; qz < 2; ++qz) {
                const int rz = std::abs(nz - qz) + std::abs(nz);
                const int refl = rx + ry + rz;
                if (anechoic && refl > 0) continue;
                const double iz = (1 - 2 * qz) * src[2] + 2 * nz * L[2] - mic[2];
                const double d = std::sqrt(dxy2 + iz * iz);
                const double t = d / kSpeedOfSound;
                if (!anechoic && t > t_cut) continue;
                add_frac_impulse(h[m], t * fs, powb[std::min<size_t>(refl, powb.size() - 1)] / (4 * M_PI * d), p.frac_taps);
              }
          }
      }
  }
  if (!anechoic) {
    // diffuse tail from t_cut, energy-matched to the image-source response just before it
    const size_t c = size_t(t_cut * fs);
    const size_t w0 = c > size_t(0.02 * fs) ? c - size_t(0.02 * fs) : 0;
    double e = 0;
    for (int m = 0; m < M; ++m)
      for (size_t i = w0; i < c && i < len; ++i) e += double(h[m][i]) * h[m][i];
    e /= double(M * std::max<size_t>(1, c - w0));
    if (c < len) {
      Audio tail = diffuse_noise(g, len - c, p.sample_rate, p.seed * 7919u + 17u, 48);
      double te = 0;
      for (auto& ch : tail.ch)
        for (float v : ch) te += double(v) * v;
      te /= double(M * (len - c));
      const double amp = std::sqrt(e / (te + 1e-30));
      const double k60 = 6.9078 / r.rt60;  // amplitude decays 60 dB over rt60
      for (int m = 0; m < M; ++m)
        for (size_t i = c; i < len; ++i) {
          const double tt = double(i - c) / fs;
          const double ramp = std::min(1.0, double(i - c) / (0.005 * fs));  // 5 ms fade-in
          h[m][i] += float(tail.ch[m][i - c] * amp * std::exp(-k60 * tt) * ramp);
        }
    }
  }
  return h;
}

Audio simulate_room(const Room& r, const ArrayGeometry& g, const std::vector<SimSource>& sources, const SimParams& p,
                    double seconds) {
  size_t frames = size_t(seconds * p.sample_rate);
  for (auto& s : sources) frames = std::max(frames, size_t(s.start_s * p.sample_rate) + s.signal.size());
  if (frames == 0) throw Error("simulate: nothing to simulate (no sources, zero duration)");
  Audio out;
  out.sample_rate = p.sample_rate;
  out.ch.assign(g.mics(), std::vector<float>(frames, 0.f));
  int si = 0;
  for (auto& s : sources) {
    SimParams q = p;
    q.seed = p.seed + unsigned(si++) * 101u;
    auto h = room_impulse_responses(r, g, s.x, s.y, s.z, q);
    const size_t off = size_t(s.start_s * p.sample_rate);
    for (int m = 0; m < g.mics(); ++m) {
      auto y = fft_convolve(s.signal, h[m]);
      for (size_t i = 0; i < y.size() && off + i < frames; ++i) out.ch[m][off + i] += y[i];
    }
  }
  return out;
}

double add_noise(Audio& sig, const Audio& noise, double snr_db) {
  if (noise.channels() != sig.channels()) throw Error("add_noise: channel counts differ");
  if (noise.frames() < sig.frames()) throw Error("add_noise: noise is shorter than the signal");
  const size_t W = size_t(std::max(1, sig.sample_rate / 50));  // 20 ms frames
  std::vector<double> fp;
  for (size_t s = 0; s + W <= sig.frames(); s += W) {
    double e = 0;
    for (auto& c : sig.ch)
      for (size_t i = s; i < s + W; ++i) e += double(c[i]) * c[i];
    fp.push_back(e / double(W * sig.channels()));
  }
  const double mx = fp.empty() ? 0 : *std::max_element(fp.begin(), fp.end());
  double ps = 0;
  int n = 0;
  for (double e : fp)
    if (e > mx * 1e-3) ps += e, ++n;  // active frames: within 30 dB of the loudest
  ps = n ? ps / n : 0;
  double pn = 0;
  for (auto& c : noise.ch)
    for (size_t i = 0; i < sig.frames(); ++i) pn += double(c[i]) * c[i];
  pn /= double(sig.frames() * sig.channels());
  if (pn <= 0) return 0;
  const double gain = ps > 0 ? std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0))) : 1.0;
  for (int m = 0; m < sig.channels(); ++m)
    for (size_t i = 0; i < sig.frames(); ++i) sig.ch[m][i] += float(gain * noise.ch[m][i]);
  return gain;
}

}  // namespace ef::audio
