// Audio file i/o (libsndfile), resampling, signal statistics, .npy files.
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>

#include "edgeflow/audio.h"

namespace ef::audio {
namespace {

// For RIFF/WAVE files: check that the data chunk is as long as the header
// says. libsndfile silently reads what is there; we refuse, because a
// truncated capture usually means a broken recording.
void check_wav_truncation(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return;
  const uint64_t size = uint64_t(f.tellg());
  f.seekg(0);
  char hdr[12];
  if (!f.read(hdr, 12)) return;
  if (std::memcmp(hdr, "RIFF", 4) != 0 || std::memcmp(hdr + 8, "WAVE", 4) != 0) return;
  uint64_t pos = 12;
  while (pos + 8 <= size) {
    char ch[8];
    f.seekg(std::streamoff(pos));
    if (!f.read(ch, 8)) return;
    uint32_t len;
    std::memcpy(&len, ch + 4, 4);
    if (std::memcmp(ch, "data", 4) == 0) {
      if (len == 0 || len == 0xFFFFFFFFu) return;  // streaming writers leave these
      const uint64_t have = size - (pos + 8);
      if (have < len)
        throw Error(path + ": truncated WAV file: the data chunk declares " + std::to_string(len) +
                    " bytes but only " + std::to_string(have) + " are present");
      return;
    }
    pos += 8 + len + (len & 1);
  }
}

double bessel_i0(double x) {
  double sum = 1, term = 1, k = 1;
  while (term > 1e-12 * sum) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    k += 1;
  }
  return sum;
}

}  // namespace

Audio read_audio(const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(path + ": cannot open audio file (missing or unreadable)");
    probe.seekg(0, std::ios::end);
    if (probe.tellg() == 0) throw Error(path + ": empty file, not audio");
  }
  check_wav_truncation(path);
  SF_INFO info{};
  SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
  if (!sf) throw Error(path + ": not a readable audio file (" + sf_strerror(nullptr) + ")");
  if (info.channels <= 0 || info.samplerate <= 0) {
    sf_close(sf);
    throw Error(path + ": audio header has " + std::to_string(info.channels) + " channels at " +
                std::to_string(info.samplerate) + " Hz");
  }
  if (info.frames <= 0) {
    sf_close(sf);
    throw Error(path + ": audio file holds no samples");
  }
  Audio a;
  a.sample_rate = info.samplerate;
  const int C = info.channels;
  std::vector<float> inter(size_t(info.frames) * C);
  const sf_count_t got = sf_readf_float(sf, inter.data(), info.frames);
  sf_close(sf);
  if (got <= 0) throw Error(path + ": could not decode any samples");
  if (got < info.frames)
    throw Error(path + ": truncated audio: header says " + std::to_string(info.frames) + " frames, decoded " +
                std::to_string(got));
  a.ch.assign(C, std::vector<float>(size_t(got)));
  for (sf_count_t n = 0; n < got; ++n)
    for (int c = 0; c < C; ++c) {
      float v = inter[size_t(n) * C + c];
      if (!std::isfinite(v)) throw Error(path + ": sample " + std::to_string(n) + " of channel " +
                                         std::to_string(c) + " is not a finite number");
      a.ch[c][size_t(n)] = v;
    }
  return a;
}

