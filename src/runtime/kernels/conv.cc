// Conv (NHWC activations, OIHW weights in the IR; 1-D convs run as H=1).
// XNNPACK convolution2d_nhwc_f32 with weights repacked to OHWI once at
// creation; an own direct-convolution kernel for what XNNPACK cannot take
// (non-constant weights, XNNPACK unavailable or refusing the configuration).
#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <algorithm>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/conv_dw_f32.h"
#include "runtime/kernels/conv_gemm_f32.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/nchw_adapter.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

// Geometry of a 2-D convolution (1-D: H = KH = 1).
struct ConvGeom {
  int64_t n = 1, ih = 1, iw = 1, cin = 1, oh = 1, ow = 1, cout = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t group = 1;
};

bool is_nhwc(const Node& n) { return n.attrs.s("layout", "") == "NHWC"; }

ConvGeom conv_geom(const Node& node, const Shape& x, const Shape& w, const Shape& y) {
  ConvGeom g;
  const bool one_d = x.size() == 3;
  auto st = node.attrs.ints("strides", {});
  auto dl = node.attrs.ints("dilations", {});
  auto pd = node.attrs.ints("pads", {});
  g.n = x[0];
  g.cin = x.back();
  g.cout = y.back();
  g.group = node.attrs.i("group", 1);
  if (one_d) {
    g.iw = x[1];
    g.ow = y[1];
    g.kw = w[2];
    if (!st.empty()) g.sw = st[0];
    if (!dl.empty()) g.dw = dl[0];
    if (pd.size() == 2) g.pl = pd[0], g.pr = pd[1];
  } else {
    g.ih = x[1], g.iw = x[2];
    g.oh = y[1], g.ow = y[2];
    g.kh = w[2], g.kw = w[3];
    if (st.size() == 2) g.sh = st[0], g.sw = st[1];
    if (dl.size() == 2) g.dh = dl[0], g.dw = dl[1];
    if (pd.size() == 4) g.pt = pd[0], g.pl = pd[1], g.pb = pd[2], g.pr = pd[3];
  }
  return g;
}
ConvGemmGeom gemm_geom(const ConvGeom& g) {
  return {g.n, g.ih, g.iw, g.cin, g.oh, g.ow, g.cout, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl};
}
ConvGeom conv_geom(const KernelContext& c) {
  return conv_geom(c.node, c.input(0).shape, c.input(1).shape, c.output(0).shape);
}

// Input 3 (set by the fuse_conv_add pass): a residual of the output's shape
// added before the activation. Only the GEMM and the reference take it.
bool has_residual(const Node& n) { return Graph::has_input(n, 3); }

// One XNNPACK operator, or several over slices of the output channels: for
// weight-heavy layers with few output pixels (e.g. 7x7x512 3x3 convs) the
// GEMM re-streams all packed weights once per row tile; slicing the output
// channels keeps each slice's weights in cache across the row tiles.
class ConvXnn : public Kernel {
 public:
  struct Slice {
    XnnOp op;
    int64_t first_channel;
  };
  ConvXnn(const ConvGeom& g, std::vector<Slice> ops, FusedActivation act, pthreadpool_t pool)
      : g_(g), ops_(std::move(ops)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    for (auto& s : ops_)
      xnn_check(xnn_setup_convolution2d_nhwc_f32(s.op.get(), g_.n, g_.ih, g_.iw, in[0].as<float>(),
                                                 out[0].as<float>() + s.first_channel, pool_),
                "setup_convolution2d_nhwc_f32", "Conv");
  }
  void run() override {
    for (auto& s : ops_) xnn_check(xnn_run_operator(s.op.get(), pool_), "run_operator", "Conv");
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return ops_.size() > 1 ? "xnn-split" : "xnnpack"; }

