// Audio: file i/o, features (torchaudio conventions), microphone-array
// geometry, SRP-PHAT direction of arrival, voice activity, speaker tracking,
// a shoebox room simulator and audio-video active-speaker fusion.
//
// Conventions (all of edgeflow audio):
//  * Coordinates in metres, camera frame seen from above: +x to the camera's
//    RIGHT, +y straight AHEAD (into the scene), +z up. The array centre is the
//    origin of the array's own coordinates.
//  * Azimuth theta in degrees: 0 = straight ahead (+y), POSITIVE TO THE
//    CAMERA'S RIGHT (+x), range -90..+90 for a linear array (front half plane;
//    a linear array cannot tell front from back). Unit vector (sin t, cos t).
//  * Presets ula8/ula4: mics on the x axis, channel 0 is the LEFTMOST mic
//    (most negative x), channel M-1 the rightmost; mic i at
//    x = (i - (M-1)/2) * spacing.
//  * The coarse DOA grid has 37 bins: bin k <-> -90 + 5k degrees.
#pragma once
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgeflow/tensor.h"

namespace ef::audio {

constexpr double kSpeedOfSound = 343.0;
constexpr int kNumBins = 37;  // -90..+90 in 5 degree steps
inline double bin_angle(int k) { return -90.0 + 5.0 * k; }

// ---------------------------------------------------------------- i/o
// Planar float samples in [-1, 1].
struct Audio {
  int sample_rate = 0;
  std::vector<std::vector<float>> ch;  // ch[c][n]
  int channels() const { return int(ch.size()); }
  size_t frames() const { return ch.empty() ? 0 : ch[0].size(); }
  double seconds() const { return sample_rate ? double(frames()) / sample_rate : 0.0; }
};

// Reads WAV/FLAC/OGG/... through libsndfile. Throws ef::Error naming the file
// when it is missing, not audio, empty, or truncated (a WAV whose data chunk
// is shorter than its header says).
Audio read_audio(const std::string& path);
// Writes 16-bit PCM WAV (or FLAC when the name ends in .flac; float WAV when
// float32 = true).
void write_audio(const std::string& path, const Audio& a, bool float32 = false);
// Band-limited (windowed-sinc, Kaiser) rational resampling.
std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate);
Audio resample(const Audio& a, int to_rate);

// Simple signal diagnostics.
struct SignalStats {
  double peak = 0, rms = 0;
  double clipped_fraction = 0;  // samples with |x| >= 0.999
  bool silent = false;          // rms < 1e-6 (digital silence)
};
SignalStats signal_stats(const Audio& a);

// ---------------------------------------------------------------- .npy
// Little-endian float32 / float64 C-order arrays.
void write_npy(const std::string& path, const std::vector<float>& data, const Shape& shape);
std::vector<float> read_npy(const std::string& path, Shape* shape);  // f4 or f8

// ---------------------------------------------------------------- features
// Parameters and defaults follow torchaudio 0.13 transforms:
// Spectrogram(n_fft=400, win_length=n_fft, hop_length=win_length//2, pad=0,
// window=periodic Hann, power=2, normalized=False, center=True,
// pad_mode="reflect", onesided=True); MelSpectrogram adds f_min=0,
// f_max=sr/2, n_mels=128, norm=None, mel_scale="htk"; log-mel is
// AmplitudeToDB("power", top_db) = 10*log10(max(x, 1e-10)); MFCC(n_mfcc=40,
// dct_type=2, norm="ortho", log_mels=False) uses top_db=80.
struct FeatureParams {
  int sample_rate = 16000;
  int n_fft = 400;
  int win_length = 0;   // 0 -> n_fft
  int hop_length = 0;   // 0 -> win_length / 2
  double power = 2.0;   // 1 = magnitude, 2 = power
  bool center = true;   // reflect-pad n_fft/2 on both sides
  int n_mels = 128;
  double f_min = 0.0;
  double f_max = 0.0;   // 0 -> sample_rate / 2
  std::string mel_scale = "htk";  // or "slaney"
  std::string mel_norm = "";      // "" or "slaney"
  double top_db = -1;   // < 0: none (log-mel); MFCC uses 80 unless set
  int n_mfcc = 40;
};
// All return row-major [n_rows, n_frames] (freq/mel/mfcc rows, time columns).
std::vector<float> spectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_freq, int* n_frames);
std::vector<float> mel_filterbank(const FeatureParams& p, int n_freq);  // [n_freq, n_mels]
std::vector<float> melspectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_frames);
std::vector<float> log_melspectrogram(const std::vector<float>& x, const FeatureParams& p, int* n_frames);
std::vector<float> mfcc(const std::vector<float>& x, const FeatureParams& p, int* n_frames);
// All channels of a file: kind = "stft" | "mel" | "logmel" | "mfcc"; result
// is [channels, rows, frames] like torchaudio on a (channels, time) tensor
// (top_db clamps against the maximum over all channels, as torchaudio does).
std::vector<float> compute_features(const Audio& a, const std::string& kind, const FeatureParams& p,
                                    Shape* shape);
