// Elementwise activations and unary math. f32 runs on XNNPACK where it has
// the op (clamp, sigmoid, hardswish, leaky_relu, elu, prelu, sqrt, floor,
// ceiling, negate, abs); the rest are own loops the compiler vectorizes,
// split over the thread pool. Relu/Clip/Neg/Abs/Sign also take int32/int64.
#include <cmath>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

constexpr int64_t kGrain = 16384;

// ---- XNNPACK unary ops: created once with channels=1 (contiguous 1-D), setup binds batch=numel.
using XnnSetupFn = xnn_status (*)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t);

class XnnUnary : public Kernel {
 public:
  XnnUnary(xnn_operator_t op, XnnSetupFn setup, std::string what, pthreadpool_t pool)
      : op_(op), setup_(setup), what_(std::move(what)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    n_ = size_t(in[0].numel());
    if (n_ == 0) return;
    xnn_check(setup_(op_.get(), n_, in[0].as<float>(), out[0].as<float>(), pool_), "setup", what_);
  }
  void run() override {
    if (n_ == 0) return;
    xnn_check(xnn_run_operator(op_.get(), pool_), "run", what_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  XnnSetupFn setup_;
  std::string what_;
  pthreadpool_t pool_;
  size_t n_ = 0;
};

bool f32_io(const KernelContext& c) { return c.input(0).dtype == DType::f32 && c.output(0).dtype == DType::f32; }

std::unique_ptr<Kernel> wrap_xnn(const KernelContext& c, xnn_status st, xnn_operator_t op, XnnSetupFn setup,
                                 const char* call) {
  std::string what = c.graph.describe(c.node);
  if (st != xnn_status_success) {
    if (op) xnn_delete_operator(op);
    xnn_check(st, call, what);
  }
  return std::make_unique<XnnUnary>(op, setup, what, c.pool);
}

// Clip range of a Relu/Clip node, from constant inputs (opset 11+) or attrs.
// Returns false if a bound is a runtime value.
bool clip_bounds(const KernelContext& c, float& lo, float& hi) {
  lo = -INFINITY;
  hi = INFINITY;
  if (c.node.op == "Relu") {
    lo = 0;
    return true;
  }
  lo = c.node.attrs.f("min", -INFINITY);
  hi = c.node.attrs.f("max", INFINITY);
  for (size_t i = 1; i < 3; ++i) {
    if (!Graph::has_input(c.node, i)) continue;
    const Tensor* t = c.const_input(i);
    if (!t || t->dtype() != DType::f32 || t->numel() != 1) return false;
    (i == 1 ? lo : hi) = t->data_as<float>()[0];
  }
  return true;
}

std::unique_ptr<Kernel> xnn_clamp(const KernelContext& c) {
  if (!xnn_available() || !f32_io(c)) return nullptr;
  float lo, hi;
  if (!clip_bounds(c, lo, hi)) return nullptr;
  if (lo > hi) throw Error(c.graph.describe(c.node) + ": min " + std::to_string(lo) + " > max " + std::to_string(hi));
  xnn_operator_t op = nullptr;
  auto st = xnn_create_clamp_nc_f32(1, 1, 1, lo, hi, 0, &op);
  return wrap_xnn(c, st, op, xnn_setup_clamp_nc_f32, "create_clamp_nc_f32");
}

#define EF_XNN_SIMPLE(NAME, XNAME)                                                         \
  std::unique_ptr<Kernel> xnn_##NAME(const KernelContext& c) {                             \
    if (!xnn_available() || !f32_io(c)) return nullptr;                                    \
    xnn_operator_t op = nullptr;                                                           \
    auto st = xnn_create_##XNAME##_nc_f32(1, 1, 1, 0, &op);                                \
    return wrap_xnn(c, st, op, xnn_setup_##XNAME##_nc_f32, "create_" #XNAME "_nc_f32"); \
  }
EF_XNN_SIMPLE(sigmoid, sigmoid)
EF_XNN_SIMPLE(hardswish, hardswish)
EF_XNN_SIMPLE(sqrt, square_root)
EF_XNN_SIMPLE(floor, floor)
EF_XNN_SIMPLE(ceil, ceiling)
EF_XNN_SIMPLE(neg, negate)
EF_XNN_SIMPLE(abs, abs)
#undef EF_XNN_SIMPLE

std::unique_ptr<Kernel> xnn_leaky(const KernelContext& c) {
  if (!xnn_available() || !f32_io(c)) return nullptr;
  xnn_operator_t op = nullptr;
  auto st = xnn_create_leaky_relu_nc_f32(1, 1, 1, c.node.attrs.f("alpha", 0.01f), 0, &op);
  return wrap_xnn(c, st, op, xnn_setup_leaky_relu_nc_f32, "create_leaky_relu_nc_f32");
}

std::unique_ptr<Kernel> xnn_elu(const KernelContext& c) {
  if (!xnn_available() || !f32_io(c)) return nullptr;
  xnn_operator_t op = nullptr;
  auto st = xnn_create_elu_nc_f32(1, 1, 1, c.node.attrs.f("alpha", 1.0f), 0, &op);
  return wrap_xnn(c, st, op, xnn_setup_elu_nc_f32, "create_elu_nc_f32");
}

// PRelu on XNNPACK: slope constant and either one value (leaky relu) or one
// per channel of the last axis.
class XnnPrelu : public Kernel {
 public:
  XnnPrelu(xnn_operator_t op, size_t channels, std::string what, pthreadpool_t pool)
      : op_(op), channels_(channels), what_(std::move(what)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    batch_ = size_t(in[0].numel()) / channels_;
    if (batch_ == 0) return;
    xnn_check(xnn_setup_prelu_nc_f32(op_.get(), batch_, in[0].as<float>(), out[0].as<float>(), pool_), "setup", what_);
  }
  void run() override {
    if (batch_ == 0) return;
    xnn_check(xnn_run_operator(op_.get(), pool_), "run", what_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  XnnOp op_;
  size_t channels_, batch_ = 0;
  std::string what_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> xnn_prelu(const KernelContext& c) {
  if (!xnn_available() || !f32_io(c)) return nullptr;
  const Tensor* s = c.const_input(1);
  if (!s || s->dtype() != DType::f32) return nullptr;
  const Shape& xs = c.input(0).shape;
  if (s->numel() == 1) {
    xnn_operator_t op = nullptr;
    auto st = xnn_create_leaky_relu_nc_f32(1, 1, 1, s->data_as<float>()[0], 0, &op);
    return wrap_xnn(c, st, op, xnn_setup_leaky_relu_nc_f32, "create_leaky_relu_nc_f32");
  }
  if (xs.empty() || s->numel() != xs.back()) return nullptr;
  for (int i = 0; i + 1 < s->rank(); ++i)
    if (s->dim(i) != 1) return nullptr;
  size_t ch = size_t(xs.back());
  xnn_operator_t op = nullptr;
  auto st = xnn_create_prelu_nc_f32(ch, ch, ch, s->data_as<float>(), 0, &op);
  std::string what = c.graph.describe(c.node);
  if (st != xnn_status_success) {
    if (op) xnn_delete_operator(op);
    xnn_check(st, "create_prelu_nc_f32", what);
  }
  return std::make_unique<XnnPrelu>(op, ch, what, c.pool);
}

// ---- own elementwise kernels
template <class T, class Op>
class UnaryRef : public Kernel {
 public:
  UnaryRef(Op op, pthreadpool_t pool) : op_(op), pool_(pool) {}
  void run() override {
    const T* x = in_[0].as<T>();
    T* y = out_[0].as<T>();
    const Op op = op_;
    bcast::parallel_for(pool_, in_[0].numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = op(x[i]);
    });
  }

 private:
  Op op_;
  pthreadpool_t pool_;
};

template <class T, class Op>
std::unique_ptr<Kernel> make_unary(const KernelContext& c, Op op) {
  return std::make_unique<UnaryRef<T, Op>>(op, c.pool);
}

// tanh as a rational function (max abs error < 4e-7 over all floats).
inline float fast_tanh(float x) {
  const float c = 7.99881172180175781f;
  float xc = x < -c ? -c : (x > c ? c : x);
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float r = p / q;
  return std::fabs(x) < 0.0004f ? x : r;
}

template <class T>
struct ClipOp {
  T lo, hi;
  T operator()(T v) const { return v < lo ? lo : (v > hi ? hi : v); }
};

// Clip with bounds possibly supplied at run time.
template <class T>
class ClipRef : public Kernel {
 public:
  ClipRef(T lo, T hi, pthreadpool_t pool) : lo_(lo), hi_(hi), pool_(pool) {}
  void run() override {
    T lo = lo_, hi = hi_;
    if (in_.size() > 1 && in_[1].data) lo = in_[1].as<T>()[0];
    if (in_.size() > 2 && in_[2].data) hi = in_[2].as<T>()[0];
    const T* x = in_[0].as<T>();
    T* y = out_[0].as<T>();
    bcast::parallel_for(pool_, in_[0].numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
    });
  }

 private:
  T lo_, hi_;
  pthreadpool_t pool_;
};

template <class T>
std::unique_ptr<Kernel> make_clip_t(const KernelContext& c) {
  T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  if constexpr (std::is_floating_point_v<T>) {
    lo = T(c.node.attrs.f("min", -INFINITY));
    hi = T(c.node.attrs.f("max", INFINITY));
  }
  for (size_t i = 1; i < 3; ++i)
    if (Graph::has_input(c.node, i) && c.input(i).dtype != c.input(0).dtype)
      throw Error(c.graph.describe(c.node) + ": " + (i == 1 ? "min" : "max") + " input '" + c.input(i).name +
                  "' must have the input's dtype " + dtype_name(c.input(0).dtype));
  return std::make_unique<ClipRef<T>>(lo, hi, c.pool);
}

std::unique_ptr<Kernel> ref_clip(const KernelContext& c) {
  switch (c.input(0).dtype) {
    case DType::f32: return make_clip_t<float>(c);
    case DType::i32: return make_clip_t<int32_t>(c);
    case DType::i64: return make_clip_t<int64_t>(c);
    case DType::i8: return make_clip_t<int8_t>(c);
    case DType::u8: return make_clip_t<uint8_t>(c);
    default: return nullptr;
  }
}

// Ops valid for f32 and the signed integer types.
template <template <class> class Op>
std::unique_ptr<Kernel> make_numeric(const KernelContext& c) {
  switch (c.input(0).dtype) {
    case DType::f32: return make_unary<float>(c, Op<float>{});
    case DType::i32: return make_unary<int32_t>(c, Op<int32_t>{});
    case DType::i64: return make_unary<int64_t>(c, Op<int64_t>{});
    case DType::i8: return make_unary<int8_t>(c, Op<int8_t>{});
    default: return nullptr;
  }
}
template <class T> struct ReluOp { T operator()(T v) const { return v > T(0) ? v : T(0); } };
template <class T> struct NegOp { T operator()(T v) const { return T(-v); } };
template <class T> struct AbsOp { T operator()(T v) const { return v < T(0) ? T(-v) : v; } };
template <class T> struct SignOp { T operator()(T v) const { return T(v > T(0) ? 1 : (v < T(0) ? -1 : 0)); } };

#define EF_F32_UNARY(NAME, EXPR)                                   \
  std::unique_ptr<Kernel> ref_##NAME(const KernelContext& c) {     \
    if (!f32_io(c)) return nullptr;                                \
    const Attrs& a = c.node.attrs;                                 \
    (void)a;                                                       \
    return make_unary<float>(c, EXPR);                             \
  }

EF_F32_UNARY(sigmoid, [](float v) { return 1.f / (1.f + std::exp(-v)); })
EF_F32_UNARY(hardswish, [](float v) { return v * std::min(std::max(v + 3.f, 0.f), 6.f) * (1.f / 6.f); })
EF_F32_UNARY(tanh, [](float v) { return fast_tanh(v); })
EF_F32_UNARY(exp, [](float v) { return std::exp(v); })
EF_F32_UNARY(log, [](float v) { return std::log(v); })
EF_F32_UNARY(sqrt, [](float v) { return std::sqrt(v); })
EF_F32_UNARY(reciprocal, [](float v) { return 1.f / v; })
EF_F32_UNARY(erf, [](float v) { return std::erf(v); })
EF_F32_UNARY(floor, [](float v) { return std::floor(v); })
EF_F32_UNARY(ceil, [](float v) { return std::ceil(v); })
EF_F32_UNARY(round, [](float v) { return std::nearbyint(v); })
EF_F32_UNARY(softplus, [](float v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); })
EF_F32_UNARY(leaky, ([al = a.f("alpha", 0.01f)](float v) { return v >= 0 ? v : v * al; }))
EF_F32_UNARY(elu, ([al = a.f("alpha", 1.0f)](float v) { return v >= 0 ? v : al * std::expm1(v); }))
EF_F32_UNARY(hardsigmoid, ([al = a.f("alpha", 0.2f), be = a.f("beta", 0.5f)](float v) {
               return std::min(std::max(al * v + be, 0.f), 1.f);
             }))
EF_F32_UNARY(selu, ([al = a.f("alpha", 1.67326319217681884765625f), ga = a.f("gamma", 1.05070102214813232421875f)](
                        float v) { return v > 0 ? ga * v : ga * al * std::expm1(v); }))
#undef EF_F32_UNARY

// PRelu with a general (numpy-broadcast) slope, constant or not.
class PreluRef : public Kernel {
 public:
  explicit PreluRef(pthreadpool_t pool) : pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plan_ = bcast::make_plan(out[0].shape, in[0].shape, in[1].shape);
  }
  void run() override {
    const float* x = in_[0].as<float>();
    const float* s = in_[1].as<float>();
    float* y = out_[0].as<float>();
    const bcast::Plan& p = plan_;
    bcast::parallel_for(pool_, p.numel, kGrain, [&](int64_t b, int64_t e) {
      bcast::for_each_span(p, b, e, [&](int64_t o, const int64_t* off, int64_t len) {
        const float* xs = x + off[0];
        const float* ss = s + off[1];
        float* ys = y + o;
        if (p.inner_stride(1) == 0) {
          const float sv = ss[0];
          for (int64_t i = 0; i < len; ++i) ys[i] = xs[i] >= 0 ? xs[i] : xs[i] * sv;
        } else {
          for (int64_t i = 0; i < len; ++i) ys[i] = xs[i] >= 0 ? xs[i] : xs[i] * ss[i];
        }
      });
    });
  }