 private:
  ConvGeom g_;
  std::vector<Slice> ops_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

// Output channels per operator: all of them unless the weights overflow the
// cache while the output has few pixels.
int64_t conv_slice_channels(const ConvGeom& g, int64_t k_per_out) {
  const int64_t cout = g.cout, pixels = g.n * g.oh * g.ow;
  const int64_t wbytes = cout * k_per_out * 4;
  static const int64_t budget = [] {
    const char* e = std::getenv("EF_CONV_SLICE_KB");
    return e ? std::max<int64_t>(16, std::atoll(e)) * 1024 : int64_t(1024) * 1024;
  }();
  if (g.group != 1 || wbytes <= 2 * budget || pixels > 1024) return cout;
  int64_t ch = budget / (k_per_out * 4) / 16 * 16;
  return std::clamp<int64_t>(ch, 16, cout);
}

// Weights (and bias, if any) of an NHWC float conv with constant parameters.
struct ConstParams {
  const Tensor* w = nullptr;
  const Tensor* b = nullptr;
};
std::optional<ConstParams> const_f32_params(const KernelContext& c) {
  if (!is_nhwc(c.node) || c.input(0).dtype != DType::f32 || c.output(0).dtype != DType::f32) return std::nullopt;
  ConstParams p{c.const_input(1), c.const_input(2)};
  if (!p.w || p.w->dtype() != DType::f32) return std::nullopt;
  if (Graph::has_input(c.node, 2) && (!p.b || p.b->dtype() != DType::f32)) return std::nullopt;
  return p;
}

std::unique_ptr<Kernel> make_conv_xnn(const KernelContext& c) {
  const auto params = const_f32_params(c);
  if (!params || has_residual(c.node)) return nullptr;
  const Tensor *w = params->w, *b = params->b;
  if (!xnn_available()) return nullptr;
  ConvGeom g = conv_geom(c);
  const int64_t O = w->dim(0), I = w->dim(1), KH = g.kh, KW = g.kw;
  // OIHW -> OHWI (XNNPACK: [groups][group_out][KH][KW][group_in]).
  std::vector<float> packed(size_t(O * KH * KW * I));
  const float* src = w->data_as<float>();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw)
          packed[size_t(((o * KH + kh) * KW + kw) * I + i)] = src[((o * I + i) * KH + kh) * KW + kw];
  FusedActivation act = FusedActivation::from(c.node);
  const int64_t slice = conv_slice_channels(g, KH * KW * I);
  std::vector<ConvXnn::Slice> ops;
  for (int64_t first = 0; first < O; first += slice) {
    const int64_t n = std::min(slice, O - first);
    const bool whole = n == O;
    xnn_operator_t op = nullptr;
    xnn_status st = xnn_create_convolution2d_nhwc_f32(
        uint32_t(g.pt), uint32_t(g.pr), uint32_t(g.pb), uint32_t(g.pl), uint32_t(KH), uint32_t(KW), uint32_t(g.sh),
        uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), uint32_t(whole ? g.group : 1), size_t(I),
        size_t(whole ? O / g.group : n), size_t(g.cin), size_t(g.cout), packed.data() + first * KH * KW * I,
        b ? b->data_as<float>() + first : nullptr, act.out_min(), act.out_max(), 0, &op);
    if (st != xnn_status_success) return nullptr;  // own kernel takes it
    ops.push_back({XnnOp(op), first});
  }
  return std::make_unique<ConvXnn>(g, std::move(ops), act, c.pool);
}

// Own AVX-512 implicit GEMM (conv_gemm_f32.h) for dense convolutions where
// it beats XNNPACK (measured on resnet18, mobilenet_v2 and the MediaPipe
// models: every dense layer with K = Cin*KH*KW >= 64, and first layers).
// EF_CONV_GEMM=0 turns it off, =all uses it for every dense convolution.
class ConvGemm : public Kernel {
 public:
  ConvGemm(std::unique_ptr<ConvGemmF32> gemm, FusedActivation act, pthreadpool_t pool)
      : gemm_(std::move(gemm)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const float* residual = in.size() > 3 && in[3].data ? in[3].as<const float>() : nullptr;
    gemm_->setup(in[0].as<const float>(), out[0].as<float>(), pool_ ? pthreadpool_get_threads_count(pool_) : 1,
                 residual);
  }
  void run() override {
    gemm_->run(pool_);
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return "gemm-avx512"; }

