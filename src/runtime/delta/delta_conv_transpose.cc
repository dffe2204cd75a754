// Sparse ConvTranspose (NHWC, groups 1) for delta execution: an output pixel
// is recomputed from its input pixels when one of them changed (direct
// gather form: y[oy,ox] = b + sum over taps with oy + pt - ky*dh = iy*sh).
#include <algorithm>
#include <cstring>

#include "runtime/delta/delta_op.h"

namespace ef {
namespace {

class DeltaConvTranspose : public DeltaOp {
 public:
  explicit DeltaConvTranspose(const DeltaOpCtx& c) : DeltaOp(c), act_(FusedActivation::from(c.kc.node)) {
    const Node& n = c.kc.node;
    const Shape& x = c.kc.input(0).shape;
    const Shape& w = c.kc.input(1).shape;  // IOHW
    const Shape& y = c.kc.output(0).shape;
    ih_ = x[1], iw_ = x[2], cin_ = x[3], oh_ = y[1], ow_ = y[2], cout_ = y[3], kh_ = w[2], kw_ = w[3];
    auto st = n.attrs.ints("strides", {1, 1}), dl = n.attrs.ints("dilations", {1, 1});
    auto pd = n.attrs.ints("pads", {0, 0, 0, 0});
    sh_ = st[0], sw_ = st[1], dh_ = dl[0], dw_ = dl[1], pt_ = pd[0], pl_ = pd[1];
    // IOHW -> [KH][KW][Cout][Cin]
    const float* ws = c.kc.const_input(1)->data_as<float>();
    wpack_.resize(size_t(kh_ * kw_ * cout_ * cin_));
    for (int64_t i = 0; i < cin_; ++i)
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t a = 0; a < kh_; ++a)
          for (int64_t b = 0; b < kw_; ++b)
            wpack_[size_t(((a * kw_ + b) * cout_ + o) * cin_ + i)] = ws[((i * cout_ + o) * kh_ + a) * kw_ + b];
    bias_.assign(size_t(cout_), 0.f);
    if (const Tensor* b = c.kc.const_input(2)) std::copy(b->data_as<float>(), b->data_as<float>() + cout_, bias_.begin());
    dense_macs_ = ih_ * iw_ * cin_ * cout_ * kh_ * kw_;
  }
  size_t state_bytes() const override { return (wpack_.size() + bias_.size()) * sizeof(float); }

  int64_t run(bool all) override {
    const Region& r = mark_reached(all, [&](int64_t y, int64_t x, Region& out) {
      out.mark_rect(y * sh_ - pt_, y * sh_ - pt_ + (kh_ - 1) * dh_, x * sw_ - pl_, x * sw_ - pl_ + (kw_ - 1) * dw_);
    });
    last_dense_ = all || r.fraction() > opts_.dense_above;
    if (r.empty()) return 0;
    if (last_dense_) {
      run_plain(false);
      return dense_macs_;
    }
    const float* x = in_[0]->pub;
    float* out = out_[0]->buf;
    int64_t macs = 0;
    for (int32_t p : r.list()) {
      const int64_t oy = p / ow_, ox = p % ow_;
      float* y = out + int64_t(p) * cout_;
      std::memcpy(y, bias_.data(), size_t(cout_) * sizeof(float));
      for (int64_t a = 0; a < kh_; ++a) {
        const int64_t ty = oy + pt_ - a * dh_;
        if (ty < 0 || ty % sh_ || ty / sh_ >= ih_) continue;
        for (int64_t b = 0; b < kw_; ++b) {
          const int64_t tx = ox + pl_ - b * dw_;
          if (tx < 0 || tx % sw_ || tx / sw_ >= iw_) continue;
          const float* xi = x + ((ty / sh_) * iw_ + tx / sw_) * cin_;
          const float* w = wpack_.data() + (a * kw_ + b) * cout_ * cin_;
          for (int64_t o = 0; o < cout_; ++o) {
            float s = 0;
            for (int64_t i = 0; i < cin_; ++i) s += xi[i] * w[o * cin_ + i];
            y[o] += s;
          }
          macs += cout_ * cin_;
        }
      }
      act_.apply(y, size_t(cout_));
    }
    return macs;
  }

 private:
  FusedActivation act_;
  int64_t ih_, iw_, cin_, oh_, ow_, cout_, kh_, kw_, sh_, sw_, dh_, dw_, pt_, pl_, dense_macs_;
  std::vector<float> wpack_, bias_;
};

}  // namespace

std::unique_ptr<DeltaOp> make_delta_conv_transpose(const DeltaOpCtx& c) {
  const KernelContext& k = c.kc;
  const Node& n = k.node;
  if (n.op != "ConvTranspose" || n.attrs.s("layout") != "NHWC" || !c.in[0] || !c.out[0]) return nullptr;
  if (k.input(0).dtype != DType::f32 || k.input(0).shape.size() != 4 || k.input(0).shape[0] != 1) return nullptr;
  if (n.attrs.i("group", 1) != 1 || !k.const_input(1) || (Graph::has_input(n, 2) && !k.const_input(2))) return nullptr;
  return std::make_unique<DeltaConvTranspose>(c);
}

}  // namespace ef
