// QLinearConv (NHWC activations, OIHW int8 weights in the IR), weights packed
// once at creation, in order of preference:
//   * ungrouped convolutions on CPUs with AVX512-VNNI: own int8 GEMM
//     (qgemm_vnni.h), 1x1 directly on the activations, others as an
//     implicit GEMM on a padded copy of the input (the Debian XNNPACK build
//     predates its VNNI kernels);
//   * depthwise ones on CPUs with AVX512-VNNI: own kernel (qdwconv_vnni.cc);
//   * XNNPACK convolution2d_nhwc_qc8 (per-channel weights) / _qs8
//     (per-tensor): grouped ones, and CPUs without VNNI;
//   * an own integer reference kernel for everything else (uint8,
//     asymmetric weights, configurations XNNPACK refuses).
// All requantize as round_half_even(acc * (x_scale * w_scale[c] / y_scale)) + y_zp,
// or, without y_scale and y_zp (a float output; VNNI GEMM and reference),
// write float(acc) * x_scale * w_scale[c].
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "runtime/kernels/parallel.h"
#include "runtime/kernels/qconv.h"
#include "runtime/kernels/qgemm_vnni.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {

bool read_qconv_spec(const KernelContext& c, QConvSpec& s) {
  const Node& n = c.node;
  if (n.attrs.s("layout", "") != "NHWC" || c.input(0).shape.size() != 4) return false;
  s.weights = c.const_input(3);
  if (!s.weights) throw Error(c.graph.describe(n) + ": weights '" + c.input(3).name + "' must be a constant");
  s.x_float = c.input(0).dtype == DType::f32;
  s.xt = s.x_float ? c.input(2).dtype : c.input(0).dtype, s.wt = c.input(3).dtype, s.yt = c.output(0).dtype;
  s.x = qscalar(c, 1, s.xt, "input");
  const bool float_out = s.yt == DType::f32;  // no y_scale / y_zp (qlinear.cc): y = float(acc) * mult
  if (!float_out) s.y = qscalar(c, 6, s.yt, "output");
  s.w = const_qparams(c.graph, n, 4, 5, 0, c.input(3).shape, s.wt, c.graph.describe(n) + ": weights");
  const Shape &x = c.input(0).shape, &w = c.input(3).shape, &y = c.output(0).shape;
  QConvGeom& g = s.g;
  g.n = x[0], g.ih = x[1], g.iw = x[2], g.cin = x[3];
  g.oh = y[1], g.ow = y[2], g.cout = y[3];
  g.kh = w[2], g.kw = w[3];
  g.group = n.attrs.i("group", 1);
  auto st = n.attrs.ints("strides", {1, 1}), dl = n.attrs.ints("dilations", {1, 1}), pd = n.attrs.ints("pads", {0, 0, 0, 0});
  g.sh = st[0], g.sw = st[1], g.dh = dl[0], g.dw = dl[1];
  g.pt = pd[0], g.pl = pd[1], g.pb = pd[2], g.pr = pd[3];
  s.bias.assign(size_t(g.cout), 0);
  if (const Tensor* b = c.const_input(8)) {
    std::copy(b->data_as<int32_t>(), b->data_as<int32_t>() + g.cout, s.bias.begin());
  } else if (Graph::has_input(n, 8)) {
    throw Error(c.graph.describe(n) + ": bias '" + c.input(8).name + "' must be a constant");
  }
  for (int64_t o = 0; o < g.cout; ++o) s.mult.push_back(s.x.scale * s.w.scale[s.w.scale.size() > 1 ? o : 0] / s.y.scale);
  // The activation clamps the output, or with a residual the sum (unless
  // residual_after_activation: then the conv's output, and the sum is not clamped).
  QScalar act_y = s.y;
  int32_t *lo = &s.lo, *hi = &s.hi;
  if (Graph::has_input(n, 9)) {
    s.residual = true;
    s.residual_pool = n.attrs.i("residual_pool", 1) == 2;
    s.r = qscalar(c, 10, c.input(9).dtype, "residual");
    s.sum = qscalar(c, 12, s.yt, "sum");
    if (!n.attrs.i("residual_after_activation", 0)) act_y = s.sum, lo = &s.sum_lo, hi = &s.sum_hi;
    if (c.input(9).dtype != s.yt) throw Error(c.graph.describe(n) + ": residual and output types differ");
  }
  if (!float_out && !act_range(FusedActivation::from(n), act_y, s.yt, *lo, *hi))
    throw Error(c.graph.describe(n) + ": fused activation '" + n.attrs.s("activation") +
                "' cannot be applied to a quantized output");
  return true;
}

