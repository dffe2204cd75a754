// Elementwise activations.
#include "runtime/kernel.h"

namespace ef {
namespace {

class ReluRef : public Kernel {
 public:
  void run() override {
    const float* x = in_[0].as<float>();
    float* y = out_[0].as<float>();
    const int64_t n = in_[0].numel();
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
  }
};

std::unique_ptr<Kernel> make_relu(const KernelContext& c) {
  if (c.input(0).dtype != DType::f32) return nullptr;
  return std::make_unique<ReluRef>();
}

}  // namespace
EF_REGISTER_KERNEL("Relu", 0, make_relu, "ref");
}  // namespace ef
