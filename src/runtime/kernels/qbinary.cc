// QLinearAdd / QLinearMul with numpy broadcasting. XNNPACK add_nd_qs8 /
// multiply_nd_qs8 for int8 (fixed-point requantization: within 1 LSB of
// the float reference); the reference computes the spec in float:
// y = round_half_even(f((a - a_zp) * a_scale, (b - b_zp) * b_scale) / y_scale) + y_zp.
#include <vector>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/qkernel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

struct QBinSpec {
  QScalar a, b, y;
  int32_t lo = -128, hi = 127;
  bool mul = false;
};

QBinSpec read_spec(const KernelContext& c) {
  QBinSpec s;
  s.a = qscalar(c, 1, c.input(0).dtype, "input A");
  s.b = qscalar(c, 4, c.input(3).dtype, "input B");
  s.y = qscalar(c, 6, c.output(0).dtype, "output");
  s.mul = c.node.op == "QLinearMul";
  if (!act_range(FusedActivation::from(c.node), s.y, c.output(0).dtype, s.lo, s.hi))
    throw Error(c.graph.describe(c.node) + ": fused activation cannot be applied to a quantized output");
  return s;
}

class QBinXnn : public Kernel {
 public:
  QBinXnn(XnnOp op, bool mul, pthreadpool_t pool) : op_(std::move(op)), mul_(mul), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    std::vector<size_t> a(in[0].shape.begin(), in[0].shape.end()), b(in[3].shape.begin(), in[3].shape.end());
    auto f = mul_ ? xnn_setup_multiply_nd_qs8 : xnn_setup_add_nd_qs8;
    xnn_check(f(op_.get(), a.size(), a.data(), b.size(), b.data(), in[0].as<int8_t>(), in[3].as<int8_t>(),
                out[0].as<int8_t>(), pool_),
              "setup_add/multiply_nd_qs8", mul_ ? "QLinearMul" : "QLinearAdd");
  }
  void run() override { xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", "QLinearAdd/Mul"); }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  bool mul_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qbin_xnn(const KernelContext& c) {
  if (c.input(0).dtype != DType::i8 || c.input(3).dtype != DType::i8 || c.output(0).dtype != DType::i8) return nullptr;
  if (c.input(0).shape.size() > XNN_MAX_TENSOR_DIMS || c.input(3).shape.size() > XNN_MAX_TENSOR_DIMS) return nullptr;
  if (!xnn_available()) return nullptr;
  QBinSpec s = read_spec(c);
  xnn_operator_t op = nullptr;
  auto f = s.mul ? xnn_create_multiply_nd_qs8 : xnn_create_add_nd_qs8;
  if (f(int8_t(s.a.zp), s.a.scale, int8_t(s.b.zp), s.b.scale, int8_t(s.y.zp), s.y.scale, int8_t(s.lo), int8_t(s.hi), 0,
        &op) != xnn_status_success)
    return nullptr;  // scale ratio outside XNNPACK's range: the reference takes it
  return std::make_unique<QBinXnn>(XnnOp(op), s.mul, c.pool);
}

template <class A, class B, class Y>
class QBinRef : public Kernel {
 public:
  QBinRef(QBinSpec s, pthreadpool_t pool) : s_(s), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plan_ = bcast::make_plan(out[0].shape, in[0].shape, in[3].shape);
  }
  void run() override {
    const A* a = in_[0].as<A>();
    const B* b = in_[3].as<B>();
    Y* y = out_[0].as<Y>();
    const QBinSpec s = s_;
    const int64_t sa = plan_.inner_stride(0), sb = plan_.inner_stride(1);
    bcast::parallel_for(pool_, plan_.numel, 16384, [&](int64_t e0, int64_t e1) {
      bcast::for_each_span(plan_, e0, e1, [&](int64_t o, const int64_t* off, int64_t len) {
        for (int64_t i = 0; i < len; ++i) {
          const float fa = float(int32_t(a[off[0] + i * sa]) - s.a.zp) * s.a.scale;
          const float fb = float(int32_t(b[off[1] + i * sb]) - s.b.zp) * s.b.scale;
          y[o + i] = Y(quantize_value(s.mul ? fa * fb : fa + fb, s.y.scale, s.y.zp, s.lo, s.hi));
        }
      });
    });
  }

 private:
  QBinSpec s_;
  pthreadpool_t pool_;
  bcast::Plan plan_;
};

template <class A, class B>
std::unique_ptr<Kernel> qbin_y(const KernelContext& c, QBinSpec s) {
  if (c.output(0).dtype == DType::i8) return std::make_unique<QBinRef<A, B, int8_t>>(s, c.pool);
  return std::make_unique<QBinRef<A, B, uint8_t>>(s, c.pool);
}
template <class A>
std::unique_ptr<Kernel> qbin_b(const KernelContext& c, QBinSpec s) {
  if (c.input(3).dtype == DType::i8) return qbin_y<A, int8_t>(c, s);
  return qbin_y<A, uint8_t>(c, s);
}
std::unique_ptr<Kernel> make_qbin_ref(const KernelContext& c) {
  QBinSpec s = read_spec(c);
  if (c.input(0).dtype == DType::i8) return qbin_b<int8_t>(c, s);
  return qbin_b<uint8_t>(c, s);
}

}  // namespace

EF_REGISTER_KERNEL("QLinearAdd", 100, make_qbin_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearAdd", 0, make_qbin_ref, "ref");
EF_REGISTER_KERNEL("QLinearMul", 100, make_qbin_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearMul", 0, make_qbin_ref, "ref");
}  // namespace ef
