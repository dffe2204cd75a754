// A tiny, deliberately naive NCHW interpreter for the ops the pass tests use.
// It evaluates the *unoptimized* graph straight from the ONNX definitions, as
// an independent reference for Session(optimize=true). float32 only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgeflow/graph.h"

namespace ef::ref {

struct T {
  Shape s;
  std::vector<float> d;
  int64_t n() const { return numel(s); }
};

inline std::vector<int64_t> strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = int(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

inline T from_tensor(const Tensor& t) {
  T r;
  r.s = t.shape();
  r.d.resize(size_t(t.numel()));
  if (t.dtype() == DType::f32) std::memcpy(r.d.data(), t.data(), r.d.size() * 4);
  else if (t.dtype() == DType::i64)
    for (size_t i = 0; i < r.d.size(); ++i) r.d[i] = float(t.data_as<int64_t>()[i]);
  else throw std::runtime_error("ref: unsupported dtype");
  return r;
}

inline std::vector<int64_t> ints(const T& t) {
  std::vector<int64_t> r;
  for (float v : t.d) r.push_back(int64_t(std::llround(v)));
  return r;
}

inline T binary(const T& a, const T& b, float (*f)(float, float)) {
  const size_t r = std::max(a.s.size(), b.s.size());
  Shape sa(r - a.s.size(), 1), sb(r - b.s.size(), 1), so(r);
  sa.insert(sa.end(), a.s.begin(), a.s.end());
  sb.insert(sb.end(), b.s.begin(), b.s.end());
  for (size_t i = 0; i < r; ++i) so[i] = std::max(sa[i], sb[i]);
  auto sta = strides(sa), stb = strides(sb), sto = strides(so);
  T o{so, std::vector<float>(size_t(numel(so)))};
  for (int64_t i = 0; i < o.n(); ++i) {
    int64_t ia = 0, ib = 0, rem = i;
    for (size_t k = 0; k < r; ++k) {
      int64_t c = rem / sto[k];
      rem %= sto[k];
      ia += (sa[k] == 1 ? 0 : c) * sta[k];
      ib += (sb[k] == 1 ? 0 : c) * stb[k];
    }
    o.d[i] = f(a.d[ia], b.d[ib]);
  }
  return o;
}

inline T conv(const Node& n, const T& x, const T& w, const T* b) {
  const int64_t N = x.s[0], C = x.s[1], H = x.s[2], W = x.s[3], O = w.s[0], kh = w.s[2], kw = w.s[3];
  const int64_t g = n.attrs.i("group", 1);
  auto st = n.attrs.ints("strides", {1, 1}), dl = n.attrs.ints("dilations", {1, 1}), p = n.attrs.ints("pads", {0, 0, 0, 0});
  const int64_t OH = (H + p[0] + p[2] - dl[0] * (kh - 1) - 1) / st[0] + 1;
  const int64_t OW = (W + p[1] + p[3] - dl[1] * (kw - 1) - 1) / st[1] + 1;
  const int64_t cpg = C / g, opg = O / g;
  T y{{N, O, OH, OW}, std::vector<float>(size_t(N * O * OH * OW))};
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b ? b->d[o] : 0.0;
          const int64_t gi = o / opg;
          for (int64_t c = 0; c < cpg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ih = oh * st[0] - p[0] + i * dl[0], iw = ow * st[1] - p[1] + j * dl[1];
                if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                acc += double(x.d[((nn * C + gi * cpg + c) * H + ih) * W + iw]) * w.d[((o * cpg + c) * kh + i) * kw + j];
              }
          y.d[((nn * O + o) * OH + oh) * OW + ow] = float(acc);
        }
  return y;
}

// ConvTranspose, IOHW weights [C, O/g, kh, kw], no output_padding.
inline T conv_transpose(const Node& n, const T& x, const T& w, const T* b) {
  const int64_t N = x.s[0], C = x.s[1], H = x.s[2], W = x.s[3], kh = w.s[2], kw = w.s[3];
  const int64_t g = n.attrs.i("group", 1), opg = w.s[1], O = opg * g, cpg = C / g;
  auto st = n.attrs.ints("strides", {1, 1}), p = n.attrs.ints("pads", {0, 0, 0, 0});
  const int64_t OH = (H - 1) * st[0] - p[0] - p[2] + kh, OW = (W - 1) * st[1] - p[1] - p[3] + kw;
  T y{{N, O, OH, OW}, std::vector<float>(size_t(N * O * OH * OW), 0.f)};
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t ww = 0; ww < W; ++ww)
          for (int64_t j = 0; j < opg; ++j)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t k = 0; k < kw; ++k) {
                int64_t oh = h * st[0] - p[0] + i, ow = ww * st[1] - p[1] + k;
                if (oh < 0 || ow < 0 || oh >= OH || ow >= OW) continue;
                const int64_t o = (c / cpg) * opg + j;
                y.d[((nn * O + o) * OH + oh) * OW + ow] +=
                    x.d[((nn * C + c) * H + h) * W + ww] * w.d[((c * opg + j) * kh + i) * kw + k];
              }
  if (b)
    for (int64_t i = 0; i < y.n(); ++i) y.d[i] += b->d[(i / (OH * OW)) % O];
  return y;
}

