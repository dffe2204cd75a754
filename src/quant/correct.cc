// Sequential correction of quantized Conv layers (see quantize.h): bias
// correction (Nagel et al. 2019, empirical form) and a closed-form
// least-squares refit of the weights (AdaQuant's objective, Hubara et al.
// 2021, solved exactly per output channel instead of by gradient descent).
//
// Layers are corrected depth by depth (depth = weighted layers on the
// longest path before a layer), so each one is fitted to the inputs it will
// really see: the quantized model with every earlier layer already corrected.
// Per depth, one pass over the calibration frames runs the float model and
// the current QDQ model (simulated in float), both cut after the layers of
// that depth, and accumulates per group the normal equations of the input
// patches x~ = [x; 1]: Sqq = sum x~_q x~_q^T and Sqd = sum x~_q (x~_f - x~_q)^T
// (the difference is small: summed on its own, it keeps its precision).
// With t = [W_c; b_c] (float channel c), the refit u minimises
// sum (u . x~_q - t . x~_f)^2:  (Sqq + lambda I)(u - t) = Sqd t.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <set>

#include "graph/passes/passes.h"
#include "quant/quantize.h"

namespace ef::quant {

Correct parse_correct(const std::string& s) {
  if (s == "none") return Correct::none;
  if (s == "bias") return Correct::bias;
  if (s == "weights") return Correct::weights;
  throw Error("--correct: unknown value '" + s + "' (expected none, bias or weights)");
}

const char* correct_name(Correct c) {
  return c == Correct::bias ? "bias" : c == Correct::weights ? "weights" : "none";
}

namespace {

constexpr double kMinPatchesPerWeight = 32;
constexpr int64_t kPatchesPerFrame = 1024;

// A 2-D Conv's geometry and its accumulated normal equations, per group.
struct LayerFit {
  int node = -1;
  std::string input_f, input_q;  // value names in the float and the QDQ session
  int64_t groups = 1, cin_g = 1, cout_g = 1, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0,
          pr = 0;
  int64_t k = 1;                  // patch length cin_g * kh * kw + 1 (the 1 multiplies the bias)
  std::vector<double> qq, qd;     // groups * k * k
  std::vector<float> fq, fd;      // one frame's sums (float, then added to qq, qd)
  std::vector<float> pq, pd;      // one patch: x~_q and x~_f - x~_q
  int64_t frames_seen = 0;
  float lo = -INFINITY, hi = INFINITY;  // patches with a float input outside the int8 range are left out

  LayerFit(const Graph& g, int ni) : node(ni) {
    const Node& n = g.nodes[ni];
    const Tensor& w = g.in(n, 1).data;
    groups = n.attrs.i("group", 1);
    cin_g = w.dim(1), cout_g = w.dim(0) / groups, kh = w.dim(2), kw = w.dim(3);
    const auto s = n.attrs.ints("strides", {1, 1}), d = n.attrs.ints("dilations", {1, 1});
    const auto p = n.attrs.ints("pads", {0, 0, 0, 0});
    sh = s[0], sw = s[1], dh = d[0], dw = d[1], pt = p[0], pl = p[1], pb = p[2], pr = p[3];
    k = cin_g * kh * kw + 1;
    qq.assign(size_t(groups * k * k), 0.0);
    qd = qq;
    pq.resize(size_t(k)), pd.resize(size_t(k));
  }

  // One frame: x_f and x_q are the layer's input in the float and the
  // quantized model (batch 1 or more), NCHW or NHWC.
  // Each in its own layout (a graph input keeps the model's, values inside
  // the session have the session's).
  void add(const Tensor& xf, bool nhwc_f, const Tensor& xq, bool nhwc_q) {
    const Shape& s = xf.shape();
    const Input in{xf.data_as<float>(), xq.data_as<float>(), nhwc_f ? s[3] : s[1], nhwc_f ? s[1] : s[2],
                   nhwc_f ? s[2] : s[3], nhwc_f, nhwc_q};
    const int64_t oh = (in.h + pt + pb - (kh - 1) * dh - 1) / sh + 1;
    const int64_t ow = (in.w + pl + pr - (kw - 1) * dw - 1) / sw + 1;
    // At most kPatchesPerFrame output pixels per frame, on a grid whose
    // offset moves from frame to frame.
    const int64_t step = std::max<int64_t>(1, oh * ow / kPatchesPerFrame);
    fq.assign(qq.size(), 0.f);
    fd.assign(qq.size(), 0.f);
    for (int64_t batch = 0; batch < s[0]; ++batch)
      for (int64_t gi = 0; gi < groups; ++gi)
        for (int64_t px = frames_seen % step; px < oh * ow; px += step) {
          if (!patch(in, batch, gi, px / ow, px % ow)) continue;  // clipping: no rounding error a refit could undo
          float* sq = fq.data() + gi * k * k;
          float* sd = fd.data() + gi * k * k;
          for (int64_t i = 0; i < k; ++i) {
            const float v = pq[i];
            if (v == 0.f) continue;  // ReLU outputs and padding: many rows are zero
            for (int64_t m = 0; m < k; ++m) sq[i * k + m] += v * pq[m], sd[i * k + m] += v * pd[m];
          }
        }
    for (size_t i = 0; i < qq.size(); ++i) qq[i] += fq[i], qd[i] += fd[i];
    ++frames_seen;
  }

