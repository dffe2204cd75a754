// Sparse convolution for delta execution: recompute only the output pixels
// whose receptive field holds a published input change. Groups 1: gather
// those pixels' patches (im2col rows) and multiply them with XNNPACK's
// fully-connected GEMM (weights packed once, bias and clamp fused), then
// scatter the rows into the output. Depthwise: a direct loop over the
// pixels, vectorised over channels. Recomputing y = conv(x_int) on the
// reached pixels is conv(x_prev) + conv(x_int - x_prev) without keeping the
// pre-activation output: the stored output is always the convolution of the
// integrated input, so nothing accumulates rounding error over frames.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/delta/delta_op.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

class DeltaConv : public DeltaOp {
 public:
  DeltaConv(const DeltaOpCtx& c) : DeltaOp(c), pool_(c.kc.pool), what_("delta " + c.kc.node.name) {
    const Node& node = c.kc.node;
    const Shape& x = c.kc.input(0).shape;
    const Shape& w = c.kc.input(1).shape;
    const Shape& y = c.kc.output(0).shape;
    ih_ = x[1], iw_ = x[2], cin_ = x[3];
    oh_ = y[1], ow_ = y[2], cout_ = y[3];
    kh_ = w[2], kw_ = w[3];
    auto st = node.attrs.ints("strides", {1, 1}), dl = node.attrs.ints("dilations", {1, 1});
    auto pd = node.attrs.ints("pads", {0, 0, 0, 0});
    sh_ = st[0], sw_ = st[1], dh_ = dl[0], dw_ = dl[1], pt_ = pd[0], pl_ = pd[1];
    depthwise_ = node.attrs.i("group", 1) != 1;
    act_ = FusedActivation::from(node);
    const float* wsrc = c.kc.const_input(1)->data_as<float>();
    const Tensor* bias = c.kc.const_input(2);
    const int64_t cg = depthwise_ ? 1 : cin_;
    k_ = kh_ * kw_ * cg;
    dense_macs_ = oh_ * ow_ * cout_ * k_;
    // Weights OIHW -> [Cout][KH][KW][Cin] (im2col order) or [KH][KW][C] (depthwise).
    std::vector<float> wpack(size_t(cout_ * k_));
    for (int64_t o = 0; o < cout_; ++o) {
      double nrm = 0;
      for (int64_t ci = 0; ci < cg; ++ci)
        for (int64_t a = 0; a < kh_; ++a)
          for (int64_t b = 0; b < kw_; ++b) {
            float v = wsrc[((o * cg + ci) * kh_ + a) * kw_ + b];
            nrm += double(v) * v;
            if (depthwise_) wpack[size_t((a * kw_ + b) * cout_ + o)] = v;
            else wpack[size_t(o * k_ + (a * kw_ + b) * cin_ + ci)] = v;
          }
      wnorm_ = std::max(wnorm_, float(std::sqrt(nrm)));
    }
    bias_.assign(size_t(cout_), 0.f);
    if (bias) std::copy(bias->data_as<float>(), bias->data_as<float>() + cout_, bias_.begin());
    if (depthwise_) {
      wdw_ = std::move(wpack);  // the only copy this op keeps
      return;
    }
    // XNNPACK packs its own copy; ours is dropped after creation.
    chunk_ = std::max<int64_t>(16, std::min<int64_t>(oh_ * ow_, (1 << 15) / std::max<int64_t>(k_, 1)));
    cols_.assign(size_t(chunk_ * k_), 0.f);
    rows_.assign(size_t(chunk_ * cout_), 0.f);
    xnn_operator_t op = nullptr;
    xnn_check(xnn_create_fully_connected_nc_f32(size_t(k_), size_t(cout_), size_t(k_), size_t(cout_), wpack.data(),
                                                bias_.data(), act_.out_min(), act_.out_max(), 0, &op),
              "create_fully_connected_nc_f32", what_);
    fc_.reset(op);
    packed_bytes_ = wpack.size() * sizeof(float);
  }

  float weight_norm() const override { return wnorm_; }
  size_t state_bytes() const override {
    return (cols_.size() + rows_.size() + wdw_.size() + bias_.size()) * sizeof(float) + packed_bytes_;
  }

