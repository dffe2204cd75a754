#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/delta/delta_kernel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

class DeltaConv : public DeltaKernel {
 public:
  DeltaConv(const KernelContext& ctx, const DeltaOptions& o) : opts_(o), pool_(ctx.pool), node_(ctx.node) {
    const Shape& x = ctx.input(0).shape;
    const Shape& w = ctx.input(1).shape;
    const Shape& y = ctx.output(0).shape;
    ih_ = x[1], iw_ = x[2], cin_ = x[3];
    oh_ = y[1], ow_ = y[2], cout_ = y[3];
    kh_ = w[2], kw_ = w[3];
    auto st = node_.attrs.ints("strides", {1, 1}), dl = node_.attrs.ints("dilations", {1, 1});
    auto pd = node_.attrs.ints("pads", {0, 0, 0, 0});
    sh_ = st[0], sw_ = st[1], dh_ = dl[0], dw_ = dl[1], pt_ = pd[0], pl_ = pd[1];
    depthwise_ = node_.attrs.i("group", 1) != 1;
    act_ = FusedActivation::from(node_);
    tile_ = std::max(1, o.tile);

    // Weights OIHW -> [Cout][KH][KW][Cin] (im2col order) or [KH][KW][C] (depthwise).
    const float* wsrc = ctx.const_input(1)->data_as<float>();
    const int64_t cg = depthwise_ ? 1 : cin_;
    k_ = kh_ * kw_ * cg;
    wpack_.assign(size_t(cout_ * k_), 0.f);
    float wmax = 0;
    for (int64_t o = 0; o < cout_; ++o) {
      double nrm = 0;
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t a = 0; a < kh_; ++a)
          for (int64_t b = 0; b < kw_; ++b) {
            float v = wsrc[((o * cg + c) * kh_ + a) * kw_ + b];
            nrm += double(v) * v;
            if (depthwise_) wpack_[size_t((a * kw_ + b) * cout_ + o)] = v;
            else wpack_[size_t(o * k_ + (a * kw_ + b) * cin_ + c)] = v;
          }
      wmax = std::max(wmax, float(std::sqrt(nrm)));
    }
    wnorm_ = wmax;
    dense_macs_ = oh_ * ow_ * cout_ * k_;

    // The dense path (first frame, refresh, fallback): the registered Conv
    // kernel for the same node without its activation, writing into y_acc.
    node_.attrs.erase("activation");
    KernelContext inner{ctx.graph, node_, ctx.options, ctx.pool};
    dense_ = create_kernel(inner);

