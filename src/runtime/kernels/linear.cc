// Gemm and MatMul. XNNPACK fully_connected_nc_f32 when the weight is a
// constant 2-D matrix (weights transposed to [N,K] and scaled by alpha once;
// a per-column C becomes the bias); own row-wise kernels otherwise (batched,
// broadcast MatMul, runtime B, transA, full-matrix C).
#include <cstring>
#include <algorithm>
#include <string>

#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

class FcXnn : public Kernel {
 public:
  FcXnn(size_t batch, XnnOp op, FusedActivation act, pthreadpool_t pool, const char* what)
      : batch_(batch), op_(std::move(op)), act_(act), pool_(pool), what_(what) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    xnn_check(xnn_setup_fully_connected_nc_f32(op_.get(), batch_, in[0].as<float>(), out[0].as<float>(), pool_),
              "setup_fully_connected_nc_f32", what_);
  }
  void run() override {
    xnn_check(xnn_run_operator(op_.get(), pool_), "run_operator", what_);
    if (act_.needs_separate_pass()) apply_act(act_, out_[0].as<float>(), size_t(out_[0].numel()), pool_);
  }
  const char* impl() const override { return "xnnpack"; }

 private:
  size_t batch_;
  XnnOp op_;
  FusedActivation act_;
  pthreadpool_t pool_;
  const char* what_;
};

std::unique_ptr<Kernel> make_fc(const KernelContext& c, size_t batch, size_t K, size_t N, const std::vector<float>& w_nk,
                                const float* bias, const char* what) {
  FusedActivation act = FusedActivation::from(c.node);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(K, N, K, N, w_nk.data(), bias, act.out_min(), act.out_max(), 0, &op) !=
      xnn_status_success)
    return nullptr;
  return std::make_unique<FcXnn>(batch, XnnOp(op), act, c.pool, what);
}

std::unique_ptr<Kernel> make_gemm_xnn(const KernelContext& c) {
  const Node& n = c.node;
  if (c.input(0).dtype != DType::f32 || c.output(0).dtype != DType::f32 || !xnn_available()) return nullptr;
  if (n.attrs.i("transA", 0) != 0) return nullptr;
  const Tensor* b = c.const_input(1);
  if (!b || b->dtype() != DType::f32) return nullptr;
  const bool tb = n.attrs.i("transB", 0) != 0;
  const float alpha = n.attrs.f("alpha", 1.f), beta = n.attrs.f("beta", 1.f);
  const int64_t M = c.output(0).shape[0], N = c.output(0).shape[1];
  const int64_t K = c.input(0).shape[1];
  std::vector<float> bias;
  if (Graph::has_input(n, 2)) {
    const Tensor* ct = c.const_input(2);
    if (!ct || ct->dtype() != DType::f32) return nullptr;
    const Shape& cs = ct->shape();
    const bool per_col = ct->numel() == 1 || (ct->numel() == N && !cs.empty() && cs.back() == N);
    if (!per_col) return nullptr;
    bias.resize(size_t(N));
    for (int64_t j = 0; j < N; ++j) bias[j] = beta * ct->data_as<float>()[ct->numel() == 1 ? 0 : j];
  }
  std::vector<float> w(size_t(N * K));
  const float* src = b->data_as<float>();
  for (int64_t j = 0; j < N; ++j)
    for (int64_t k = 0; k < K; ++k) w[size_t(j * K + k)] = alpha * (tb ? src[j * K + k] : src[k * N + j]);
  return make_fc(c, size_t(M), size_t(K), size_t(N), w, bias.empty() ? nullptr : bias.data(), "Gemm");
}

std::unique_ptr<Kernel> make_matmul_xnn(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32 || c.output(0).dtype != DType::f32 || !xnn_available()) return nullptr;
  const Tensor* b = c.const_input(1);
  if (!b || b->dtype() != DType::f32 || b->rank() > 2) return nullptr;
  const int64_t K = b->dim(0), N = b->rank() == 2 ? b->dim(1) : 1;
  const int64_t batch = c.input(0).shape.empty() ? 0 : numel(c.input(0).shape) / K;
  std::vector<float> w(size_t(N * K));
  const float* src = b->data_as<float>();
  for (int64_t j = 0; j < N; ++j)
    for (int64_t k = 0; k < K; ++k) w[size_t(j * K + k)] = src[k * N + j];
  return make_fc(c, size_t(batch), size_t(K), size_t(N), w, nullptr, "MatMul");
}

