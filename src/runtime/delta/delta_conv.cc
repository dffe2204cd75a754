// Sparse convolution for delta execution: recompute only the output pixels
// whose receptive field holds a published input change. Groups 1: gather
// those pixels' patches (im2col rows) and multiply them with XNNPACK's
// fully-connected GEMM (weights packed once, bias and clamp fused), then
// scatter the rows into the output (a 1x1 convolution multiplies long runs of
// consecutive pixels in place). Depthwise: the engine's own AVX-512 kernel
// (conv_dw_f32.h) on each run of pixels where it fits, else a direct loop
// over runs of pixels, vectorised over channels. Above its measured break-even (or
// --dense-above) a convolution runs the session's dense kernel instead.
// Recomputing y = conv(x_int) on the reached pixels is conv(x_prev) +
// conv(x_int - x_prev) without keeping the pre-activation output: the stored
// output is always the convolution of the integrated input, so nothing
// accumulates rounding error over frames.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "runtime/delta/delta_op.h"
#include "runtime/kernels/conv_dw_f32.h"
#include "runtime/kernels/conv_gemm_f32.h"  // ConvGemmGeom
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

// Depthwise output pixels [p0, p0 + n) (consecutive, NHWC) from bias and
// weights [KH][KW][Cout]; output channel o reads input channel o / m; for the
// geometries ConvDwF32 does not take (kernel sizes, dilations, multipliers). Built
// for AVX-512 and the baseline (picked at load time); vectorised over channels.
__attribute__((target_clones("avx512f", "default"))) void depthwise_run(const ConvGemmGeom& g, const float* x,
                                                                         const float* wdw, const float* bias, float* out,
                                                                         int64_t p0, int64_t n) {
  const int64_t m = g.cout / g.cin, C = g.cout;
  for (int64_t p = p0; p < p0 + n; ++p) {
    const int64_t oy = p / g.ow, ox = p % g.ow;
    float* y = out + p * C;
    for (int64_t c = 0; c < C; ++c) y[c] = bias[c];
    for (int64_t a = 0; a < g.kh; ++a) {
      const int64_t iy = oy * g.sh - g.pt + a * g.dh;
      if (iy < 0 || iy >= g.ih) continue;
      for (int64_t b = 0; b < g.kw; ++b) {
        const int64_t ix = ox * g.sw - g.pl + b * g.dw;
        if (ix < 0 || ix >= g.iw) continue;
        const float* r = x + (iy * g.iw + ix) * g.cin;
        const float* w = wdw + (a * g.kw + b) * C;
        if (m == 1)
          for (int64_t c = 0; c < C; ++c) y[c] += r[c] * w[c];
        else
          for (int64_t c = 0; c < C; ++c) y[c] += r[c / m] * w[c];
      }
    }
  }
}

class DeltaConv : public DeltaOp {
 public:
  DeltaConv(const DeltaOpCtx& c) : DeltaOp(c), pool_(c.kc.pool), what_("delta " + c.kc.node.name) {
    const Node& node = c.kc.node;
    const Shape& x = c.kc.input(0).shape;
    const Shape& w = c.kc.input(1).shape;
    const Shape& y = c.kc.output(0).shape;
    g_.ih = x[1], g_.iw = x[2], g_.cin = x[3];
    g_.oh = y[1], g_.ow = y[2], g_.cout = y[3];
    g_.kh = w[2], g_.kw = w[3];
    auto st = node.attrs.ints("strides", {1, 1}), dl = node.attrs.ints("dilations", {1, 1});
    auto pd = node.attrs.ints("pads", {0, 0, 0, 0});
    g_.sh = st[0], g_.sw = st[1], g_.dh = dl[0], g_.dw = dl[1], g_.pt = pd[0], g_.pl = pd[1];
    depthwise_ = node.attrs.i("group", 1) != 1;
    act_ = FusedActivation::from(node);
    const float* wsrc = c.kc.const_input(1)->data_as<float>();
    const Tensor* bias = c.kc.const_input(2);
    const int64_t cg = depthwise_ ? 1 : g_.cin;
    k_ = g_.kh * g_.kw * cg;
    dense_macs_ = g_.oh * g_.ow * g_.cout * k_;
    // Weights OIHW -> [Cout][KH][KW][Cin] (im2col order) or [KH][KW][C] (depthwise).
    std::vector<float> wpack(size_t(g_.cout * k_));
    for (int64_t o = 0; o < g_.cout; ++o) {
      double nrm = 0;
      for (int64_t ci = 0; ci < cg; ++ci)
        for (int64_t a = 0; a < g_.kh; ++a)
          for (int64_t b = 0; b < g_.kw; ++b) {
            float v = wsrc[((o * cg + ci) * g_.kh + a) * g_.kw + b];
            nrm += double(v) * v;
            if (depthwise_) wpack[size_t((a * g_.kw + b) * g_.cout + o)] = v;
            else wpack[size_t(o * k_ + (a * g_.kw + b) * g_.cin + ci)] = v;
          }
      wnorm_ = std::max(wnorm_, float(std::sqrt(nrm)));
    }
    bias_.assign(size_t(g_.cout), 0.f);
    if (bias) std::copy(bias->data_as<float>(), bias->data_as<float>() + g_.cout, bias_.begin());
    if (depthwise_) {
      if (g_.cin == g_.cout && ConvDwF32::fits(g_))
        dw_ = std::make_unique<ConvDwF32>(g_, wsrc, bias_.data(), act_);  // keeps its own packed copy
      else
        wdw_ = std::move(wpack);  // the only copy this op keeps
      return;
    }
    // XNNPACK packs its own copy; ours is dropped after creation.
    chunk_ = std::max<int64_t>(16, std::min<int64_t>(g_.oh * g_.ow, (1 << 15) / std::max<int64_t>(k_, 1)));
    cols_.assign(size_t(chunk_ * k_), 0.f);
    rows_.assign(size_t(chunk_ * g_.cout), 0.f);
    gathered_.assign(size_t(chunk_), 0);
    pointwise_ = g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.pt == 0 && g_.pl == 0;
    xnn_operator_t op = nullptr;
    xnn_check(xnn_create_fully_connected_nc_f32(size_t(k_), size_t(g_.cout), size_t(k_), size_t(g_.cout), wpack.data(),
                                                bias_.data(), act_.out_min(), act_.out_max(), 0, &op),
              "create_fully_connected_nc_f32", what_);
    fc_.reset(op);
    packed_bytes_ = wpack.size() * sizeof(float);
  }

