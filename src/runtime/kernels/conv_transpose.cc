// ConvTranspose (NHWC activations, IOHW weights in the IR; 1-D as H=1).
// XNNPACK deconvolution2d_nhwc_f32 with weights repacked once to
// [groups][group_out][KH][KW][group_in]; an own gather kernel otherwise.
// Shape inference has already resolved output_shape/auto_pad into explicit
// pads and output_padding.
#include <algorithm>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/conv_transpose.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/nchw_adapter.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {

DeconvGeom deconv_geom(const Node& node, const Shape& x, const Shape& w, const Shape& y) {
  DeconvGeom g;
  auto st = node.attrs.ints("strides", {});
  auto dl = node.attrs.ints("dilations", {});
  auto pd = node.attrs.ints("pads", {});
  g.n = x[0];
  g.cin = x.back();
  g.cout = y.back();
  g.group = node.attrs.i("group", 1);
  if (x.size() == 3) {
    g.iw = x[1], g.ow = y[1], g.kw = w[2];
    if (!st.empty()) g.sw = st[0];
    if (!dl.empty()) g.dw = dl[0];
    if (pd.size() == 2) g.pl = pd[0], g.pr = pd[1];
  } else {
    g.ih = x[1], g.iw = x[2], g.oh = y[1], g.ow = y[2], g.kh = w[2], g.kw = w[3];
    if (st.size() == 2) g.sh = st[0], g.sw = st[1];
    if (dl.size() == 2) g.dh = dl[0], g.dw = dl[1];
    if (pd.size() == 4) g.pt = pd[0], g.pl = pd[1], g.pb = pd[2], g.pr = pd[3];
  }
  // Whatever the output is beyond the padded full size is the adjustment.
  g.adj_h = g.oh - (g.sh * (g.ih - 1) + (g.kh - 1) * g.dh + 1 - g.pt - g.pb);
  g.adj_w = g.ow - (g.sw * (g.iw - 1) + (g.kw - 1) * g.dw + 1 - g.pl - g.pr);
  return g;
}

bool deconv_is_blockwise(const DeconvGeom& g) {
  return g.group == 1 && g.kh == g.sh && g.kw == g.sw && g.dh == 1 && g.dw == 1 && g.adj_h == 0 && g.adj_w == 0 &&
         g.pt >= 0 && g.pl >= 0 && g.pb >= 0 && g.pr >= 0;
}

namespace {

bool is_nhwc(const Node& n) { return n.attrs.s("layout", "") == "NHWC"; }

DeconvGeom deconv_geom(const KernelContext& c) {
  return ef::deconv_geom(c.node, c.input(0).shape, c.input(1).shape, c.output(0).shape);
}

class DeconvXnn : public Kernel {
 public:
  DeconvXnn(const DeconvGeom& g, XnnOp op, FusedActivation act, pthreadpool_t pool)
      : g_(g), op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    xnn_check(xnn_setup_deconvolution2d_nhwc_f32(op_.get(), g_.n, g_.ih, g_.iw, uint32_t(g_.adj_h),
                                                 uint32_t(g_.adj_w), in[0].as<float>(), out[0].as<float>(), pool_),
              "setup_deconvolution2d_nhwc_f32", "ConvTranspose");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "ConvTranspose");
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  DeconvGeom g_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_deconv_xnn(const KernelContext& c) {
  if (!is_nhwc(c.node) || c.input(0).dtype != DType::f32 || c.output(0).dtype != DType::f32) return nullptr;
  const Tensor* w = c.const_input(1);
  if (!w || w->dtype() != DType::f32) return nullptr;
  const Tensor* b = c.const_input(2);
  if (Graph::has_input(c.node, 2) && (!b || b->dtype() != DType::f32)) return nullptr;
  if (!xnn_available()) return nullptr;
  DeconvGeom g = deconv_geom(c);
  if (g.adj_h < 0 || g.adj_w < 0 || g.adj_h >= g.sh || g.adj_w >= g.sw) return nullptr;
  const int64_t G = g.group, Cg = g.cin / G, Mg = g.cout / G, KH = g.kh, KW = g.kw;
  std::vector<float> packed(size_t(G * Mg * KH * KW * Cg));
  const float* src = w->data_as<float>();  // [Cin][Mg][KH][KW]
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t o = 0; o < Mg; ++o)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw)
          for (int64_t i = 0; i < Cg; ++i)
            packed[size_t((((gi * Mg + o) * KH + kh) * KW + kw) * Cg + i)] =
                src[(((gi * Cg + i) * Mg + o) * KH + kh) * KW + kw];
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  xnn_status st = xnn_create_deconvolution2d_nhwc_f32(
      uint32_t(g.pt), uint32_t(g.pr), uint32_t(g.pb), uint32_t(g.pl), uint32_t(KH), uint32_t(KW), uint32_t(g.sh),
      uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), uint32_t(G), size_t(Cg), size_t(Mg), size_t(g.cin),
      size_t(g.cout), packed.data(), b ? b->data_as<float>() : nullptr, act.out_min(), act.out_max(), 0, &op);
  if (st != xnn_status_success) return nullptr;
  return std::make_unique<DeconvXnn>(g, XnnOp(op), act, c.pool);
}