  int64_t run(bool all) override {
    const Region& rin = in_[0]->changed();
    Region& rout = out_[0]->raw;
    if (all || rin.all()) rout.mark_all();
    else mark_row_runs(rin, rout);
    rout.finalize();
    const int64_t n = int64_t(rout.size());
    last_dense_ = all || double(n) > opts_.dense_above * double(oh_ * ow_);
    if (n == 0) return 0;
    if (last_dense_) {
      run_plain(false);
      return dense_macs_;
    }
    if (depthwise_) depthwise(rout.list());
    else gemm(rout.list());
    return n * k_ * cout_;
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
      const int64_t p = l[i], y = p / iw_, x0 = p % iw_;
      size_t j = i + 1;
      while (j < l.size() && l[j] == l[j - 1] + 1 && l[j] / iw_ == y) ++j;
      const int64_t x1 = x0 + int64_t(j - i) - 1;
      rout.mark_rect(ceil_div(y + pt_ - (kh_ - 1) * dh_, sh_), floor_div(y + pt_, sh_),
                     ceil_div(x0 + pl_ - (kw_ - 1) * dw_, sw_), floor_div(x1 + pl_, sw_));
      i = j;
    }
  }

  void gemm(const std::vector<int32_t>& px) {
    const float* x = in_[0]->pub;
    float* y = out_[0]->buf;
    const int64_t n = int64_t(px.size());
    const bool pointwise = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && pt_ == 0 && pl_ == 0;
    for (int64_t base = 0; base < n; base += chunk_) {
      const int64_t rows = std::min(chunk_, n - base);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t p = px[size_t(base + r)], oy = p / ow_, ox = p % ow_;
        float* col = cols_.data() + r * k_;
        if (pointwise) {
          std::memcpy(col, x + p * cin_, size_t(cin_) * sizeof(float));
          continue;
        }
        for (int64_t a = 0; a < kh_; ++a) {
          const int64_t iy = oy * sh_ - pt_ + a * dh_;
          for (int64_t b = 0; b < kw_; ++b) {
            const int64_t ix = ox * sw_ - pl_ + b * dw_;
            float* dst = col + (a * kw_ + b) * cin_;
            if (iy < 0 || iy >= ih_ || ix < 0 || ix >= iw_) std::memset(dst, 0, size_t(cin_) * sizeof(float));
            else std::memcpy(dst, x + (iy * iw_ + ix) * cin_, size_t(cin_) * sizeof(float));
          }
        }
      }
      xnn_check(xnn_setup_fully_connected_nc_f32(fc_.get(), size_t(rows), cols_.data(), rows_.data(), pool_),
                "setup_fully_connected_nc_f32", what_);
      xnn_check(xnn_run_operator(fc_.get(), pool_), "run_operator", what_);
      if (act_.needs_separate_pass()) act_.apply(rows_.data(), size_t(rows * cout_));
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(y + int64_t(px[size_t(base + r)]) * cout_, rows_.data() + r * cout_, size_t(cout_) * sizeof(float));
    }
  }

  void depthwise(const std::vector<int32_t>& px) {
    const float* x = in_[0]->pub;
    float* out = out_[0]->buf;
    const int64_t m = cout_ / cin_;  // channel multiplier: output o reads input o / m
    for (int32_t p : px) {
      const int64_t oy = p / ow_, ox = p % ow_;
      float* y = out + int64_t(p) * cout_;
      std::memcpy(y, bias_.data(), size_t(cout_) * sizeof(float));
      for (int64_t a = 0; a < kh_; ++a) {
        const int64_t iy = oy * sh_ - pt_ + a * dh_;
        if (iy < 0 || iy >= ih_) continue;
        for (int64_t b = 0; b < kw_; ++b) {
          const int64_t ix = ox * sw_ - pl_ + b * dw_;
          if (ix < 0 || ix >= iw_) continue;
          const float* r = x + (iy * iw_ + ix) * cin_;
          const float* w = wdw_.data() + (a * kw_ + b) * cout_;
          if (m == 1)
            for (int64_t c = 0; c < cout_; ++c) y[c] += r[c] * w[c];
          else
            for (int64_t c = 0; c < cout_; ++c) y[c] += r[c / m] * w[c];
        }
      }
      act_.apply(y, size_t(cout_));
    }
  }

  pthreadpool_t pool_;
  std::string what_;  // "delta <node>" for errors, built once (not per chunk of every frame)
  XnnOp fc_;
  FusedActivation act_;
  int64_t ih_, iw_, cin_, oh_, ow_, cout_, kh_, kw_, sh_, sw_, dh_, dw_, pt_, pl_, k_, chunk_ = 0;
  bool depthwise_ = false;
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
