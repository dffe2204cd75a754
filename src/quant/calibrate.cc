// Calibration driver: run the float graph over the frames and collect
// statistics of every tensor the plan quantizes; equalize Conv pairs between
// the two passes.
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/quantize.h"

namespace ef::quant {

namespace {

// Per-channel min/max of one tensor (channels last for NHWC session values).
struct ChannelRange {
  std::vector<float> lo, hi;
  void add(const Tensor& t, int64_t channels) {
    if (lo.empty()) {
      lo.assign(size_t(channels), std::numeric_limits<float>::infinity());
      hi.assign(size_t(channels), -std::numeric_limits<float>::infinity());
    }
    const Shape& s = t.shape();
    const bool last = s.back() == channels;
    const int64_t inner = last ? 1 : numel(Shape(s.begin() + 2, s.end()));
    const float* d = t.data_as<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t c = last ? i % channels : (i / inner) % channels;
      lo[c] = std::min(lo[c], d[i]);
      hi[c] = std::max(hi[c], d[i]);
    }
  }
};

bool channels_known(const Tensor& t, int64_t c) {
  const Shape& s = t.shape();
  return s.size() >= 2 && (s.back() == c || s[1] == c);
}

CompileOptions keep(const Graph& g, const Plan& p, int threads) {
  CompileOptions co;
  co.threads = threads;
  co.optimize = false;  // g is prepared already; fusing again would hide kept values (Conv -> HardSwish)
  for (int v : p.tensors)
    if (std::find(g.inputs.begin(), g.inputs.end(), v) == g.inputs.end()) co.keep_values.push_back(g.values[v].name);
  return co;
}

}  // namespace

Calibration calibrate(Graph& g, const Plan& p, size_t frames, const FillFn& fill, const Options& o, int threads,
                      const ProgressFn& progress) {
  Calibration cal;
  g.relink();
  for (int v : p.tensors) cal.stats[v];
  const std::vector<EqualizePair> pairs = o.equalize ? equalize_candidates(g, p) : std::vector<EqualizePair>{};
  std::map<int, ChannelRange> channels;
  for (const auto& e : pairs) channels[e.value];
  const bool hist = o.method != Method::minmax;
  const size_t total = frames * (hist ? 2 : 1);
  size_t done = 0;

  // Pass 1: min/max (+ per-channel ranges of the equalization candidates).
  {
    Session s(Model::from_graph(g), keep(g, p, threads));
    for (size_t f = 0; f < frames; ++f) {
      fill(f, s);
      s.run();
      for (auto& [v, st] : cal.stats) {
        Tensor t = s.value(g.values[v].name);
        st.add_minmax(t.data_as<float>(), t.numel());
        auto it = channels.find(v);
        if (it != channels.end()) {
          const int64_t c = g.in(g.nodes[g.values[v].producer], 1).data.dim(0);
          if (channels_known(t, c)) it->second.add(t, c);
        }
      }
      if (progress) progress(++done, total);
    }
  }

  // Equalize, and rescale the statistics of the equalized tensors.
  for (const auto& e : pairs) {
    const ChannelRange& r = channels[e.value];
    if (r.lo.empty()) continue;
    std::vector<float> absmax(r.lo.size());
    for (size_t c = 0; c < absmax.size(); ++c) absmax[c] = std::max(std::fabs(r.lo[c]), std::fabs(r.hi[c]));
    const std::vector<float> s = equalize_pair(g, e, absmax);
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (size_t c = 0; c < s.size(); ++c) lo = std::min(lo, r.lo[c] / s[c]), hi = std::max(hi, r.hi[c] / s[c]);
    TensorStats st;
    const float ends[2] = {lo, hi};
    st.add_minmax(ends, 2);
    cal.stats[e.value] = st;
    ++cal.equalized;
  }

  // Pass 2: histograms over the (equalized) ranges.
  if (hist) {
    Session s(Model::from_graph(g), keep(g, p, threads));
    for (auto& [v, st] : cal.stats) st.begin_histogram(o.bins);
    for (size_t f = 0; f < frames; ++f) {
      fill(f, s);
      s.run();
      for (auto& [v, st] : cal.stats) {
        Tensor t = s.value(g.values[v].name);
        st.add_histogram(t.data_as<float>(), t.numel());
      }
      if (progress) progress(++done, total);
    }
  }
  return cal;
}

}  // namespace ef::quant