// Kernel size = stride (no dilation, one group, no output adjustment): every
// output pixel gets exactly one input pixel's contribution, so the layer is a
// 1x1 convolution to KH*KW*Cout channels (XNNPACK's GEMM, bias and clamp
// fused) followed by a depth-to-space scatter that drops the padded border.
// XNNPACK's deconvolution spends a whole register tile on each output channel
// and is ~20x slower on the selfie models' last layer (2x2/2, 16 -> 1).
class DeconvAsConv1x1 : public Kernel {
 public:
  DeconvAsConv1x1(const DeconvGeom& g, XnnOp op, FusedActivation act, pthreadpool_t pool)
      : g_(g), op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    buf_.assign(size_t(g_.n * g_.ih * g_.iw * g_.kh * g_.kw * g_.cout), 0.f);
    xnn_check(xnn_setup_convolution2d_nhwc_f32(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<float>(), buf_.data(), pool_),
              "setup_convolution2d_nhwc_f32", "ConvTranspose");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "ConvTranspose");
    const DeconvGeom g = g_;
    const int64_t O = g.cout, row = g.kw * O;  // one (input pixel, ky): KW*O contiguous values
    float* y = out_[0].as<float>();
    parallel_for(pool_, size_t(g.n * g.oh), [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      const int64_t iy = (oy + g.pt) / g.sh, ky = (oy + g.pt) % g.sh;
      float* dst = y + (n * g.oh + oy) * g.ow * O;
      const float* src = buf_.data() + ((n * g.ih + iy) * g.iw * g.kh + ky) * row;
      // input column ix fills output columns [ix*KW - pl, ix*KW - pl + KW) from
      // src[ix * KH * KW*O]: KW*O contiguous values, clipped at both borders
      for (int64_t ix = 0; ix < g.iw; ++ix) {
        const int64_t x0 = ix * g.kw - g.pl, lo = std::max<int64_t>(0, -x0), hi = std::min(g.kw, g.ow - x0);
        const float* s = src + ix * g.kh * row;
        for (int64_t k = lo * O; k < hi * O; ++k) dst[x0 * O + k] = s[k];
      }
      if (act_.needs_separate_pass()) act_.apply(dst, size_t(g.ow * O));
    });
  }
  const char* impl() const override { return "xnn-1x1+d2s"; }

 private:
  DeconvGeom g_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<float> buf_;  // [N][IH][IW][KH][KW][O]
};