namespace {

class QConvXnn : public Kernel {
 public:
  QConvXnn(const QConvGeom& g, XnnOp op, pthreadpool_t pool) : g_(g), op_(std::move(op)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    xnn_status st = per_channel_ ? xnn_setup_convolution2d_nhwc_qc8(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<int8_t>(),
                                                                    out[0].as<int8_t>(), pool_)
                                 : xnn_setup_convolution2d_nhwc_qs8(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<int8_t>(),
                                                                    out[0].as<int8_t>(), pool_);
    xnn_check(st, "setup_convolution2d_nhwc_qc8/qs8", "QLinearConv");
  }
  void run() override { xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "QLinearConv"); }
  const char* impl() const override { return per_channel_ ? "xnnpack-qc8" : "xnnpack-qs8"; }
  bool per_channel_ = false;

 private:
  QConvGeom g_;
  XnnOp op_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qconv_xnn(const KernelContext& c) {
  QConvSpec s;
  if (!read_qconv_spec(c, s) || !xnn_available() || s.residual || s.x_float) return nullptr;
  if (s.xt != DType::i8 || s.wt != DType::i8 || s.yt != DType::i8) return nullptr;
  for (int32_t z : s.w.zero_point)
    if (z != 0) return nullptr;  // XNNPACK takes symmetric weights only
  const QConvGeom& g = s.g;
  const int64_t O = g.cout, I = g.cin / g.group, KH = g.kh, KW = g.kw;
  std::vector<int8_t> packed(size_t(O * KH * KW * I));  // OIHW -> OHWI
  const int8_t* src = s.weights->data_as<int8_t>();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw)
          packed[size_t(((o * KH + kh) * KW + kw) * I + i)] = src[((o * I + i) * KH + kh) * KW + kw];
  const bool per_channel = s.w.scale.size() > 1;
  xnn_operator_t op = nullptr;
  xnn_status st;
  if (per_channel)
    st = xnn_create_convolution2d_nhwc_qc8(
        uint32_t(g.pt), uint32_t(g.pr), uint32_t(g.pb), uint32_t(g.pl), uint32_t(KH), uint32_t(KW), uint32_t(g.sh),
        uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), uint32_t(g.group), size_t(I), size_t(O / g.group),
        size_t(g.cin), size_t(g.cout), int8_t(s.x.zp), s.x.scale, s.w.scale.data(), packed.data(), s.bias.data(),
        int8_t(s.y.zp), s.y.scale, int8_t(s.lo), int8_t(s.hi), 0, &op);
  else
    st = xnn_create_convolution2d_nhwc_qs8(
        uint32_t(g.pt), uint32_t(g.pr), uint32_t(g.pb), uint32_t(g.pl), uint32_t(KH), uint32_t(KW), uint32_t(g.sh),
        uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), uint32_t(g.group), size_t(I), size_t(O / g.group),
        size_t(g.cin), size_t(g.cout), int8_t(s.x.zp), s.x.scale, s.w.scale[0], packed.data(), s.bias.data(),
        int8_t(s.y.zp), s.y.scale, int8_t(s.lo), int8_t(s.hi), 0, &op);
  if (st != xnn_status_success) return nullptr;  // e.g. a requantization scale out of XNNPACK's range
  auto k = std::make_unique<QConvXnn>(g, XnnOp(op), c.pool);
  k->per_channel_ = per_channel;
  return k;
}

// K of an implicit-GEMM convolution: kh * kw / taps runs of taps * cin
// contiguous input bytes (a kernel row; one tap with horizontal dilation),
// each rounded up to lenp bytes with zero weights.
struct KRuns {
  explicit KRuns(const QConvGeom& g) : taps(g.dw == 1 ? g.kw : 1), lenp((taps * g.cin + 3) / 4 * 4) {}
  int64_t K(const QConvGeom& g) const { return g.kh * g.kw / taps * lenp; }
  int64_t taps, lenp;
};

