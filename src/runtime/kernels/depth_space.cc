// DepthToSpace (DCR via XNNPACK depth_to_space_nhwc_x32, whose channel order
// is DCR; CRD and other dtypes on the own kernel) and SpaceToDepth, NHWC.
#include <cstring>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/nchw_adapter.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

template <class F>
void parallel_for(pthreadpool_t pool, size_t n, const F& f) {
  if (!pool || n <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  pthreadpool_parallelize_1d(
      pool, [](void* ctx, size_t i) { (*static_cast<const F*>(ctx))(i); }, const_cast<F*>(&f), n, 0);
}

void require_nhwc(const KernelContext& c) {
  if (c.node.attrs.s("layout", "") != "NHWC")
    throw Error(c.graph.describe(c.node) + ": " + c.node.op +
                " kernels run channels-last only (layout=NHWC); this node is NCHW");
}

class D2SXnn : public Kernel {
 public:
  D2SXnn(XnnOp op, pthreadpool_t pool) : op_(std::move(op)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    xnn_check(xnn_setup_depth_to_space_nhwc_x32(op_.get(), size_t(s[0]), size_t(s[1]), size_t(s[2]), in[0].data,
                                                out[0].data, pool_),
              "setup_depth_to_space_nhwc_x32", "DepthToSpace");
  }
  void run() override { xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "DepthToSpace"); }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_d2s_xnn(const KernelContext& c) {
  if (c.node.attrs.s("layout", "") != "NHWC" || dtype_size(c.input(0).dtype) != 4 || !xnn_available()) return nullptr;
  if (c.node.attrs.s("mode", "DCR") != "DCR") return nullptr;
  const int64_t b = c.node.attrs.i("blocksize");
  const size_t cout = size_t(c.output(0).shape[3]), cin = size_t(c.input(0).shape[3]);
  xnn_operator_t op = nullptr;
  if (xnn_create_depth_to_space_nhwc_x32(cout, cin, cout, uint32_t(b), 0, &op) != xnn_status_success) return nullptr;
  return std::make_unique<D2SXnn>(XnnOp(op), c.pool);
}

// Moves elements between [N, H, W, C*b*b] (deep) and [N, H*b, W*b, C]
// (wide). DCR (and SpaceToDepth) keep C contiguous runs; CRD interleaves.
class DepthSpaceRef : public Kernel {
 public:
  DepthSpaceRef(bool to_space, bool crd, int64_t b, pthreadpool_t pool)
      : to_space_(to_space), crd_(crd), b_(b), pool_(pool) {}
  void run() override {
    const Shape& deep = to_space_ ? in_[0].shape : out_[0].shape;
    const int64_t N = deep[0], H = deep[1], W = deep[2], b = b_, C = deep[3] / (b * b);
    const size_t es = dtype_size(in_[0].dtype);
    const uint8_t* src = static_cast<const uint8_t*>(in_[0].data);
    uint8_t* dst = static_cast<uint8_t*>(out_[0].data);
    const bool to_space = to_space_, crd = crd_;
    auto row = [&](size_t t) {  // one deep row (n, y)
      const int64_t n = int64_t(t) / H, y = int64_t(t) % H;
      for (int64_t x = 0; x < W; ++x)
        for (int64_t by = 0; by < b; ++by)
          for (int64_t bx = 0; bx < b; ++bx) {
            const int64_t wide = ((n * H * b + y * b + by) * W * b + x * b + bx) * C;
            const int64_t d0 = ((n * H + y) * W + x) * C * b * b;
            if (!crd) {
              const int64_t deep_i = d0 + (by * b + bx) * C;
              if (to_space) std::memcpy(dst + wide * es, src + deep_i * es, size_t(C) * es);
              else std::memcpy(dst + deep_i * es, src + wide * es, size_t(C) * es);
            } else if (es == 4) {
              const uint32_t* s = reinterpret_cast<const uint32_t*>(src) + d0 + by * b + bx;
              uint32_t* d = reinterpret_cast<uint32_t*>(dst) + wide;
              for (int64_t c = 0; c < C; ++c) d[c] = s[c * b * b];
            } else {
              for (int64_t c = 0; c < C; ++c)
                std::memcpy(dst + (wide + c) * es, src + (d0 + c * b * b + by * b + bx) * es, es);
            }
          }
    };
    parallel_for(pool_, size_t(N * H), row);
  }

 private:
  bool to_space_, crd_;
  int64_t b_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_d2s_ref(const KernelContext& c) {
  if (c.node.attrs.s("layout", "") != "NHWC" && c.input(0).dtype == DType::f32)
    return make_nchw_adapter(c, {make_d2s_xnn, make_d2s_ref});
  require_nhwc(c);
  return std::make_unique<DepthSpaceRef>(true, c.node.attrs.s("mode", "DCR") == "CRD", c.node.attrs.i("blocksize"),
                                         c.pool);
}

std::unique_ptr<Kernel> make_s2d_ref(const KernelContext& c) {
  if (c.node.attrs.s("layout", "") != "NHWC" && c.input(0).dtype == DType::f32)
    return make_nchw_adapter(c, {make_s2d_ref});
  require_nhwc(c);
  return std::make_unique<DepthSpaceRef>(false, false, c.node.attrs.i("blocksize"), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("DepthToSpace", 100, make_d2s_xnn, "xnnpack");
EF_REGISTER_KERNEL("DepthToSpace", 0, make_d2s_ref, "ref");
EF_REGISTER_KERNEL("SpaceToDepth", 0, make_s2d_ref, "ref");
}  // namespace ef
