// Broadcasting elementwise operators. f32 Add/Sub/Mul/Div/Max/Min with two
// inputs of rank <= 6 run on XNNPACK (*_nd_f32, which broadcast themselves);
// everything else (ints, comparisons, Pow, Mod, Where, variadic forms, rank
// > 6) on own kernels over a collapsed broadcast plan (broadcast.h).
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

constexpr int64_t kGrain = 16384;

// ---- XNNPACK
using XnnBinSetup = xnn_status (*)(xnn_operator_t, size_t, const size_t*, size_t, const size_t*, const float*,
                                   const float*, float*, pthreadpool_t);

class XnnBinary : public Kernel {
 public:
  XnnBinary(xnn_operator_t op, XnnBinSetup setup, FusedActivation act, bool post, std::string what,
            pthreadpool_t pool)
      : op_(op), setup_(setup), act_(act), post_(post), what_(std::move(what)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    n_ = out[0].numel();
    if (n_ == 0) return;
    size_t sa[XNN_MAX_TENSOR_DIMS], sb[XNN_MAX_TENSOR_DIMS];
    size_t ra = dims(in[0].shape, sa), rb = dims(in[1].shape, sb);
    xnn_check(setup_(op_.get(), ra, sa, rb, sb, in[0].as<float>(), in[1].as<float>(), out[0].as<float>(), pool_),
              "setup", what_);
  }
  void run() override {
    if (n_ == 0) return;
    xnn_check(xnn_run_operator(op_.get(), pool_), "run", what_);
    if (post_) act_.apply(out_[0].as<float>(), size_t(n_));
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  static size_t dims(const Shape& s, size_t* d) {
    if (s.empty()) {
      d[0] = 1;
      return 1;
    }
    for (size_t i = 0; i < s.size(); ++i) d[i] = size_t(s[i]);
    return s.size();
  }
  XnnOp op_;
  XnnBinSetup setup_;
  FusedActivation act_;
  bool post_;
  std::string what_;
  pthreadpool_t pool_;
  int64_t n_ = 0;
};

std::unique_ptr<Kernel> xnn_binary(const KernelContext& c) {
  if (!xnn_available() || c.node.inputs.size() != 2) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    if (!Graph::has_input(c.node, i)) return nullptr;
    const Value& v = c.input(i);
    if (v.dtype != DType::f32 || v.shape.size() > XNN_MAX_TENSOR_DIMS || numel(v.shape) == 0) return nullptr;
  }
  if (c.output(0).dtype != DType::f32) return nullptr;
  FusedActivation act = FusedActivation::from(c.node);
  const std::string& op = c.node.op;
  xnn_operator_t x = nullptr;
  xnn_status st;
  XnnBinSetup setup;
  const float lo = act.out_min(), hi = act.out_max();
  if (op == "Add") {
    st = xnn_create_add_nd_f32(lo, hi, 0, &x);
    setup = xnn_setup_add_nd_f32;
  } else if (op == "Sub") {
    st = xnn_create_subtract_nd_f32(lo, hi, 0, &x);
    setup = xnn_setup_subtract_nd_f32;
  } else if (op == "Mul") {
    st = xnn_create_multiply_nd_f32(lo, hi, 0, &x);
    setup = xnn_setup_multiply_nd_f32;
  } else if (op == "Div") {
    st = xnn_create_divide_nd_f32(lo, hi, 0, &x);
    setup = xnn_setup_divide_nd_f32;
  } else if (op == "Max") {
    st = xnn_create_maximum_nd_f32(0, &x);
    setup = xnn_setup_maximum_nd_f32;
  } else if (op == "Min") {
    st = xnn_create_minimum_nd_f32(0, &x);
    setup = xnn_setup_minimum_nd_f32;
  } else {
    return nullptr;
  }
  std::string what = c.graph.describe(c.node);
  if (st != xnn_status_success) {
    if (x) xnn_delete_operator(x);
    xnn_check(st, "create", what);
  }
  // max/min have no clamp of their own: any fused activation runs as a separate pass.
  const bool post = (op == "Max" || op == "Min") ? act.kind != FusedActivation::none : act.needs_separate_pass();
  return std::make_unique<XnnBinary>(x, setup, act, post, what, c.pool);
}