// Own VNNI GEMM: y[pixels, cout] = x[pixels, K] * w[cout, K]. A 1x1 conv
// with stride 1, no padding and cin % 4 == 0 runs it on the activations as
// they are; every other conv as an implicit GEMM: the input is copied into a
// buffer with its padding (the zero point) around it, flipped to x + 128 on
// the way, and each output row is one GEMM whose pixels start sw * cin bytes
// apart and whose K is the KRuns read in place (a 3-channel 5x5 stem: 16
// bytes a kernel row, K = 80 for 75; no im2col buffer). A residual read
// through a folded MaxPool (residual_pool) takes the per-row path too, each
// row's windows maxed right before its GEMM.
class QConvVnni : public Kernel {
 public:
  QConvVnni(const QConvSpec& s, const std::vector<int8_t>& w, const KRuns& k)
      : g_(s.g), x_(s.x), x_float_(s.x_float), residual_(s.residual), pooled_(s.residual_pool),
        res_{nullptr, 0, 0, s.r.zp, s.r.scale / s.sum.scale, s.y.scale / s.sum.scale, s.sum.zp, s.sum_lo, s.sum_hi},
        gemm_(w.data(), s.g.cout, k.K(s.g), s.bias.data(), s.mult.data(), s.x.zp, s.y.zp, s.lo, s.hi) {
    direct_ = g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.pt == 0 && g_.pl == 0 && g_.pb == 0 &&
              g_.pr == 0 && g_.cin % 4 == 0 && !x_float_;
    if (!direct_) {
      gemm_.x_flipped = true;
      gemm_.run_groups = k.lenp / 4;
      gemm_.runs.clear();
      for (int64_t kh = 0; kh < g_.kh; ++kh)
        for (int64_t j = 0; j < g_.kw / k.taps; ++j) gemm_.runs.push_back(kh * g_.dh * row_ + j * g_.dw * g_.cin);
    }
    gemm_.use_group_pairs();  // 17-24 outputs: BlazeFace's stem and first 1x1 convs
  }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    // x ^ 0x80 (gemm_.x_flipped); 64: the last run's rounding up
    if (!direct_) padded_.assign(size_t(g_.n * hp_ * row_ + 64), int8_t(x_.zp ^ 0x80));
    if (pooled_) pooled_res_.resize(size_t(g_.n * g_.oh * g_.ow * in[9].shape.back()));
  }
  void run() override {
    const int8_t* x = in_[0].as<int8_t>();
    if (direct_ && !pooled_) {
      const int64_t M = g_.n * g_.oh * g_.ow;
      if (out_[0].dtype == DType::f32) gemm_.run(x, g_.cin, M, out_[0].as<float>(), g_.cout, pool_);
      else gemm_.run(x, g_.cin, M, out_[0].as<int8_t>(), g_.cout, pool_, residual());
      return;
    }
    const QConvGeom g = g_;
    if (!direct_) {  // the input rows into the padded copy, flipped (a float input quantized on the way)
      const int64_t in_row = g.iw * g.cin;
      parallel_rows(pool_, g.n * g.ih, in_row, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          int8_t* dst = padded_.data() + ((r / g.ih) * hp_ + g.pt + r % g.ih) * row_ + g.pl * g.cin;
          if (x_float_) quantize_i8(in_[0].as<float>() + r * in_row, dst, in_row, x_.scale, x_.zp, 0x80);
          else copy_flipped(dst, x + r * in_row, in_row);
        }
      });
    }
    // One GEMM an output row: of the padded input's rows, or (a pooled residual) of x's pixels.
    const QResidual res = residual();
    const int64_t lda = direct_ ? g.cin : g.sw * g.cin;
    parallel_for(pool_, size_t(g.n * g.oh), [&](size_t i) {
      const int64_t n = int64_t(i) / g.oh, oy = int64_t(i) % g.oh, at = int64_t(i) * g.ow;
      const int8_t* a = direct_ ? x + at * g.cin : padded_.data() + (n * hp_ + oy * g.sh) * row_;
      if (out_[0].dtype == DType::f32)
        return gemm_.run(a, lda, g.ow, out_[0].as<float>() + at * g.cout, g.cout, nullptr);
      QResidual r = res;
      if (r.r) r.r += at * r.ldr;
      if (pooled_) {  // this row's 2x2 max of input 9, into pooled_res_ (in cache for the GEMM)
        const Shape& rs = in_[9].shape;
        max_pool_2x2_row(pooled_res_.data() + at * r.ldr, in_[9].as<int8_t>() + (n * rs[1] + 2 * oy) * rs[2] * rs[3],
                         rs[2] * rs[3], g.ow, rs[3]);
      }
      gemm_.run(a, lda, g.ow, out_[0].as<int8_t>() + at * g.cout, g.cout, nullptr, r);
    });
  }
  const char* impl() const override { return direct_ ? "vnni-1x1" : "vnni-implicit"; }
  pthreadpool_t pool_ = nullptr;

 private:
  // The residual operand (pooled: the 2x2 max of input 9 that run() writes row by row).
  QResidual residual() const {
    QResidual res = res_;
    if (!residual_) return res;
    res.ldr = res.nr = in_[9].shape.back();
    res.r = pooled_ ? pooled_res_.data() : in_[9].as<int8_t>();
    return res;
  }
  QConvGeom g_;
  QScalar x_;
  bool x_float_, residual_, pooled_;
  QResidual res_;
  QGemmVnni gemm_;
  bool direct_ = false;
  // The padded input: hp_ rows of row_ bytes an image, covering every tap.
  int64_t hp_ = std::max(g_.pt + g_.ih, (g_.oh - 1) * g_.sh + (g_.kh - 1) * g_.dh + 1);
  int64_t row_ = std::max(g_.pl + g_.iw, (g_.ow - 1) * g_.sw + (g_.kw - 1) * g_.dw + 1) * g_.cin;
  std::vector<int8_t> padded_, pooled_res_;
};

}  // namespace

