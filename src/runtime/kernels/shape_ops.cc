// Kernels for shape-level operators. Reshape/Flatten/Squeeze/Unsqueeze/
// Identity/Dropout copy bytes (every dtype); Shape/Size write int64; Constant,
// ConstantOfShape, Range, Expand produce data (used by constant folding too).
#include <cstring>

#include "graph/ops/infer_util.h"
#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"

namespace ef {
namespace {

class CopyKernel : public Kernel {
 public:
  void run() override {
    if (out_[0].data != in_[0].data)
      std::memcpy(out_[0].data, in_[0].data, size_t(in_[0].numel()) * dtype_size(in_[0].dtype));
    if (out_.size() > 1 && out_[1].data)  // Dropout mask: all kept
      std::memset(out_[1].data, 1, size_t(out_[1].numel()));
  }
  const char* impl() const override { return "copy"; }
};
std::unique_ptr<Kernel> make_copy(const KernelContext& c) { return std::make_unique<CopyKernel>(); }

class ShapeKernel : public Kernel {
 public:
  explicit ShapeKernel(bool size) : size_(size) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const Shape& s = in[0].shape;
    if (size_) {
      dims_ = {numel(s)};
      return;
    }
    int64_t r = int64_t(s.size());
    int64_t len = out[0].numel();
    // the schema already resolved start/end into the output length; find start again
    int64_t start = start_attr_ < 0 ? start_attr_ + r : start_attr_;
    start = std::clamp<int64_t>(start, 0, r);
    dims_.assign(s.begin() + start, s.begin() + std::min(r, start + len));
  }
  void run() override { std::memcpy(out_[0].data, dims_.data(), dims_.size() * sizeof(int64_t)); }
  int64_t start_attr_ = 0;

 private:
  bool size_;
  std::vector<int64_t> dims_;
};
std::unique_ptr<Kernel> make_shape(const KernelContext& c) {
  auto k = std::make_unique<ShapeKernel>(false);
  k->start_attr_ = c.node.attrs.i("start", 0);
  return k;
}
std::unique_ptr<Kernel> make_size(const KernelContext& c) { return std::make_unique<ShapeKernel>(true); }


class ConstantKernel : public Kernel {
 public:
  explicit ConstantKernel(Tensor t) : t_(std::move(t)) {}
  void run() override { std::memcpy(out_[0].data, t_.data(), t_.nbytes()); }

 private:
  Tensor t_;
};
std::unique_ptr<Kernel> make_constant(const KernelContext& c) {
  try {
    return std::make_unique<ConstantKernel>(constant_value(c.node));
  } catch (const Error& e) {
    throw Error(c.graph.describe(c.node) + ": " + e.what());
  }
}

class FillKernel : public Kernel {
 public:
  explicit FillKernel(Tensor v) : v_(std::move(v)) {}
  void run() override {
    const size_t es = dtype_size(v_.dtype());
    const int64_t n = out_[0].numel();
    auto* y = static_cast<uint8_t*>(out_[0].data);
    if (es == 1) {
      std::memset(y, *v_.data_as<uint8_t>(), size_t(n));
      return;
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * es, v_.data(), es);
  }

 private:
  Tensor v_;
};
std::unique_ptr<Kernel> make_constant_of_shape(const KernelContext& c) {
  Tensor v = c.node.attrs.has("value") ? c.node.attrs.tensor("value") : Tensor(DType::f32, {1});
  return std::make_unique<FillKernel>(v);
}

template <class T>
class RangeKernel : public Kernel {
 public:
  void run() override {
    const T s = in_[0].as<T>()[0], d = in_[2].as<T>()[0];
    T* y = out_[0].as<T>();
    const int64_t n = out_[0].numel();
    for (int64_t i = 0; i < n; ++i) y[i] = T(s + T(i) * d);
  }
};
std::unique_ptr<Kernel> make_range(const KernelContext& c) {
  switch (c.input(0).dtype) {
    case DType::f32: return std::make_unique<RangeKernel<float>>();
    case DType::i32: return std::make_unique<RangeKernel<int32_t>>();
    case DType::i64: return std::make_unique<RangeKernel<int64_t>>();
    default: return nullptr;
  }
}

// Expand: broadcast copy, any element type.
class ExpandKernel : public Kernel {
 public:
  explicit ExpandKernel(pthreadpool_t pool) : pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plan_ = bcast::make_plan(out[0].shape, in[0].shape);
    es_ = dtype_size(in[0].dtype);
  }
  void run() override {
    const auto* x = static_cast<const uint8_t*>(in_[0].data);
    auto* y = static_cast<uint8_t*>(out_[0].data);
    const bcast::Plan& p = plan_;
    const size_t es = es_;
    bcast::parallel_for(pool_, p.numel, 16384, [&](int64_t b, int64_t e) {
      bcast::for_each_span(p, b, e, [&](int64_t o, const int64_t* off, int64_t len) {
        bcast::strided_copy(y + o * es, x + off[0] * es, len, p.inner_stride(0), es);
      });
    });
  }
  const char* impl() const override { return "copy"; }

 private:
  pthreadpool_t pool_;
  bcast::Plan plan_;
  size_t es_ = 1;
};
std::unique_ptr<Kernel> make_expand(const KernelContext& c) { return std::make_unique<ExpandKernel>(c.pool); }

}  // namespace

EF_REGISTER_KERNEL("Identity", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Dropout", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Reshape", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Flatten", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Squeeze", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Unsqueeze", 0, make_copy, "copy");
EF_REGISTER_KERNEL("Shape", 0, make_shape, "ref");
EF_REGISTER_KERNEL("Size", 0, make_size, "ref");
EF_REGISTER_KERNEL("Constant", 0, make_constant, "ref");
EF_REGISTER_KERNEL("ConstantOfShape", 0, make_constant_of_shape, "ref");
EF_REGISTER_KERNEL("Range", 0, make_range, "ref");
EF_REGISTER_KERNEL("Expand", 0, make_expand, "copy");
}  // namespace ef
