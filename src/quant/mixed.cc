// Accuracy-driven mixed precision: see mixed.h.
#include "quant/mixed.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

namespace ef::quant {

std::string Target::kind() const {
  if (metric == "iou") return "segmentation";
  if (metric == "score") return "detection scores";
  if (metric == "top1") return "classifier";
  return "";
}

Target parse_target(const std::string& s) {
  const auto eq = s.find('=');
  const std::string m = s.substr(0, eq);
  const auto bad = [&](const std::string& why) {
    return Error("--target " + s + ": " + why + " (expected iou=0.98, score=0.02, top1=0.99 or snr=30)");
  };
  if (eq == std::string::npos) throw bad("no '='");
  if (m != "iou" && m != "score" && m != "top1" && m != "snr") throw bad("unknown metric '" + m + "'");
  Target t{m, 0};
  const std::string v = s.substr(eq + 1);
  size_t used = 0;
  try {
    t.value = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (v.empty() || used != v.size() || !std::isfinite(t.value)) throw bad("'" + v + "' is not a number");
  if ((m == "iou" || m == "top1") && (t.value <= 0 || t.value > 1)) throw bad(m + " is a fraction in (0, 1]");
  if (m == "score" && (t.value < 0 || t.value >= 1)) throw bad("score is a difference in [0, 1)");
  return t;
}

namespace {

Error no_output(const Target& t) {
  return Error("--target " + t.metric + ": the model has no " + (t.kind().empty() ? "float" : t.kind()) +
               " output (outputs are classified by shape: segmentation [1,H,W,1|2] or [1,1|2,H,W], detection "
               "scores [1,N,1], classifier [1,C])");
}

}  // namespace

void check_applies(const Target& t, const Graph& g) {
  for (int v : g.outputs)
    if (g.values[v].dtype == DType::f32 && (t.kind().empty() || output_kind(g.values[v].shape) == t.kind())) return;
  throw no_output(t);
}

TargetCheck check_target(const Target& t, const std::vector<OutputAgreement>& outputs) {
  const bool higher = t.metric != "score";
  TargetCheck c{true, higher ? INFINITY : 0.0};
  int used = 0;
  for (const auto& o : outputs) {
    if (o.kind == "not float" || (!t.kind().empty() && o.kind != t.kind())) continue;
    double v = 0;
    if (t.metric == "iou") v = o.iou_sum / std::max(o.frames, 1);
    if (t.metric == "top1") v = double(o.top1_agree) / std::max(o.frames, 1);
    if (t.metric == "snr") v = o.err.snr_db();
    if (t.metric == "score") {
      if (o.top_frames == 0)
        throw Error("--target score: the float model detects nothing (score >= 0.5) in output '" + o.name +
                    "' on any calibration frame");
      v = o.top_diff_max;
    }
    c.value = higher ? std::min(c.value, v) : std::max(c.value, v);
    ++used;
  }
  if (!used) throw no_output(t);
  c.met = higher ? c.value >= t.value : c.value <= t.value;
  return c;
}

std::string describe(const Target& t, double value) {
  char buf[96] = "";
  if (t.metric == "iou") std::snprintf(buf, sizeof buf, "mask IoU mean %.4f (target >= %g)", value, t.value);
  if (t.metric == "score")
    std::snprintf(buf, sizeof buf, "best-detection score max|diff| %.4f (target <= %g)", value, t.value);
  if (t.metric == "top1") std::snprintf(buf, sizeof buf, "top-1 agreement %.2f%% (target >= %g%%)", 100 * value,
                                        100 * t.value);
  if (t.metric == "snr") std::snprintf(buf, sizeof buf, "output SNR %.1f dB (target >= %g dB)", value, t.value);
  return buf;
}

Reference::Reference(const Graph& fp, size_t frames, const FillFn& fill, int threads) : fill_(fill) {
  CompileOptions fo;
  fo.threads = threads;
  fo.optimize = false;  // fp is prepared already (as in evaluate)
  Session s(Model::from_graph(fp), fo);
  for (size_t k = 0; k < s.num_outputs(); ++k) {
    const Value& v = s.output_info(k);
    names_kinds_.push_back({v.name, v.dtype == DType::f32 ? output_kind(v.shape) : "not float"});
  }
  for (size_t f = 0; f < frames; ++f) {
    fill(f, s);
    s.run();
    std::vector<Tensor> out;
    for (size_t k = 0; k < s.num_outputs(); ++k) out.push_back(s.output(k).clone());
    outputs_.push_back(std::move(out));
  }
}

namespace {

// The values the metric of `kind` reads: probabilities of segmentation maps
// and detection scores (sigmoid of logits), softmax of classifier logits.
void to_metric_space(const std::string& kind, const Tensor& ref, const float* x, std::vector<double>& out) {
  const int64_t n = ref.numel();
  const float* r = ref.data_as<float>();
  out.assign(x, x + n);
  if (kind == "segmentation" || kind == "detection scores") {
    if (std::any_of(r, r + n, [](float v) { return v < 0.f || v > 1.f; }))  // logits
      for (auto& v : out) v = 1.0 / (1.0 + std::exp(-v));
  } else if (kind == "classifier") {
    const double m = *std::max_element(out.begin(), out.end());
    double sum = 0;
    for (auto& v : out) sum += (v = std::exp(v - m));
    for (auto& v : out) v /= sum;
  }
}

}  // namespace

std::vector<OutputAgreement> compare(const Graph& qdq, const Reference& ref, int threads, const std::string& kind,
                                     double* harm) {
  CompileOptions co;
  co.threads = threads;
  Session s(Model::from_graph(qdq), co);
  if (s.num_outputs() != ref.names_kinds().size())
    throw Error("quantize: the quantized model has " + std::to_string(s.num_outputs()) + " outputs, the float one " +
                std::to_string(ref.names_kinds().size()));
  std::vector<OutputAgreement> out;
  for (const auto& [name, k] : ref.names_kinds()) out.push_back({name, k, {}});
  std::vector<double> err2(out.size(), 0), ref2(out.size(), 0), mf, mq;
  for (size_t f = 0; f < ref.frames(); ++f) {
    ref.fill()(f, s);
    s.run();
    for (size_t k = 0; k < out.size(); ++k) {
      const Tensor &a = ref.outputs(f)[k], &b = s.output(k);
      compare_output(out[k], a, b);
      if (!harm || out[k].kind == "not float" || (!kind.empty() && out[k].kind != kind)) continue;
      to_metric_space(out[k].kind, a, a.data_as<float>(), mf);
      to_metric_space(out[k].kind, a, b.data_as<float>(), mq);
      for (size_t i = 0; i < mf.size(); ++i) err2[k] += (mf[i] - mq[i]) * (mf[i] - mq[i]), ref2[k] += mf[i] * mf[i];
    }
  }
  if (harm) {
    *harm = 0;
    for (size_t k = 0; k < out.size(); ++k) *harm += ref2[k] > 0 ? err2[k] / ref2[k] : 0;
  }
  return out;
}

std::vector<LayerHarm> rank_layers(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats,
                                   const Options& o, const Reference& ref, const std::string& kind, int threads,
                                   const ProgressFn& progress) {
  const std::set<int> tensors(p.tensors.begin(), p.tensors.end());
  std::vector<LayerHarm> r;
  for (int id : p.layers) {
    const Node& n = g.nodes[id];
    Plan alone;  // this layer, its int8 inputs and output; the rest float
    alone.layers = {id};
    std::set<int> t;
    for (int v : n.inputs)
      if (tensors.count(v)) t.insert(v);
    for (int v : n.outputs)
      if (tensors.count(v)) t.insert(v);
    alone.tensors.assign(t.begin(), t.end());
    LayerHarm h{n.name, n.op, 0};
    compare(build_qdq(g, alone, stats, o), ref, threads, kind, &h.harm);
    r.push_back(h);
    if (progress) progress(r.size(), p.layers.size());
  }
  std::stable_sort(r.begin(), r.end(), [](const LayerHarm& a, const LayerHarm& b) { return a.harm > b.harm; });
  return r;
}

size_t bisect_meeting(size_t lo, size_t hi, const std::function<bool(size_t)>& met) {
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    (met(mid) ? hi : lo) = mid;
  }
  return hi;
}

size_t smallest_meeting(size_t max, const std::function<bool(size_t)>& met) {
  if (max == 0) return 0;
  size_t lo = 0, hi = 1;
  while (hi < max && !met(hi)) lo = hi, hi = std::min(2 * hi, max);
  return met(hi) ? bisect_meeting(lo, hi, met) : max;
}

Mixed search_mixed(const std::vector<LayerHarm>& ranking, const Target& t, size_t max_keep, const BuildFn& build,
                   const Reference& ref, int threads, const StepFn& step, const BuildFn& refine) {
  Mixed m;
  auto tries = [&](const BuildFn& b, const char* phase) {
    std::map<size_t, bool> seen;
    return [&, phase, seen](size_t k) mutable {
      if (auto it = seen.find(k); it != seen.end()) return it->second;
      std::vector<std::string> keep;
      for (size_t i = 0; i < k; ++i) keep.push_back(ranking[i].name);
      const TargetCheck c = check_target(t, compare(b(keep), ref, threads));
      ++m.evaluations;
      if (step) step(phase, k, c);
      return seen[k] = c.met;
    };
  };
  auto cheap = tries(build, "search");
  m.kept = smallest_meeting(std::min(max_keep, ranking.size()), std::ref(cheap));
  m.met = cheap(m.kept);
  if (refine && m.met) {
    auto better = tries(refine, "refine");
    const size_t max = std::min(max_keep, ranking.size()), lo = m.kept;
    if (better(lo))
      m.kept = bisect_meeting(0, lo, std::ref(better));
    else  // the refit missed where the plain build met: upwards from there
      m.kept = lo + smallest_meeting(max - lo, [&](size_t k) { return better(lo + k); });
    m.met = better(m.kept);
  }
  return m;
}

Choice choose_float_layers(const Graph& g, const Graph& fitted, const Plan& p, const std::map<int, TensorStats>& stats,
                           const Options& o, const Reference& ref, const std::optional<Target>& t, size_t max_keep,
                           int threads, const ProgressFn& ranking_progress, const StepFn& step) {
  auto with_keep = [&](const std::vector<std::string>& keep) {
    Options ok = o;
    ok.keep_float.insert(ok.keep_float.end(), keep.begin(), keep.end());
    return ok;
  };
  auto build = [&](const std::vector<std::string>& keep) {
    const Options ok = with_keep(keep);
    Graph w = fitted;
    for (const Node& n : g.nodes)
      if (!n.dead && std::find(keep.begin(), keep.end(), n.name) != keep.end())
        for (int v : n.inputs)
          if (v >= 0 && g.values[v].is_const()) w.values[v].data = g.values[v].data;
    return build_qdq(w, plan(g, ok), stats, ok);
  };
  auto refit = [&](const std::vector<std::string>& keep) {
    const Options ok = with_keep(keep);
    const Plan pk = plan(g, ok);
    return build_qdq(correct(g, pk, stats, ok, ref.frames(), ref.fill(), threads).graph, pk, stats, ok);
  };
  Choice c;
  if (t) {  // nothing to rank if every layer int8 meets it
    const TargetCheck all = check_target(*t, compare(build({}), ref, threads));
    if (step) step("all int8", 0, all);
    c.search = {0, all.met, all.value, 1};
    if (all.met) return c;
  }
  const auto ranking = rank_layers(g, p, stats, o, ref, t ? t->kind() : "", threads, ranking_progress);
  size_t n = std::min(max_keep, ranking.size());
  if (t) {
    const Mixed m = search_mixed(ranking, *t, n, build, ref, threads, step,
                                 o.correct == Correct::none ? BuildFn{} : BuildFn(refit));
    c.search = {m.kept, m.met, c.search.all_int8, m.evaluations + 1};
    n = m.kept;
  }
  double total = 0;
  for (const auto& h : ranking) total += h.harm;
  for (size_t i = 0; i < n; ++i) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s: rank %zu, %.1f%% of the summed harm of the layers quantized alone",
                  t ? "--target" : "--keep-float auto", i + 1, 100 * ranking[i].harm / total);
    c.keep.push_back(ranking[i].name);
    c.reasons.push_back(buf);
  }
  return c;
}

}  // namespace ef::quant
