// QLinearAdd / QLinearMul with numpy broadcasting. The reference computes
// the spec in float:
// y = round_half_even(f((a - a_zp) * a_scale, (b - b_zp) * b_scale) / y_scale) + y_zp.
// On AVX-512 CPUs an own kernel takes int8 where the broadcast leaves
// contiguous or broadcast rows (same shapes, a per-channel operand like the
// squeeze-excitation Mul, a scalar), 16 lanes at a time, with multipliers
// instead of the division (QBinMults: qkernel.h's requantize and
// requantize_sum; within 1 LSB of the float definition); else XNNPACK
// add_nd_qs8 / multiply_nd_qs8 (fixed-point requantization: within 1 LSB).
// QLinearMul with inputs 8-12 (fuse_qmul_add.cc: the squeeze-excitation
// x * s + r) adds r to its int8 product as QLinearAdd would, in the same
// pass: the same arithmetic as the two kernels one after the other.
// A per-channel operand (b broadcast along all but the last axis, a
// contiguous) is tiled once per run into a buffer of whole periods, so the
// rows need not be walked one channel row (often 16 values) at a time.
// GCC 12 flags the _mm512_undefined_* operand of the conversions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/qgemm_vnni.h"
#include "runtime/kernels/qkernel.h"
#include "runtime/kernels/xnn_util.h"

namespace ef {
namespace {

struct QBinSpec {
  QScalar a, b, y;
  int32_t lo = -128, hi = 127;  // the output's range (of the sum with a residual)
  bool mul = false;
  // QLinearMul's residual (inputs 8-12): the product, rounded to y, is added
  // to r as QLinearAdd(product, r) (QLinearAdd(r, product): r_first) at sum.
  bool res = false, r_first = false;
  QScalar r, sum;
};

QBinSpec read_spec(const KernelContext& c) {
  QBinSpec s;
  s.a = qscalar(c, 1, c.input(0).dtype, "input A");
  s.b = qscalar(c, 4, c.input(3).dtype, "input B");
  s.y = qscalar(c, 6, c.output(0).dtype, "output");
  s.mul = c.node.op == "QLinearMul";
  s.res = s.mul && Graph::has_input(c.node, 8);
  if (s.res) {
    s.r = qscalar(c, 9, c.input(8).dtype, "residual");
    s.sum = qscalar(c, 11, c.output(0).dtype, "sum");
    s.r_first = c.node.attrs.i("residual_first", 0) != 0;
  }
  if (!act_range(FusedActivation::from(c.node), s.res ? s.sum : s.y, c.output(0).dtype, s.lo, s.hi))
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
  if (Graph::has_input(c.node, 8)) return nullptr;  // a residual
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

// The own kernel's arithmetic (qkernel.h), one multiplier per operand instead of a division:
//   Add: requantize_sum(b - b_zp, b_scale / y_scale, a - a_zp, a_scale / y_scale, ...)
//   Mul: requantize((a - a_zp) * (b - b_zp), a_scale * b_scale / y_scale, ...)
//   and the residual: requantize_sum of the product p (zero point removed) and r - r_zp
//   with p: y_scale / sum_scale, r: r_scale / sum_scale, in QLinearAdd's operand order.
struct QBinMults {
  float a = 0.f, b = 0.f, p = 0.f, r = 0.f;
  explicit QBinMults(const QBinSpec& s)
      : a(s.mul ? s.a.scale * s.b.scale / s.y.scale : s.a.scale / s.y.scale),
        b(s.mul ? 0.f : s.b.scale / s.y.scale),
        p(s.res ? s.y.scale / s.sum.scale : 0.f),
        r(s.res ? s.r.scale / s.sum.scale : 0.f) {}
};

// round(v) + zp clamped to [lo, hi], as int32 lanes; v clamped to one step beyond
// [lo, hi] - zp first, so the conversion to int32 cannot overflow.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512i requantize16(__m512 v, int32_t zp,
                                                                                               int32_t lo, int32_t hi) {
  const __m512 t = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(float(lo - zp - 1))), _mm512_set1_ps(float(hi - zp + 1)));
  return _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(t), _mm512_set1_epi32(zp)),
                                           _mm512_set1_epi32(lo)),
                          _mm512_set1_epi32(hi));
}

