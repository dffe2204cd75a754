// An int8 GEMM for CPUs with AVX512-VNNI (vpdpbusd: 64 int8 multiply-adds
// per instruction), the core of QLinearConv (1x1 directly, others as an
// implicit GEMM on the padded input) and QGemm/QLinearMatMul when weights are symmetric int8:
//   y[m, n] = clamp(round_half_even((sum_k (x[m,k] - x_zp) * w[n,k] + bias[n]) * mult[n]) + y_zp)
// and, with a residual r (an Add fused into QLinearConv, fuse_qdq.cc), that
// int8 y (clamped to [lo, hi]) becomes requantize_sum(y - y_zp, c_mult, r - r_zp, r_mult, ...) (qkernel.h).
// Activations are int8; the kernel feeds vpdpbusd x + 128 (unsigned) and
// removes 128 * sum_k w[n,k] through the bias, so results equal the integer
// reference exactly. On CPUs with AMX-INT8, GEMMs with K >= 64 and at least
// 2M multiply-adds run their whole 16-row tiles on the tile unit (the same
// integer sums, the same epilogue; qgemm_vnni.cc).
#pragma once
#include <immintrin.h>
#include <pthreadpool.h>

#include <cstdint>
#include <vector>

namespace ef {

bool vnni_available();
// AMX-INT8 tiles usable in this process (the CPU has them, Linux granted
// their state; EF_DISABLE_AMX=1 turns them off for tests and benchmarks,
// and then the permission is not requested). The first call with AMX on
// asks Linux for the tile state (arch_prctl ARCH_REQ_XCOMP_PERM), which
// enlarges the process's signal frames.
bool amx_available();
// Rows the AMX tiles have computed in this process (for tests).
int64_t amx_rows_run();

// acc + vpdpbusd(a unsigned, b signed), as _mm512_dpbusd_epi32, but in inline
// asm: GCC 12 copies every accumulator of the intrinsic to a new register each
// iteration (and spills some), which took half the instructions of the
// GEMM's inner loop.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline __m512i dpbusd(__m512i acc, __m512i a,
                                                                                     __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// Four int32 vectors to 64 int8 with saturation, zp16 (int16 lanes) added
// between the two packs. The packs interleave by 128-bit lane: lane L holds
// values 4L..4L+3 of q[0], q[1], q[2], q[3] in turn; pack4_in_order moves
// them back to q[0]'s 16, then q[1]'s, ... (dword 4L + j -> 4j + L).
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i pack4_i8(const __m512i (&q)[4],
                                                                                     __m512i zp16) {
  return _mm512_packs_epi16(_mm512_adds_epi16(_mm512_packs_epi32(q[0], q[1]), zp16),
                            _mm512_adds_epi16(_mm512_packs_epi32(q[2], q[3]), zp16));
}
__attribute__((target("avx512f"), always_inline)) inline __m512i pack4_in_order(__m512i b) {
  return _mm512_permutexvar_epi32(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), b);
}

// A residual operand of QGemmVnni::run: M rows of nr <= N int8, and the
// parameters of the sum.
struct QResidual {
  const int8_t* r = nullptr;
  int64_t ldr = 0, nr = 0;  // row stride and channels of r; outputs n >= nr read r = zp (a folded channel Pad)
  int32_t zp = 0;
  float mult = 0.f, c_mult = 0.f;  // r_scale / sum_scale, gemm output scale / sum_scale
  int32_t y_zp = 0, lo = -128, hi = 127;  // the sum's
};

// dst[i] = src[i] ^ 0x80 (x + 128 as unsigned bytes), i < n.
void copy_flipped(int8_t* dst, const int8_t* src, int64_t n);

// A row of a 2x2 stride-2 max pool (NHWC, c channels): dst[ox, ch] = the max
// of src[2 ox, ch], src[2 ox + 1, ch] and the same src_row bytes further on, ox < ow.
void max_pool_2x2_row(int8_t* dst, const int8_t* src, int64_t src_row, int64_t ow, int64_t c);

struct QGemmVnni {
  int64_t K = 0, Kp = 0, N = 0, Np = 0;  // Kp: K rounded up to 4, Np: N to 16
  std::vector<int8_t> w;                  // [Np/16][Kp/4][16][4]
  std::vector<int32_t> bias;              // [Np], zero-point corrections folded in
  std::vector<int32_t> bias_signed;       // [Np], the same for x read as signed bytes (AMX TDPBSSD)
  std::vector<float> mult;                // [Np]
  int32_t y_zp = 0, lo = -128, hi = 127;
  // Where row m of x holds its k-th group of 4 bytes (k < Kp/4): at
  // x + m*lda + runs[k / run_groups] + 4 (k % run_groups). One run by
  // default (a matrix); an implicit-GEMM convolution (qconv.cc) sets one run
  // per kernel row, its offset in the input.
  std::vector<int64_t> runs{0};
  int64_t run_groups = Kp / 4;
  // x holds x ^ 0x80 (x + 128: the unsigned bytes vpdpbusd reads), as the
  // implicit-GEMM convolution's padded copy does: no flip in the inner loop.
  bool x_flipped = false;
  bool amx = amx_available();  // decided when the kernel is built (the environment is read once)
  // 17-24 outputs (one column block of 2 vectors, the second half empty):
  // the weights again as 3 vectors of 8 outputs x 2 groups of 4
  // ([K4/2][3][8][2][4]), read against one broadcast of 8 x bytes (two
  // groups): 3 vpdpbusd and 1 broadcast per two groups instead of 4 and 2,
  // each output's two lanes summed at the end. bias8: the bias in the first
  // lane of each pair. use_group_pairs() fills them when N is 17-24 and
  // run_groups even (call it after setting runs); empty otherwise.
  std::vector<int8_t> w8;
  std::vector<int32_t> bias8;
  void use_group_pairs();

  // w_nk: [N][K] int8 (symmetric). bias may be null. mult: one per output.
  QGemmVnni(const int8_t* w_nk, int64_t N, int64_t K, const int32_t* bias, const float* mult, int32_t x_zp,
            int32_t y_zp, int32_t lo, int32_t hi);
  // x: M rows of at least Kp bytes (stride lda; bytes K..Kp-1 are ignored:
  // their weights are zero), as `runs` lays them out. y: M rows of N int8 (stride ldc).
  void run(const int8_t* x, int64_t lda, int64_t M, int8_t* y, int64_t ldc, pthreadpool_t pool,
           const QResidual& res = {}) const;
  // Float output: y[m, n] = float(sum_k (x[m,k] - x_zp) * w[n,k] + bias[n]) * mult[n] (y_zp, lo, hi unused).
  void run(const int8_t* x, int64_t lda, int64_t M, float* y, int64_t ldc, pthreadpool_t pool) const;
};

}  // namespace ef
