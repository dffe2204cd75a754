// Cast between f32, f16, i8, u8, i32, i64 and bool (and CastLike). Float to
// integer truncates toward zero; anything to bool is (x != 0); f16 goes
// through float.
#include <cstring>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"

namespace ef {
namespace {

struct Half {
  uint16_t bits;
};


template <class S> inline float to_float(S v) {
  if constexpr (std::is_same_v<S, Half>) return half_to_float(v.bits);
  else return float(v);
}

template <class S, class D>
inline D convert(S v) {
  if constexpr (std::is_same_v<D, Half>) {
    return Half{float_to_half(to_float(v))};
  } else if constexpr (std::is_same_v<S, Half>) {
    float f = half_to_float(v.bits);
    if constexpr (std::is_same_v<D, bool>) return f != 0.f;
    else return D(f);
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return D(v);
  }
}

template <class S, class D>
class CastKernel : public Kernel {
 public:
  explicit CastKernel(pthreadpool_t pool) : pool_(pool) {}
  void run() override {
    const S* x = static_cast<const S*>(in_[0].data);
    D* y = static_cast<D*>(out_[0].data);
    if constexpr (std::is_same_v<S, D>) {
      std::memcpy(y, x, size_t(in_[0].numel()) * sizeof(S));
    } else {
      bcast::parallel_for(pool_, in_[0].numel(), 16384, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = convert<S, D>(x[i]);
      });
    }
  }

 private:
  pthreadpool_t pool_;
};

template <class S>
std::unique_ptr<Kernel> to(DType d, pthreadpool_t pool) {
  switch (d) {
    case DType::f32: return std::make_unique<CastKernel<S, float>>(pool);
    case DType::f16: return std::make_unique<CastKernel<S, Half>>(pool);
    case DType::i8: return std::make_unique<CastKernel<S, int8_t>>(pool);
    case DType::u8: return std::make_unique<CastKernel<S, uint8_t>>(pool);
    case DType::i32: return std::make_unique<CastKernel<S, int32_t>>(pool);
    case DType::i64: return std::make_unique<CastKernel<S, int64_t>>(pool);
    case DType::boolean: return std::make_unique<CastKernel<S, bool>>(pool);
  }
  return nullptr;
}

std::unique_ptr<Kernel> make_cast(const KernelContext& c) {
  DType d = c.output(0).dtype;
  switch (c.input(0).dtype) {
    case DType::f32: return to<float>(d, c.pool);
    case DType::f16: return to<Half>(d, c.pool);
    case DType::i8: return to<int8_t>(d, c.pool);
    case DType::u8: return to<uint8_t>(d, c.pool);
    case DType::i32: return to<int32_t>(d, c.pool);
    case DType::i64: return to<int64_t>(d, c.pool);
    case DType::boolean: return to<bool>(d, c.pool);
  }
  return nullptr;
}

}  // namespace

EF_REGISTER_KERNEL("Cast", 0, make_cast, "ref");
EF_REGISTER_KERNEL("CastLike", 0, make_cast, "ref");
}  // namespace ef
