// QuantizeLinear / DequantizeLinear (ONNX opset 13): per-tensor or per-axis,
// int8/uint8 (and int32 for DequantizeLinear of biases). Round half to even
// and saturate, exactly as the reference in graph/ops/quant_util.h: the loops
// below are that arithmetic, split over the thread pool.
#include "graph/ops/quant_util.h"
#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

constexpr size_t kChunk = 16384;

template <class Q>
class QuantizeKernel : public Kernel {
 public:
  QuantizeKernel(QuantParams p, pthreadpool_t pool) : p_(std::move(p)), pool_(pool) { qrange(dtype_of<Q>(), lo_, hi_); }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    walk_ = AxisWalk(in[0].shape, p_);
  }
  void run() override {
    const float* x = in_[0].as<float>();
    Q* y = out_[0].as<Q>();
    const size_t n = size_t(in_[0].numel());
    parallel_for(pool_, (n + kChunk - 1) / kChunk, [&](size_t t) {
      const size_t b = t * kChunk, e = std::min(n, b + kChunk);
      if (walk_.channels == 1) {
        const float s = p_.scale[0];
        const int32_t z = p_.zero_point[0];
        for (size_t i = b; i < e; ++i) y[i] = Q(quantize_value(x[i], s, z, lo_, hi_));
      } else {
        for (size_t i = b; i < e; ++i) {
          const int64_t c = walk_.channel(int64_t(i));
          y[i] = Q(quantize_value(x[i], p_.scale[c], p_.zero_point[c], lo_, hi_));
        }
      }
    });
  }

 private:
  QuantParams p_;
  pthreadpool_t pool_;
  int32_t lo_ = 0, hi_ = 0;
  AxisWalk walk_{{}, {}};
};

template <class Q>
class DequantizeKernel : public Kernel {
 public:
  DequantizeKernel(QuantParams p, pthreadpool_t pool) : p_(std::move(p)), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    walk_ = AxisWalk(in[0].shape, p_);
  }
  void run() override {
    const Q* x = in_[0].as<Q>();
    float* y = out_[0].as<float>();
    const size_t n = size_t(in_[0].numel());
    parallel_for(pool_, (n + kChunk - 1) / kChunk, [&](size_t t) {
      const size_t b = t * kChunk, e = std::min(n, b + kChunk);
      if (walk_.channels == 1) {
        const float s = p_.scale[0];
        const int64_t z = p_.zero_point[0];
        for (size_t i = b; i < e; ++i) y[i] = float(int64_t(x[i]) - z) * s;
      } else {
        for (size_t i = b; i < e; ++i) {
          const int64_t c = walk_.channel(int64_t(i));
          y[i] = float(int64_t(x[i]) - p_.zero_point[c]) * p_.scale[c];
        }
      }
    });
  }

 private:
  QuantParams p_;
  pthreadpool_t pool_;
  AxisWalk walk_{{}, {}};
};

std::unique_ptr<Kernel> make_quantize(const KernelContext& c) {
  const DType qt = c.output(0).dtype;
  QuantParams p = const_qparams(c.graph, c.node, 1, 2, c.node.attrs.i("axis", 1), c.input(0).shape, qt,
                                c.graph.describe(c.node) + ": output");
  if (qt == DType::i8) return std::make_unique<QuantizeKernel<int8_t>>(std::move(p), c.pool);
  if (qt == DType::u8) return std::make_unique<QuantizeKernel<uint8_t>>(std::move(p), c.pool);
  return nullptr;
}

std::unique_ptr<Kernel> make_dequantize(const KernelContext& c) {
  const DType qt = c.input(0).dtype;
  QuantParams p = const_qparams(c.graph, c.node, 1, 2, c.node.attrs.i("axis", 1), c.input(0).shape, qt,
                                c.graph.describe(c.node) + ": input");
  if (qt == DType::i8) return std::make_unique<DequantizeKernel<int8_t>>(std::move(p), c.pool);
  if (qt == DType::u8) return std::make_unique<DequantizeKernel<uint8_t>>(std::move(p), c.pool);
  if (qt == DType::i32) return std::make_unique<DequantizeKernel<int32_t>>(std::move(p), c.pool);
  return nullptr;
}

}  // namespace

EF_REGISTER_KERNEL("QuantizeLinear", 0, make_quantize, "ref");
EF_REGISTER_KERNEL("DequantizeLinear", 0, make_dequantize, "ref");
}  // namespace ef