// ---- own kernels
template <class T> struct AddOp { T operator()(T a, T b) const { return T(a + b); } };
template <class T> struct SubOp { T operator()(T a, T b) const { return T(a - b); } };
template <class T> struct MulOp { T operator()(T a, T b) const { return T(a * b); } };
template <class T> struct MaxOp { T operator()(T a, T b) const { return a > b ? a : b; } };
template <class T> struct MinOp { T operator()(T a, T b) const { return a < b ? a : b; } };
template <class T> struct DivOp {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a / b;
    } else {  // truncating; never traps (x/0 -> 0, MIN/-1 -> MIN)
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(T(0) - a);
      return T(a / b);
    }
  }
};
// ONNX Mod with fmod=0: result takes the divisor's sign (integers only).
template <class T> struct ModOp {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(0);
      T r = T(a % b);
      if constexpr (std::is_signed_v<T>)
        if (r != 0 && ((r < 0) != (b < 0))) r = T(r + b);
      return r;
    }
  }
};
template <class T> struct FModOp {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(0);
      return T(a % b);
    }
  }
};
template <class T> struct EqOp { bool operator()(T a, T b) const { return a == b; } };
template <class T> struct LtOp { bool operator()(T a, T b) const { return a < b; } };
template <class T> struct GtOp { bool operator()(T a, T b) const { return a > b; } };
template <class T> struct LeOp { bool operator()(T a, T b) const { return a <= b; } };
template <class T> struct GeOp { bool operator()(T a, T b) const { return a >= b; } };
struct AndOp { bool operator()(bool a, bool b) const { return a && b; } };
struct OrOp { bool operator()(bool a, bool b) const { return a || b; } };
struct XorOp { bool operator()(bool a, bool b) const { return a != b; } };

// Pow with possibly different base (B) and exponent (E) types.
template <class B, class E> struct PowOp {
  B operator()(B b, E e) const {
    if constexpr (std::is_floating_point_v<B>) {
      return B(std::pow(b, std::is_floating_point_v<E> ? e : B(e)));
    } else if constexpr (std::is_floating_point_v<E>) {
      return B(std::pow(double(b), double(e)));
    } else {
      if (e < 0) return b == 1 ? B(1) : (b == B(-1) ? (e % 2 ? B(-1) : B(1)) : B(0));
      B r = 1, x = b;
      auto k = e;
      while (k) {
        if (k & 1) r = B(r * x);
        x = B(x * x);
        k >>= 1;
      }
      return r;
    }
  }
};

// One broadcasting pass y = op(a, b) over a plan.
template <class A, class B, class R, class Op>
void binary_pass(const bcast::Plan& p, const A* a, const B* b, R* y, Op op, pthreadpool_t pool) {
  bcast::parallel_for(pool, p.numel, kGrain, [&](int64_t e0, int64_t e1) {
    bcast::for_each_span(p, e0, e1, [&](int64_t o, const int64_t* off, int64_t len) {
      const A* as = a + off[0];
      const B* bs = b + off[1];
      R* ys = y + o;
      const bool sa = p.inner_stride(0) != 0, sb = p.inner_stride(1) != 0;
      if (sa && sb) {
        for (int64_t i = 0; i < len; ++i) ys[i] = op(as[i], bs[i]);
      } else if (sa) {
        const B bv = bs[0];
        for (int64_t i = 0; i < len; ++i) ys[i] = op(as[i], bv);
      } else if (sb) {
        const A av = as[0];
        for (int64_t i = 0; i < len; ++i) ys[i] = op(av, bs[i]);
      } else {
        const R v = op(as[0], bs[0]);
        for (int64_t i = 0; i < len; ++i) ys[i] = v;
      }
    });
  });
}

// y = in0 op in1 op in2 ...; Mean divides by the count; f32 outputs apply a
// fused activation.
template <class A, class B, class R, class Op>
class BinaryRef : public Kernel {
 public:
  BinaryRef(Op op, bool mean, FusedActivation act, pthreadpool_t pool) : op_(op), mean_(mean), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plans_.clear();
    if (in.size() == 1) {
      plans_.push_back(bcast::make_plan(out[0].shape, in[0].shape));
      return;
    }
    plans_.push_back(bcast::make_plan(out[0].shape, in[0].shape, in[1].shape));
    for (size_t k = 2; k < in.size(); ++k) plans_.push_back(bcast::make_plan(out[0].shape, out[0].shape, in[k].shape));
  }
  void run() override {
    R* y = out_[0].as<R>();
    if (in_.size() == 1) {  // variadic op with one input: broadcast copy
      const A* a = in_[0].as<A>();
      const bcast::Plan& p = plans_[0];
      bcast::for_each_span(p, 0, p.numel, [&](int64_t o, const int64_t* off, int64_t len) {
        for (int64_t i = 0; i < len; ++i) y[o + i] = R(a[off[0] + i * p.inner_stride(0)]);
      });
    } else {
      binary_pass(plans_[0], in_[0].as<A>(), in_[1].as<B>(), y, op_, pool_);
      if constexpr (std::is_same_v<A, R> && std::is_same_v<B, R>)
        for (size_t k = 2; k < in_.size(); ++k) binary_pass(plans_[k - 1], y, in_[k].as<B>(), y, op_, pool_);
    }
    if constexpr (std::is_same_v<R, float>) {
      const int64_t n = out_[0].numel();
      if (mean_) {
        const float s = 1.f / float(in_.size());
        for (int64_t i = 0; i < n; ++i) y[i] *= s;
      }
      act_.apply(y, size_t(n));
    } else if constexpr (std::is_integral_v<R> && !std::is_same_v<R, bool>) {
      if (mean_) {
        const int64_t n = out_[0].numel();
        for (int64_t i = 0; i < n; ++i) y[i] = R(y[i] / R(in_.size()));
      }
    }
  }

 private:
  Op op_;
  bool mean_;
  FusedActivation act_;
  pthreadpool_t pool_;
  std::vector<bcast::Plan> plans_;
};

