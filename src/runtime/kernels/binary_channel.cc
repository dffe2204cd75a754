// Add/Sub/Mul/Div of a tensor and a per-channel vector ([..., C] op [1, ..., 1, C]
// or [C]), f32: squeeze-and-excitation scales, per-channel biases. XNNPACK's
// broadcasting binary ops (2022) make one call per pixel for this, with an
// index decomposition each; here it is one pass, C lanes at a time, with a
// clamp activation fused.
#include <algorithm>

#include "runtime/kernel.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

enum class BinOp { add, sub, mul, div };

struct Plan {
  const float* x;  // [pixels][C]
  const float* v;  // [C]
  float* y;
  int64_t c;
  bool vec_first;  // v op x (Sub, Div)
  float lo, hi;
};

template <BinOp op>
__attribute__((target_clones("avx512f", "default"))) void rows(const Plan& p, int64_t p0, int64_t p1) {
  const int64_t c = p.c;
  for (int64_t r = p0; r < p1; ++r) {
    const float* x = p.x + r * c;
    float* y = p.y + r * c;
    for (int64_t k = 0; k < c; ++k) {
      const float a = p.vec_first ? p.v[k] : x[k], b = p.vec_first ? x[k] : p.v[k];
      float t;
      if constexpr (op == BinOp::add) t = a + b;
      else if constexpr (op == BinOp::sub) t = a - b;
      else if constexpr (op == BinOp::mul) t = a * b;
      else t = a / b;
      y[k] = std::min(std::max(t, p.lo), p.hi);
    }
  }
}

class BinaryChannel : public Kernel {
 public:
  BinaryChannel(BinOp op, int vec_input, FusedActivation act, pthreadpool_t pool)
      : op_(op), vec_(vec_input), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    const int64_t c = out[0].shape.back();
    pixels_ = c ? out[0].numel() / c : 0;
    plan_ = {in[1 - vec_].as<const float>(), in[vec_].as<const float>(), out[0].as<float>(), c, vec_ == 0,
             act_.out_min(), act_.out_max()};
  }
  void run() override {
    parallel_rows(pool_, pixels_, plan_.c, [&](int64_t p0, int64_t p1) {
      switch (op_) {
        case BinOp::add: rows<BinOp::add>(plan_, p0, p1); break;
        case BinOp::sub: rows<BinOp::sub>(plan_, p0, p1); break;
        case BinOp::mul: rows<BinOp::mul>(plan_, p0, p1); break;
        case BinOp::div: rows<BinOp::div>(plan_, p0, p1); break;
      }
      if (act_.needs_separate_pass()) act_.apply(plan_.y + p0 * plan_.c, size_t((p1 - p0) * plan_.c));
    });
  }
  const char* impl() const override { return "own-channel"; }

 private:
  BinOp op_;
  int vec_;
  FusedActivation act_;
  pthreadpool_t pool_;
  Plan plan_{};
  int64_t pixels_ = 0;
};

// [1, ..., 1, C] (any rank up to the output's) with C = the output's last dimension.
bool is_channel_vector(const Shape& s, int64_t c) {
  if (s.empty() || s.back() != c) return false;
  for (size_t k = 0; k + 1 < s.size(); ++k)
    if (s[k] != 1) return false;
  return true;
}

std::unique_ptr<Kernel> make_binary_channel(const KernelContext& c) {
  const std::string& op = c.node.op;
  BinOp b;
  if (op == "Add") b = BinOp::add;
  else if (op == "Sub") b = BinOp::sub;
  else if (op == "Mul") b = BinOp::mul;
  else if (op == "Div") b = BinOp::div;
  else return nullptr;
  if (c.node.inputs.size() != 2 || !Graph::has_input(c.node, 0) || !Graph::has_input(c.node, 1)) return nullptr;
  const Shape& y = c.output(0).shape;
  if (c.output(0).dtype != DType::f32 || c.input(0).dtype != DType::f32 || c.input(1).dtype != DType::f32 ||
      y.size() < 2 || numel(y) == 0)
    return nullptr;
  const int64_t ch = y.back();
  for (int v = 0; v < 2; ++v)
    if (c.input(1 - v).shape == y && is_channel_vector(c.input(v).shape, ch) && numel(y) > ch)
      return std::make_unique<BinaryChannel>(b, v, FusedActivation::from(c.node), c.pool);
  return nullptr;
}

}  // namespace
EF_REGISTER_KERNEL("Add", 105, make_binary_channel, "own-channel");
EF_REGISTER_KERNEL("Sub", 105, make_binary_channel, "own-channel");
EF_REGISTER_KERNEL("Mul", 105, make_binary_channel, "own-channel");
EF_REGISTER_KERNEL("Div", 105, make_binary_channel, "own-channel");
}  // namespace ef