  float weight_norm() const override { return wnorm_; }
  size_t state_bytes() const override {
    return (cols_.size() + rows_.size() + wdw_.size() + bias_.size()) * sizeof(float) + gathered_.size() * sizeof(int32_t) +
           packed_bytes_ + (dw_ ? dw_->bytes() : 0);
  }

  int64_t run(bool all) override {
    const Region& rin = in_[0]->changed();
    Region& rout = out_[0]->raw;
    if (all || rin.all()) rout.mark_all();
    else mark_row_runs(rin, rout);
    rout.finalize();
    const int64_t n = int64_t(rout.size()), pixels = g_.oh * g_.ow;
    // Dense above the measured break-even (once both paths were timed here) or --dense-above.
    last_dense_ = all || double(n) > opts_.dense_above * double(pixels) ||
                  (opts_.measured_breakeven && double(n) > breakeven() * double(pixels));
    if (n == 0) return 0;
    const auto t0 = std::chrono::steady_clock::now();
    if (last_dense_) run_plain(false);
    else if (depthwise_) depthwise(rout.list());
    else gemm(rout.list());
    if (!all) {  // forced full frames (the first one is cold) are not timed
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      // A floor rising 2 % a frame: a run stretched by preemption on a busy
      // machine does not count, a lasting slow-down does after a while.
      auto floor = [](double& est, double x) { est = est > 0 ? std::min(est * 1.02, x) : x; };
      if (last_dense_) floor(dense_ms_, ms);
      else if (n * 4 >= pixels) floor(pixel_ms_, ms / double(n));  // small regions: fixed costs dominate
    }
    return last_dense_ ? dense_macs_ : n * k_ * g_.cout;
  }

  // The changed fraction above which the dense kernel was measured faster (> 1: never; unknown: 2).
  double breakeven() const override {
    return dense_ms_ > 0 && pixel_ms_ > 0 ? dense_ms_ / (pixel_ms_ * double(g_.oh * g_.ow)) : 2.0;
  }

 private:
  // Output pixels whose receptive field holds a changed input pixel:
  // input row iy = oy*sh - pt + ky*dh  =>  oy in [ceil((iy+pt-(kh-1)dh)/sh), floor((iy+pt)/sh)].
  void mark_row_runs(const Region& rin, Region& rout) {
    auto ceil_div = [](int64_t a, int64_t s) { return a >= 0 ? (a + s - 1) / s : -((-a) / s); };
    auto floor_div = [](int64_t a, int64_t s) { return a >= 0 ? a / s : -((-a + s - 1) / s); };
    const auto& l = rin.list();
    for (size_t i = 0; i < l.size();) {
      // a run of consecutive pixels in one row -> one rectangle
      const int64_t p = l[i], y = p / g_.iw, x0 = p % g_.iw;
      size_t j = i + 1;
      while (j < l.size() && l[j] == l[j - 1] + 1 && l[j] / g_.iw == y) ++j;
      const int64_t x1 = x0 + int64_t(j - i) - 1;
      rout.mark_rect(ceil_div(y + g_.pt - (g_.kh - 1) * g_.dh, g_.sh), floor_div(y + g_.pt, g_.sh),
                     ceil_div(x0 + g_.pl - (g_.kw - 1) * g_.dw, g_.sw), floor_div(x1 + g_.pl, g_.sw));
      i = j;
    }
  }