template <class A, class B, class R, class Op>
std::unique_ptr<Kernel> mk(const KernelContext& c, Op op, bool mean = false) {
  FusedActivation act = FusedActivation::from(c.node);
  if (act.kind != FusedActivation::none && !std::is_same_v<R, float>)
    throw Error(c.graph.describe(c.node) + ": a fused activation needs a float32 output");
  return std::make_unique<BinaryRef<A, B, R, Op>>(op, mean, act, c.pool);
}

// Dispatch an arithmetic op template over f32/i32/i64/i8/u8 (same type in and out).
template <template <class> class Op>
std::unique_ptr<Kernel> arith_t(const KernelContext& c, bool mean = false) {
  switch (c.input(0).dtype) {
    case DType::f32: return mk<float, float, float>(c, Op<float>{}, mean);
    case DType::i32: return mk<int32_t, int32_t, int32_t>(c, Op<int32_t>{}, mean);
    case DType::i64: return mk<int64_t, int64_t, int64_t>(c, Op<int64_t>{}, mean);
    case DType::i8: return mk<int8_t, int8_t, int8_t>(c, Op<int8_t>{}, mean);
    case DType::u8: return mk<uint8_t, uint8_t, uint8_t>(c, Op<uint8_t>{}, mean);
    default: return nullptr;
  }
}

template <template <class> class Op>
std::unique_ptr<Kernel> compare_t(const KernelContext& c) {
  switch (c.input(0).dtype) {
    case DType::f32: return mk<float, float, bool>(c, Op<float>{});
    case DType::i32: return mk<int32_t, int32_t, bool>(c, Op<int32_t>{});
    case DType::i64: return mk<int64_t, int64_t, bool>(c, Op<int64_t>{});
    case DType::i8: return mk<int8_t, int8_t, bool>(c, Op<int8_t>{});
    case DType::u8: return mk<uint8_t, uint8_t, bool>(c, Op<uint8_t>{});
    case DType::boolean: return mk<bool, bool, bool>(c, Op<bool>{});
    default: return nullptr;
  }
}

std::unique_ptr<Kernel> ref_add(const KernelContext& c) { return arith_t<AddOp>(c); }
std::unique_ptr<Kernel> ref_sub(const KernelContext& c) { return arith_t<SubOp>(c); }
std::unique_ptr<Kernel> ref_mul(const KernelContext& c) { return arith_t<MulOp>(c); }
std::unique_ptr<Kernel> ref_div(const KernelContext& c) { return arith_t<DivOp>(c); }
std::unique_ptr<Kernel> ref_max(const KernelContext& c) { return arith_t<MaxOp>(c); }
std::unique_ptr<Kernel> ref_min(const KernelContext& c) { return arith_t<MinOp>(c); }
std::unique_ptr<Kernel> ref_sum(const KernelContext& c) { return arith_t<AddOp>(c); }
std::unique_ptr<Kernel> ref_mean(const KernelContext& c) { return arith_t<AddOp>(c, true); }
std::unique_ptr<Kernel> ref_mod(const KernelContext& c) {
  bool fmod = c.node.attrs.i("fmod", 0) != 0;
  if (c.input(0).dtype == DType::f32 && !fmod)
    throw Error(c.graph.describe(c.node) + ": Mod on float32 requires fmod=1");
  return fmod ? arith_t<FModOp>(c) : arith_t<ModOp>(c);
}
std::unique_ptr<Kernel> ref_equal(const KernelContext& c) { return compare_t<EqOp>(c); }
std::unique_ptr<Kernel> ref_less(const KernelContext& c) { return compare_t<LtOp>(c); }
std::unique_ptr<Kernel> ref_greater(const KernelContext& c) { return compare_t<GtOp>(c); }
std::unique_ptr<Kernel> ref_le(const KernelContext& c) { return compare_t<LeOp>(c); }
std::unique_ptr<Kernel> ref_ge(const KernelContext& c) { return compare_t<GeOp>(c); }
std::unique_ptr<Kernel> ref_and(const KernelContext& c) { return mk<bool, bool, bool>(c, AndOp{}); }
std::unique_ptr<Kernel> ref_or(const KernelContext& c) { return mk<bool, bool, bool>(c, OrOp{}); }
std::unique_ptr<Kernel> ref_xor(const KernelContext& c) { return mk<bool, bool, bool>(c, XorOp{}); }