 private:
  std::unique_ptr<ConvGemmF32> gemm_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

// EF_CONV_GEMM: "0" XNNPACK for every dense and depthwise conv (no own
// kernel), "all" the GEMM for every dense one and own-dw for every
// depthwise one it fits, unset: the measured choices (conv_gemm_wins, dw_wins).
std::string conv_gemm_mode() {
  const char* e = std::getenv("EF_CONV_GEMM");
  return e ? e : "";
}

bool conv_gemm_wins(const ConvGeom& g, bool residual) {
  const std::string mode = conv_gemm_mode();
  if (mode == "0") return false;
  if (mode == "all") return true;
  // With a residual Add to fuse (fuse_conv_add), the saved pass over the
  // output outweighs XNNPACK's edge at small K: BlazeFace-style 1x1 8->32
  // expansions at 96x96 (face_detection_full_range_sparse 3.37 -> 3.0 ms).
  if (residual) return true;
  // Below K = 64 XNNPACK's direct GEMM wins, except on a first layer read
  // by kernel rows with more than 16 output channels (3x3 stride-2 convs on
  // RGB: mobilenet_v2's 32 channels 0.30 -> 0.26 ms, pose_detection's 24
  // 0.31 -> 0.19 ms; with 16, selfie segmentation's and face_landmark's,
  // 10% slower).
  return g.cin * g.kh * g.kw >= 64 || (ConvGemmF32::row_mode(g.cin, g.kw, g.dw) && g.cout > 16);
}

// Few output channels and no residual: ConvFewOut (registered first) takes it.
bool few_out_fits(const ConvGeom& g);

bool gemm_fits(const ConvGeom& g, bool residual) {
  return g.group == 1 && ConvGemmF32::supported() && conv_gemm_wins(g, residual) && !few_out_fits(g);
}

std::unique_ptr<Kernel> make_conv_gemm(const KernelContext& c) {
  const auto params = const_f32_params(c);
  if (!params) return nullptr;
  const Tensor *w = params->w, *b = params->b;
  const ConvGeom g = conv_geom(c);
  if (!gemm_fits(g, has_residual(c.node))) return nullptr;
  FusedActivation act = FusedActivation::from(c.node);
  auto gemm = std::make_unique<ConvGemmF32>(gemm_geom(g), w->data_as<float>(), b ? b->data_as<float>() : nullptr,
                                            act.out_min(), act.out_max());
  return std::make_unique<ConvGemm>(std::move(gemm), act, c.pool);
}

// Depthwise convolutions (group == channels, multiplier 1) on the own
// kernel (conv_dw_f32.h) where it beats XNNPACK's: see dw_wins.
class ConvDw : public Kernel {
 public:
  ConvDw(std::unique_ptr<ConvDwF32> dw, pthreadpool_t pool) : dw_(std::move(dw)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    dw_->setup(in[0].as<const float>(), out[0].as<float>());
  }
  void run() override { dw_->run(pool_); }
  const char* impl() const override { return "own-dw"; }

 private:
  std::unique_ptr<ConvDwF32> dw_;
  pthreadpool_t pool_;
};

// Measured per layer shape (build/bench/micro/bench_conv_dw, 1 and 2
// threads, the MediaPipe models' shapes): the own kernel wins on most, 1.1-
// 3.5x up to 64 channels and on 5x5 stride 1; XNNPACK keeps stride 2 with
// 192+ channels or an input over 2 MiB (0.89-0.97x: C240 14x14, C672 7x7,
// C64 56x56) and 3x3 stride 1 with 384+ channels (0.87-0.92x on C384 6x6,
// C480 14x14; 1.12x on C1152 7x7 given up for a simple rule).
bool dw_wins(const ConvGeom& g) {
  if (conv_gemm_mode() == "all") return true;
  if (g.sh == 2 && (g.cin >= 192 || g.ih * g.iw * g.cin * 4 > (2 << 20))) return false;
  return !(g.kh == 3 && g.sh == 1 && g.cin >= 384);
}

std::unique_ptr<Kernel> make_conv_dw(const KernelContext& c) {
  const auto params = const_f32_params(c);
  if (!params || has_residual(c.node) || conv_gemm_mode() == "0") return nullptr;
  const ConvGeom g = conv_geom(c);
  if (g.group != g.cin || !ConvDwF32::fits(gemm_geom(g)) || !dw_wins(g)) return nullptr;
  auto dw = std::make_unique<ConvDwF32>(gemm_geom(g), params->w->data_as<float>(),
                                        params->b ? params->b->data_as<float>() : nullptr, FusedActivation::from(c.node));
  return std::make_unique<ConvDw>(std::move(dw), c.pool);
}

// Few output channels (1-4: heatmap/segmentation heads such as BlazePose's
// 3x3 8->1 at 256x256): the GEMMs fill one or four of their 16-64-channel
// register lanes and run at ~5 GFLOP/s. Here each output is a dot product
// along input rows instead: in NHWC one kernel row's KW*Cin inputs are
// contiguous, so an interior output pixel is KH masked vector FMAs per
// 16 values and one horizontal sum; border pixels take a checked loop.
class ConvFewOut : public Kernel {
 public:
  static constexpr int64_t kMaxOut = 4, kMaxRow = 64;  // KW*Cin up to four vectors
  ConvFewOut(const ConvGeom& g, const float* w, const float* b, FusedActivation act, pthreadpool_t pool)
      : g_(g), act_(act), pool_(pool), row_((g.kw * g.cin + 15) / 16 * 16) {
    // [O][KH][row_]: kernel row ky of output o, zero-padded to whole vectors
    wp_.assign(size_t(g.cout * g.kh * row_), 0.f);
    for (int64_t o = 0; o < g.cout; ++o)
      for (int64_t i = 0; i < g.cin; ++i)
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx)
            wp_[size_t((o * g.kh + ky) * row_ + kx * g.cin + i)] = w[((o * g.cin + i) * g.kh + ky) * g.kw + kx];
    bias_.assign(size_t(g.cout), 0.f);
    if (b) std::copy(b, b + g.cout, bias_.begin());
  }
  void run() override {
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    parallel_for(pool_, size_t(g_.n * g_.oh), [&](size_t r) { out_row(x, y, int64_t(r)); });
  }
  const char* impl() const override { return "own-fewout"; }

