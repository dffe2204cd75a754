// QLinearGlobalAveragePool (NHWC): XNNPACK global_average_pooling_nwc_qs8
// for int8 (fixed-point: within 1 LSB of the reference), and a reference
// that sums in int32 and requantizes
// round_half_even((sum - count * x_zp) * x_scale / (count * y_scale)) + y_zp.
#include <vector>

#include "runtime/kernels/parallel.h"
#include "runtime/kernels/qkernel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

bool nhwc4(const KernelContext& c) { return c.node.attrs.s("layout", "") == "NHWC" && c.input(0).shape.size() == 4; }

class QGapXnn : public Kernel {
 public:
  QGapXnn(XnnOp op, pthreadpool_t pool) : op_(std::move(op)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    xnn_check(xnn_setup_global_average_pooling_nwc_qs8(op_.get(), size_t(s[0]), size_t(s[1] * s[2]), in[0].as<int8_t>(),
                                                       out[0].as<int8_t>(), pool_),
              "setup_global_average_pooling_nwc_qs8", "QLinearGlobalAveragePool");
  }
  void run() override { xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "QLinearGlobalAveragePool"); }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qgap_xnn(const KernelContext& c) {
  if (!nhwc4(c) || c.input(0).dtype != DType::i8 || c.output(0).dtype != DType::i8 || !xnn_available()) return nullptr;
  const QScalar x = qscalar(c, 1, DType::i8, "input"), y = qscalar(c, 3, DType::i8, "output");
  const size_t ch = size_t(c.input(0).shape[3]);
  xnn_operator_t op = nullptr;
  if (xnn_create_global_average_pooling_nwc_qs8(ch, ch, ch, int8_t(x.zp), x.scale, int8_t(y.zp), y.scale, -128, 127, 0,
                                                &op) != xnn_status_success)
    return nullptr;
  return std::make_unique<QGapXnn>(XnnOp(op), c.pool);
}

template <class X, class Y>
class QGapRef : public Kernel {
 public:
  QGapRef(QScalar x, QScalar y, pthreadpool_t pool) : x_(x), y_(y), pool_(pool) {}
  void run() override {
    const Shape& s = in_[0].shape;
    const int64_t N = s[0], P = s[1] * s[2], C = s[3];
    const X* x = in_[0].as<X>();
    Y* y = out_[0].as<Y>();
    int32_t lo, hi;
    qrange(dtype_of<Y>(), lo, hi);
    const float mult = x_.scale / (float(P) * y_.scale);
    parallel_for(pool_, size_t(N * C), [&](size_t nc) {
      const int64_t n = int64_t(nc) / C, ch = int64_t(nc) % C;
      int32_t sum = 0;
      for (int64_t p = 0; p < P; ++p) sum += int32_t(x[(n * P + p) * C + ch]);
      y[nc] = Y(requantize(sum - int32_t(P) * x_.zp, mult, y_.zp, lo, hi));
    });
  }

 private:
  QScalar x_, y_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qgap_ref(const KernelContext& c) {
  if (!nhwc4(c)) return nullptr;
  const DType xt = c.input(0).dtype, yt = c.output(0).dtype;
  const QScalar x = qscalar(c, 1, xt, "input"), y = qscalar(c, 3, yt, "output");
  if (xt == DType::i8 && yt == DType::i8) return std::make_unique<QGapRef<int8_t, int8_t>>(x, y, c.pool);
  if (xt == DType::u8 && yt == DType::u8) return std::make_unique<QGapRef<uint8_t, uint8_t>>(x, y, c.pool);
  if (xt == DType::i8) return std::make_unique<QGapRef<int8_t, uint8_t>>(x, y, c.pool);
  return std::make_unique<QGapRef<uint8_t, int8_t>>(x, y, c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("QLinearGlobalAveragePool", 100, make_qgap_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearGlobalAveragePool", 0, make_qgap_ref, "ref");
}  // namespace ef