bool feature_kind_ok(const std::string& kind);  // stft | mel | logmel | mfcc

// Streaming features of planar blocks with center=False framing and no top_db
// clamp (frame t covers samples t*hop .. t*hop + n_fft - 1 of the stream), so
// the blocks' frames concatenated equal compute_features() of the whole
// signal with center=false. Window, FFT plan, filterbank and DCT are made
// once; push() keeps the last n_fft samples per channel (no per-block copy of
// the stream) and allocates only to grow `out`.
class FeatureStream {
 public:
  FeatureStream(const std::string& kind, const FeatureParams& p, int channels);
  ~FeatureStream();
  FeatureStream(const FeatureStream&) = delete;
  FeatureStream& operator=(const FeatureStream&) = delete;
  // Appends the frames completed by this block, [channels, rows, frames], to
  // `out` (cleared first); returns the number of frames.
  int push(const float* const* chans, int channels, size_t n, std::vector<float>& out);
  int rows() const { return rows_; }

 private:
  std::string kind_;
  FeatureParams p_;
  int C_ = 0, N_ = 0, H_ = 0, F_ = 0, rows_ = 0;
  size_t pos_ = 0;                  // ring write position
  size_t to_next_ = 0;              // samples until the next frame completes
  void* fft_ = nullptr;             // kiss_fftr_cfg
  std::vector<float> win_, ring_;   // ring_: [channels][n_fft]
  std::vector<float> frame_, pow_, mel_, fb_, dct_;
  std::vector<std::complex<float>> spec_;
};

// ---------------------------------------------------------------- geometry
struct ArrayGeometry {
  std::string name;
  std::vector<double> x, y, z;  // metres, one entry per mic (= channel)
  int mics() const { return int(x.size()); }
  bool linear() const;          // all mics on the x axis
  double aperture() const;      // largest mic distance
};
// "ula8" / "ula4" (spacing in metres), or a path to a geometry file:
//   # comment
//   name: my_array
//   mics:            (optional header line)
//   - [-0.05, 0.0]   (x y [z] in metres; "x y", "x, y" and "- [x, y]" forms)
// Errors name the file and line.
ArrayGeometry make_ula(int mics, double spacing, const std::string& name = "");
ArrayGeometry load_geometry(const std::string& preset_or_path, double spacing = 0.04);
ArrayGeometry parse_geometry(const std::string& text, const std::string& source_name);

// ---------------------------------------------------------------- DOA
struct DoaParams {
  int sample_rate = 16000;
  int n_fft = 512;
  int hop = 256;          // 16 ms per DOA frame at 16 kHz
  // Analysed band (Hz). Above spatial aliasing (c / 2d = 4.3 kHz for 4 cm)
  // each frequency has grating lobes; up to ~6 kHz they stay near endfire and
  // move with frequency, while the sharper high-frequency beams separate the
  // direct path from floor/ceiling/back-wall reflections. Above 6 kHz the
  // lobes pile up on the opposite side (spurious peaks in reverberant rooms).
  double f_lo = 200, f_hi = 6000;
  double alias_factor = 2.0;  // f_hi is capped at alias_factor * c / (2 * smallest spacing)
  // The pairwise cross-spectra are integrated over time with these time
  // constants (s): in voiced frames, and (shorter, so a new talker after a
  // pause takes over quickly) in frames without voice.
  double integration_s = 0.5;
  double quiet_integration_s = 0.1;
  // Per-frame forgetting factor of a leaky average with this time constant.
  double forgetting(double time_constant_s) const { return std::exp(-hop / (time_constant_s * sample_rate)); }
  bool noise_subtract = true;  // subtract the noise cross-spectra (estimated without voice) before whitening
  double freq_weight_exp = 2.0;  // bin weight (f / 1 kHz)^exp: > 0 favours the sharper high-frequency beams
  // Onset (precedence) weighting: a bin's weight is 1 - d * P_prev / P with
  // d = 10^(-onset_decay_db/10); 0 disables. Reverberant tails decay, the
  // direct path arrives with rising power.
  double onset_decay_db = 0.25;
  double onset_floor = 0.0;
  double refine_step = 0.5;  // fine search step in degrees around coarse peaks
  bool srp = true;           // false: no map and peaks (VAD, cross_spectra and the frame hook: the learned estimator)
  int max_sources = 3;
  double min_separation = 20;   // degrees between reported sources
  double secondary_ratio = 0.55;  // a 2nd/3rd peak needs this fraction of the main peak's height
  // VAD
  // Band energy above the noise floor. 3 dB, chosen on the tuning rooms (seed
  // 60000): at 5 dB the VAD missed 40 % of the voiced frames at SNR 0 dB, and
  // noise-only input still reports no speaker in every frame at 3 dB.
  double vad_threshold_db = 3.0;
  double vad_hangover_s = 0.15;
  double noise_window_s = 2.0;    // minimum-statistics window
};