    xprev_.assign(size_t(ih_ * iw_ * cin_), 0.f);
    resid_.assign(xprev_.size(), 0.f);
    yacc_.assign(size_t(oh_ * ow_ * cout_), 0.f);
    tiles_y_ = (ih_ + tile_ - 1) / tile_, tiles_x_ = (iw_ + tile_ - 1) / tile_;
    in_active_.assign(size_t(tiles_y_ * tiles_x_), 0);
    prev_active_.reserve(in_active_.size());
    out_mask_.assign(size_t(oh_ * ow_), 0);
    out_list_.reserve(size_t(oh_ * ow_));
    if (!depthwise_) {
      chunk_ = std::max<int64_t>(16, std::min<int64_t>(oh_ * ow_, (1 << 16) / std::max<int64_t>(k_, 1)));
      cols_.assign(size_t(chunk_ * k_), 0.f);
      gemm_out_.assign(size_t(chunk_ * cout_), 0.f);
      xnn_operator_t op = nullptr;
      xnn_check(xnn_create_fully_connected_nc_f32(size_t(k_), size_t(cout_), size_t(k_), size_t(cout_), wpack_.data(),
                                                  nullptr, -INFINITY, INFINITY, 0, &op),
                "create_fully_connected_nc_f32", "delta " + node_.name);
      fc_.reset(op);
    }
  }

  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    std::vector<TensorView> douts = out;
    douts[0].data = yacc_.data();
    dense_->setup(in, douts);
  }

  void reset() override { first_ = true; wrote_once_ = false; }
  int64_t dense_macs() const override { return dense_macs_; }
  int64_t last_macs() const override { return last_macs_; }
  double last_changed() const override { return last_changed_; }
  bool last_dense() const override { return last_dense_; }
  size_t state_bytes() const override {
    return (xprev_.size() + resid_.size() + yacc_.size() + cols_.size() + gemm_out_.size()) * sizeof(float) +
           in_active_.size() + out_mask_.size() + out_list_.capacity() * sizeof(int32_t);
  }
  const char* impl() const override { return "delta"; }

  void run() override {
    const float* x = in_[0].as<float>();
    ++frame_;
    bool dense = first_ || (opts_.refresh_every > 0 && frame_ % opts_.refresh_every == 0);
    int64_t active_px = 0;
    if (!dense) {
      active_px = gate(x);
      last_changed_ = double(active_px) / double(ih_ * iw_);
      if (last_changed_ > opts_.dense_above) dense = true;
    }
    if (dense) {
      dense_->run();
      std::memcpy(xprev_.data(), x, xprev_.size() * sizeof(float));
      clear_resid();
      last_macs_ = dense_macs_;
      last_changed_ = 1.0;
      first_ = false;
    } else if (active_px == 0) {
      last_macs_ = 0;
      out_list_.clear();
    } else {
      build_residual(x);
      mark_outputs();
      if (depthwise_) sparse_depthwise();
      else sparse_gemm();
    }
    if (dense || !wrote_once_) write_output();
    else write_changed();
    wrote_once_ = true;
    last_dense_ = dense;
  }

 private:
  // Per input tile: ||x - x_prev||_2 * ||W|| > threshold. Returns active pixels.
  int64_t gate(const float* x) {
    int64_t px = 0;
    const float thr = opts_.threshold;
    for (int64_t ty = 0; ty < tiles_y_; ++ty)
      for (int64_t tx = 0; tx < tiles_x_; ++tx) {
        int64_t y0 = ty * tile_, y1 = std::min(ih_, y0 + tile_), x0 = tx * tile_, x1 = std::min(iw_, x0 + tile_);
        float ss = 0;
        for (int64_t yy = y0; yy < y1; ++yy) {
          const float* a = x + (yy * iw_ + x0) * cin_;
          const float* b = xprev_.data() + (yy * iw_ + x0) * cin_;
          const int64_t n = (x1 - x0) * cin_;
          for (int64_t i = 0; i < n; ++i) {
            float d = a[i] - b[i];
            ss += d * d;
          }
        }
        bool on = thr <= 0 ? ss > 0 : std::sqrt(ss) * wnorm_ > thr;
        in_active_[size_t(ty * tiles_x_ + tx)] = on;
        if (on) px += (y1 - y0) * (x1 - x0);
      }
    return px;
  }

  void clear_resid() {
    for (int32_t t : prev_active_) zero_tile(t);
    prev_active_.clear();
  }

  void zero_tile(int64_t t) {
    int64_t ty = t / tiles_x_, tx = t % tiles_x_;
    int64_t y0 = ty * tile_, y1 = std::min(ih_, y0 + tile_), x0 = tx * tile_, x1 = std::min(iw_, x0 + tile_);
    for (int64_t yy = y0; yy < y1; ++yy)
      std::memset(resid_.data() + (yy * iw_ + x0) * cin_, 0, size_t((x1 - x0) * cin_) * sizeof(float));
  }

  // resid = x - x_prev on active tiles (zero elsewhere); x_prev = x there.
  void build_residual(const float* x) {
    clear_resid();
    for (int64_t t = 0; t < int64_t(in_active_.size()); ++t) {
      if (!in_active_[size_t(t)]) continue;
      prev_active_.push_back(int32_t(t));
      int64_t ty = t / tiles_x_, tx = t % tiles_x_;
      int64_t y0 = ty * tile_, y1 = std::min(ih_, y0 + tile_), x0 = tx * tile_, x1 = std::min(iw_, x0 + tile_);
      for (int64_t yy = y0; yy < y1; ++yy) {
        const int64_t off = (yy * iw_ + x0) * cin_, n = (x1 - x0) * cin_;
        const float* a = x + off;
        float* p = xprev_.data() + off;
        float* r = resid_.data() + off;
        for (int64_t i = 0; i < n; ++i) {
          r[i] = a[i] - p[i];
          p[i] = a[i];
        }
      }
    }
  }

  // Output pixels whose receptive field touches an active input tile.
  void mark_outputs() {
    std::fill(out_mask_.begin(), out_mask_.end(), 0);
    out_list_.clear();
    auto lo = [](int64_t a, int64_t s) { return a >= 0 ? (a + s - 1) / s : -((-a) / s); };  // ceil(a/s)
    for (int32_t t : prev_active_) {
      int64_t ty = t / tiles_x_, tx = t % tiles_x_;
      int64_t y0 = ty * tile_, y1 = std::min(ih_, y0 + tile_) - 1, x0 = tx * tile_, x1 = std::min(iw_, x0 + tile_) - 1;
      // input row iy = oy*sh - pt + ky*dh  =>  oy in [ceil((y0+pt-(kh-1)dh)/sh), floor((y1+pt)/sh)]
      int64_t oy0 = std::max<int64_t>(0, lo(y0 + pt_ - (kh_ - 1) * dh_, sh_));
      int64_t oy1 = std::min<int64_t>(oh_ - 1, (y1 + pt_) / sh_);
      int64_t ox0 = std::max<int64_t>(0, lo(x0 + pl_ - (kw_ - 1) * dw_, sw_));
      int64_t ox1 = std::min<int64_t>(ow_ - 1, (x1 + pl_) / sw_);
      for (int64_t oy = oy0; oy <= oy1; ++oy)
        for (int64_t ox = ox0; ox <= ox1; ++ox) {
          uint8_t& m = out_mask_[size_t(oy * ow_ + ox)];
          if (!m) {
            m = 1;
            out_list_.push_back(int32_t(oy * ow_ + ox));
          }
        }
    }
  }

  void sparse_gemm() {
    const int64_t n = int64_t(out_list_.size());
    for (int64_t base = 0; base < n; base += chunk_) {
      const int64_t rows = std::min(chunk_, n - base);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t p = out_list_[size_t(base + r)], oy = p / ow_, ox = p % ow_;
        float* col = cols_.data() + r * k_;
        for (int64_t a = 0; a < kh_; ++a) {
          const int64_t iy = oy * sh_ - pt_ + a * dh_;
          for (int64_t b = 0; b < kw_; ++b) {
            const int64_t ix = ox * sw_ - pl_ + b * dw_;
            float* dst = col + (a * kw_ + b) * cin_;
            if (iy < 0 || iy >= ih_ || ix < 0 || ix >= iw_) std::memset(dst, 0, size_t(cin_) * sizeof(float));
            else std::memcpy(dst, resid_.data() + (iy * iw_ + ix) * cin_, size_t(cin_) * sizeof(float));
          }
        }
      }
      xnn_check(xnn_setup_fully_connected_nc_f32(fc_.get(), size_t(rows), cols_.data(), gemm_out_.data(), pool_),
                "setup_fully_connected_nc_f32", "delta " + node_.name);
      xnn_check(xnn_run_operator(fc_.get(), pool_), "run_operator", "delta " + node_.name);
      for (int64_t r = 0; r < rows; ++r) {
        float* y = yacc_.data() + int64_t(out_list_[size_t(base + r)]) * cout_;
        const float* g = gemm_out_.data() + r * cout_;
        for (int64_t c = 0; c < cout_; ++c) y[c] += g[c];
      }
    }
    last_macs_ = n * k_ * cout_;
  }

  void sparse_depthwise() {
    // Channel multiplier m: output channel o reads input channel o / m.
    const int64_t m = cout_ / cin_;
    for (int32_t p : out_list_) {
      const int64_t oy = p / ow_, ox = p % ow_;
      float* y = yacc_.data() + int64_t(p) * cout_;
      for (int64_t a = 0; a < kh_; ++a) {
        const int64_t iy = oy * sh_ - pt_ + a * dh_;
        if (iy < 0 || iy >= ih_) continue;
        for (int64_t b = 0; b < kw_; ++b) {
          const int64_t ix = ox * sw_ - pl_ + b * dw_;
          if (ix < 0 || ix >= iw_) continue;
          const float* r = resid_.data() + (iy * iw_ + ix) * cin_;
          const float* w = wpack_.data() + (a * kw_ + b) * cout_;
          if (m == 1)
            for (int64_t c = 0; c < cout_; ++c) y[c] += r[c] * w[c];
          else
            for (int64_t c = 0; c < cout_; ++c) y[c] += r[c / m] * w[c];
        }
      }
    }
    last_macs_ = int64_t(out_list_.size()) * kh_ * kw_ * cout_;
  }

  void write_output() {
    float* y = out_[0].as<float>();
    const size_t n = yacc_.size();
    const float* s = yacc_.data();
    if (act_.kind == FusedActivation::relu || act_.kind == FusedActivation::clip) {
      const float lo = act_.min, hi = act_.max;
      for (size_t i = 0; i < n; ++i) y[i] = std::min(std::max(s[i], lo), hi);
    } else {
      std::memcpy(y, s, n * sizeof(float));
      act_.apply(y, n);
    }
  }

  // Only the output pixels this frame touched (the output buffer keeps the rest).
  void write_changed() {
    float* y = out_[0].as<float>();
    for (int32_t p : out_list_) {
      const float* s = yacc_.data() + int64_t(p) * cout_;
      float* d = y + int64_t(p) * cout_;
      if (act_.kind == FusedActivation::relu || act_.kind == FusedActivation::clip) {
        for (int64_t c = 0; c < cout_; ++c) d[c] = std::min(std::max(s[c], act_.min), act_.max);
      } else {
        std::memcpy(d, s, size_t(cout_) * sizeof(float));
        act_.apply(d, size_t(cout_));
      }
    }
  }

  DeltaOptions opts_;
  pthreadpool_t pool_;
  Node node_;  // copy without the activation, for the dense kernel
  std::unique_ptr<Kernel> dense_;
  XnnOp fc_;
  FusedActivation act_;
  int64_t ih_, iw_, cin_, oh_, ow_, cout_, kh_, kw_, sh_, sw_, dh_, dw_, pt_, pl_, k_, tile_;
  int64_t tiles_y_, tiles_x_, chunk_ = 0;
  bool depthwise_ = false, first_ = true, last_dense_ = true, wrote_once_ = false;
  float wnorm_ = 0;
  int64_t dense_macs_ = 0, last_macs_ = 0, frame_ = 0;
  double last_changed_ = 1.0;
  std::vector<float> wpack_, xprev_, resid_, yacc_, cols_, gemm_out_;
  std::vector<uint8_t> in_active_, out_mask_;
  std::vector<int32_t> prev_active_, out_list_;
};

}  // namespace

bool delta_conv_supported(const KernelContext& ctx) {
  const Node& n = ctx.node;
  if (n.op != "Conv" || n.attrs.s("layout") != "NHWC") return false;
  if (ctx.input(0).dtype != DType::f32 || ctx.input(0).shape.size() != 4 || ctx.input(0).shape[0] != 1) return false;
  if (!ctx.const_input(1) || ctx.const_input(1)->dtype() != DType::f32) return false;
  const int64_t group = n.attrs.i("group", 1), cin = ctx.input(0).shape[3], cout = ctx.output(0).shape[3];
  if (group != 1 && !(group == cin && cout % cin == 0)) return false;
  return xnn_available() || group != 1;
}

std::unique_ptr<DeltaKernel> make_delta_conv(const KernelContext& ctx, const DeltaOptions& opts) {
  if (!delta_conv_supported(ctx)) return nullptr;
  return std::make_unique<DeltaConv>(ctx, opts);
}

}  // namespace ef