 private:
  bcast::Plan plan_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> ref_prelu(const KernelContext& c) {
  if (!f32_io(c) || c.input(1).dtype != DType::f32) return nullptr;
  return std::make_unique<PreluRef>(c.pool);
}

std::unique_ptr<Kernel> ref_relu(const KernelContext& c) { return make_numeric<ReluOp>(c); }
std::unique_ptr<Kernel> ref_neg(const KernelContext& c) { return make_numeric<NegOp>(c); }
std::unique_ptr<Kernel> ref_abs(const KernelContext& c) { return make_numeric<AbsOp>(c); }
std::unique_ptr<Kernel> ref_sign(const KernelContext& c) { return make_numeric<SignOp>(c); }

}  // namespace

EF_REGISTER_KERNEL("Relu", 100, xnn_clamp, "xnnpack");
EF_REGISTER_KERNEL("Relu", 0, ref_relu, "ref");
EF_REGISTER_KERNEL("Clip", 100, xnn_clamp, "xnnpack");
EF_REGISTER_KERNEL("Clip", 0, ref_clip, "ref");
EF_REGISTER_KERNEL("LeakyRelu", 100, xnn_leaky, "xnnpack");
EF_REGISTER_KERNEL("LeakyRelu", 0, ref_leaky, "ref");
EF_REGISTER_KERNEL("PRelu", 100, xnn_prelu, "xnnpack");
EF_REGISTER_KERNEL("PRelu", 0, ref_prelu, "ref");
EF_REGISTER_KERNEL("Sigmoid", 100, xnn_sigmoid, "xnnpack");
EF_REGISTER_KERNEL("Sigmoid", 0, ref_sigmoid, "ref");
EF_REGISTER_KERNEL("HardSwish", 100, xnn_hardswish, "xnnpack");
EF_REGISTER_KERNEL("HardSwish", 0, ref_hardswish, "ref");
EF_REGISTER_KERNEL("Elu", 100, xnn_elu, "xnnpack");
EF_REGISTER_KERNEL("Elu", 0, ref_elu, "ref");
EF_REGISTER_KERNEL("Sqrt", 100, xnn_sqrt, "xnnpack");
EF_REGISTER_KERNEL("Sqrt", 0, ref_sqrt, "ref");
EF_REGISTER_KERNEL("Floor", 100, xnn_floor, "xnnpack");
EF_REGISTER_KERNEL("Floor", 0, ref_floor, "ref");
EF_REGISTER_KERNEL("Ceil", 100, xnn_ceil, "xnnpack");
EF_REGISTER_KERNEL("Ceil", 0, ref_ceil, "ref");
EF_REGISTER_KERNEL("Neg", 100, xnn_neg, "xnnpack");
EF_REGISTER_KERNEL("Neg", 0, ref_neg, "ref");
EF_REGISTER_KERNEL("Abs", 100, xnn_abs, "xnnpack");
EF_REGISTER_KERNEL("Abs", 0, ref_abs, "ref");
EF_REGISTER_KERNEL("Sign", 0, ref_sign, "ref");
EF_REGISTER_KERNEL("HardSigmoid", 0, ref_hardsigmoid, "ref");
EF_REGISTER_KERNEL("Tanh", 0, ref_tanh, "ref");
EF_REGISTER_KERNEL("Selu", 0, ref_selu, "ref");
EF_REGISTER_KERNEL("Softplus", 0, ref_softplus, "ref");
EF_REGISTER_KERNEL("Exp", 0, ref_exp, "ref");
EF_REGISTER_KERNEL("Log", 0, ref_log, "ref");
EF_REGISTER_KERNEL("Reciprocal", 0, ref_reciprocal, "ref");
EF_REGISTER_KERNEL("Erf", 0, ref_erf, "ref");
EF_REGISTER_KERNEL("Round", 0, ref_round, "ref");
}  // namespace ef