inline T pool(const Node& n, const T& x, bool is_max) {
  const int64_t N = x.s[0], C = x.s[1], H = x.s[2], W = x.s[3];
  auto k = n.attrs.ints("kernel_shape"), st = n.attrs.ints("strides", {1, 1}), p = n.attrs.ints("pads", {0, 0, 0, 0});
  const bool count_pad = n.attrs.i("count_include_pad", 0) != 0;
  const int64_t OH = (H + p[0] + p[2] - k[0]) / st[0] + 1, OW = (W + p[1] + p[3] - k[1]) / st[1] + 1;
  T y{{N, C, OH, OW}, std::vector<float>(size_t(N * C * OH * OW))};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float m = -INFINITY;
        double s = 0;
        int cnt = 0;
        for (int64_t i = 0; i < k[0]; ++i)
          for (int64_t j = 0; j < k[1]; ++j) {
            int64_t ih = oh * st[0] - p[0] + i, iw = ow * st[1] - p[1] + j;
            if (ih < 0 || iw < 0 || ih >= H || iw >= W) {
              cnt += count_pad;
              continue;
            }
            float v = x.d[(nc * H + ih) * W + iw];
            m = std::max(m, v);
            s += v;
            ++cnt;
          }
        y.d[(nc * OH + oh) * OW + ow] = is_max ? m : float(s / cnt);
      }
  return y;
}

inline float resize_coord(const std::string& mode, float out, float scale, int64_t in_len, int64_t out_len) {
  if (mode == "asymmetric") return out / scale;
  if (mode == "align_corners") return out_len == 1 ? 0.f : out * float(in_len - 1) / float(out_len - 1);
  if (mode == "pytorch_half_pixel") return out_len > 1 ? (out + 0.5f) / scale - 0.5f : 0.f;
  return (out + 0.5f) / scale - 0.5f;  // half_pixel
}

// Resize over H and W (scales on N and C must be 1): nearest or bilinear.
inline T resize(const Node& n, const T& x, const std::vector<float>& scales) {
  const int64_t N = x.s[0], C = x.s[1], H = x.s[2], W = x.s[3];
  const int64_t OH = int64_t(std::floor(H * scales[2])), OW = int64_t(std::floor(W * scales[3]));
  const std::string mode = n.attrs.s("mode", "nearest");
  const std::string ct = n.attrs.s("coordinate_transformation_mode", "half_pixel");
  const std::string nm = n.attrs.s("nearest_mode", "round_prefer_floor");
  T y{{N, C, OH, OW}, std::vector<float>(size_t(N * C * OH * OW))};
  auto nearest = [&](float c, int64_t len) {
    int64_t i;
    if (nm == "floor") i = int64_t(std::floor(c));
    else if (nm == "ceil") i = int64_t(std::ceil(c));
    else if (nm == "round_prefer_ceil") i = int64_t(std::floor(c + 0.5f));
    else i = (c - std::floor(c) == 0.5f) ? int64_t(std::floor(c)) : int64_t(std::round(c));
    return std::clamp<int64_t>(i, 0, len - 1);
  };
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float ch = resize_coord(ct, float(oh), scales[2], H, OH), cw = resize_coord(ct, float(ow), scales[3], W, OW);
        float v;
        if (mode == "nearest") {
          v = x.d[(nc * H + nearest(ch, H)) * W + nearest(cw, W)];
        } else {
          ch = std::clamp(ch, 0.f, float(H - 1));
          cw = std::clamp(cw, 0.f, float(W - 1));
          int64_t h0 = int64_t(std::floor(ch)), w0 = int64_t(std::floor(cw));
          int64_t h1 = std::min(h0 + 1, H - 1), w1 = std::min(w0 + 1, W - 1);
          float fh = ch - h0, fw = cw - w0;
          auto at = [&](int64_t h, int64_t w) { return x.d[(nc * H + h) * W + w]; };
          v = (1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w1)) + fh * ((1 - fw) * at(h1, w0) + fw * at(h1, w1));
        }
        y.d[(nc * OH + oh) * OW + ow] = v;
      }
  return y;
}

