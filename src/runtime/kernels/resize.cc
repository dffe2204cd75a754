// Resize on NHWC tensors (only H and W may change): modes nearest (all four
// nearest_modes) and linear (bilinear), coordinate modes half_pixel,
// pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn.
// XNNPACK resize_bilinear2d_nhwc_f32 takes the bilinear cases whose
// coordinate mapping it reproduces (verified against a reference in
// tests/unit/ops_spatial), and _s8 the same cases on int8 (fuse_qdq moves
// int8 through a bilinear Resize whose output is requantized with the
// input's parameters; fixed-point weights: within 1 LSB of the float
// definition); the own kernel uses per-axis index/weight tables built at
// setup.
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/kernels/resize.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/nchw_adapter.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

struct ResizeCfg {
  bool linear = false;
  std::string coord, nearest;
  float scale_h = 1, scale_w = 1;  // ONNX scales (out/in) for H and W
  int64_t n = 1, ih = 1, iw = 1, c = 1, oh = 1, ow = 1;
};

bool present(const KernelContext& c, size_t i) {
  return Graph::has_input(c.node, i) && numel(c.input(i).shape) > 0;
}

ResizeCfg resize_cfg(const KernelContext& c) {
  const Node& node = c.node;
  const std::string who = c.graph.describe(node);
  if (node.attrs.s("layout", "") != "NHWC")
    throw Error(who + ": Resize kernels run channels-last only (layout=NHWC); this node is NCHW");
  const Shape& x = c.input(0).shape;
  const Shape& y = c.output(0).shape;
  if (x.size() != 4) throw Error(who + ": Resize kernel supports 4-D NHWC input only (got " + shape_str(x) + ")");
  if (x[0] != y[0] || x[3] != y[3])
    throw Error(who + ": Resize can only change H and W (input " + shape_str(x) + ", output " + shape_str(y) + ")");
  ResizeCfg r;
  std::string mode = node.attrs.s("mode", "nearest");
  if (mode != "nearest" && mode != "linear") throw Error(who + ": Resize mode '" + mode + "' is not supported");
  r.linear = mode == "linear";
  r.coord = node.attrs.s("coordinate_transformation_mode", "half_pixel");
  if (r.coord != "half_pixel" && r.coord != "pytorch_half_pixel" && r.coord != "align_corners" &&
      r.coord != "asymmetric" && r.coord != "tf_half_pixel_for_nn")
    throw Error(who + ": Resize coordinate_transformation_mode '" + r.coord + "' is not supported");
  r.nearest = node.attrs.s("nearest_mode", "round_prefer_floor");
  if (r.nearest != "round_prefer_floor" && r.nearest != "round_prefer_ceil" && r.nearest != "floor" &&
      r.nearest != "ceil")
    throw Error(who + ": Resize nearest_mode '" + r.nearest + "' is not supported");
  r.n = x[0], r.ih = x[1], r.iw = x[2], r.c = x[3], r.oh = y[1], r.ow = y[2];
  const size_t scales_in = c.node.inputs.size() == 2 ? 1 : 2;
  const bool has_sizes = c.node.inputs.size() > 3 && present(c, 3);
  if (!has_sizes && present(c, scales_in)) {
    const Tensor* s = c.const_input(scales_in);
    if (!s || s->dtype() != DType::f32 || s->numel() != 4)
      throw Error(who + ": Resize scales must be a constant float32 tensor of 4 values");
    r.scale_h = s->data_as<float>()[1];
    r.scale_w = s->data_as<float>()[2];
  } else {
    r.scale_h = float(r.oh) / float(r.ih);
    r.scale_w = float(r.ow) / float(r.iw);
  }
  return r;
}

