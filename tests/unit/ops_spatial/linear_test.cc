// Gemm and MatMul against naive double-accumulated references.
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include "spatial_util.h"

namespace ef::test {
namespace {

// Y = alpha * A' B' + beta * C (C broadcast to [M, N]).
Tensor gemm_ref(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb, float alpha, float beta) {
  const int64_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1), N = tb ? b.dim(0) : b.dim(1);
  Tensor y(DType::f32, {M, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += double(ta ? a.data_as<float>()[k * M + m] : a.data_as<float>()[m * K + k]) *
             (tb ? b.data_as<float>()[n * K + k] : b.data_as<float>()[k * N + n]);
      double cv = 0;
      if (c) {
        const Shape& cs = c->shape();
        int64_t cm = cs.size() >= 2 ? cs[cs.size() - 2] : 1, cn = cs.empty() ? 1 : cs.back();
        cv = c->data_as<float>()[(cm == 1 ? 0 : m) * cn + (cn == 1 ? 0 : n)];
      }
      y.data_as<float>()[m * N + n] = float(alpha * s + beta * cv);
    }
  return y;
}

TEST(Gemm, AllFlagAndBiasCombinations) {
  const int64_t M = 5, K = 7, N = 6;
  int iter = 0;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int cshape = 0; cshape < 5; ++cshape)
        for (bool const_b : {true, false}) {
          ++iter;
          float alpha = iter % 2 ? 1.f : 0.75f, beta = iter % 3 ? 1.f : -0.5f;
          Tensor a = random_tensor(ta ? Shape{K, M} : Shape{M, K}, iter);
          Tensor b = random_tensor(tb ? Shape{N, K} : Shape{K, N}, 50 + iter);
          Shape cs[] = {{}, {N}, {1, N}, {M, N}, {M, 1}};
          Tensor c = random_tensor(cs[cshape], 90 + iter);
          Attrs at;
          at.set("transA", int64_t(ta));
          at.set("transB", int64_t(tb));
          at.set("alpha", alpha);
          at.set("beta", beta);
          SCOPED_TRACE("transA " + std::to_string(ta) + " transB " + std::to_string(tb) + " C " +
                       shape_str(cs[cshape]) + (const_b ? " const B" : " runtime B"));
          auto r = run_op("Gemm", {rt("a", a), const_b ? cst("b", b) : rt("b", b), cst("c", c)}, at, 1 + iter % 2);
          EXPECT_TRUE(close(r.y, gemm_ref(a, b, &c, ta, tb, alpha, beta)));
          if (const_b && !ta && cshape < 3) EXPECT_EQ(r.impl, "xnnpack");
        }
  // no C at all, with a fused relu
  Tensor a = random_tensor({3, 4}, 1), b = random_tensor({4, 2}, 2);
  Attrs at;
  at.set("activation", std::string("relu"));
  Tensor want = gemm_ref(a, b, nullptr, false, false, 1.f, 0.f);
  for (int64_t i = 0; i < want.numel(); ++i) want.data_as<float>()[i] = std::max(0.f, want.data_as<float>()[i]);
  EXPECT_TRUE(close(run_op("Gemm", {rt("a", a), cst("b", b)}, at).y, want));
}

// numpy matmul reference with batch broadcasting (1-D operands promoted).
Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  Shape sa = a.shape(), sb = b.shape();
  const bool va = sa.size() == 1, vb = sb.size() == 1;
  if (va) sa.insert(sa.begin(), 1);
  if (vb) sb.push_back(1);
  const int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  size_t r = std::max(ba.size(), bb.size());
  ba.insert(ba.begin(), r - ba.size(), 1);
  bb.insert(bb.begin(), r - bb.size(), 1);
  Shape bo(r);
  for (size_t i = 0; i < r; ++i) bo[i] = std::max(ba[i], bb[i]);
  Shape out = bo;
  if (!va) out.push_back(M);
  if (!vb) out.push_back(N);
  Tensor y(DType::f32, out);
  const int64_t nb = numel(bo);
  for (int64_t i = 0; i < nb; ++i) {
    // unravel i over bo, ravel into ba / bb with broadcasting
    int64_t rem = i, ia = 0, ib = 0, mula = 1, mulb = 1;
    for (size_t d = r; d-- > 0;) {
      int64_t idx = rem % bo[d];
      rem /= bo[d];
      ia += (ba[d] == 1 ? 0 : idx) * mula;
      ib += (bb[d] == 1 ? 0 : idx) * mulb;
      mula *= ba[d];
      mulb *= bb[d];
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += double(a.data_as<float>()[(ia * M + m) * K + k]) * b.data_as<float>()[(ib * K + k) * N + n];
        y.data_as<float>()[(i * M + m) * N + n] = float(s);
      }
  }
  return y;
}

TEST(MatMul, BroadcastingAndConstantWeights) {
  struct Case {
    Shape a, b;
  };
  std::vector<Case> cases = {{{4, 5}, {5, 3}},          {{2, 3, 4, 5}, {5, 7}},    {{2, 1, 3, 4}, {5, 4, 6}},
                             {{3, 4}, {2, 4, 6}},       {{7}, {7, 3}},             {{2, 3, 7}, {7}},
                             {{7}, {7}},                {{1, 6, 9}, {3, 9, 2}},    {{33, 17}, {17, 19}}};
  int iter = 0;
  for (auto& c : cases)
    for (bool const_b : {true, false}) {
      ++iter;
      Tensor a = random_tensor(c.a, 10 + iter), b = random_tensor(c.b, 40 + iter);
      SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b) + (const_b ? " const B" : " runtime B"));
      auto r = run_op("MatMul", {rt("a", a), const_b ? cst("b", b) : rt("b", b)}, {}, 1 + iter % 2);
      EXPECT_TRUE(close(r.y, matmul_ref(a, b)));
      if (const_b && c.b.size() <= 2) EXPECT_EQ(r.impl, "xnnpack");
    }
}

}  // namespace
}  // namespace ef::test
