// Calibration driver: run the float graph over the frames and collect
// statistics of every tensor the plan quantizes.
#include "quant/quantize.h"

namespace ef::quant {

std::map<int, TensorStats> calibrate(const Graph& g, const Plan& p, size_t frames, const FillFn& fill,
                                     const Options& o, int threads, const ProgressFn& progress) {
  CompileOptions co;
  co.threads = threads;
  for (int v : p.tensors)
    if (std::find(g.inputs.begin(), g.inputs.end(), v) == g.inputs.end()) co.keep_values.push_back(g.values[v].name);
  Session s(Model::from_graph(g), co);
  std::map<int, TensorStats> stats;
  for (int v : p.tensors) stats[v];
  const bool hist = o.method != Method::minmax;
  const size_t total = frames * (hist ? 2 : 1);
  size_t done = 0;
  for (int pass = 0; pass < (hist ? 2 : 1); ++pass) {
    if (pass == 1)
      for (auto& [v, st] : stats) st.begin_histogram(o.bins);
    for (size_t f = 0; f < frames; ++f) {
      fill(f, s);
      s.run();
      for (auto& [v, st] : stats) {
        Tensor t = s.value(g.values[v].name);
        if (pass == 0) st.add_minmax(t.data_as<float>(), t.numel());
        else st.add_histogram(t.data_as<float>(), t.numel());
      }
      if (progress) progress(++done, total);
    }
  }
  return stats;
}

}  // namespace ef::quant