struct DoaSource {
  double azimuth = 0;     // refined, degrees
  double strength = 0;    // 0..1 peak height over the map's floor
};

// Up to 3 sources without heap allocation (the streaming path allocates
// nothing per frame).
struct DoaSources {
  static constexpr int kMax = 3;
  std::array<DoaSource, kMax> v{};
  int n = 0;
  size_t size() const { return size_t(n); }
  bool empty() const { return n == 0; }
  void clear() { n = 0; }
  void push_back(const DoaSource& s) { if (n < kMax) v[size_t(n++)] = s; }
  DoaSource& operator[](size_t i) { return v[i]; }
  const DoaSource& operator[](size_t i) const { return v[i]; }
  const DoaSource* begin() const { return v.data(); }
  const DoaSource* end() const { return v.data() + n; }
  DoaSource* begin() { return v.data(); }
  DoaSource* end() { return v.data() + n; }
};

struct DoaFrame {
  double time = 0;                 // centre of the frame, seconds
  std::array<float, kNumBins> spectrum{};  // normalised SRP-PHAT values (0..1), or CNN probabilities
  bool voice = false;              // VAD decision
  double energy_db = 0, noise_db = 0;
  double confidence = 0;           // 0..1
  DoaSources sources;              // empty when !voice; strongest first
};

// Streaming SRP-PHAT + VAD. push() takes planar blocks of any length and
// emits one DoaFrame per hop. No allocation in push() after construction
// except for growing the output vector (reuse it: clear() keeps capacity).
class DoaEstimator {
 public:
  DoaEstimator(const ArrayGeometry& g, const DoaParams& p = {});
  ~DoaEstimator();
  DoaEstimator(DoaEstimator&&) noexcept;
  void push(const float* const* chans, int channels, size_t n, std::vector<DoaFrame>& out);
  // Called for every frame, before it is emitted (after the SRP-PHAT map
  // when p.srp); the learned estimator puts its own direction into the frame
  // there (the VAD stays).
  using FrameHook = std::function<void(DoaFrame& frame)>;
  void set_frame_hook(FrameHook hook);
  // The integrated statistics SRP-PHAT steers (noise-subtracted, whitened,
  // SNR/onset/frequency-weighted cross-spectra of every mic pair m < n,
  // leaky-averaged over time), each bin divided by its integrated weight and
  // `pool` adjacent bins of the analysed band averaged: [1, 2 * pairs, 1,
  // bins / pool], real parts of all pairs, then the imaginary parts; each
  // value in [-1, 1]. The learned estimator's input.
  Shape cross_spectra_shape(int pool) const;
  void cross_spectra(float* out, int pool) const;
  // SRP-PHAT value (pairwise GCC-PHAT sum, normalised) at an arbitrary
  // azimuth for the current averaged map; for tests.
  double srp_at(double azimuth_deg) const;
  const DoaParams& params() const;

 private:
  struct Impl;
  Impl* impl_;
};