// 16 int8 at p (stride 1) or p[0] in every lane (stride 0), as int32; FULL: all 16 lanes (an
// unmasked load the conversion reads from memory), else the lanes of m.
template <bool FULL>
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512i load16(const int8_t* p, int64_t st,
                                                                                         __mmask16 m) {
  if (!st) return _mm512_set1_epi32(*p);
  return _mm512_cvtepi8_epi32(FULL ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_maskz_loadu_epi8(m, p));
}

// A row's constants (QBinSpec, QBinMults) in registers.
struct QBinRegs {
  __m512 ma, mb, mp, mr;
  __m512i az, bz, yz, rz, sz, plo, phi;
  __attribute__((target("avx512f"))) QBinRegs(const QBinSpec& s, const QBinMults& mu)
      : ma(_mm512_set1_ps(mu.a)), mb(_mm512_set1_ps(mu.b)), mp(_mm512_set1_ps(mu.p)), mr(_mm512_set1_ps(mu.r)),
        az(_mm512_set1_epi32(s.a.zp)), bz(_mm512_set1_epi32(s.b.zp)), yz(_mm512_set1_epi32(s.y.zp)),
        rz(_mm512_set1_epi32(s.r.zp)), sz(_mm512_set1_epi32(s.sum.zp)), plo(_mm512_set1_epi32(-128 - s.y.zp)),
        phi(_mm512_set1_epi32(127 - s.y.zp)) {}
};

// The value round(.) requantizes for outputs [i, i + 16) (FULL) or the lanes of m from i on.
template <bool MUL, bool RES, bool SAT, bool FULL>
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 qbin_value(
    const int8_t* a, int64_t sa, const int8_t* b, int64_t sb, const int8_t* r, int64_t i, __mmask16 m,
    const QBinSpec& s, const QBinRegs& k) {
  const __m512 fa = _mm512_cvtepi32_ps(_mm512_sub_epi32(load16<FULL>(a + i * sa, sa, m), k.az));
  const __m512 fb = _mm512_cvtepi32_ps(_mm512_sub_epi32(load16<FULL>(b + i * sb, sb, m), k.bz));
  // Mul: the integer product is exact in float (|.| <= 2^16).
  __m512 v = MUL ? _mm512_mul_ps(_mm512_mul_ps(fa, fb), k.ma) : _mm512_fmadd_ps(fa, k.ma, _mm512_mul_ps(fb, k.mb));
  if constexpr (RES) {  // the int8 product (whole range: the Mul has no activation), then QLinearAdd's sum
    // round(v) + y_zp clamped to int8, minus y_zp: round(v) clamped to [-128 - y_zp, 127 - y_zp]
    const __m512i p = SAT ? _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), k.plo), k.phi)
                          : _mm512_sub_epi32(requantize16(v, s.y.zp, -128, 127), k.yz);
    const __m512 fp = _mm512_cvtepi32_ps(p);
    const __m512 fr = _mm512_cvtepi32_ps(_mm512_sub_epi32(load16<FULL>(r + i, 1, m), k.rz));
    v = s.r_first ? _mm512_fmadd_ps(fr, k.mr, _mm512_mul_ps(fp, k.mp)) : _mm512_fmadd_ps(fp, k.mp, _mm512_mul_ps(fr, k.mr));
  }
  return v;
}

// Outputs [i, i + 16) (FULL) or the lanes of m from i on. SAT: the output range is int8's
// whole range and |v| < 2^31 (QBinAvx512::sat_): round(v) + zp is stored with the
// conversion's int8 saturation, which is the clamp.
template <bool MUL, bool RES, bool SAT, bool FULL>
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline void qbin_vec(
    const int8_t* a, int64_t sa, const int8_t* b, int64_t sb, const int8_t* r, int8_t* y, int64_t i, __mmask16 m,
    const QBinSpec& s, const QBinRegs& k) {
  const __m512 v = qbin_value<MUL, RES, SAT, FULL>(a, sa, b, sb, r, i, m, s, k);
  if constexpr (SAT) {
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), RES ? k.sz : k.yz);
    if constexpr (FULL) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtsepi32_epi8(q));
    else _mm512_mask_cvtsepi32_storeu_epi8(y + i, m, q);
  } else {
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(requantize16(v, RES ? s.sum.zp : s.y.zp, s.lo, s.hi)));
  }
}