bool qconv_vnni_takes(const Graph& g, const Node& n) {
  if (!vnni_available() || n.op != "QLinearConv" || n.attrs.i("group", 1) != 1 || n.attrs.s("layout", "") != "NHWC" ||
      n.inputs.size() < 8)
    return false;
  const DType xt = g.in(n, 0).dtype == DType::f32 ? g.in(n, 2).dtype : g.in(n, 0).dtype;  // float x: its zero point's
  const DType yt = g.values[n.outputs[0]].dtype;
  const Value& wz = g.in(n, 5);
  if (xt != DType::i8 || g.in(n, 3).dtype != DType::i8 || (yt != DType::i8 && yt != DType::f32) || !wz.is_const())
    return false;
  const int8_t* z = wz.data.data_as<int8_t>();
  return std::all_of(z, z + wz.data.numel(), [](int8_t v) { return v == 0; });
}

namespace {

std::unique_ptr<Kernel> make_qconv_vnni(const KernelContext& c) {
  QConvSpec s;
  if (!read_qconv_spec(c, s) || !qconv_vnni_takes(c.graph, c.node)) return nullptr;
  const QConvGeom& g = s.g;
  const KRuns runs{g};
  const int64_t I = g.cin, K = runs.K(g);
  std::vector<int8_t> w(size_t(g.cout * K), 0);  // [O][kernel row][tap run][lenp]: bytes (kw, ci), then zeros
  const int8_t* src = s.weights->data_as<int8_t>();
  for (int64_t o = 0; o < g.cout; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t kh = 0; kh < g.kh; ++kh)
        for (int64_t kw = 0; kw < g.kw; ++kw)
          w[size_t(o * K + (kh * g.kw + kw) / runs.taps * runs.lenp + kw % runs.taps * I + i)] =
              src[((o * I + i) * g.kh + kh) * g.kw + kw];
  auto k = std::make_unique<QConvVnni>(s, w, runs);
  k->pool_ = c.pool;
  return k;
}

// Integer reference: int32 accumulation of (x - x_zp) * (w - w_zp[c]) + bias.
template <class X, class W, class Y>
class QConvRef : public Kernel {
 public:
  explicit QConvRef(QConvSpec s, pthreadpool_t pool) : s_(std::move(s)), pool_(pool) {
    const QConvGeom& g = s_.g;
    const int64_t O = g.cout, I = g.cin / g.group;
    w_.resize(size_t(O * g.kh * g.kw * I));  // [O][KH][KW][I], zero point removed
    const W* src = s_.weights->data_as<W>();
    for (int64_t o = 0; o < O; ++o) {
      const int32_t z = s_.w.zero_point[s_.w.scale.size() > 1 ? o : 0];
      for (int64_t i = 0; i < I; ++i)
        for (int64_t kh = 0; kh < g.kh; ++kh)
          for (int64_t kw = 0; kw < g.kw; ++kw)
            w_[size_t(((o * g.kh + kh) * g.kw + kw) * I + i)] = int16_t(src[((o * I + i) * g.kh + kh) * g.kw + kw] - z);
    }
  }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    if (s_.x_float) xq_.resize(size_t(in[0].numel()));
  }
  void run() override {
    const QConvGeom g = s_.g;
    const int64_t O = g.cout, I = g.cin / g.group, Og = O / g.group;
    if (s_.x_float) {  // QuantizeLinear's arithmetic (quantize_value)
      int32_t lo, hi;
      qrange(s_.xt, lo, hi);
      for (size_t i = 0; i < xq_.size(); ++i) xq_[i] = X(quantize_value(in_[0].as<float>()[i], s_.x.scale, s_.x.zp, lo, hi));
    }
    const X* x = s_.x_float ? xq_.data() : in_[0].as<X>();
    Y* y = out_[0].as<Y>();
    const int32_t xz = s_.x.zp;
    const Y* res = s_.residual ? in_[9].as<Y>() : nullptr;
    const int64_t rc = s_.residual ? in_[9].shape.back() : 0;  // fewer than O: the rest read as r_zp
    const float rmult = s_.r.scale / s_.sum.scale, cmult = s_.y.scale / s_.sum.scale;
    parallel_for(pool_, size_t(g.n * g.oh), [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      std::vector<int32_t> acc(static_cast<size_t>(O));
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        std::copy(s_.bias.begin(), s_.bias.end(), acc.begin());
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const int64_t iy = oy * g.sh - g.pt + kh * g.dh;
          if (iy < 0 || iy >= g.ih) continue;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t ix = ox * g.sw - g.pl + kw * g.dw;
            if (ix < 0 || ix >= g.iw) continue;
            const X* xp = x + ((n * g.ih + iy) * g.iw + ix) * g.cin;
            for (int64_t o = 0; o < O; ++o) {
              const X* xg = xp + (o / Og) * I;
              const int16_t* wk = w_.data() + ((o * g.kh + kh) * g.kw + kw) * I;
              int32_t sum = 0;
              for (int64_t i = 0; i < I; ++i) sum += (int32_t(xg[i]) - xz) * int32_t(wk[i]);
              acc[size_t(o)] += sum;
            }
          }
        }
        const int64_t at = ((n * g.oh + oy) * g.ow + ox) * O;
        for (int64_t o = 0; o < O; ++o) {
          if constexpr (std::is_same_v<Y, float>) {
            y[at + o] = float(acc[size_t(o)]) * s_.mult[size_t(o)];
            continue;
          }
          int32_t v = requantize(acc[size_t(o)], s_.mult[size_t(o)], s_.y.zp, s_.lo, s_.hi);
          if (res) {
            const int32_t r = o >= rc             ? s_.r.zp
                              : s_.residual_pool ? pooled(res, n, oy, ox, o)
                                                 : int32_t(res[at / O * rc + o]);
            v = requantize_sum(v - s_.y.zp, cmult, r - s_.r.zp, rmult, s_.sum.zp, s_.sum_lo, s_.sum_hi);
          }
          y[at + o] = Y(v);
        }
      }
    });
  }

 private:
  // The 2x2 stride-2 max of residual channel o under output pixel (oy, ox).
  template <class R>
  int32_t pooled(const R* res, int64_t n, int64_t oy, int64_t ox, int64_t o) const {
    const Shape& rs = in_[9].shape;
    const R* p = res + ((n * rs[1] + 2 * oy) * rs[2] + 2 * ox) * rs[3] + o;
    const int64_t dx = rs[3], dy = rs[2] * rs[3];
    return std::max(std::max<int32_t>(p[0], p[dx]), std::max<int32_t>(p[dy], p[dy + dx]));
  }
  QConvSpec s_;
  pthreadpool_t pool_;
  std::vector<int16_t> w_;
  std::vector<X> xq_;  // a float input quantized (x_float)
};

