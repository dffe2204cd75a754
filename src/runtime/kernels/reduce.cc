// Reductions over any set of axes (f32, int32, int64): the input is walked
// linearly with a broadcast-style plan whose "input" strides are the output's
// (0 along reduced axes), so both "reduce the innermost run" (NCHW spatial
// mean) and "accumulate rows" (NHWC spatial mean) are plain vectorizable
// loops. Split over threads along the outermost kept axis. ArgMax/ArgMin too.
#include <cmath>
#include <limits>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"

namespace ef {
namespace {

enum class Red { sum, mean, max, min, prod, sumsq, l2 };

template <class T>
class ReduceKernel : public Kernel {
 public:
  ReduceKernel(Red kind, std::vector<int64_t> axes, bool noop, pthreadpool_t pool)
      : kind_(kind), axes_(std::move(axes)), noop_(noop), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    const int64_t r = int64_t(s.size());
    std::vector<bool> red(size_t(r), axes_.empty() && !noop_);
    for (int64_t a : axes_) red[a < 0 ? a + r : a] = true;
    // plan over the input shape; "input 0" = the output, broadcast along reduced axes
    Shape oshape(s.size());
    for (int64_t d = 0; d < r; ++d) oshape[d] = red[d] ? 1 : s[d];
    plan_ = bcast::make_plan(s, oshape);
    in_n_ = in[0].numel();
    out_n_ = out[0].numel();
    parallel_ok_ = plan_.stride[0][0] != 0 && plan_.rank > 1;
  }
  void run() override {
    const T* x = in_[0].as<T>();
    T* y = out_[0].as<T>();
    T init = T(0);
    if (kind_ == Red::max) init = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                                      : std::numeric_limits<T>::lowest();
    if (kind_ == Red::min) init = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                                      : std::numeric_limits<T>::max();
    if (kind_ == Red::prod) init = T(1);
    init_ = init;
    for (int64_t i = 0; i < out_n_; ++i) y[i] = init;
    if (in_n_ > 0) {
      switch (kind_) {
        case Red::sum: case Red::mean: go(x, y, [](T a, T b) { return T(a + b); }, [](T v) { return v; }); break;
        case Red::sumsq: case Red::l2: go(x, y, [](T a, T b) { return T(a + b); }, [](T v) { return T(v * v); }); break;
        case Red::prod: go(x, y, [](T a, T b) { return T(a * b); }, [](T v) { return v; }); break;
        case Red::max: go(x, y, [](T a, T b) { return a > b ? a : b; }, [](T v) { return v; }); break;
        case Red::min: go(x, y, [](T a, T b) { return a < b ? a : b; }, [](T v) { return v; }); break;
      }
    }
    if (kind_ == Red::mean && out_n_ > 0) {
      const int64_t cnt = in_n_ / std::max<int64_t>(out_n_, 1);
      if constexpr (std::is_floating_point_v<T>) {
        const T s = cnt ? T(1) / T(cnt) : T(NAN);
        for (int64_t i = 0; i < out_n_; ++i) y[i] *= s;
      } else {
        for (int64_t i = 0; i < out_n_; ++i) y[i] = cnt ? T(y[i] / T(cnt)) : T(0);
      }
    }
    if (kind_ == Red::l2)
      for (int64_t i = 0; i < out_n_; ++i) y[i] = T(std::sqrt(double(y[i])));
  }