 private:
  __attribute__((target("avx512f,fma"))) void out_row(const float* x, float* y, int64_t r) const {
    const ConvGeom& g = g_;
    const int64_t n = r / g.oh, oy = r % g.oh, iy0 = oy * g.sh - g.pt, O = g.cout, len = g.kw * g.cin;
    const bool rows_inside = iy0 >= 0 && iy0 + g.kh <= g.ih;
    const int64_t nv = row_ / 16;
    const __mmask16 last = __mmask16((1u << (len - (nv - 1) * 16)) - 1u);
    float* out = y + r * g.ow * O;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t ix0 = ox * g.sw - g.pl;
      if (rows_inside && ix0 >= 0 && ix0 + g.kw <= g.iw) {
        const float* base = x + ((n * g.ih + iy0) * g.iw + ix0) * g.cin;
        for (int64_t o = 0; o < O; ++o) {
          __m512 acc = _mm512_setzero_ps();
          const float* wo = wp_.data() + o * g.kh * row_;
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const float* xr = base + ky * g.iw * g.cin;
            const float* wr = wo + ky * row_;
            for (int64_t v = 0; v + 1 < nv; ++v)
              acc = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 16 * v), _mm512_loadu_ps(wr + 16 * v), acc);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(last, xr + 16 * (nv - 1)), _mm512_loadu_ps(wr + 16 * (nv - 1)),
                                  acc);
          }
          out[ox * O + o] = _mm512_reduce_add_ps(acc) + bias_[size_t(o)];
        }
      } else {
        for (int64_t o = 0; o < O; ++o) {
          float s = bias_[size_t(o)];
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = iy0 + ky;
            if (iy < 0 || iy >= g.ih) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = ix0 + kx;
              if (ix < 0 || ix >= g.iw) continue;
              const float* xp = x + ((n * g.ih + iy) * g.iw + ix) * g.cin;
              const float* wk = wp_.data() + (o * g.kh + ky) * row_ + kx * g.cin;
              for (int64_t i = 0; i < g.cin; ++i) s += xp[i] * wk[i];
            }
          }
          out[ox * O + o] = s;
        }
      }
    }
    act_.apply(out, size_t(g.ow * O));
  }

  ConvGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
  int64_t row_;
  std::vector<float> wp_, bias_;
};

bool few_out_fits(const ConvGeom& g) {
  return g.group == 1 && g.cout <= ConvFewOut::kMaxOut && g.dh == 1 && g.dw == 1 &&
         g.kw * g.cin <= ConvFewOut::kMaxRow && g.kh * g.kw > 1 && ConvGemmF32::supported() && conv_gemm_mode() != "0";
}

