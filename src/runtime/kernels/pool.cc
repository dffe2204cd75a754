// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool on NHWC (1-D as H=1).
// XNNPACK where its semantics match ONNX's:
//  * max_pooling2d: always (ceil_mode becomes extra bottom/right padding,
//    which cannot win a max because every window holds a real pixel);
//  * average_pooling2d: XNNPACK divides by the number of real pixels in the
//    window, i.e. count_include_pad=0; with count_include_pad=1 it is used
//    only when there is no padding at all. Dilated average pools run on the
//    own kernel;
//  * global_average_pooling_nwc.
// The own kernels cover everything else.
#include <algorithm>
#include <cfloat>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/nchw_adapter.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

bool is_nhwc(const Node& n) { return n.attrs.s("layout", "") == "NHWC"; }

struct PoolGeom {
  int64_t n = 1, ih = 1, iw = 1, c = 1, oh = 1, ow = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  bool count_include_pad = false;
  // extra bottom/right padding so that floor-mode arithmetic yields oh/ow
  int64_t xb = 0, xr = 0;
};

PoolGeom pool_geom(const KernelContext& ctx) {
  const Node& node = ctx.node;
  const Shape& x = ctx.input(0).shape;
  const Shape& y = ctx.output(0).shape;
  PoolGeom g;
  auto ks = node.attrs.ints("kernel_shape", {});
  auto st = node.attrs.ints("strides", {});
  auto dl = node.attrs.ints("dilations", {});
  auto pd = node.attrs.ints("pads", {});
  g.n = x[0];
  g.c = x.back();
  g.count_include_pad = node.attrs.i("count_include_pad", 0) != 0;
  if (x.size() == 3) {
    g.iw = x[1], g.ow = y[1];
    if (!ks.empty()) g.kw = ks[0];
    if (!st.empty()) g.sw = st[0];
    if (!dl.empty()) g.dw = dl[0];
    if (pd.size() == 2) g.pl = pd[0], g.pr = pd[1];
  } else {
    g.ih = x[1], g.iw = x[2], g.oh = y[1], g.ow = y[2];
    if (ks.size() == 2) g.kh = ks[0], g.kw = ks[1];
    if (st.size() == 2) g.sh = st[0], g.sw = st[1];
    if (dl.size() == 2) g.dh = dl[0], g.dw = dl[1];
    if (pd.size() == 4) g.pt = pd[0], g.pl = pd[1], g.pb = pd[2], g.pr = pd[3];
  }
  auto extra = [](int64_t in, int64_t o, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    int64_t need = (o - 1) * s + (k - 1) * d + 1 - (in + p0 + p1);
    return std::max<int64_t>(0, need);
  };
  g.xb = extra(g.ih, g.oh, g.kh, g.sh, g.dh, g.pt, g.pb);
  g.xr = extra(g.iw, g.ow, g.kw, g.sw, g.dw, g.pl, g.pr);
  return g;
}

void check_indices_output(const KernelContext& c) {
  if (c.node.outputs.size() > 1 && c.node.outputs[1] >= 0)
    throw Error(c.graph.describe(c.node) + ": the Indices output of MaxPool is not supported");
}

class PoolXnn : public Kernel {
 public:
  enum Kind { max, avg };
  PoolXnn(Kind k, const PoolGeom& g, XnnOp op, FusedActivation act, pthreadpool_t pool)
      : kind_(k), g_(g), op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    if (kind_ == max && in[0].dtype == DType::i8)
      xnn_check(xnn_setup_max_pooling2d_nhwc_s8(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<int8_t>(),
                                                out[0].as<int8_t>(), pool_),
                "setup_max_pooling2d_nhwc_s8", "MaxPool");
    else if (kind_ == max)
      xnn_check(xnn_setup_max_pooling2d_nhwc_f32(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<float>(), out[0].as<float>(),
                                                 pool_),
                "setup_max_pooling2d_nhwc_f32", "MaxPool");
    else
      xnn_check(xnn_setup_average_pooling2d_nhwc_f32(op_.get(), g_.n, g_.ih, g_.iw, in[0].as<float>(),
                                                     out[0].as<float>(), pool_),
                "setup_average_pooling2d_nhwc_f32", "AveragePool");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", kind_ == max ? "MaxPool" : "AveragePool");
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  Kind kind_;
  PoolGeom g_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_maxpool_xnn(const KernelContext& c) {
  const DType t = c.input(0).dtype;
  if (!is_nhwc(c.node) || (t != DType::f32 && t != DType::i8) || !xnn_available()) return nullptr;
  check_indices_output(c);
  PoolGeom g = pool_geom(c);
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  if (t == DType::i8) {  // int8 after fuse_qdq: max of the int8 values, no activation
    if (act.kind != FusedActivation::none) return nullptr;
    xnn_status st = xnn_create_max_pooling2d_nhwc_s8(
        uint32_t(g.pt), uint32_t(g.pr + g.xr), uint32_t(g.pb + g.xb), uint32_t(g.pl), uint32_t(g.kh), uint32_t(g.kw),
        uint32_t(g.sh), uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), size_t(g.c), size_t(g.c), size_t(g.c), -128,
        127, 0, &op);
    if (st != xnn_status_success) return nullptr;
    return std::make_unique<PoolXnn>(PoolXnn::max, g, XnnOp(op), act, c.pool);
  }
  xnn_status st = xnn_create_max_pooling2d_nhwc_f32(
      uint32_t(g.pt), uint32_t(g.pr + g.xr), uint32_t(g.pb + g.xb), uint32_t(g.pl), uint32_t(g.kh), uint32_t(g.kw),
      uint32_t(g.sh), uint32_t(g.sw), uint32_t(g.dh), uint32_t(g.dw), size_t(g.c), size_t(g.c), size_t(g.c),
      act.out_min(), act.out_max(), 0, &op);
  if (st != xnn_status_success) return nullptr;
  return std::make_unique<PoolXnn>(PoolXnn::max, g, XnnOp(op), act, c.pool);
}