 private:
  template <class Op, class Pre>
  void go(const T* x, T* y, Op op, Pre pre) {
    const bcast::Plan& p = plan_;
    auto span = [&](int64_t e, const int64_t* off, int64_t len) {
      const T* xs = x + e;
      T* ys = y + off[0];
      if (p.inner_stride(0) != 0) {
        for (int64_t i = 0; i < len; ++i) ys[i] = op(ys[i], pre(xs[i]));
      } else {
        T acc[8];
        for (int k = 0; k < 8; ++k) acc[k] = init_;
        int64_t i = 0;
        for (; i + 8 <= len; i += 8)
          for (int k = 0; k < 8; ++k) acc[k] = op(acc[k], pre(xs[i + k]));
        for (; i < len; ++i) acc[0] = op(acc[0], pre(xs[i]));
        T r = ys[0];
        for (int k = 0; k < 8; ++k) r = op(r, acc[k]);
        ys[0] = r;
      }
    };
    if (!parallel_ok_) {
      bcast::for_each_span(p, 0, p.numel, span);
      return;
    }
    const int64_t rest = p.numel / p.shape[0];
    bcast::parallel_for(pool_, p.shape[0], std::max<int64_t>(1, 16384 / std::max<int64_t>(rest, 1)),
                        [&](int64_t b, int64_t e) { bcast::for_each_span(p, b * rest, e * rest, span); });
  }
  Red kind_;
  std::vector<int64_t> axes_;
  bool noop_;
  pthreadpool_t pool_;
  bcast::Plan plan_;
  int64_t in_n_ = 0, out_n_ = 0;
  bool parallel_ok_ = false;
  T init_ = T(0);
};

std::vector<int64_t> axes_of(const KernelContext& c) {
  if (Graph::has_input(c.node, 1)) {
    const Tensor* t = c.const_input(1);
    if (!t) throw Error(c.graph.describe(c.node) + ": axes input '" + c.input(1).name + "' must be a constant");
    std::vector<int64_t> r(size_t(t->numel()));
    for (size_t k = 0; k < r.size(); ++k)
      r[k] = t->dtype() == DType::i64 ? t->data_as<int64_t>()[k] : int64_t(t->data_as<int32_t>()[k]);
    return r;
  }
  return c.node.attrs.ints("axes");
}

template <Red K>
std::unique_ptr<Kernel> make_reduce(const KernelContext& c) {
  auto axes = axes_of(c);
  bool noop = c.node.attrs.i("noop_with_empty_axes", 0) != 0;
  switch (c.input(0).dtype) {
    case DType::f32: return std::make_unique<ReduceKernel<float>>(K, axes, noop, c.pool);
    case DType::i32: return std::make_unique<ReduceKernel<int32_t>>(K, axes, noop, c.pool);
    case DType::i64: return std::make_unique<ReduceKernel<int64_t>>(K, axes, noop, c.pool);
    default: return nullptr;
  }
}

template <class T>
class ArgKernel : public Kernel {
 public:
  ArgKernel(int64_t axis, bool is_max, bool last) : axis_(axis), max_(is_max), last_(last) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    const int64_t a = axis_ < 0 ? axis_ + int64_t(s.size()) : axis_;
    outer_ = inner_ = 1;
    for (int64_t d = 0; d < a; ++d) outer_ *= s[d];
    for (int64_t d = a + 1; d < int64_t(s.size()); ++d) inner_ *= s[d];
    dim_ = s[a];
  }
  void run() override {
    const T* x = in_[0].as<T>();
    int64_t* y = out_[0].as<int64_t>();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        const T* xs = x + o * dim_ * inner_ + i;
        int64_t best = 0;
        for (int64_t k = 1; k < dim_; ++k) {
          T v = xs[k * inner_], b = xs[best * inner_];
          bool better = max_ ? (last_ ? v >= b : v > b) : (last_ ? v <= b : v < b);
          if (better) best = k;
        }
        y[o * inner_ + i] = best;
      }
  }

 private:
  int64_t axis_;
  bool max_, last_;
  int64_t outer_ = 1, inner_ = 1, dim_ = 1;
};

template <bool Max>
std::unique_ptr<Kernel> make_arg(const KernelContext& c) {
  int64_t axis = c.node.attrs.i("axis", 0);
  bool last = c.node.attrs.i("select_last_index", 0) != 0;
  switch (c.input(0).dtype) {
    case DType::f32: return std::make_unique<ArgKernel<float>>(axis, Max, last);
    case DType::i32: return std::make_unique<ArgKernel<int32_t>>(axis, Max, last);
    case DType::i64: return std::make_unique<ArgKernel<int64_t>>(axis, Max, last);
    case DType::u8: return std::make_unique<ArgKernel<uint8_t>>(axis, Max, last);
    case DType::i8: return std::make_unique<ArgKernel<int8_t>>(axis, Max, last);
    default: return nullptr;
  }
}

}  // namespace

EF_REGISTER_KERNEL("ReduceMean", 0, make_reduce<Red::mean>, "ref");
EF_REGISTER_KERNEL("ReduceSum", 0, make_reduce<Red::sum>, "ref");
EF_REGISTER_KERNEL("ReduceMax", 0, make_reduce<Red::max>, "ref");
EF_REGISTER_KERNEL("ReduceMin", 0, make_reduce<Red::min>, "ref");
EF_REGISTER_KERNEL("ReduceProd", 0, make_reduce<Red::prod>, "ref");
EF_REGISTER_KERNEL("ReduceSumSquare", 0, make_reduce<Red::sumsq>, "ref");
EF_REGISTER_KERNEL("ReduceL2", 0, make_reduce<Red::l2>, "ref");
EF_REGISTER_KERNEL("ArgMax", 0, make_arg<true>, "ref");
EF_REGISTER_KERNEL("ArgMin", 0, make_arg<false>, "ref");
}  // namespace ef