void write_audio(const std::string& path, const Audio& a, bool float32) {
  if (a.ch.empty() || a.frames() == 0) throw Error(path + ": nothing to write (no samples)");
  for (auto& c : a.ch)
    if (c.size() != a.frames()) throw Error(path + ": channels have different lengths");
  SF_INFO info{};
  info.samplerate = a.sample_rate;
  info.channels = a.channels();
  const bool flac = path.size() > 5 && path.substr(path.size() - 5) == ".flac";
  info.format = flac ? (SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
                     : (SF_FORMAT_WAV | (float32 ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16));
  SNDFILE* sf = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!sf) throw Error(path + ": cannot write audio file (" + sf_strerror(nullptr) + ")");
  if (!float32) sf_command(sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const int C = a.channels();
  std::vector<float> inter(a.frames() * C);
  for (size_t n = 0; n < a.frames(); ++n)
    for (int c = 0; c < C; ++c) inter[n * C + c] = a.ch[c][n];
  sf_writef_float(sf, inter.data(), sf_count_t(a.frames()));
  sf_close(sf);
}

std::vector<float> resample(const std::vector<float>& x, int from, int to) {
  if (from <= 0 || to <= 0) throw Error("resample: sample rates must be positive");
  if (from == to) return x;
  const int g = std::gcd(from, to);
  const int L = to / g, M = from / g;  // y[n] = x(n * M / L)
  const double fc = 0.5 * std::min(1.0, double(to) / from) * 0.94;  // cycles/input sample
  const int half = int(std::ceil(12.0 / (2 * fc)));                 // taps each side
  const double beta = 8.6;
  const int taps = 2 * half + 1;
  std::vector<float> table(size_t(L) * taps);
  for (int ph = 0; ph < L; ++ph) {
    const double frac = double(ph) / L;
    for (int k = -half; k <= half; ++k) {
      const double t = k - frac;  // distance from the output instant
      const double s = std::abs(t) < 1e-12 ? 2 * fc : std::sin(2 * M_PI * fc * t) / (M_PI * t);
      const double r = t / (half + 1);
      const double w = std::abs(r) >= 1 ? 0 : bessel_i0(beta * std::sqrt(1 - r * r)) / bessel_i0(beta);
      table[size_t(ph) * taps + (k + half)] = float(s * w);
    }
  }
  const size_t nout = size_t((uint64_t(x.size()) * L + M - 1) / M);
  std::vector<float> y(nout);
  for (size_t n = 0; n < nout; ++n) {
    const uint64_t num = uint64_t(n) * M;
    const int64_t base = int64_t(num / L);
    const int ph = int(num % L);
    const float* h = &table[size_t(ph) * taps];
    double acc = 0;
    for (int k = -half; k <= half; ++k) {
      const int64_t i = base + k;
      if (i >= 0 && i < int64_t(x.size())) acc += double(h[k + half]) * x[size_t(i)];
    }
    y[n] = float(acc);
  }
  return y;
}

Audio resample(const Audio& a, int to) {
  Audio r;
  r.sample_rate = to;
  for (auto& c : a.ch) r.ch.push_back(resample(c, a.sample_rate, to));
  return r;
}

SignalStats signal_stats(const Audio& a) {
  SignalStats s;
  double ss = 0;
  size_t n = 0, clipped = 0;
  for (auto& c : a.ch)
    for (float v : c) {
      const double av = std::abs(v);
      s.peak = std::max(s.peak, av);
      ss += av * av;
      if (av >= 0.999) ++clipped;
      ++n;
    }
  s.rms = n ? std::sqrt(ss / n) : 0;
  s.clipped_fraction = n ? double(clipped) / n : 0;
  s.silent = s.rms < 1e-6;
  return s;
}

// ------------------------------------------------------------------ .npy
void write_npy(const std::string& path, const std::vector<float>& data, const Shape& shape) {
  if (size_t(numel(shape)) != data.size()) throw Error(path + ": npy shape " + shape_str(shape) +
                                                       " does not match " + std::to_string(data.size()) + " values");
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  dict += "), }";
  const size_t pre = 10;
  size_t total = pre + dict.size() + 1;
  const size_t pad = (64 - total % 64) % 64;
  dict += std::string(pad, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot write .npy file");
  const uint16_t hlen = uint16_t(dict.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&hlen), 2);
  f.write(dict.data(), std::streamsize(dict.size()));
  f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * 4));
  if (!f) throw Error(path + ": write failed");
}

std::vector<float> read_npy(const std::string& path, Shape* shape) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open .npy file");
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    f.read(reinterpret_cast<char*>(&h), 2);
    hlen = h;
  } else {
    f.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string hdr(hlen, '\0');
  if (!f.read(hdr.data(), hlen)) throw Error(path + ": truncated .npy header");
  const bool f8 = hdr.find("'<f8'") != std::string::npos;
  if (!f8 && hdr.find("'<f4'") == std::string::npos) throw Error(path + ": .npy dtype must be <f4 or <f8");
  if (hdr.find("'fortran_order': True") != std::string::npos) throw Error(path + ": fortran-order .npy not supported");
  Shape s;
  auto a = hdr.find("'shape': (");
  if (a == std::string::npos) throw Error(path + ": .npy header has no shape");
  a += 10;
  auto b = hdr.find(')', a);
  std::string dims = hdr.substr(a, b - a);
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    size_t j = i;
    while (j < dims.size() && std::isdigit(uint8_t(dims[j]))) ++j;
    if (j == i) throw Error(path + ": bad .npy shape '" + dims + "'");
    s.push_back(std::stoll(dims.substr(i, j - i)));
    i = j;
  }
  const size_t n = size_t(numel(s));
  std::vector<float> out(n);
  if (f8) {
    std::vector<double> d(n);
    if (!f.read(reinterpret_cast<char*>(d.data()), std::streamsize(n * 8))) throw Error(path + ": truncated .npy data");
    for (size_t k = 0; k < n; ++k) out[k] = float(d[k]);
  } else if (!f.read(reinterpret_cast<char*>(out.data()), std::streamsize(n * 4))) {
    throw Error(path + ": truncated .npy data");
  }
  if (shape) *shape = s;
  return out;
}

}  // namespace ef::audio