// ---------------------------------------------------------------- learned DOA
// The learned estimator: DoaEstimator's framing, VAD and integrated
// cross-spectra (DoaEstimator::cross_spectra, pooled over `pool` bins: 28
// pairs x 93 bands for the 8-mic ULA) -> a small CNN (ONNX, run by
// ef::Session on one thread) -> 37 probabilities in `spectrum`, the refined
// angle from the probability-weighted mean around the peak, a second source
// when another peak holds >= secondary_prob.
struct CnnDoaParams {
  std::string model = ".cache/models/doa_cnn_xspec.onnx";
  int pool = 2;
  double secondary_prob = 0.3;
};
class CnnDoaEstimator {
 public:
  CnnDoaEstimator(const ArrayGeometry& g, const CnnDoaParams& cp, const DoaParams& p = {});
  ~CnnDoaEstimator();
  CnnDoaEstimator(CnnDoaEstimator&&) noexcept;
  void push(const float* const* chans, int channels, size_t n, std::vector<DoaFrame>& out);
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// Training data for train/doa: features of every `stride`-th voiced frame
// (ground truth from the simulation) of `scenes` random single-talker rooms
// (SNR, RT60 and talker azimuth uniform in the given ranges) with the given
// speech; seeds from seed0 up (the benchmark uses 5000.., training must use
// others). X [n, 2P, 1, F], y [n] degrees.
struct CnnDatasetOpts {
  int scenes = 200, threads = 2, stride = 1;
  unsigned seed0 = 100000;
  double snr_lo = -5, snr_hi = 25, rt60_lo = 0.1, rt60_hi = 1.0, max_az = 75;
};
void make_cnn_dataset(const std::vector<std::vector<float>>& speech, const ArrayGeometry& g, const CnnDatasetOpts& o,
                      std::vector<float>* X, std::vector<float>* y, Shape* x_shape);

// Whole-file convenience: checks channels against the array, resamples to
// p.sample_rate if needed (warning recorded), runs the estimator.
struct DoaResult {
  std::vector<DoaFrame> frames;
  std::vector<std::string> warnings;
  SignalStats stats;
};
// With `cnn` set, the learned estimator gives the directions.
DoaResult estimate_doa(const Audio& a, const ArrayGeometry& g, const DoaParams& p = {},
                       const std::string& source_name = "input", const CnnDoaParams* cnn = nullptr);

// Pairwise GCC-PHAT delay (seconds, x2 relative to x1: positive = x2 later)
// over whole signals, with parabolic sub-sample refinement.
double gcc_phat_delay(const std::vector<float>& x1, const std::vector<float>& x2, int sample_rate,
                      double max_delay_s);

// ---------------------------------------------------------------- tracking
struct TrackerParams {
  double gate_deg = 12;         // association gate
  double smoothing = 0.35;      // exponential weight of a new measurement
  int birth_hits = 4;           // hits within birth_window_s to confirm a track
  double birth_window_s = 0.4;
  double death_s = 2.0;         // silent this long -> track dies
  double switch_s = 0.25;       // a new active speaker must lead this long...
  double quiet_switch_s = 0.12; // ...unless the active one has been silent this long (turn taking)
  double active_hold_s = 0.6;   // active speaker is kept through pauses this long
};

struct Track {
  int id = 0;
  double azimuth = 0;
  double last_seen = 0, born = 0;
  int hits = 0;
  bool confirmed = false;
  double activity = 0;  // recent evidence (decaying)
};

struct TrackEvent {
  double time = 0;
  std::string type;  // "birth", "death", "speaker_change"
  int track = -1;    // for speaker_change: the new active track (-1 = nobody)
  int previous = -1;
  double azimuth = 0;
};

struct TrackerOutput {
  int active = -1;             // active speaker track id (-1: nobody talking)
  double active_azimuth = 0;
  std::vector<Track> tracks;   // confirmed tracks
};

class SpeakerTracker {
 public:
  explicit SpeakerTracker(const TrackerParams& p = {});
  // Feeds one DOA frame; appends events; returns the state after it.
  TrackerOutput update(const DoaFrame& f, std::vector<TrackEvent>& events);

