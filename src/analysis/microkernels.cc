#include "analysis/microkernels.h"

#include <cpuid.h>
#include <cpuinfo.h>
#include <immintrin.h>

#include <cstring>

namespace ef::analysis {

std::string Isa::str() const {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (on) s += (s.empty() ? "" : " ") + std::string(n);
  };
  add(avx512f, "avx512f");
  add(fma3, "fma3");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avx512fp16, "avx512fp16");
  return s.empty() ? "sse" : s;
}

Isa detect_isa() {
  Isa isa;
  if (!cpuinfo_initialize()) return isa;
  isa.fma3 = cpuinfo_has_x86_fma3() && cpuinfo_has_x86_avx2();
  isa.avx512f = cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl();
  isa.avx512vnni = isa.avx512f && cpuinfo_has_x86_avx512vnni();
  isa.avx512bf16 = isa.avx512f && cpuinfo_has_x86_avx512bf16();
  // Debian's cpuinfo predates AVX512-FP16: CPUID leaf 7 EDX bit 23 (the OS
  // state for zmm registers is already implied by avx512f above).
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (isa.avx512f && __get_cpuid_count(7, 0, &a, &b, &c, &d)) isa.avx512fp16 = (d >> 23) & 1;
  return isa;
}

namespace {
// y = y*m + a with |m| < 1: values converge (no overflow, no denormals), and
// each accumulator is a dependency chain; 16 chains hide the FMA latency of
// two FMA ports (4 cycles x 2 ports = 8 in flight).
constexpr int kAcc = 16;

__attribute__((target("avx512f"))) double fp32_avx512(int64_t iters) {
  __m512 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_ps(float(k) * 0.01f);
  const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
  __m512 s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm512_add_ps(s, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * kAcc * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fp32_avx2(int64_t iters) {
  __m256 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_set1_ps(float(k) * 0.01f);
  const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_fmadd_ps(acc[k], m, a);
  __m256 s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm256_add_ps(s, acc[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return double(iters) * kAcc * 8 * 2;
}

double fp32_sse(int64_t iters) {
  __m128 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm_set1_ps(float(k) * 0.01f);
  const __m128 m = _mm_set1_ps(0.999f), a = _mm_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm_add_ps(_mm_mul_ps(acc[k], m), a);
  __m128 s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm_add_ps(s, acc[k]);
  volatile float sink = _mm_cvtss_f32(s);
  (void)sink;
  return double(iters) * kAcc * 4 * 2;  // mul + add counted as one multiply-add
}

__attribute__((target("avx512fp16,avx512f,avx512bw,avx512vl"))) double fp16_avx512(int64_t iters) {
  __m512h acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_ph(_Float16(float(k) * 0.01f));
  const __m512h m = _mm512_set1_ph(_Float16(0.99951171875f)), a = _mm512_set1_ph(_Float16(0.0009765625f));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_fmadd_ph(acc[k], m, a);
  __m512h s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm512_add_ph(s, acc[k]);
  volatile float sink = float(_mm512_reduce_add_ph(s));
  (void)sink;
  return double(iters) * kAcc * 32 * 2;
}

// VDPBF16PS: 16 fp32 lanes += 2 bf16 products each = 32 MACs.
__attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl"))) double bf16_avx512(int64_t iters) {
  __m512 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_setzero_ps();
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.002f));
  const __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.003f), _mm512_set1_ps(0.004f));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], x, y);
  __m512 s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm512_add_ps(s, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * kAcc * 32 * 2;
}

// VPDPBUSD: 16 int32 lanes += 4 u8*s8 products each = 64 MACs (wraps, harmless).
__attribute__((target("avx512vnni,avx512f,avx512bw"))) double int8_vnni(int64_t iters) {
  __m512i acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_setzero_si512();
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 16
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], x, y);
  __m512i s = acc[0];
  for (int k = 1; k < kAcc; ++k) s = _mm512_add_epi32(s, acc[k]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return double(iters) * kAcc * 64 * 2;
}

__attribute__((target("avx512f"))) float read_avx512(const float* a, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float read_sse(const float* a, size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 16) {
    s0 = _mm_add_ps(s0, _mm_load_ps(a + i));
    s1 = _mm_add_ps(s1, _mm_load_ps(a + i + 4));
    s2 = _mm_add_ps(s2, _mm_load_ps(a + i + 8));
    s3 = _mm_add_ps(s3, _mm_load_ps(a + i + 12));
  }
  float o[4];
  _mm_storeu_ps(o, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
  return o[0] + o[1] + o[2] + o[3];
}

__attribute__((target("avx512f"))) void triad_avx512(float* a, const float* b, const float* c, float s, size_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (size_t i = 0; i < n; i += 16) _mm512_store_ps(a + i, _mm512_fmadd_ps(vs, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
}
}  // namespace

double peak_kernel(const std::string& precision, int64_t iters, const Isa& isa) {
  if (precision == "fp32") return isa.avx512f ? fp32_avx512(iters) : isa.fma3 ? fp32_avx2(iters) : fp32_sse(iters);
  if (precision == "fp16") return isa.avx512fp16 ? fp16_avx512(iters) : 0;
  if (precision == "bf16") return isa.avx512bf16 ? bf16_avx512(iters) : 0;
  if (precision == "int8") return isa.avx512vnni ? int8_vnni(iters) : 0;
  return 0;
}

float read_kernel(const float* a, size_t n, const Isa& isa) { return isa.avx512f ? read_avx512(a, n) : read_sse(a, n); }

void copy_kernel(float* dst, const float* src, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void triad_kernel(float* a, const float* b, const float* c, float s, size_t n, const Isa& isa) {
  if (isa.avx512f) return triad_avx512(a, b, c, s, n);
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace ef::analysis