template <class B>
std::unique_ptr<Kernel> pow_b(const KernelContext& c) {
  switch (c.input(1).dtype) {
    case DType::f32: return mk<B, float, B>(c, PowOp<B, float>{});
    case DType::i32: return mk<B, int32_t, B>(c, PowOp<B, int32_t>{});
    case DType::i64: return mk<B, int64_t, B>(c, PowOp<B, int64_t>{});
    default: return nullptr;
  }
}
std::unique_ptr<Kernel> ref_pow(const KernelContext& c) {
  switch (c.input(0).dtype) {
    case DType::f32: return pow_b<float>(c);
    case DType::i32: return pow_b<int32_t>(c);
    case DType::i64: return pow_b<int64_t>(c);
    default: return nullptr;
  }
}

class NotRef : public Kernel {
 public:
  void run() override {
    const bool* x = in_[0].as<bool>();
    bool* y = out_[0].as<bool>();
    const int64_t n = in_[0].numel();
    for (int64_t i = 0; i < n; ++i) y[i] = !x[i];
  }
};
std::unique_ptr<Kernel> ref_not(const KernelContext& c) { return std::make_unique<NotRef>(); }

// Where(cond, x, y): any element type, moved as raw bits.
template <class T>
class WhereRef : public Kernel {
 public:
  explicit WhereRef(pthreadpool_t pool) : pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plan_ = bcast::make_plan(out[0].shape, in[0].shape, in[1].shape, in[2].shape);
  }
  void run() override {
    const bool* c = in_[0].as<bool>();
    const T* a = in_[1].as<T>();
    const T* b = in_[2].as<T>();
    T* y = out_[0].as<T>();
    const bcast::Plan& p = plan_;
    bcast::parallel_for(pool_, p.numel, kGrain, [&](int64_t e0, int64_t e1) {
      bcast::for_each_span(p, e0, e1, [&](int64_t o, const int64_t* off, int64_t len) {
        const int64_t sc = p.inner_stride(0), sa = p.inner_stride(1), sb = p.inner_stride(2);
        for (int64_t i = 0; i < len; ++i) y[o + i] = c[off[0] + i * sc] ? a[off[1] + i * sa] : b[off[2] + i * sb];
      });
    });
  }

 private:
  pthreadpool_t pool_;
  bcast::Plan plan_;
};
std::unique_ptr<Kernel> ref_where(const KernelContext& c) {
  switch (dtype_size(c.input(1).dtype)) {
    case 1: return std::make_unique<WhereRef<uint8_t>>(c.pool);
    case 2: return std::make_unique<WhereRef<uint16_t>>(c.pool);
    case 4: return std::make_unique<WhereRef<uint32_t>>(c.pool);
    case 8: return std::make_unique<WhereRef<uint64_t>>(c.pool);
    default: return nullptr;
  }
}

}  // namespace

EF_REGISTER_KERNEL("Add", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Sub", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Mul", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Div", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Max", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Min", 100, xnn_binary, "xnnpack");
EF_REGISTER_KERNEL("Add", 0, ref_add, "ref");
EF_REGISTER_KERNEL("Sub", 0, ref_sub, "ref");
EF_REGISTER_KERNEL("Mul", 0, ref_mul, "ref");
EF_REGISTER_KERNEL("Div", 0, ref_div, "ref");
EF_REGISTER_KERNEL("Max", 0, ref_max, "ref");
EF_REGISTER_KERNEL("Min", 0, ref_min, "ref");
EF_REGISTER_KERNEL("Sum", 0, ref_sum, "ref");
EF_REGISTER_KERNEL("Mean", 0, ref_mean, "ref");
EF_REGISTER_KERNEL("Mod", 0, ref_mod, "ref");
EF_REGISTER_KERNEL("Pow", 0, ref_pow, "ref");
EF_REGISTER_KERNEL("Equal", 0, ref_equal, "ref");
EF_REGISTER_KERNEL("Less", 0, ref_less, "ref");
EF_REGISTER_KERNEL("Greater", 0, ref_greater, "ref");
EF_REGISTER_KERNEL("LessOrEqual", 0, ref_le, "ref");
EF_REGISTER_KERNEL("GreaterOrEqual", 0, ref_ge, "ref");
EF_REGISTER_KERNEL("And", 0, ref_and, "ref");
EF_REGISTER_KERNEL("Or", 0, ref_or, "ref");
EF_REGISTER_KERNEL("Xor", 0, ref_xor, "ref");
EF_REGISTER_KERNEL("Not", 0, ref_not, "ref");
EF_REGISTER_KERNEL("Where", 0, ref_where, "ref");
}  // namespace ef