// Source coordinate of output index o along one axis.
float source_coord(const ResizeCfg& r, int64_t o, float scale, int64_t in, int64_t out) {
  const float x = float(o);
  if (r.coord == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (r.coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.f;
  if (r.coord == "align_corners") return out == 1 ? 0.f : x * float(in - 1) / float(out - 1);
  if (r.coord == "asymmetric") return x / scale;
  return (x + 0.5f) / scale;  // tf_half_pixel_for_nn
}

int64_t nearest_index(const ResizeCfg& r, float x, int64_t in) {
  float f;
  if (r.nearest == "floor") f = std::floor(x);
  else if (r.nearest == "ceil") f = std::ceil(x);
  else if (r.nearest == "round_prefer_ceil") f = std::floor(x + 0.5f);
  else f = (x - std::floor(x) == 0.5f) ? std::floor(x) : std::round(x);
  int64_t i = int64_t(f);
  return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

struct Axis {
  std::vector<int64_t> i0, i1;
  std::vector<float> w;  // weight of i1
};

Axis build_axis(const ResizeCfg& r, float scale, int64_t in, int64_t out) {
  Axis a;
  a.i0.resize(size_t(out));
  a.i1.resize(size_t(out));
  a.w.resize(size_t(out));
  for (int64_t o = 0; o < out; ++o) {
    float x = source_coord(r, o, scale, in, out);
    if (!r.linear) {
      a.i0[o] = a.i1[o] = nearest_index(r, x, in);
      a.w[o] = 0.f;
      continue;
    }
    x = std::min(std::max(x, 0.f), float(in - 1));
    int64_t x0 = int64_t(x);
    a.i0[o] = x0;
    a.i1[o] = std::min(x0 + 1, in - 1);
    a.w[o] = x - float(x0);
  }
  return a;
}

class ResizeRef : public Kernel {
 public:
  ResizeRef(const ResizeCfg& r, FusedActivation act, pthreadpool_t pool) : r_(r), act_(act), pool_(pool) {
    ay_ = build_axis(r, r.scale_h, r.ih, r.oh);
    ax_ = build_axis(r, r.scale_w, r.iw, r.ow);
  }
  void run() override {
    const ResizeCfg& r = r_;
    const float* x = in_[0].as<const float>();
    float* y = out_[0].as<float>();
    const int64_t C = r.c;
    auto row = [&](size_t t) {
      const int64_t n = int64_t(t) / r.oh, oy = int64_t(t) % r.oh;
      const float* img = x + n * r.ih * r.iw * C;
      float* yr = y + (n * r.oh + oy) * r.ow * C;
      if (!r.linear) {
        const float* src = img + ay_.i0[oy] * r.iw * C;
        for (int64_t ox = 0; ox < r.ow; ++ox) std::memcpy(yr + ox * C, src + ax_.i0[ox] * C, size_t(C) * sizeof(float));
      } else {
        const float* r0 = img + ay_.i0[oy] * r.iw * C;
        const float* r1 = img + ay_.i1[oy] * r.iw * C;
        const float wy = ay_.w[oy];
        for (int64_t ox = 0; ox < r.ow; ++ox) {
          const float* p00 = r0 + ax_.i0[ox] * C;
          const float* p01 = r0 + ax_.i1[ox] * C;
          const float* p10 = r1 + ax_.i0[ox] * C;
          const float* p11 = r1 + ax_.i1[ox] * C;
          const float wx = ax_.w[ox];
          float* o = yr + ox * C;
          for (int64_t c = 0; c < C; ++c) {
            const float top = p00[c] + (p01[c] - p00[c]) * wx;
            const float bot = p10[c] + (p11[c] - p10[c]) * wx;
            o[c] = top + (bot - top) * wy;
          }
        }
      }
      act_.apply(yr, size_t(r.ow * C));
    };
    parallel_for(pool_, size_t(r.n * r.oh), row);
  }

 private:
  ResizeCfg r_;
  FusedActivation act_;
  pthreadpool_t pool_;
  Axis ay_, ax_;
};

class ResizeXnn : public Kernel {
 public:
  ResizeXnn(const ResizeCfg& r, XnnOp op, FusedActivation act, pthreadpool_t pool)
      : r_(r), op_(std::move(op)), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    if (in[0].dtype == DType::i8)
      xnn_check(xnn_setup_resize_bilinear2d_nhwc_s8(op_.get(), r_.n, r_.ih, r_.iw, r_.oh, r_.ow, in[0].as<int8_t>(),
                                                    out[0].as<int8_t>(), pool_),
                "setup_resize_bilinear2d_nhwc_s8", "Resize");
    else
      xnn_check(xnn_setup_resize_bilinear2d_nhwc_f32(op_.get(), r_.n, r_.ih, r_.iw, r_.oh, r_.ow, in[0].as<float>(),
                                                     out[0].as<float>(), pool_),
                "setup_resize_bilinear2d_nhwc_f32", "Resize");
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "Resize");
    if (in_[0].dtype == DType::f32) act_.apply(out_[0].as<float>(), size_t(out_[0].numel()));
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  ResizeCfg r_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_resize_xnn(const KernelContext& c) {
  const DType t = c.input(0).dtype;
  if (c.node.attrs.s("layout", "") != "NHWC" || (t != DType::f32 && t != DType::i8) || !xnn_available()) return nullptr;
  if (t == DType::i8 && c.node.attrs.has("activation")) return nullptr;
  ResizeCfg r = resize_cfg(c);
  if (!r.linear) return nullptr;
  // XNNPACK maps with in/out size ratios; ONNX with the given scales. Only
  // when they agree.
  auto exact = [](float s, int64_t in, int64_t out) { return std::fabs(s * float(in) - float(out)) <= 1e-5f * out; };
  if (!exact(r.scale_h, r.ih, r.oh) || !exact(r.scale_w, r.iw, r.ow)) return nullptr;
  uint32_t flags = 0;
  if (r.coord == "align_corners") flags = XNN_FLAG_ALIGN_CORNERS;
  else if (r.coord == "asymmetric") flags = XNN_FLAG_TENSORFLOW_LEGACY_MODE;
  else if (r.coord == "half_pixel" || (r.coord == "pytorch_half_pixel" && r.oh > 1 && r.ow > 1)) flags = 0;
  else return nullptr;
  xnn_operator_t op = nullptr;
  auto create = t == DType::i8 ? xnn_create_resize_bilinear2d_nhwc_s8 : xnn_create_resize_bilinear2d_nhwc_f32;
  if (create(size_t(r.c), size_t(r.c), size_t(r.c), flags, &op) != xnn_status_success) return nullptr;
  return std::make_unique<ResizeXnn>(r, XnnOp(op), FusedActivation::from(c.node), c.pool);
}

// NCHW Resize (left so by the layout pass): run the NHWC kernel with scales
// and sizes permuted to channels-last order.
void permute_resize_params(Graph& g, Node& n) {
  const size_t rank = g.values[n.inputs[0]].shape.size();
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.inputs[i] < 0) continue;
    Value& v = g.values[n.inputs[i]];
    if (!v.is_const() || size_t(v.data.numel()) != rank) continue;
    Tensor t(v.data.dtype(), v.data.shape());
    const size_t es = dtype_size(t.dtype());
    const auto* src = static_cast<const uint8_t*>(v.data.data());
    auto* dst = static_cast<uint8_t*>(t.data());
    // channels-last order: 0, 2, ..., r-1, 1
    size_t k = 0;
    std::memcpy(dst + es * k++, src, es);
    for (size_t d = 2; d < rank; ++d) std::memcpy(dst + es * k++, src + es * d, es);
    std::memcpy(dst + es * k, src + es, es);
    v.data = t;
  }
}

std::unique_ptr<Kernel> make_resize_ref(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32) return nullptr;
  if (c.node.attrs.s("layout", "") != "NHWC")
    return make_nchw_adapter(c, {make_resize_xnn, make_resize_ref}, permute_resize_params);
  return std::make_unique<ResizeRef>(resize_cfg(c), FusedActivation::from(c.node), c.pool);
}

}  // namespace

ResizeTables resize_tables(const KernelContext& c) {
  ResizeCfg r = resize_cfg(c);
  Axis ay = build_axis(r, r.scale_h, r.ih, r.oh), ax = build_axis(r, r.scale_w, r.iw, r.ow);
  ResizeTables t;
  t.ih = r.ih, t.iw = r.iw, t.oh = r.oh, t.ow = r.ow, t.c = r.c;
  t.y0 = std::move(ay.i0), t.y1 = std::move(ay.i1), t.wy = std::move(ay.w);
  t.x0 = std::move(ax.i0), t.x1 = std::move(ax.i1), t.wx = std::move(ax.w);
  return t;
}

EF_REGISTER_KERNEL("Resize", 100, make_resize_xnn, "xnnpack");
EF_REGISTER_KERNEL("Resize", 0, make_resize_ref, "ref");
}  // namespace ef
