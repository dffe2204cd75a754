// Microkernels that measure this machine's roofs (machine.cc): peak
// arithmetic per precision and streaming memory bandwidth. Each is compiled
// for its instruction set with a target attribute and chosen at run time, so
// the binary runs on CPUs without them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ef::analysis {

struct Isa {
  bool fma3 = false, avx512f = false, avx512vnni = false, avx512bf16 = false, avx512fp16 = false;
  std::string str() const;  // "avx512f fma3 ..." (what the kernels will use)
};
Isa detect_isa();

// Runs `iters` iterations of the best peak kernel this CPU has for
// `precision` (fp32, fp16, bf16, int8); returns the operations done (one
// FMA/MAC = 2), or 0 when the CPU has no such instructions.
double peak_kernel(const std::string& precision, int64_t iters, const Isa& isa);

// Streaming kernels over n floats (n a multiple of 64).
float read_kernel(const float* a, size_t n, const Isa& isa);            // sum
void copy_kernel(float* dst, const float* src, size_t n);               // memcpy
void triad_kernel(float* a, const float* b, const float* c, float s, size_t n, const Isa& isa);  // a = b + s*c

}  // namespace ef::analysis