std::unique_ptr<Kernel> make_avgpool_xnn(const KernelContext& c) {
  if (!is_nhwc(c.node) || c.input(0).dtype != DType::f32 || !xnn_available()) return nullptr;
  PoolGeom g = pool_geom(c);
  if (g.dh != 1 || g.dw != 1) return nullptr;
  const bool padded = g.pt || g.pl || g.pb || g.pr || g.xb || g.xr;
  if (g.count_include_pad && padded) return nullptr;
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  xnn_status st = xnn_create_average_pooling2d_nhwc_f32(
      uint32_t(g.pt), uint32_t(g.pr + g.xr), uint32_t(g.pb + g.xb), uint32_t(g.pl), uint32_t(g.kh), uint32_t(g.kw),
      uint32_t(g.sh), uint32_t(g.sw), size_t(g.c), size_t(g.c), size_t(g.c), act.out_min(), act.out_max(), 0, &op);
  if (st != xnn_status_success) return nullptr;
  return std::make_unique<PoolXnn>(PoolXnn::avg, g, XnnOp(op), act, c.pool);
}

// Calls f(p) for each in-image pixel of output (n, oy, ox)'s window, p being
// the pixel's index in the NHWC input (padding positions are skipped).
template <class F>
void for_window_pixels(const PoolGeom& g, int64_t n, int64_t oy, int64_t ox, F&& f) {
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    const int64_t iy = oy * g.sh - g.pt + kh * g.dh;
    if (iy < 0 || iy >= g.ih) continue;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t ix = ox * g.sw - g.pl + kw * g.dw;
      if (ix >= 0 && ix < g.iw) f((n * g.ih + iy) * g.iw + ix);
    }
  }
}

// Own pooling: one output row per task, channels innermost.
class PoolRef : public Kernel {
 public:
  PoolRef(bool is_max, const PoolGeom& g, FusedActivation act, pthreadpool_t pool)
      : max_(is_max), g_(g), act_(act), pool_(pool) {}
  void run() override {
    if (in_[0].dtype == DType::i8) return run_max_i8();
    const PoolGeom g = g_;
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    const int64_t C = g.c;
    auto row = [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        float* out = y + ((n * g.oh + oy) * g.ow + ox) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = max_ ? -INFINITY : 0.f;
        int64_t cnt_valid_h = 0, cnt_pad_h = 0, cnt_valid_w = 0, cnt_pad_w = 0;
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const int64_t iy = oy * g.sh - g.pt + kh * g.dh;
          if (iy >= -g.pt && iy < g.ih + g.pb) ++cnt_pad_h;
          if (iy >= 0 && iy < g.ih) ++cnt_valid_h;
        }
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const int64_t ix = ox * g.sw - g.pl + kw * g.dw;
          if (ix >= -g.pl && ix < g.iw + g.pr) ++cnt_pad_w;
          if (ix >= 0 && ix < g.iw) ++cnt_valid_w;
        }
        for_window_pixels(g, n, oy, ox, [&](int64_t p) {
          const float* xp = x + p * C;
          if (max_)
            for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], xp[c]);
          else
            for (int64_t c = 0; c < C; ++c) out[c] += xp[c];
        });
        if (!max_) {
          int64_t cnt = g.count_include_pad ? cnt_pad_h * cnt_pad_w : cnt_valid_h * cnt_valid_w;
          const float inv = cnt > 0 ? 1.f / float(cnt) : 0.f;
          for (int64_t c = 0; c < C; ++c) out[c] *= inv;
        }
        act_.apply(out, size_t(C));
      }
    };
    parallel_for(pool_, size_t(g.n * g.oh), row);
  }

 private:
  // int8 MaxPool (fuse_qdq moves int8 through MaxPool): windows of real pixels only.
  void run_max_i8() {
    const PoolGeom g = g_;
    const int8_t* x = in_[0].as<const int8_t>();
    int8_t* y = out_[0].as<int8_t>();
    const int64_t C = g.c;
    parallel_for(pool_, size_t(g.n * g.oh), [&](size_t r) {
      const int64_t n = int64_t(r) / g.oh, oy = int64_t(r) % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        int8_t* out = y + ((n * g.oh + oy) * g.ow + ox) * C;
        std::fill(out, out + C, int8_t(-128));
        for_window_pixels(g, n, oy, ox, [&](int64_t p) {
          const int8_t* xp = x + p * C;
          for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], xp[c]);
        });
      }
    });
  }
  bool max_;
  PoolGeom g_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_pool_ref(const KernelContext& c) {
  if (!is_nhwc(c.node)) {
    if (c.node.op == "MaxPool") return make_nchw_adapter(c, {make_maxpool_xnn, make_pool_ref});
    return make_nchw_adapter(c, {make_avgpool_xnn, make_pool_ref});
  }
  const bool is_max = c.node.op == "MaxPool";
  const DType t = c.input(0).dtype;
  if (t != DType::f32 && !(is_max && t == DType::i8 && !c.node.attrs.has("activation"))) return nullptr;
  if (is_max) check_indices_output(c);
  return std::make_unique<PoolRef>(is_max, pool_geom(c), FusedActivation::from(c.node), c.pool);
}