std::unique_ptr<Kernel> make_conv_few_out(const KernelContext& c) {
  const auto params = const_f32_params(c);
  if (!params || has_residual(c.node)) return nullptr;
  const ConvGeom g = conv_geom(c);
  if (!few_out_fits(g)) return nullptr;
  return std::make_unique<ConvFewOut>(g, params->w->data_as<float>(), params->b ? params->b->data_as<float>() : nullptr,
                                      FusedActivation::from(c.node), c.pool);
}

// Own direct convolution, NHWC. Weights are re-laid out per run into a
// buffer sized at setup (so non-constant weights work too).
class ConvRef : public Kernel {
 public:
  ConvRef(const ConvGeom& g, FusedActivation act, pthreadpool_t pool) : g_(g), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    wbuf_.resize(size_t(in[1].numel()));
  }
  void run() override {
    const int64_t O = g_.cout, I = g_.cin / g_.group, KH = g_.kh, KW = g_.kw;
    const float* w = in_[1].as<const float>();
    float* wp = wbuf_.data();  // [O][KH][KW][I]
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) wp[((o * KH + kh) * KW + kw) * I + i] = w[((o * I + i) * KH + kh) * KW + kw];
    const float* x = in_[0].as<const float>();
    const float* bias = in_.size() > 2 && in_[2].data ? in_[2].as<const float>() : nullptr;
    const float* res = in_.size() > 3 && in_[3].data ? in_[3].as<const float>() : nullptr;
    float* y = out_[0].as<float>();
    const ConvGeom g = g_;
    const int64_t Og = O / g.group;
    auto row = [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        float* out = y + ((n * g.oh + oy) * g.ow + ox) * O;
        for (int64_t o = 0; o < O; ++o) out[o] = bias ? bias[o] : 0.f;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t iy = oy * g.sh - g.pt + kh * g.dh;
          if (iy < 0 || iy >= g.ih) continue;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t ix = ox * g.sw - g.pl + kw * g.dw;
            if (ix < 0 || ix >= g.iw) continue;
            const float* xp = x + ((n * g.ih + iy) * g.iw + ix) * g.cin;
            for (int64_t o = 0; o < O; ++o) {
              const float* xg = xp + (o / Og) * I;
              const float* wk = wp + ((o * KH + kh) * KW + kw) * I;
              float s = 0.f;
              for (int64_t i = 0; i < I; ++i) s += xg[i] * wk[i];
              out[o] += s;
            }
          }
        }
        if (res)
          for (int64_t o = 0; o < O; ++o) out[o] += res[((n * g.oh + oy) * g.ow + ox) * O + o];
        act_.apply(out, size_t(O));
      }
    };
    parallel_for(pool_, size_t(g.n * g.oh), row);
  }

 private:
  ConvGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<float> wbuf_;
};

std::unique_ptr<Kernel> make_conv_ref(const KernelContext& c) {
  if (!is_nhwc(c.node)) return make_nchw_adapter(c, {make_conv_xnn, make_conv_ref});
  if (c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32) return nullptr;
  return std::make_unique<ConvRef>(conv_geom(c), FusedActivation::from(c.node), c.pool);
}

}  // namespace

bool conv_runs_on_gemm(const Graph& gr, const Node& n) {
  if (n.op != "Conv" || !is_nhwc(n) || n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  const Value &x = gr.in(n, 0), &w = gr.in(n, 1), &y = gr.values.at(size_t(n.outputs[0]));
  if (x.dtype != DType::f32 || y.dtype != DType::f32 || !x.quant.empty() || !y.quant.empty()) return false;
  if (!w.is_const() || w.dtype != DType::f32 || x.shape.size() != w.shape.size()) return false;
  if (Graph::has_input(n, 2) && (!gr.in(n, 2).is_const() || gr.in(n, 2).dtype != DType::f32)) return false;
  return gemm_fits(conv_geom(n, x.shape, w.shape, y.shape), /*residual=*/true);
}

EF_REGISTER_KERNEL("Conv", 120, make_conv_few_out, "own-fewout");
EF_REGISTER_KERNEL("Conv", 115, make_conv_dw, "own-dw");
EF_REGISTER_KERNEL("Conv", 110, make_conv_gemm, "gemm-avx512");
EF_REGISTER_KERNEL("Conv", 100, make_conv_xnn, "xnnpack");
EF_REGISTER_KERNEL("Conv", 0, make_conv_ref, "ref");
}  // namespace ef
