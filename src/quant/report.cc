#include "quant/report.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace ef::quant {

void ErrorSums::add(const float* ref, const float* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const double r = ref[i], v = x[i], d = r - v;
    ref2 += r * r;
    x2 += v * v;
    err2 += d * d;
    dot += r * v;
    max_abs = std::max(max_abs, std::fabs(d));
  }
  n += count;
}

double ErrorSums::snr_db() const {
  if (err2 <= 0) return 200.0;
  if (ref2 <= 0) return -200.0;
  return 10.0 * std::log10(ref2 / err2);
}

double ErrorSums::cosine() const {
  if (ref2 <= 0 && x2 <= 0) return 1.0;
  if (ref2 <= 0 || x2 <= 0) return 0.0;
  return dot / std::sqrt(ref2 * x2);
}

std::string output_kind(const Shape& s) {
  int64_t big = 0;
  for (auto d : s) big += d > 1;
  if ((s.size() == 2 || s.size() == 4) && s[0] == 1 && s[1] >= 2 && big == 1) return "classifier";
  if (s.size() == 4 && s[0] == 1) {
    const bool nchw = (s[1] == 1 || s[1] == 2) && s[2] >= 8 && s[3] >= 8;
    const bool nhwc = (s[3] == 1 || s[3] == 2) && s[1] >= 8 && s[2] >= 8;
    if (nchw || nhwc) return "segmentation";
  }
  if (s.size() == 3 && s[0] == 1 && s[1] >= 16 && s[2] == 1) return "detection scores";
  return "tensor";
}

namespace {

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// Foreground mask of a 1- or 2-channel map (probabilities, or logits if any
// value leaves [0, 1]).
std::vector<uint8_t> mask(const Tensor& t, bool logits) {
  const Shape& s = t.shape();
  const float* d = t.data_as<float>();
  const bool nchw = s[1] <= 2 && s[3] > 2;
  const int64_t c = nchw ? s[1] : s[3], hw = s[1] * s[2] * s[3] / c;
  std::vector<uint8_t> m(static_cast<size_t>(hw));
  for (int64_t i = 0; i < hw; ++i) {
    if (c == 1) {
      m[i] = logits ? d[i] > 0.f : d[i] > 0.5f;
    } else {
      const float a = nchw ? d[i] : d[2 * i], b = nchw ? d[hw + i] : d[2 * i + 1];
      m[i] = b > a;
    }
  }
  return m;
}

bool outside01(const Tensor& t) {
  const float* d = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (d[i] < 0.f || d[i] > 1.f) return true;
  return false;
}


}  // namespace

void compare_output(OutputAgreement& o, const Tensor& f, const Tensor& q) {
  if (f.dtype() != DType::f32 || q.dtype() != DType::f32) return;  // kind "not float": not compared
  if (f.shape() != q.shape())
    throw Error("quantize: output '" + o.name + "' has shape " + shape_str(q.shape()) + " in the quantized model, " +
                shape_str(f.shape()) + " in the float one");
  const float* a = f.data_as<float>();
  const float* b = q.data_as<float>();
  o.err.add(a, b, f.numel());
  ++o.frames;
  if (o.kind == "classifier") {
    o.top1_agree += (std::max_element(a, a + f.numel()) - a) == (std::max_element(b, b + q.numel()) - b);
  } else if (o.kind == "segmentation") {
    const bool logits = outside01(f);
    auto ma = mask(f, logits), mb = mask(q, logits);
    int64_t inter = 0, uni = 0;
    for (size_t i = 0; i < ma.size(); ++i) inter += ma[i] && mb[i], uni += ma[i] || mb[i];
    const double iou = uni ? double(inter) / double(uni) : 1.0;
    o.iou_sum += iou;
    o.iou_min = std::min(o.iou_min, iou);
  } else if (o.kind == "detection scores") {
    const bool logits = outside01(f);
    float best_a = 0.f, best_b = 0.f;
    for (int64_t i = 0; i < f.numel(); ++i) {
      const float sa = logits ? sigmoid(a[i]) : a[i], sb = logits ? sigmoid(b[i]) : b[i];
      const double d = std::fabs(double(sa) - sb);
      o.score_diff = std::max(o.score_diff, d);
      if (sa >= 0.5f) o.score_diff_conf = std::max(o.score_diff_conf, d);
      best_a = std::max(best_a, sa), best_b = std::max(best_b, sb);
    }
    if (best_a >= 0.5f) {
      const double d = std::fabs(double(best_a) - best_b);
      o.top_diff_max = std::max(o.top_diff_max, d);
      o.top_diff_sum += d;
      ++o.top_frames;
    }
  }
}

Report evaluate(const Graph& fp, const Graph& qdq, const Model& int8, const Plan& p, size_t frames,
                const FillFn& fill, int threads, const ProgressFn& progress) {
  Report r;
  r.frames = int(frames);
  auto is_output = [&](int v) { return std::find(fp.outputs.begin(), fp.outputs.end(), v) != fp.outputs.end(); };
  CompileOptions fo, qo;
  fo.threads = qo.threads = threads;
  qo.optimize = false;  // keep Q/DQ as separate (float) steps: fake quantization
  fo.optimize = false;  // fp is prepared already; fusing again would hide kept values (Conv -> HardSwish)
  std::vector<std::pair<std::string, std::string>> names;  // float value, simulated value
  for (int i : p.layers) {
    const Node& n = fp.nodes[i];
    const int y = n.outputs[0];
    const std::string fn = fp.values[y].name;
    const std::string qn = qdq.find_value(dequantized_name(fn)) >= 0 ? dequantized_name(fn) : fn;
    if (!is_output(y)) fo.keep_values.push_back(fn);
    if (qdq.find_value(qn) >= 0 && std::find(qdq.outputs.begin(), qdq.outputs.end(), qdq.find_value(qn)) == qdq.outputs.end())
      qo.keep_values.push_back(qn);
    names.push_back({fn, qn});
    r.layers.push_back({n.name, n.op, {}});
  }
  Session fs(Model::from_graph(fp), fo);
  // Without layers (quantize --evaluate) only the final outputs are compared.
  std::optional<Session> qs;
  if (!names.empty()) qs.emplace(Model::from_graph(fold_constant_dequantize(qdq)), qo);
  Session is(int8, CompileOptions{.threads = threads});
  if (is.num_outputs() != fs.num_outputs())
    throw Error("quantize: the quantized model has " + std::to_string(is.num_outputs()) + " outputs, the float one " +
                std::to_string(fs.num_outputs()));
  for (size_t k = 0; k < fs.num_outputs(); ++k)
    r.outputs.push_back({fs.output_info(k).name,
                         fs.output_info(k).dtype == DType::f32 ? output_kind(fs.output_info(k).shape) : "not float",
                         {}});
  for (size_t f = 0; f < frames; ++f) {
    fill(f, fs);
    fill(f, is);
    fs.run();
    is.run();
    if (qs) {
      fill(f, *qs);
      qs->run();
    }
    for (size_t l = 0; l < names.size(); ++l) {
      Tensor a = fs.value(names[l].first), b = qs->value(names[l].second);
      if (a.shape() != b.shape())
        throw Error("quantize: layer '" + r.layers[l].name + "' output " + shape_str(a.shape()) + " vs simulated " +
                    shape_str(b.shape()));
      r.layers[l].err.add(a.data_as<float>(), b.data_as<float>(), a.numel());
    }
    for (size_t k = 0; k < fs.num_outputs(); ++k) compare_output(r.outputs[k], fs.output(k), is.output(k));
    if (progress) progress(f + 1, frames);
  }
  return r;
}

}  // namespace ef::quant