// ---- global pools: [N, (H,) W, C] -> [N, (1,) 1, C]
class GlobalAvgXnn : public Kernel {
 public:
  GlobalAvgXnn(XnnOp op, FusedActivation act, pthreadpool_t pool) : op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    size_t width = 1;
    for (size_t i = 1; i + 1 < s.size(); ++i) width *= size_t(s[i]);
    xnn_check(xnn_setup_global_average_pooling_nwc_f32(op_.get(), size_t(s[0]), width, in[0].as<float>(),
                                                       out[0].as<float>(), pool_),
              "setup_global_average_pooling_nwc_f32", "GlobalAveragePool");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "GlobalAveragePool");
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_gap_xnn(const KernelContext& c) {
  if (!is_nhwc(c.node) || c.input(0).dtype != DType::f32 || !xnn_available()) return nullptr;
  const size_t C = size_t(c.input(0).shape.back());
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  if (xnn_create_global_average_pooling_nwc_f32(C, C, C, act.out_min(), act.out_max(), 0, &op) != xnn_status_success)
    return nullptr;
  return std::make_unique<GlobalAvgXnn>(XnnOp(op), act, c.pool);
}

class GlobalPoolRef : public Kernel {
 public:
  GlobalPoolRef(bool is_max, FusedActivation act, pthreadpool_t pool) : max_(is_max), act_(act), pool_(pool) {}
  void run() override {
    const Shape& s = in_[0].shape;
    const int64_t N = s[0], C = s.back();
    int64_t P = 1;
    for (size_t i = 1; i + 1 < s.size(); ++i) P *= s[i];
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    auto batch = [&](size_t n) {
      float* out = y + n * C;
      const float* xn = x + int64_t(n) * P * C;
      for (int64_t c = 0; c < C; ++c) out[c] = max_ ? -INFINITY : 0.f;
      for (int64_t p = 0; p < P; ++p) {
        const float* xp = xn + p * C;
        if (max_)
          for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], xp[c]);
        else
          for (int64_t c = 0; c < C; ++c) out[c] += xp[c];
      }
      if (!max_)
        for (int64_t c = 0; c < C; ++c) out[c] *= 1.f / float(P);
      act_.apply(out, size_t(C));
    };
    parallel_for(pool_, size_t(N), batch);
  }

 private:
  bool max_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_global_ref(const KernelContext& c) {
  if (!is_nhwc(c.node)) {
    if (c.node.op == "GlobalAveragePool") return make_nchw_adapter(c, {make_gap_xnn, make_global_ref});
    return make_nchw_adapter(c, {make_global_ref});
  }
  if (c.input(0).dtype != DType::f32) return nullptr;
  return std::make_unique<GlobalPoolRef>(c.node.op == "GlobalMaxPool", FusedActivation::from(c.node), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("MaxPool", 100, make_maxpool_xnn, "xnnpack");
EF_REGISTER_KERNEL("MaxPool", 0, make_pool_ref, "ref");
EF_REGISTER_KERNEL("AveragePool", 100, make_avgpool_xnn, "xnnpack");
EF_REGISTER_KERNEL("AveragePool", 0, make_pool_ref, "ref");
EF_REGISTER_KERNEL("GlobalAveragePool", 100, make_gap_xnn, "xnnpack");
EF_REGISTER_KERNEL("GlobalAveragePool", 0, make_global_ref, "ref");
EF_REGISTER_KERNEL("GlobalMaxPool", 0, make_global_ref, "ref");
}  // namespace ef