  // XNNPACK's fully-connected GEMM on `rows` rows of k_ floats at x into rows of cout floats at y.
  void fc(const float* x, float* y, int64_t rows) {
    xnn_check(xnn_setup_fully_connected_nc_f32(fc_.get(), size_t(rows), x, y, pool_), "setup_fully_connected_nc_f32",
              what_);
    xnn_check(xnn_run_operator(fc_.get(), pool_), "run_operator", what_);
    if (act_.needs_separate_pass()) act_.apply(y, size_t(rows * g_.cout));
  }

  // Groups 1. A 1x1 convolution multiplies long runs of consecutive pixels
  // where they are (rows of the NHWC input and output); other pixels are
  // gathered (im2col rows) into a chunk, multiplied, and scattered.
  void gemm(const std::vector<int32_t>& px) {
    const float* x = in_[0]->pub;
    float* y = out_[0]->buf;
    int64_t rows = 0;
    auto flush = [&] {
      if (!rows) return;
      fc(cols_.data(), rows_.data(), rows);
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(y + int64_t(gathered_[size_t(r)]) * g_.cout, rows_.data() + r * g_.cout,
                    size_t(g_.cout) * sizeof(float));
      rows = 0;
    };
    auto gather = [&](int64_t p) {
      float* col = cols_.data() + rows * k_;
      gathered_[size_t(rows)] = int32_t(p);
      if (pointwise_) std::memcpy(col, x + p * g_.cin, size_t(g_.cin) * sizeof(float));
      else im2col(x, p / g_.ow, p % g_.ow, col);
      if (++rows == chunk_) flush();
    };
    if (pointwise_)
      for_each_run(px, [&](int64_t p, int64_t n) {
        if (n >= kDirectRun) fc(x + p * g_.cin, y + p * g_.cout, n);
        else
          for (int64_t q = p; q < p + n; ++q) gather(q);
      });
    else
      for (int32_t p : px) gather(p);
    flush();
  }

  void im2col(const float* x, int64_t oy, int64_t ox, float* col) const {
    for (int64_t a = 0; a < g_.kh; ++a) {
      const int64_t iy = oy * g_.sh - g_.pt + a * g_.dh;
      for (int64_t b = 0; b < g_.kw; ++b) {
        const int64_t ix = ox * g_.sw - g_.pl + b * g_.dw;
        float* dst = col + (a * g_.kw + b) * g_.cin;
        if (iy < 0 || iy >= g_.ih || ix < 0 || ix >= g_.iw) std::memset(dst, 0, size_t(g_.cin) * sizeof(float));
        else std::memcpy(dst, x + (iy * g_.iw + ix) * g_.cin, size_t(g_.cin) * sizeof(float));
      }
    }
  }

  void depthwise(const std::vector<int32_t>& px) {
    float* y = out_[0]->buf;
    if (dw_) {
      dw_->setup(in_[0]->pub, y);
      for_each_run(px, [&](int64_t p, int64_t n) { dw_->run_pixels(p, n); });
      return;
    }
    for_each_run(px, [&](int64_t p, int64_t n) {
      depthwise_run(g_, in_[0]->pub, wdw_.data(), bias_.data(), y, p, n);
      act_.apply(y + p * g_.cout, size_t(n * g_.cout));
    });
  }

  pthreadpool_t pool_;
  std::string what_;  // "delta <node>" for errors, built once (not per chunk of every frame)
  XnnOp fc_;
  std::unique_ptr<ConvDwF32> dw_;  // depthwise geometries the engine's AVX-512 kernel takes
  FusedActivation act_;
  ConvGemmGeom g_;  // n = 1
  int64_t k_ = 1, chunk_ = 0;
  bool depthwise_ = false, pointwise_ = false;
  static constexpr int64_t kDirectRun = 32;  // 1x1: runs this long are multiplied in place, not gathered
  std::vector<int32_t> gathered_;  // the output pixel of each gathered row
  double dense_ms_ = 0, pixel_ms_ = 0;  // measured: the dense kernel per frame, the sparse path per output pixel
  float wnorm_ = 0;
  int64_t dense_macs_ = 0;
  size_t packed_bytes_ = 0;
  std::vector<float> wdw_, bias_, cols_, rows_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_conv(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  if (n.op != "Conv" || n.attrs.s("layout") != "NHWC" || !c.in[0] || !c.out[0]) return nullptr;
  if (k.input(0).dtype != DType::f32 || k.input(0).shape.size() != 4 || k.input(0).shape[0] != 1) return nullptr;
  if (k.input(0).shape[1] * k.input(0).shape[2] <= 1) return nullptr;  // 1x1 maps: a dense op is as good
  if (!k.const_input(1) || k.const_input(1)->dtype() != DType::f32) return nullptr;
  if (Graph::has_input(n, 2) && !k.const_input(2)) return nullptr;
  const int64_t group = n.attrs.i("group", 1), cin = k.input(0).shape[3], cout = k.output(0).shape[3];
  if (group != 1 && !(group == cin && cout % cin == 0)) return nullptr;
  if (group == 1 && !xnn_available()) return nullptr;
  return std::make_unique<DeltaConv>(c);
}

}  // namespace ef