 private:
  struct Input {
    const float *f, *q;
    int64_t c, h, w;
    bool nhwc_f, nhwc_q;
  };
  // The patch of output pixel (oy, ox) of group gi into pq, pd; false if a
  // float input value lies outside the input's int8 range.
  bool patch(const Input& in, int64_t batch, int64_t gi, int64_t oy, int64_t ox) {
    int64_t j = 0;
    bool clipped = false;
    for (int64_t ci = gi * cin_g; ci < (gi + 1) * cin_g; ++ci)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx, ++j) {
          const int64_t iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
          if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
            pq[j] = pd[j] = 0.f;
            continue;
          }
          const int64_t nhwc = ((batch * in.h + iy) * in.w + ix) * in.c + ci;
          const int64_t nchw = ((batch * in.c + ci) * in.h + iy) * in.w + ix;
          const float f = in.f[in.nhwc_f ? nhwc : nchw], q = in.q[in.nhwc_q ? nhwc : nchw];
          pq[j] = q, pd[j] = f - q;
          clipped |= f < lo || f > hi;
        }
    pq[j] = 1.f, pd[j] = 0.f;
    return !clipped;
  }
};

// In-place Cholesky factorisation of the symmetric positive definite n x n
// matrix a (lower triangle), and the solve of a x = r.
bool cholesky(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t m = 0; m < j; ++m) d -= a[j * n + m] * a[j * n + m];
    if (d <= 0) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double v = a[i * n + j];
      for (int64_t m = 0; m < j; ++m) v -= a[i * n + m] * a[j * n + m];
      a[i * n + j] = v / d;
    }
  }
  return true;
}
void cholesky_solve(const std::vector<double>& l, int64_t n, std::vector<double>& r) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t m = 0; m < i; ++m) r[i] -= l[i * n + m] * r[m];
    r[i] /= l[i * n + i];
  }
  for (int64_t i = n; i-- > 0;) {
    for (int64_t m = i + 1; m < n; ++m) r[i] -= l[m * n + i] * r[m];
    r[i] /= l[i * n + i];
  }
}