// ---- own kernels
// Y[m, :] = act(alpha * sum_k A'(m,k) * B'(k, :) + beta * C[m, :]), B' kept
// row-major [K, N] (a transposed B is re-laid out once at setup when it is
// constant, per run otherwise).
class GemmRef : public Kernel {
 public:
  GemmRef(bool ta, bool tb, float alpha, float beta, FusedActivation act, pthreadpool_t pool)
      : ta_(ta), tb_(tb), alpha_(alpha), beta_(beta), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    M_ = out[0].shape[0], N_ = out[0].shape[1];
    K_ = ta_ ? in[0].shape[0] : in[0].shape[1];
    // a constant transposed B is re-laid out once here, a runtime one per run
    if (tb_) {
      bt_.resize(size_t(K_ * N_));
      if (const_b_) transpose_b(in[1].as<const float>());
    }
    if (in.size() > 2 && in[2].data) {
      // broadcast strides of C over [M, N]
      const Shape& cs = in[2].shape;
      int64_t cm = cs.size() >= 2 ? cs[cs.size() - 2] : 1, cn = cs.empty() ? 1 : cs.back();
      cs_m_ = cm == 1 ? 0 : cn;
      cs_n_ = cn == 1 ? 0 : 1;
      has_c_ = true;
    }
  }
  void run() override {
    const float* a = in_[0].as<const float>();
    const float* b = in_[1].as<const float>();
    if (tb_) {
      if (!const_b_) transpose_b(b);
      b = bt_.data();
    }
    const float* cp = has_c_ ? in_[2].as<const float>() : nullptr;
    float* y = out_[0].as<float>();
    const int64_t M = M_, N = N_, K = K_;
    auto row = [&](size_t mi) {
      const int64_t m = int64_t(mi);
      float* yr = y + m * N;
      for (int64_t j = 0; j < N; ++j) yr[j] = 0.f;
      for (int64_t k = 0; k < K; ++k) {
        const float av = ta_ ? a[k * M + m] : a[m * K + k];
        const float* br = b + k * N;
        for (int64_t j = 0; j < N; ++j) yr[j] += av * br[j];
      }
      for (int64_t j = 0; j < N; ++j) yr[j] *= alpha_;
      if (cp)
        for (int64_t j = 0; j < N; ++j) yr[j] += beta_ * cp[m * cs_m_ + j * cs_n_];
      act_.apply(yr, size_t(N));
    };
    parallel_for(pool_, size_t(M), row);
  }

 private:
  void transpose_b(const float* b) {
    // [N, K] -> [K, N], in 32x32 tiles
    for (int64_t j0 = 0; j0 < N_; j0 += 32)
      for (int64_t k0 = 0; k0 < K_; k0 += 32)
        for (int64_t j = j0; j < std::min(N_, j0 + 32); ++j)
          for (int64_t k = k0; k < std::min(K_, k0 + 32); ++k) bt_[size_t(k * N_ + j)] = b[j * K_ + k];
  }

 public:
  bool const_b_ = false;

 private:
  bool ta_, tb_;
  float alpha_, beta_;
  FusedActivation act_;
  pthreadpool_t pool_;
  int64_t M_ = 0, N_ = 0, K_ = 0, cs_m_ = 0, cs_n_ = 0;
  bool has_c_ = false;
  std::vector<float> bt_;
};

std::unique_ptr<Kernel> make_gemm_ref(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32) return nullptr;
  if (Graph::has_input(c.node, 2) && c.input(2).dtype != DType::f32) return nullptr;
  const Node& n = c.node;
  auto k = std::make_unique<GemmRef>(n.attrs.i("transA", 0) != 0, n.attrs.i("transB", 0) != 0,
                                     n.attrs.f("alpha", 1.f), n.attrs.f("beta", 1.f), FusedActivation::from(n), c.pool);
  k->const_b_ = c.const_input(1) != nullptr;
  return k;
}

// Batched MatMul with numpy broadcasting of the batch dimensions.
class MatMulRef : public Kernel {
 public:
  MatMulRef(FusedActivation act, pthreadpool_t pool) : act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    Shape sa = in[0].shape, sb = in[1].shape;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    M_ = sa[sa.size() - 2], K_ = sa.back(), N_ = sb.back();
    Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
    const size_t r = std::max(ba.size(), bb.size());
    ba.insert(ba.begin(), r - ba.size(), 1);
    bb.insert(bb.begin(), r - bb.size(), 1);
    Shape bo(r);
    for (size_t i = 0; i < r; ++i) bo[i] = std::max(ba[i], bb[i]);
    const int64_t nb = numel(bo);
    a_off_.assign(size_t(nb), 0);
    b_off_.assign(size_t(nb), 0);
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t rem = bi, oa = 0, ob = 0, sa_ = 1, sb_ = 1;
      for (size_t i = r; i-- > 0;) {
        int64_t idx = rem % bo[i];
        rem /= bo[i];
        if (ba[i] != 1) oa += idx * sa_;
        if (bb[i] != 1) ob += idx * sb_;
        sa_ *= ba[i];
        sb_ *= bb[i];
      }
      a_off_[size_t(bi)] = oa * M_ * K_;
      b_off_[size_t(bi)] = ob * K_ * N_;
    }
  }
  void run() override {
    const float* a = in_[0].as<const float>();
    const float* b = in_[1].as<const float>();
    float* y = out_[0].as<float>();
    const int64_t M = M_, N = N_, K = K_;
    auto row = [&](size_t r) {
      const int64_t bi = int64_t(r) / M, m = int64_t(r) % M;
      const float* ar = a + a_off_[size_t(bi)] + m * K;
      const float* bm = b + b_off_[size_t(bi)];
      float* yr = y + (bi * M + m) * N;
      for (int64_t j = 0; j < N; ++j) yr[j] = 0.f;
      for (int64_t k = 0; k < K; ++k) {
        const float av = ar[k];
        const float* br = bm + k * N;
        for (int64_t j = 0; j < N; ++j) yr[j] += av * br[j];
      }
      act_.apply(yr, size_t(N));
    };
    parallel_for(pool_, a_off_.size() * size_t(M), row);
  }

 private:
  FusedActivation act_;
  pthreadpool_t pool_;
  int64_t M_ = 0, N_ = 0, K_ = 0;
  std::vector<int64_t> a_off_, b_off_;
};

std::unique_ptr<Kernel> make_matmul_ref(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32) return nullptr;
  return std::make_unique<MatMulRef>(FusedActivation::from(c.node), c.pool);
}

}  // namespace
EF_REGISTER_KERNEL("Gemm", 100, make_gemm_xnn, "xnnpack");
EF_REGISTER_KERNEL("Gemm", 0, make_gemm_ref, "ref");
EF_REGISTER_KERNEL("MatMul", 100, make_matmul_xnn, "xnnpack");
EF_REGISTER_KERNEL("MatMul", 0, make_matmul_ref, "ref");
}  // namespace ef
