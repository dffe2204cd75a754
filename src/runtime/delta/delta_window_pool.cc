// Sparse MaxPool / AveragePool with a window (NHWC) for delta execution: a
// changed input pixel reaches the output pixels whose window covers it (its
// receptive field, dilated by kernel, stride, dilation and padding); only
// those are pooled again. Global pooling is in delta_pool.cc.
#include <algorithm>
#include <cfloat>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

struct Win {
  int64_t k, s, d, p;  // kernel, stride, dilation, leading pad of one axis
  // Output positions whose window can hold input position i: [lo, hi].
  int64_t lo(int64_t i) const {
    const int64_t num = i + p - (k - 1) * d;
    return num <= 0 ? 0 : (num + s - 1) / s;
  }
  int64_t hi(int64_t i) const { return (i + p) / s; }
};

class DeltaWindowPool : public DeltaOp {
 public:
  DeltaWindowPool(const DeltaOpCtx& c, bool max, Win wy, Win wx, bool include_pad)
      : DeltaOp(c), max_(max), wy_(wy), wx_(wx), include_pad_(include_pad), act_(FusedActivation::from(c.kc.node)) {}

  int64_t run(bool all) override {
    const Region& r = mark_reached(all, [&](int64_t y, int64_t x, Region& out) {
      out.mark_rect(wy_.lo(y), wy_.hi(y), wx_.lo(x), wx_.hi(x));
    });
    last_dense_ = r.all();
    const int64_t ih = in_[0]->h, iw = in_[0]->w, C = in_[0]->c, ow = out_[0]->w;
    const float* x = in_[0]->pub;
    std::vector<float>& acc = acc_;
    acc.resize(size_t(C));
    for (int32_t p : r.list()) {
      const int64_t oy = p / ow, ox = p % ow;
      std::fill(acc.begin(), acc.end(), max_ ? -FLT_MAX : 0.f);
      int64_t count = 0;
      for (int64_t ky = 0; ky < wy_.k; ++ky) {
        const int64_t y = oy * wy_.s - wy_.p + ky * wy_.d;
        if (y < 0 || y >= ih) continue;
        for (int64_t kx = 0; kx < wx_.k; ++kx) {
          const int64_t xx = ox * wx_.s - wx_.p + kx * wx_.d;
          if (xx < 0 || xx >= iw) continue;
          const float* px = x + (y * iw + xx) * C;
          if (max_)
            for (int64_t k = 0; k < C; ++k) acc[size_t(k)] = std::max(acc[size_t(k)], px[k]);
          else
            for (int64_t k = 0; k < C; ++k) acc[size_t(k)] += px[k];
          ++count;
        }
      }
      float* o = out_[0]->buf + int64_t(p) * C;
      if (max_) std::copy_n(acc.data(), C, o);
      else {
        const float inv = 1.f / float(include_pad_ ? wy_.k * wx_.k : std::max<int64_t>(count, 1));
        for (int64_t k = 0; k < C; ++k) o[k] = acc[size_t(k)] * inv;
      }
      act_.apply(o, size_t(C));
    }
    return 0;
  }

 private:
  bool max_;
  Win wy_, wx_;
  bool include_pad_;
  FusedActivation act_;
  std::vector<float> acc_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_window_pool(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  const bool max = n.op == "MaxPool";
  if ((!max && n.op != "AveragePool") || !c.in[0] || !c.out[0] || n.attrs.s("layout") != "NHWC") return nullptr;
  if (n.outputs.size() > 1 && n.outputs[1] >= 0) return nullptr;  // MaxPool indices
  const Shape& x = k.input(0).shape;
  const Shape& y = k.output(0).shape;
  if (k.input(0).dtype != DType::f32 || x.size() != 4 || x[0] != 1 || y.size() != 4 || y[1] * y[2] <= 1) return nullptr;
  auto ks = n.attrs.ints("kernel_shape", {});
  auto st = n.attrs.ints("strides", {1, 1});
  auto dl = n.attrs.ints("dilations", {1, 1});
  auto pd = n.attrs.ints("pads", {0, 0, 0, 0});
  if (ks.size() != 2 || st.size() != 2 || dl.size() != 2 || pd.size() != 4) return nullptr;
  const bool include_pad = n.attrs.i("count_include_pad", 0) != 0;
  // count_include_pad with padding (or ceil-mode overhang): ONNX's divisor is not simply kh * kw
  const bool overhang = (y[1] - 1) * st[0] + (ks[0] - 1) * dl[0] + 1 > x[1] + pd[0] ||
                        (y[2] - 1) * st[1] + (ks[1] - 1) * dl[1] + 1 > x[2] + pd[1];
  if (!max && include_pad && (pd[0] || pd[1] || pd[2] || pd[3] || overhang)) return nullptr;
  return std::make_unique<DeltaWindowPool>(c, max, Win{ks[0], st[0], dl[0], pd[0]}, Win{ks[1], st[1], dl[1], pd[1]},
                                           include_pad);
}

}  // namespace ef