// New float weights and bias of the layer from its normal equations.
void refit(Graph& g, const LayerFit& f, const Options& o) {
  Node& n = g.nodes[f.node];
  const Tensor& w0 = g.in(n, 1).data;
  const int64_t cout = w0.dim(0), kn = f.k - 1;  // weights per output channel
  std::vector<float> bias(size_t(cout), 0.f);
  if (Graph::has_input(n, 2)) std::copy_n(g.in(n, 2).data.data_as<float>(), cout, bias.begin());
  const std::vector<float> b0 = bias;
  Tensor w = w0.clone();
  float* wd = w.data_as<float>();
  auto target = [&](int64_t c) {  // t = [W_c; b_c]
    std::vector<double> t(size_t(f.k));
    for (int64_t j = 0; j < kn; ++j) t[j] = w0.data_as<float>()[c * kn + j];
    t[kn] = b0[c];
    return t;
  };
  // Patches of group gi: the (1, 1) entry of its sums.
  auto count = [&](int64_t gi) { return f.qq[size_t(gi * f.k * f.k + f.k * f.k - 1)]; };
  auto dot = [&](const double* row, const std::vector<double>& t) {
    double s = 0;
    for (int64_t j = 0; j < f.k; ++j) s += row[j] * t[j];
    return s;
  };
  if (o.correct == Correct::weights) {
    for (int64_t gi = 0; gi < f.groups; ++gi) {
      const double* qq = f.qq.data() + gi * f.k * f.k;
      const double* qd = f.qd.data() + gi * f.k * f.k;
      std::vector<double> a(qq, qq + f.k * f.k);
      // Ridge: the same for every weight, relative to the inputs' mean
      // energy (a per-input one let rarely active inputs take huge weights:
      // BlazeFace's best-detection error 0.045 -> 0.39); the bias's relative
      // to the patch count (inputs may be far smaller or larger than 1).
      double trace = 0;
      for (int64_t i = 0; i < kn; ++i) trace += a[i * f.k + i];
      for (int64_t i = 0; i < kn; ++i) a[i * f.k + i] += o.ridge * trace / double(kn);
      a[kn * f.k + kn] *= 1 + o.ridge;
      // Too few patches (squeeze-excitation convs see one per frame) would be
      // fitted to noise: those keep their weights and get the bias only.
      if (count(gi) < kMinPatchesPerWeight * double(f.k) || trace <= 0 || !cholesky(a, f.k)) continue;
      for (int64_t c = gi * f.cout_g; c < (gi + 1) * f.cout_g; ++c) {
        const std::vector<double> t = target(c);
        std::vector<double> r(size_t(f.k));
        for (int64_t i = 0; i < f.k; ++i) r[i] = dot(qd + i * f.k, t);
        cholesky_solve(a, f.k, r);
        for (int64_t j = 0; j < kn; ++j) wd[c * kn + j] = float(t[j] + r[j]);
      }
    }
  }
  // Bias from the int8 weights: b_c = E[t . x~_f] - E[Q(W')_c . x_q]
  //   = b_c + E[t . (x~_f - x~_q)] + E[(W_c - Q(W')_c) . x_q]
  // (the last rows of Sqd and Sqq are the sums of x~_f - x~_q and x~_q).
  const QuantizedWeights qw = quantize_weights(g, n, w, o.per_channel);
  const int64_t inner = w.numel() / int64_t(qw.scale.size());
  for (int64_t c = 0; c < cout; ++c) {
    const int64_t gi = c / f.cout_g;
    const double* mq = f.qq.data() + gi * f.k * f.k + kn * f.k;
    const double* md = f.qd.data() + gi * f.k * f.k + kn * f.k;
    const std::vector<double> t = target(c);
    double e = 0;
    for (int64_t j = 0; j < kn; ++j) e += mq[j] * (t[j] - qw.q[c * kn + j] * qw.scale[(c * kn + j) / inner]);
    if (count(gi) > 0) bias[c] = float(t[kn] + (dot(md, t) + e) / count(gi));
  }
  g.in(n, 1).data = w;
  Tensor b = Tensor::from<float>({cout}, std::span<const float>(bias));
  if (Graph::has_input(n, 2)) {
    g.in(n, 2).data = b;
  } else {
    const int v = g.add_const(g.unique_name(n.name + "_bias"), b);
    g.nodes[f.node].inputs.resize(3, -1);
    g.nodes[f.node].inputs[2] = v;
  }
}

// Conv layers the correction can refit: 2-D, quantized, weights and bias
// constants of their own, no fused residual.
std::vector<int> correctable(const Graph& g, const Plan& p) {
  const auto cons = g.consumers();
  const std::set<int> tensors(p.tensors.begin(), p.tensors.end());
  std::vector<int> r;
  for (int i : p.layers) {
    const Node& n = g.nodes[i];
    if (n.op != "Conv" || Graph::has_input(n, 3) || g.in(n, 1).data.rank() != 4) continue;
    if (!tensors.count(n.outputs[0])) continue;
    bool own = true;
    for (size_t k = 1; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0 && (!g.values[n.inputs[k]].is_const() || cons[n.inputs[k]].size() != 1)) own = false;
    if (own) r.push_back(i);
  }
  return r;
}

// Depth of each layer: corrected layers on the longest path before it.
std::map<int, std::vector<int>> by_depth(const Graph& g, const std::vector<int>& layers) {
  const std::set<int> fitted(layers.begin(), layers.end());
  std::vector<int> node_depth(g.nodes.size(), -1);
  std::function<int(int)> depth = [&](int ni) {
    if (node_depth[ni] >= 0) return node_depth[ni];
    int d = 0;
    for (int v : g.nodes[ni].inputs) {
      const int pr = v >= 0 ? g.values[v].producer : -1;
      if (pr >= 0) d = std::max(d, depth(pr) + (fitted.count(pr) ? 1 : 0));
    }
    return node_depth[ni] = d;
  };
  std::map<int, std::vector<int>> r;
  for (int i : layers) r[depth(i)].push_back(i);
  return r;
}