// One row of len outputs; a and b advance by sa, sb (0 or 1) per output, r (RES) by 1. With
// SAT, 64 outputs at a time are packed with saturation (int32 -> int16, + zp, -> int8: the
// same as + zp then int32 -> int8, as |zp| <= 128) into one store.
template <bool MUL, bool RES, bool SAT>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void qbin_row(const int8_t* a, int64_t sa, const int8_t* b,
                                                                    int64_t sb, const int8_t* r, int8_t* y, int64_t len,
                                                                    const QBinSpec& s, QBinMults mu) {
  const QBinRegs k(s, mu);
  int64_t i = 0;
  if constexpr (SAT) {
    const __m512i zp16 = _mm512_set1_epi16(short(RES ? s.sum.zp : s.y.zp));
    for (; i + 64 <= len; i += 64) {
      __m512i q[4];
      for (int j = 0; j < 4; ++j)
        q[j] = _mm512_cvtps_epi32(qbin_value<MUL, RES, SAT, true>(a, sa, b, sb, r, i + 16 * j, 0xFFFF, s, k));
      _mm512_storeu_si512(y + i, pack4_in_order(pack4_i8(q, zp16)));
    }
  }
  for (; i + 16 <= len; i += 16) qbin_vec<MUL, RES, SAT, true>(a, sa, b, sb, r, y, i, 0xFFFF, s, k);
  if (i < len) qbin_vec<MUL, RES, SAT, false>(a, sa, b, sb, r, y, i, __mmask16((1u << (len - i)) - 1), s, k);
}

// int8 QLinearAdd/Mul where the broadcast plan's innermost strides are 0 or
// 1; plans of rank 1 (same shapes, a scalar) and 2 (a per-channel operand)
// run without the generic span walk.
class QBinAvx512 : public Kernel {
 public:
  QBinAvx512(QBinSpec s, pthreadpool_t pool) : s_(s), mu_(s), pool_(pool) {
    // The largest |v| the rows compute: operands (zero point removed) up to 255, products up to 255^2.
    const float product = 65025.f * mu_.a, sum = 255.f * (s.res ? mu_.p + mu_.r : mu_.a + mu_.b);
    const float vmax = s.res ? std::max(product, sum) : s.mul ? product : sum;
    sat_ = s.lo == -128 && s.hi == 127 && vmax < 1e9f;
  }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    plan_ = bcast::make_plan(out[0].shape, in[0].shape, in[3].shape);
    if (plan_.inner_stride(0) > 1 || plan_.inner_stride(1) > 1)
      throw Error("QLinearAdd/Mul: inner strides other than 0 and 1");  // make_qbin_avx512 checked
    // A per-channel b: rows of a (contiguous) times one row of b, tiled over >= 1024 values.
    const bcast::Plan& p = plan_;
    channel_b_ = p.rank == 2 && p.inner_stride(0) == 1 && p.inner_stride(1) == 1 && p.stride[0][0] == p.inner() &&
                 p.stride[1][0] == 0;
    if (channel_b_) tile_.assign(size_t(bcast::channel_tile_len(p.inner(), 1024)), 0);
  }
  void run() override {
    const int8_t* a = in_[0].as<int8_t>();
    const int8_t* b = in_[3].as<int8_t>();
    const int8_t* r = s_.res ? in_[8].as<int8_t>() : nullptr;
    int8_t* y = out_[0].as<int8_t>();
    const bcast::Plan& p = plan_;
    const int64_t sa = p.inner_stride(0), sb = p.inner_stride(1), inner = p.inner();
    auto row = [&](const int8_t* ar, int64_t sar, const int8_t* br, int64_t sbr, int8_t* yr, int64_t len) {
      const int8_t* rr = r ? r + (yr - y) : nullptr;
      if (sat_) {
        if (!s_.mul) qbin_row<false, false, true>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
        else if (r) qbin_row<true, true, true>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
        else qbin_row<true, false, true>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
      } else {
        if (!s_.mul) qbin_row<false, false, false>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
        else if (r) qbin_row<true, true, false>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
        else qbin_row<true, false, false>(ar, sar, br, sbr, rr, yr, len, s_, mu_);
      }
    };
    if (channel_b_) {
      const int64_t t = int64_t(tile_.size());
      bcast::fill_channel_tile(b, inner, tile_);
      bcast::parallel_for(pool_, (p.numel + t - 1) / t, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t k = c0 * t; k < std::min(p.numel, c1 * t); k += t)
          row(a + k, 1, tile_.data(), 1, y + k, std::min(t, p.numel - k));
      });
      return;
    }
    if (p.rank == 1) {  // one row: split it
      bcast::parallel_for(pool_, p.numel, 16384, [&](int64_t e0, int64_t e1) { row(a + e0 * sa, sa, b + e0 * sb, sb, y + e0, e1 - e0); });
      return;
    }
    if (p.rank == 2) {
      const int64_t rows = p.numel / inner, grain = std::max<int64_t>(1, 16384 / inner);
      bcast::parallel_for(pool_, rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t k = r0; k < r1; ++k) row(a + k * p.stride[0][0], sa, b + k * p.stride[1][0], sb, y + k * inner, inner);
      });
      return;
    }
    bcast::parallel_for(pool_, p.numel, 16384, [&](int64_t e0, int64_t e1) {
      bcast::for_each_span(p, e0, e1, [&](int64_t o, const int64_t* off, int64_t len) { row(a + off[0], sa, b + off[1], sb, y + o, len); });
    });
  }
  const char* impl() const override { return "avx512"; }

 private:
  QBinSpec s_;
  QBinMults mu_;
  pthreadpool_t pool_;
  bcast::Plan plan_;
  bool sat_ = false;  // see qbin_row
  bool channel_b_ = false;
  std::vector<int8_t> tile_;  // b's row repeated: whole periods of lcm(channels, 16) values
};