std::unique_ptr<Kernel> make_deconv_1x1(const KernelContext& c) {
  if (!is_nhwc(c.node) || c.input(0).dtype != DType::f32 || c.output(0).dtype != DType::f32) return nullptr;
  const Tensor* w = c.const_input(1);
  if (!w || w->dtype() != DType::f32 || w->rank() != 4) return nullptr;
  const Tensor* b = c.const_input(2);
  if (Graph::has_input(c.node, 2) && (!b || b->dtype() != DType::f32)) return nullptr;
  const DeconvGeom g = deconv_geom(c);
  if (!deconv_is_blockwise(g) || !xnn_available()) return nullptr;
  const int64_t KH = g.kh, KW = g.kw, O = g.cout, I = g.cin, M = KH * KW * O;
  std::vector<float> packed(size_t(M * I)), bias(size_t(M), 0.f);
  const float* src = w->data_as<float>();  // [I][O][KH][KW]
  for (int64_t kh = 0; kh < KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw)
      for (int64_t o = 0; o < O; ++o) {
        const int64_t m = (kh * KW + kw) * O + o;
        for (int64_t i = 0; i < I; ++i) packed[size_t(m * I + i)] = src[((i * O + o) * KH + kh) * KW + kw];
        if (b) bias[size_t(m)] = b->data_as<float>()[o];
      }
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  xnn_status st = xnn_create_convolution2d_nhwc_f32(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, size_t(I), size_t(M), size_t(I),
                                                    size_t(M), packed.data(), bias.data(), act.out_min(),
                                                    act.out_max(), 0, &op);
  if (st != xnn_status_success) return nullptr;
  return std::make_unique<DeconvAsConv1x1>(g, XnnOp(op), act, c.pool);
}

// Own kernel: each output pixel gathers the input pixels that reach it.
class DeconvRef : public Kernel {
 public:
  DeconvRef(const DeconvGeom& g, FusedActivation act, pthreadpool_t pool) : g_(g), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    wbuf_.resize(size_t(in[1].numel()));
  }
  void run() override {
    const DeconvGeom g = g_;
    const int64_t G = g.group, Cg = g.cin / G, Mg = g.cout / G, KH = g.kh, KW = g.kw, O = g.cout;
    // [Cin][Mg][KH][KW] -> [KH][KW][O][Cg] so the inner loop is contiguous.
    const float* w = in_[1].as<const float>();
    float* wp = wbuf_.data();
    for (int64_t gi = 0; gi < G; ++gi)
      for (int64_t i = 0; i < Cg; ++i)
        for (int64_t o = 0; o < Mg; ++o)
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
              wp[((kh * KW + kw) * O + gi * Mg + o) * Cg + i] = w[(((gi * Cg + i) * Mg + o) * KH + kh) * KW + kw];
    const float* x = in_[0].as<const float>();
    const float* bias = in_.size() > 2 && in_[2].data ? in_[2].as<const float>() : nullptr;
    float* y = out_[0].as<float>();
    auto row = [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        float* out = y + ((n * g.oh + oy) * g.ow + ox) * O;
        for (int64_t o = 0; o < O; ++o) out[o] = bias ? bias[o] : 0.f;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ty = oy + g.pt - kh * g.dh;
          if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.ih) continue;
          const int64_t iy = ty / g.sh;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t tx = ox + g.pl - kw * g.dw;
            if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.iw) continue;
            const int64_t ix = tx / g.sw;
            const float* xp = x + ((n * g.ih + iy) * g.iw + ix) * g.cin;
            const float* wk = wp + (kh * KW + kw) * O * Cg;
            for (int64_t o = 0; o < O; ++o) {
              const float* xg = xp + (o / Mg) * Cg;
              const float* wo = wk + o * Cg;
              float s = 0.f;
              for (int64_t i = 0; i < Cg; ++i) s += xg[i] * wo[i];
              out[o] += s;
            }
          }
        }
        act_.apply(out, size_t(O));
      }
    };
    parallel_for(pool_, size_t(g.n * g.oh), row);
  }

 private:
  DeconvGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<float> wbuf_;
};

std::unique_ptr<Kernel> make_deconv_ref(const KernelContext& c) {
  if (!is_nhwc(c.node)) return make_nchw_adapter(c, {make_deconv_xnn, make_deconv_ref});
  if (c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32) return nullptr;
  return std::make_unique<DeconvRef>(deconv_geom(c), FusedActivation::from(c.node), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("ConvTranspose", 105, make_deconv_1x1, "xnn-1x1+d2s");
EF_REGISTER_KERNEL("ConvTranspose", 100, make_deconv_xnn, "xnnpack");
EF_REGISTER_KERNEL("ConvTranspose", 0, make_deconv_ref, "ref");
}  // namespace ef