inline T transpose(const T& x, const std::vector<int64_t>& p) {
  Shape os(p.size());
  for (size_t i = 0; i < p.size(); ++i) os[i] = x.s[p[i]];
  auto sti = strides(x.s), sto = strides(os);
  T y{os, std::vector<float>(x.d.size())};
  for (int64_t i = 0; i < y.n(); ++i) {
    int64_t rem = i, src = 0;
    for (size_t k = 0; k < p.size(); ++k) {
      src += (rem / sto[k]) * sti[p[k]];
      rem %= sto[k];
    }
    y.d[i] = x.d[src];
  }
  return y;
}

class Interpreter {
 public:
  explicit Interpreter(const Graph& g) : g_(g) {}

  std::vector<T> run(const std::vector<Tensor>& inputs) {
    std::map<int, T> v;
    for (size_t i = 0; i < g_.values.size(); ++i)
      if (g_.values[i].is_const()) v[int(i)] = from_tensor(g_.values[i].data);
    for (size_t i = 0; i < g_.inputs.size(); ++i) v[g_.inputs[i]] = from_tensor(inputs[i]);
    Graph order = g_;
    order.topo_sort();
    for (const Node& n : order.nodes) {
      auto in = [&](size_t k) -> const T& { return v.at(n.inputs.at(k)); };
      auto has = [&](size_t k) { return k < n.inputs.size() && n.inputs[k] >= 0; };
      T y;
      const std::string& op = n.op;
      if (op == "Conv") y = conv(n, in(0), in(1), has(2) ? &in(2) : nullptr);
      else if (op == "ConvTranspose") y = conv_transpose(n, in(0), in(1), has(2) ? &in(2) : nullptr);
      else if (op == "BatchNormalization") {
        const T& x = in(0);
        y = x;
        const float eps = n.attrs.f("epsilon", 1e-5f);
        const int64_t C = x.s[1], inner = x.n() / (x.s[0] * C);
        for (int64_t i = 0; i < x.n(); ++i) {
          int64_t c = (i / inner) % C;
          y.d[i] = in(1).d[c] * (x.d[i] - in(3).d[c]) / std::sqrt(in(4).d[c] + eps) + in(2).d[c];
        }
      } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Clip" || op == "LeakyRelu" ||
                 op == "HardSwish" || op == "Identity" || op == "Dropout") {
        y = in(0);
        float lo = has(1) ? in(1).d[0] : -INFINITY, hi = has(2) ? in(2).d[0] : INFINITY;
        float alpha = n.attrs.f("alpha", 0.01f);
        for (float& e : y.d) {
          if (op == "Relu") e = std::max(e, 0.f);
          else if (op == "Sigmoid") e = 1.f / (1.f + std::exp(-e));
          else if (op == "Tanh") e = std::tanh(e);
          else if (op == "Clip") e = std::min(std::max(e, lo), hi);
          else if (op == "LeakyRelu") e = e >= 0 ? e : alpha * e;
          else if (op == "HardSwish") e = e * std::clamp(e + 3.f, 0.f, 6.f) / 6.f;
        }
      } else if (op == "Add") y = binary(in(0), in(1), [](float a, float b) { return a + b; });
      else if (op == "Sub") y = binary(in(0), in(1), [](float a, float b) { return a - b; });
      else if (op == "Mul") y = binary(in(0), in(1), [](float a, float b) { return a * b; });
      else if (op == "Div") y = binary(in(0), in(1), [](float a, float b) { return a / b; });
      else if (op == "PRelu") y = binary(in(0), in(1), [](float a, float s) { return a >= 0 ? a : a * s; });
      else if (op == "MaxPool") y = pool(n, in(0), true);
      else if (op == "AveragePool") y = pool(n, in(0), false);
      else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
        const T& x = in(0);
        const int64_t NC = x.s[0] * x.s[1], HW = x.s[2] * x.s[3];
        y = {{x.s[0], x.s[1], 1, 1}, std::vector<float>(size_t(NC))};
        for (int64_t i = 0; i < NC; ++i) {
          double s = 0;
          float m = -INFINITY;
          for (int64_t j = 0; j < HW; ++j) {
            s += x.d[i * HW + j];
            m = std::max(m, x.d[i * HW + j]);
          }
          y.d[i] = op == "GlobalMaxPool" ? m : float(s / HW);
        }
      } else if (op == "Concat") {
        const int64_t r = int64_t(in(0).s.size());
        int64_t a = n.attrs.i("axis");
        if (a < 0) a += r;
        y.s = in(0).s;
        y.s[a] = 0;
        for (size_t k = 0; k < n.inputs.size(); ++k) y.s[a] += in(k).s[a];
        int64_t outer = 1;
        for (int64_t i = 0; i < a; ++i) outer *= y.s[i];
        for (int64_t o = 0; o < outer; ++o)
          for (size_t k = 0; k < n.inputs.size(); ++k) {
            const T& x = in(k);
            const int64_t chunk = x.n() / outer;
            y.d.insert(y.d.end(), x.d.begin() + o * chunk, x.d.begin() + (o + 1) * chunk);
          }
      } else if (op == "Flatten") {
        const T& x = in(0);
        int64_t a = n.attrs.i("axis", 1), outer = 1;
        for (int64_t i = 0; i < a; ++i) outer *= x.s[i];
        y = {{outer, x.n() / outer}, x.d};
      } else if (op == "Reshape") {
        const T& x = in(0);
        auto s = ints(in(1));
        int64_t known = 1, neg = -1;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == 0) s[i] = x.s[i];
          if (s[i] == -1) neg = int64_t(i);
          else known *= s[i];
        }
        if (neg >= 0) s[neg] = x.n() / known;
        y = {s, x.d};
      } else if (op == "Transpose") {
        auto p = n.attrs.ints("perm");
        y = transpose(in(0), p);
      } else if (op == "Gemm") {
        T a = in(0), b = in(1);
        if (n.attrs.i("transA", 0)) a = transpose(a, {1, 0});
        if (n.attrs.i("transB", 0)) b = transpose(b, {1, 0});
        const float alpha = n.attrs.f("alpha", 1.f), beta = n.attrs.f("beta", 1.f);
        const int64_t M = a.s[0], K = a.s[1], N = b.s[1];
        y = {{M, N}, std::vector<float>(size_t(M * N))};
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += double(a.d[i * K + k]) * b.d[k * N + j];
            y.d[i * N + j] = float(alpha * s);
          }
        if (has(2)) {
          T c = in(2);
          for (float& e : c.d) e *= beta;
          y = binary(y, c, [](float p, float q) { return p + q; });
        }
      } else if (op == "Resize") {
        const size_t si = n.inputs.size() == 2 ? 1 : 2;
        y = resize(n, in(0), in(si).d);
      } else if (op == "DepthToSpace") {
        const T& x = in(0);
        const int64_t b = n.attrs.i("blocksize"), N = x.s[0], C = x.s[1], H = x.s[2], W = x.s[3], oc = C / (b * b);
        const bool crd = n.attrs.s("mode", "DCR") == "CRD";
        y = {{N, oc, H * b, W * b}, std::vector<float>(x.d.size())};
        for (int64_t nn = 0; nn < N; ++nn)
          for (int64_t c = 0; c < oc; ++c)
            for (int64_t h = 0; h < H * b; ++h)
              for (int64_t w = 0; w < W * b; ++w) {
                const int64_t i = h % b, j = w % b;
                const int64_t ic = crd ? c * b * b + i * b + j : (i * b + j) * oc + c;
                y.d[((nn * oc + c) * H * b + h) * W * b + w] = x.d[((nn * C + ic) * H + h / b) * W + w / b];
              }
      } else if (op == "Slice") {
        const T& x = in(0);
        auto st = ints(in(1)), en = ints(in(2));
        std::vector<int64_t> ax, sp;
        if (has(3)) ax = ints(in(3));
        else
          for (size_t i = 0; i < st.size(); ++i) ax.push_back(int64_t(i));
        if (has(4)) sp = ints(in(4));
        else sp.assign(st.size(), 1);
        const size_t r = x.s.size();
        std::vector<int64_t> b(r, 0), step(r, 1);
        Shape os = x.s;
        for (size_t i = 0; i < ax.size(); ++i) {
          int64_t a = ax[i] < 0 ? ax[i] + r : ax[i], d = x.s[a];
          int64_t s = st[i] < 0 ? st[i] + d : st[i], e = en[i] < 0 ? en[i] + d : en[i];
          s = std::clamp<int64_t>(s, 0, d);
          e = std::clamp<int64_t>(e, 0, d);  // positive steps only
          b[a] = s;
          step[a] = sp[i];
          os[a] = std::max<int64_t>(0, (e - s + sp[i] - 1) / sp[i]);
        }
        auto sti = strides(x.s), sto = strides(os);
        y = {os, std::vector<float>(size_t(numel(os)))};
        for (int64_t i = 0; i < y.n(); ++i) {
          int64_t rem = i, src = 0;
          for (size_t k = 0; k < r; ++k) {
            src += (b[k] + (rem / sto[k]) * step[k]) * sti[k];
            rem %= sto[k];
          }
          y.d[i] = x.d[src];
        }
      } else if (op == "Softmax") {
        const T& x = in(0);
        const int64_t r = int64_t(x.s.size());
        int64_t a = n.attrs.i("axis", -1);
        if (a < 0) a += r;
        int64_t inner = 1;
        for (int64_t i = a + 1; i < r; ++i) inner *= x.s[i];
        const int64_t len = x.s[a], outer = x.n() / (len * inner);
        y = x;
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t in_ = 0; in_ < inner; ++in_) {
            float m = -INFINITY;
            for (int64_t k = 0; k < len; ++k) m = std::max(m, x.d[(o * len + k) * inner + in_]);
            double s = 0;
            for (int64_t k = 0; k < len; ++k) s += std::exp(x.d[(o * len + k) * inner + in_] - m);
            for (int64_t k = 0; k < len; ++k)
              y.d[(o * len + k) * inner + in_] = float(std::exp(x.d[(o * len + k) * inner + in_] - m) / s);
          }
      } else if (op == "ReduceMean") {
        const T& x = in(0);  // 4-D, axes among {2,3} with keepdims=1 only
        auto axes = n.attrs.ints("axes");
        Shape os = x.s;
        for (auto a : axes) os[a < 0 ? a + 4 : a] = 1;
        auto sti = strides(x.s), sto = strides(os);
        y = {os, std::vector<float>(size_t(numel(os)), 0.f)};
        for (int64_t i = 0; i < x.n(); ++i) {
          int64_t rem = i, dst = 0;
          for (size_t k = 0; k < 4; ++k) {
            int64_t c = rem / sti[k];
            rem %= sti[k];
            dst += (os[k] == 1 ? 0 : c) * sto[k];
          }
          y.d[dst] += x.d[i];
        }
        const float f = float(numel(os)) / float(x.n());
        for (float& e : y.d) e *= f;
      } else if (op == "Pad") {
        const T& x = in(0);  // constant mode, 4-D
        auto p = ints(in(1));
        const float cv = has(2) ? in(2).d[0] : 0.f;
        Shape os(4);
        for (int k = 0; k < 4; ++k) os[k] = x.s[k] + p[k] + p[4 + k];
        auto sti = strides(x.s), sto = strides(os);
        y = {os, std::vector<float>(size_t(numel(os)), cv)};
        for (int64_t i = 0; i < x.n(); ++i) {
          int64_t rem = i, dst = 0;
          for (int k = 0; k < 4; ++k) {
            dst += (rem / sti[k] + p[k]) * sto[k];
            rem %= sti[k];
          }
          y.d[dst] = x.d[i];
        }
      } else {
        throw std::runtime_error("ref interpreter: no op " + op);
      }
      v[n.outputs[0]] = std::move(y);
    }
    std::vector<T> outs;
    for (int o : g_.outputs) outs.push_back(v.at(o));
    return outs;
  }

 private:
  const Graph& g_;
};

inline Tensor random_tensor(Shape s, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::f32, std::move(s));
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = d(rng);
  return t;
}

}  // namespace ef::ref