std::unique_ptr<Kernel> make_qbin_avx512(const KernelContext& c) {
  if (!cpu_has_avx512() || c.input(0).dtype != DType::i8 || c.input(3).dtype != DType::i8 || c.output(0).dtype != DType::i8)
    return nullptr;
  if (Graph::has_input(c.node, 8) && c.input(8).dtype != DType::i8) return nullptr;
  const bcast::Plan p = bcast::make_plan(c.output(0).shape, c.input(0).shape, c.input(3).shape);
  if (p.inner_stride(0) > 1 || p.inner_stride(1) > 1) return nullptr;
  return std::make_unique<QBinAvx512>(read_spec(c), c.pool);
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
    const Y* r = s_.res ? in_[8].as<Y>() : nullptr;  // the schema gives r the output's type
    const QBinSpec s = s_;
    const int64_t sa = plan_.inner_stride(0), sb = plan_.inner_stride(1);
    int32_t ylo, yhi;
    qrange(dtype_of<Y>(), ylo, yhi);
    bcast::parallel_for(pool_, plan_.numel, 16384, [&](int64_t e0, int64_t e1) {
      bcast::for_each_span(plan_, e0, e1, [&](int64_t o, const int64_t* off, int64_t len) {
        for (int64_t i = 0; i < len; ++i) {
          const float fa = float(int32_t(a[off[0] + i * sa]) - s.a.zp) * s.a.scale;
          const float fb = float(int32_t(b[off[1] + i * sb]) - s.b.zp) * s.b.scale;
          if (!r) {
            y[o + i] = Y(quantize_value(s.mul ? fa * fb : fa + fb, s.y.scale, s.y.zp, s.lo, s.hi));
            continue;
          }
          const float fp = float(quantize_value(fa * fb, s.y.scale, s.y.zp, ylo, yhi) - s.y.zp) * s.y.scale;
          const float fr = float(int32_t(r[o + i]) - s.r.zp) * s.r.scale;
          y[o + i] = Y(quantize_value(fp + fr, s.sum.scale, s.sum.zp, s.lo, s.hi));  // (float + commutes)
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

EF_REGISTER_KERNEL("QLinearAdd", 150, make_qbin_avx512, "avx512");
EF_REGISTER_KERNEL("QLinearAdd", 100, make_qbin_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearAdd", 0, make_qbin_ref, "ref");
EF_REGISTER_KERNEL("QLinearMul", 150, make_qbin_avx512, "avx512");
EF_REGISTER_KERNEL("QLinearMul", 100, make_qbin_xnn, "xnnpack");
EF_REGISTER_KERNEL("QLinearMul", 0, make_qbin_ref, "ref");
}  // namespace ef