template <class X, class W>
std::unique_ptr<Kernel> qconv_ref_y(QConvSpec s, pthreadpool_t pool) {
  if (s.yt == DType::i8) return std::make_unique<QConvRef<X, W, int8_t>>(std::move(s), pool);
  if (s.yt == DType::f32) return std::make_unique<QConvRef<X, W, float>>(std::move(s), pool);
  return std::make_unique<QConvRef<X, W, uint8_t>>(std::move(s), pool);
}
template <class X>
std::unique_ptr<Kernel> qconv_ref_w(QConvSpec s, pthreadpool_t pool) {
  if (s.wt == DType::i8) return qconv_ref_y<X, int8_t>(std::move(s), pool);
  return qconv_ref_y<X, uint8_t>(std::move(s), pool);
}

std::unique_ptr<Kernel> make_qconv_ref(const KernelContext& c) {
  QConvSpec s;
  if (!read_qconv_spec(c, s)) return nullptr;
  if (s.xt == DType::i8) return qconv_ref_w<int8_t>(std::move(s), c.pool);
  return qconv_ref_w<uint8_t>(std::move(s), c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("QLinearConv", 200, make_qconv_vnni, "vnni");
EF_REGISTER_KERNEL("QLinearConv", 100, make_qconv_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearConv", 0, make_qconv_ref, "ref");
}  // namespace ef
