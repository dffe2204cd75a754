// QLinearMatMul and QGemm with a constant 2-D int8/uint8 B: the VNNI int8
// GEMM (qgemm_vnni.h) for int8 activations and symmetric int8 weights on
// CPUs that have it, else an own integer kernel (int32 accumulation of (a - a_zp) * (b - b_zp[n]) + C, then
// round_half_even(acc * a_scale * b_scale[n] / y_scale) + y_zp), weights
// repacked once to [N][K] int16 without their zero point; rows or output
// columns split over the thread pool. Per-tensor and per-column B scales.
// A QGemm without y_scale (fuse_qdq: a Gemm whose output stays float, e.g. a
// classifier writing the graph output) writes float(acc) * a_scale * b_scale[n].
#include <algorithm>
#include <type_traits>
#include <vector>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/qgemm_vnni.h"
#include "runtime/kernels/qkernel.h"

namespace ef {
namespace {

struct QLinSpec {
  int64_t M = 0, K = 0, N = 0;
  QScalar a, y;
  std::vector<int16_t> w;  // [N][K]
  std::vector<int32_t> bias;
  std::vector<float> mult;
  int32_t lo = -128, hi = 127;
};

template <class A, class Y>
class QLinear : public Kernel {
 public:
  QLinear(QLinSpec s, pthreadpool_t pool) : s_(std::move(s)), pool_(pool) {}
  void run() override {
    const A* a = in_[0].as<A>();
    Y* y = out_[0].as<Y>();
    const int64_t K = s_.K, N = s_.N;
    const int32_t az = s_.a.zp;
    auto cell = [&](int64_t m, int64_t n) {
      const A* ar = a + m * K;
      const int16_t* wr = s_.w.data() + n * K;
      int32_t acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += (int32_t(ar[k]) - az) * int32_t(wr[k]);
      if constexpr (std::is_same_v<Y, float>) y[m * N + n] = float(acc + s_.bias[size_t(n)]) * s_.mult[size_t(n)];
      else y[m * N + n] = Y(requantize(acc + s_.bias[size_t(n)], s_.mult[size_t(n)], s_.y.zp, s_.lo, s_.hi));
    };
    // One row (classifier heads): split the output columns; else split rows.
    if (s_.M == 1)
      bcast::parallel_for(pool_, N, 16, [&](int64_t b, int64_t e) {
        for (int64_t n = b; n < e; ++n) cell(0, n);
      });
    else
      bcast::parallel_for(pool_, s_.M, 4, [&](int64_t b, int64_t e) {
        for (int64_t m = b; m < e; ++m)
          for (int64_t n = 0; n < N; ++n) cell(m, n);
      });
  }

 private:
  QLinSpec s_;
  pthreadpool_t pool_;
};

template <class W>
void pack(const Tensor& b, bool trans, const QuantParams& q, QLinSpec& s) {
  const W* src = b.data_as<W>();
  s.w.resize(size_t(s.N * s.K));
  for (int64_t n = 0; n < s.N; ++n) {
    const int32_t z = q.zero_point[q.scale.size() > 1 ? n : 0];
    for (int64_t k = 0; k < s.K; ++k) s.w[size_t(n * s.K + k)] = int16_t((trans ? src[n * s.K + k] : src[k * s.N + n]) - z);
  }
}

template <class Y>
class QLinearVnni : public Kernel {
 public:
  QLinearVnni(const QLinSpec& s, const std::vector<int8_t>& w, pthreadpool_t pool)
      : M_(s.M), K_(s.K), gemm_(w.data(), s.N, s.K, s.bias.data(), s.mult.data(), s.a.zp, s.y.zp, s.lo, s.hi),
        pool_(pool) {}
  void run() override { gemm_.run(in_[0].as<int8_t>(), K_, M_, out_[0].as<Y>(), gemm_.N, pool_); }
  const char* impl() const override { return "vnni"; }