 private:
  TrackerParams p_;
  std::vector<Track> tracks_;
  int next_id_ = 1;
  int active_ = -1;
  int candidate_ = -1;
  double candidate_since_ = 0;
  double last_voice_ = -1e9;
};

// ---------------------------------------------------------------- plot
// Heatmap of the 37-bin spectrum over time (x = time, y = azimuth, +90 at the
// top), VAD strip, tracked speakers as coloured dots, active speaker as a line.
void plot_doa(const std::string& path, const std::vector<DoaFrame>& frames,
              const std::vector<TrackerOutput>& tracks, const std::string& title = "");

// ---------------------------------------------------------------- simulation
struct Room {
  double lx = 6, ly = 5, lz = 3;  // metres
  double rt60 = 0.3;              // seconds (Sabine); <= 0: anechoic
};
struct SimSource {
  std::vector<float> signal;   // mono, at the simulation sample rate
  double x = 0, y = 0, z = 0;  // room coordinates (metres)
  double start_s = 0;          // placed at this time
};
struct SimParams {
  int sample_rate = 16000;
  double array_x = 3, array_y = 0.5, array_z = 1.2;  // array centre in the room;
  // the array looks along +y of the room; room +x is the camera's right.
  int max_order = -1;       // image order (-1: from RT60, capped)
  double ism_time_s = 0.12; // images up to this delay, a diffuse tail after
  int frac_taps = 33;       // windowed-sinc fractional delay length
  unsigned seed = 1;
};
// Room impulse responses [mic][tap] from a source position.
std::vector<std::vector<float>> room_impulse_responses(const Room& r, const ArrayGeometry& g,
                                                       double sx, double sy, double sz,
                                                       const SimParams& p);
// Mixes sources through the room (FFT convolution); result has `seconds`
// (or the longest source) duration.
Audio simulate_room(const Room& r, const ArrayGeometry& g, const std::vector<SimSource>& sources,
                    const SimParams& p, double seconds = 0);
// Spherically isotropic (diffuse) noise at the array: sum of many plane
// waves from random directions with independent pink-ish noise.
Audio diffuse_noise(const ArrayGeometry& g, size_t frames, int sample_rate, unsigned seed,
                    int directions = 96);
// Scales `noise` and adds it to `signal` so that the mean per-channel power
// ratio over the signal's active frames equals snr_db. Returns the gain.
double add_noise(Audio& signal, const Audio& noise, double snr_db);
// Azimuth (degrees, convention above) of a room point seen from the array.
double azimuth_of(const SimParams& p, double sx, double sy);
// Room point at azimuth/distance from the array centre (same height).
void place_at(const SimParams& p, double azimuth_deg, double distance, double* sx, double* sy);
// Fractional delay of x by d samples (windowed sinc), same length.
std::vector<float> fractional_delay(const std::vector<float>& x, double d, int taps = 33);

// ---------------------------------------------------------------- fusion
// Active-speaker fusion: a face box's horizontal centre maps to an azimuth
// through a pinhole camera with horizontal field of view hfov (degrees):
// az = atan((2u/W - 1) * tan(hfov/2)), u = column, W = image width.
struct FaceBox { float x0, y0, x1, y1; int id = -1; };
double column_to_azimuth(double column, int image_width, double hfov_deg);
double azimuth_to_column(double azimuth_deg, int image_width, double hfov_deg);
struct FusionParams {
  double hfov_deg = 78;           // typical webcam
  double max_error_deg = 12;      // face farther than this from the DOA cannot be the talker
  double camera_offset_deg = 0;   // array-to-camera yaw offset
  double switch_s = 0.3;          // hysteresis for speaker changes
};
struct FusionResult {
  int face = -1;                  // index into the faces (-1: none)
  int face_id = -1;
  double score = 0;               // 0..1
  bool changed = false;           // active face changed at this call
  double target_column = -1;      // column to follow (face centre, or DOA column if no face)
};
class ActiveSpeakerFusion {
 public:
  explicit ActiveSpeakerFusion(const FusionParams& p = {}) : p_(p) {}
  FusionResult update(double time, const TrackerOutput& audio, const std::vector<FaceBox>& faces,
                      int image_width);

 private:
  FusionParams p_;
  int current_id_ = -1, candidate_id_ = -1;
  double candidate_since_ = 0;
};

// ---------------------------------------------------------------- benchmark
// Accuracy on simulated rooms (random shoebox rooms, array near a wall,
// talkers at -75..+75 degrees (single: -max_az..+max_az), 1-3 m, +-0.2 m
// height; diffuse + directional noise) for any estimator that maps a
// recording to DOA frames.
struct BenchScene {
  Audio audio;
  std::vector<double> truth_az;          // per talker (cone angle seen by the array axis)
  std::vector<std::vector<float>> dry;   // per talker dry signal placed in time
  double snr_db = 0, rt60 = 0;
  std::string kind;                      // "single", "noise", "turns"
};
BenchScene make_bench_scene(const std::string& kind, const std::vector<std::vector<float>>& speech,
                            const ArrayGeometry& g, double snr_db, double rt60, unsigned seed, double max_az = 75);
struct SceneScore {
  int voiced = 0;          // ground-truth voiced frames
  int frame_ok = 0;        // frame estimate within +-5 degrees
  int track_ok = 0;        // tracked active speaker within +-5 degrees
  int frames = 0, quiet_ok = 0, quiet_track_ok = 0;  // noise-only: no speaker reported
  std::vector<double> errors;  // signed frame error (deg) on voiced frames with an estimate
};
// Ground truth voice activity: per DOA frame (frame t covers samples
// t*hop .. t*hop+n_fft) the talker whose dry signal is loudest there, if its
// energy is within voiced_db of that talker's loudest frame; else -1.
std::vector<int> talker_frames(const BenchScene& s, int hop, int n_fft, size_t frames, double voiced_db = 20.0);
SceneScore score_scene(const BenchScene& s, const std::vector<DoaFrame>& frames, int hop, int n_fft,
                       double tol_deg = 5.0);

}  // namespace ef::audio
