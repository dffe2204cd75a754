// QuantizeLinear / DequantizeLinear (ONNX opset 13): per-tensor or per-axis,
// int8/uint8 (and int32 for DequantizeLinear of biases). Round half to even
// and saturate, exactly as the reference in graph/ops/quant_util.h: the loops
// below are that arithmetic, split over the thread pool.
#include <immintrin.h>

#include "graph/ops/quant_util.h"
#include "runtime/kernel.h"
#include "runtime/kernels/qkernel.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

constexpr size_t kChunk = 16384;

// Per-tensor loops, 16 lanes: the same IEEE division, round-to-nearest-even
// and clamp as quantize_value(), so results are identical to the scalar path;
// each byte XOR flip. (Multiplying by 1 / scale, dividing only near rounding
// ties, is exact too but was no faster: memory-bound, bench/quant/RESULTS.md.)
template <class Q>
__attribute__((target("avx512f,avx512bw"))) size_t quantize16(const float* x, Q* y, size_t n, float s, int32_t z,
                                                             int32_t lo, int32_t hi, uint8_t flip) {
  const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(float(z)), vlo = _mm512_set1_ps(float(lo)),
               vhi = _mm512_set1_ps(float(hi));
  const __m128i vflip = _mm_set1_epi8(char(flip));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vz), vlo), vhi);
    const __m128i b = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm_xor_si128(b, vflip));
  }
  return i;
}

// Per-tensor: y[i] = quantize_value(x[i]) ^ flip, i < n.
template <class Q>
void quantize_row(const float* x, Q* y, size_t n, float s, int32_t z, int32_t lo, int32_t hi, uint8_t flip) {
  size_t i = cpu_has_avx512() ? quantize16(x, y, n, s, z, lo, hi, flip) : 0;
  for (; i < n; ++i) y[i] = Q(quantize_value(x[i], s, z, lo, hi) ^ flip);
}

template <class Q>
__attribute__((target("avx512f,avx512bw"))) size_t dequantize16(const Q* x, float* y, size_t n, float s, int32_t z) {
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i vz = _mm512_set1_epi32(z);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    const __m512i q = std::is_same_v<Q, int8_t> ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, vz)), vs));
  }
  return i;
}

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
        quantize_row(x + b, y + b, e - b, p_.scale[0], p_.zero_point[0], lo_, hi_, 0);
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
        size_t i = b;
        if constexpr (sizeof(Q) == 1)
          if (cpu_has_avx512()) i += dequantize16(x + b, y + b, e - b, s, int32_t(z));
        for (; i < e; ++i) y[i] = float(int64_t(x[i]) - z) * s;
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

void quantize_i8(const float* x, int8_t* y, int64_t n, float scale, int32_t zp, uint8_t flip) {
  quantize_row(x, y, size_t(n), scale, zp, -128, 127, flip);
}

EF_REGISTER_KERNEL("QuantizeLinear", 0, make_quantize, "ref");
EF_REGISTER_KERNEL("DequantizeLinear", 0, make_dequantize, "ref");
}  // namespace ef