// g cut after `outputs` (value names), for a session keeping `keep`.
Session cut_session(const Graph& g, const std::vector<std::string>& outputs, const std::vector<std::string>& keep,
                    int threads) {
  Graph t = g;
  t.outputs.clear();
  for (const auto& name : outputs) t.outputs.push_back(t.find_value(name));
  OptimizeReport report;
  eliminate_dead(t, report);
  CompileOptions co;
  co.threads = threads;
  co.optimize = false;  // prepared already; fusing would hide the kept values
  for (const auto& name : keep)
    if (std::none_of(t.inputs.begin(), t.inputs.end(), [&](int v) { return t.values[v].name == name; }))
      co.keep_values.push_back(name);
  return Session(Model::from_graph(std::move(t)), co);
}

// Whether a 4-D session value with `channels` channels is NHWC: by its
// shape, else (H = W = C) by the layout the session runs layer ni in.
bool nhwc_value(const Tensor& t, int64_t channels, const Session& s, const Graph& g, int ni) {
  const Shape& d = t.shape();
  if (d[1] == channels && d[3] != channels) return false;
  if (d[3] == channels && d[1] != channels) return true;
  for (const Node& n : s.graph().nodes)
    if (n.name == g.nodes[ni].name) return n.attrs.s("layout", "NCHW") == "NHWC";
  return g.nodes[ni].attrs.s("layout", "NCHW") == "NHWC";
}

}  // namespace

Corrected correct(const Graph& g, const Plan& p, const std::map<int, TensorStats>& stats, const Options& o,
                  size_t frames, const FillFn& fill, int threads, const ProgressFn& progress) {
  Corrected r{g};
  if (o.correct == Correct::none) return r;
  const auto levels = by_depth(g, correctable(g, p));
  r.levels = int(levels.size());
  size_t done = 0;
  for (const auto& [depth, layers] : levels) {
    const Graph q = fold_constant_dequantize(build_qdq(r.graph, p, stats, o));
    std::vector<LayerFit> fits;
    std::vector<std::string> outs, keep_f, keep_q;
    for (int i : layers) {
      LayerFit f(g, i);
      const Node& n = g.nodes[i];
      f.input_f = g.in(n, 0).name;
      if (auto it = stats.find(n.inputs[0]); it != stats.end()) {
        const ActQParams a = activation_qparams(it->second.range(o.method, o.percentile));
        f.lo = a.scale * float(-128 - a.zero_point) - 0.5f * a.scale;
        f.hi = a.scale * float(127 - a.zero_point) + 0.5f * a.scale;
      }
      f.input_q = q.find_value(dequantized_name(f.input_f)) >= 0 ? dequantized_name(f.input_f) : f.input_f;
      outs.push_back(g.values[n.outputs[0]].name);
      keep_f.push_back(f.input_f);
      keep_q.push_back(f.input_q);
      fits.push_back(std::move(f));
    }
    Session fs = cut_session(g, outs, keep_f, threads);
    Session qs = cut_session(q, outs, keep_q, threads);
    std::vector<std::array<bool, 2>> nhwc;  // per layer, float and quantized input: from the first frame
    for (size_t fr = 0; fr < frames; ++fr) {
      fill(fr, fs);
      fill(fr, qs);
      fs.run();
      qs.run();
      for (size_t l = 0; l < fits.size(); ++l) {
        LayerFit& f = fits[l];
        Tensor xf = fs.value(f.input_f), xq = qs.value(f.input_q);
        const int64_t channels = f.cin_g * f.groups;
        if (xf.rank() != 4 || xq.rank() != 4 || xf.numel() != xq.numel())
          throw Error("quantize --correct: layer '" + g.nodes[f.node].name + "' input " + shape_str(xf.shape()) +
                      " in the float model, " + shape_str(xq.shape()) + " quantized");
        if (fr == 0) nhwc.push_back({nhwc_value(xf, channels, fs, g, f.node), nhwc_value(xq, channels, qs, g, f.node)});
        f.add(xf, nhwc[l][0], xq, nhwc[l][1]);
      }
      if (progress) progress(++done, frames * levels.size());
    }
    for (const LayerFit& f : fits) refit(r.graph, f, o);
    r.layers += int(fits.size());
  }
  return r;
}

}  // namespace ef::quant