 private:
  int64_t M_, K_;
  QGemmVnni gemm_;
  pthreadpool_t pool_;
};

std::unique_ptr<Kernel> make_qlinear(const KernelContext& c) {
  const Node& node = c.node;
  const bool gemm = node.op == "QGemm";
  const Tensor* b = c.const_input(3);
  if (!b || b->rank() != 2) return nullptr;  // B must be constant 2-D
  if (gemm && (node.attrs.i("transA", 0) != 0 || node.attrs.f("alpha", 1.f) != 1.f))
    throw Error(c.graph.describe(node) + ": only transA = 0 and alpha = 1 are supported");
  const bool trans = gemm && node.attrs.i("transB", 0) != 0;
  QLinSpec s;
  const DType at = c.input(0).dtype, yt = c.output(0).dtype;
  s.K = trans ? b->dim(1) : b->dim(0);
  s.N = trans ? b->dim(0) : b->dim(1);
  s.M = c.input(0).shape.empty() ? 1 : numel(c.input(0).shape) / s.K;
  s.a = qscalar(c, 1, at, "input A");
  const size_t ys = gemm ? 7 : 6;
  const bool float_out = yt == DType::f32;  // QGemm without y_scale
  if (!float_out) s.y = qscalar(c, ys, yt, "output");
  QuantParams q = const_qparams(c.graph, node, 4, 5, trans ? 0 : 1, b->shape(), b->dtype(), c.graph.describe(node) + ": input B");
  if (b->dtype() == DType::i8) pack<int8_t>(*b, trans, q, s);
  else pack<uint8_t>(*b, trans, q, s);
  s.bias.assign(size_t(s.N), 0);
  if (gemm && Graph::has_input(node, 6)) {
    const Tensor* cb = c.const_input(6);
    if (!cb || cb->numel() != s.N) throw Error(c.graph.describe(node) + ": bias C must be a constant of " + std::to_string(s.N) + " int32 values");
    std::copy(cb->data_as<int32_t>(), cb->data_as<int32_t>() + s.N, s.bias.begin());
  }
  for (int64_t n = 0; n < s.N; ++n) s.mult.push_back(s.a.scale * q.scale[q.scale.size() > 1 ? n : 0] / s.y.scale);
  if (float_out ? node.attrs.has("activation") : !act_range(FusedActivation::from(node), s.y, yt, s.lo, s.hi))
    throw Error(c.graph.describe(node) + ": fused activation cannot be applied to a quantized output");
  bool symmetric = b->dtype() == DType::i8;
  for (int32_t z : q.zero_point) symmetric &= z == 0;
  if (at == DType::i8 && (yt == DType::i8 || float_out) && symmetric && s.K % 4 == 0 && vnni_available()) {
    std::vector<int8_t> w(size_t(s.N * s.K));  // [N][K]
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k = 0; k < s.K; ++k) w[size_t(n * s.K + k)] = int8_t(s.w[size_t(n * s.K + k)]);
    if (float_out) return std::make_unique<QLinearVnni<float>>(s, w, c.pool);
    return std::make_unique<QLinearVnni<int8_t>>(s, w, c.pool);
  }
  if (float_out) {
    if (at == DType::i8) return std::make_unique<QLinear<int8_t, float>>(std::move(s), c.pool);
    return std::make_unique<QLinear<uint8_t, float>>(std::move(s), c.pool);
  }
  if (at == DType::i8 && yt == DType::i8) return std::make_unique<QLinear<int8_t, int8_t>>(std::move(s), c.pool);
  if (at == DType::u8 && yt == DType::u8) return std::make_unique<QLinear<uint8_t, uint8_t>>(std::move(s), c.pool);
  if (at == DType::i8) return std::make_unique<QLinear<int8_t, uint8_t>>(std::move(s), c.pool);
  return std::make_unique<QLinear<uint8_t, int8_t>>(std::move(s), c.pool);
}

}  // namespace

EF_REGISTER_KERNEL("QLinearMatMul", 0, make_qlinear, "int8");
EF_REGISTER_KERNEL("QGemm", 0, make_qlinear, "int8");
}  // namespace ef
