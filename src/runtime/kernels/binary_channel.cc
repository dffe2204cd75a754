// Add/Sub/Mul/Div of a tensor and a per-channel vector ([..., C] op [1, ..., 1, C]
// or [C]), f32: squeeze-and-excitation scales, per-channel biases. XNNPACK's
// broadcasting binary ops (2022) make one call per pixel for this, with an
// index decomposition each; here it is one pass, C lanes at a time, with a
// clamp activation fused.
#include <algorithm>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/parallel.h"

namespace ef {
namespace {

enum class BinOp { add, sub, mul, div };

// The vector tiled over whole periods of lcm(C, 16), at least 64 floats
// (bcast::channel_tile_len), so the tensor is one flat stream of such
// chunks, each starting at channel 0:
// no per-pixel loop for narrow C (16 channels: 4 vectors a step, not one
// short row per pixel). Wide C whose lcm would exceed kMaxSpan: a pixel a chunk.
constexpr int64_t kMaxSpan = 4096;

int64_t span_of(int64_t c) {
  const int64_t l = bcast::channel_tile_len(c, 64);
  return l > kMaxSpan ? c : l;
}

struct Plan {
  const float* x;  // [n]
  const float* v;  // [span]: the vector tiled
  float* y;
  int64_t n, span;
  float lo, hi;
};

template <BinOp op, bool vec_first>
__attribute__((target_clones("avx512f", "default"))) void chunks(const Plan& p, int64_t c0, int64_t c1) {
  const int64_t end = std::min(p.n, c1 * p.span);
  for (int64_t i0 = c0 * p.span; i0 < end; i0 += p.span) {
    const int64_t len = std::min(p.span, end - i0);
    const float* x = p.x + i0;
    float* y = p.y + i0;
    for (int64_t k = 0; k < len; ++k) {
      const float a = vec_first ? p.v[k] : x[k], b = vec_first ? x[k] : p.v[k];
      float t;
      if constexpr (op == BinOp::add) t = a + b;
      else if constexpr (op == BinOp::sub) t = a - b;
      else if constexpr (op == BinOp::mul) t = a * b;
      else t = a / b;
      y[k] = std::min(std::max(t, p.lo), p.hi);
    }
  }
}

template <BinOp op>
void run_chunks(const Plan& p, bool vec_first, int64_t c0, int64_t c1) {
  vec_first ? chunks<op, true>(p, c0, c1) : chunks<op, false>(p, c0, c1);
}

class BinaryChannel : public Kernel {
 public:
  BinaryChannel(BinOp op, int vec_input, FusedActivation act, pthreadpool_t pool)
      : op_(op), vec_(vec_input), act_(act), pool_(pool) {}
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    c_ = out[0].shape.back();
    vector_ = in[vec_].as<const float>();
    tiled_.resize(size_t(span_of(c_)));
    plan_ = {in[1 - vec_].as<const float>(), tiled_.data(), out[0].as<float>(), out[0].numel(),
             int64_t(tiled_.size()), act_.out_min(), act_.out_max()};
  }
  void run() override {
    // The vector may change every run (squeeze-excitation scales).
    bcast::fill_channel_tile(vector_, c_, tiled_);
    const int64_t n_chunks = (plan_.n + plan_.span - 1) / plan_.span;
    parallel_rows(pool_, n_chunks, plan_.span, [&](int64_t c0, int64_t c1) {
      switch (op_) {
        case BinOp::add: run_chunks<BinOp::add>(plan_, vec_ == 0, c0, c1); break;
        case BinOp::sub: run_chunks<BinOp::sub>(plan_, vec_ == 0, c0, c1); break;
        case BinOp::mul: run_chunks<BinOp::mul>(plan_, vec_ == 0, c0, c1); break;
        case BinOp::div: run_chunks<BinOp::div>(plan_, vec_ == 0, c0, c1); break;
      }
      if (act_.needs_separate_pass()) {
        const int64_t i0 = c0 * plan_.span, i1 = std::min(plan_.n, c1 * plan_.span);
        act_.apply(plan_.y + i0, size_t(i1 - i0));
      }
    });
  }
  const char* impl() const override { return "own-channel"; }

 private:
  BinOp op_;
  int vec_;
  FusedActivation act_;
  pthreadpool_t pool_;
  Plan plan_{};
  int64_t c_ = 0;
  const float* vector_ = nullptr;
  std::vector<float> tiled_;
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
