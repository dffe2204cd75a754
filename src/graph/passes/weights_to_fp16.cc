// --precision fp16: the weights of Conv (NHWC, one group), Gemm and MatMul
// with a constant 2-D B become float16 constants, so the session holds half
// the weight bytes; kernels/linear_f16.cc runs them (float16 arithmetic on
// AVX512-FP16 where it pays, else float32 with the weights widened on the
// fly). Weights shared with another consumer, layers with fewer than 16
// input channels (tiny weights, e.g. an RGB stem; the kernel's per-tap
// overhead would dominate), and any other op keep float32. Weights already
// float16 (TFLite files loaded with LoadOptions::keep_float16) stay as they
// are; values folded from float16 at load round back to exactly their bits.
#include <string>

#include "graph/passes/passes.h"

namespace ef {

bool fp16_weight_eligible(const Graph& g, const Node& n) {
  if (n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0) return false;
  const Value& x = g.values[n.inputs[0]];
  const Value& w = g.values[n.inputs[1]];
  if (x.dtype != DType::f32 || n.outputs.empty() || g.values[n.outputs[0]].dtype != DType::f32) return false;
  if (!w.is_const() || (w.dtype != DType::f32 && w.dtype != DType::f16) || !w.quant.empty()) return false;
  if (Graph::has_input(n, 2)) {
    const Value& b = g.values[n.inputs[2]];
    if (!b.is_const() || b.dtype != DType::f32) return false;
  }
  constexpr int64_t kMinInputChannels = 16;
  if (n.op == "Conv")
    return n.attrs.s("layout", "") == "NHWC" && n.attrs.i("group", 1) == 1 && w.shape.size() == 4 &&
           x.shape.size() == 4 && w.shape[1] >= kMinInputChannels;
  if (x.shape.empty() || x.shape.back() < kMinInputChannels) return false;
  if (n.op == "Gemm") {
    if (n.attrs.i("transA", 0) != 0 || n.attrs.f("alpha", 1.f) != 1.f || x.shape.size() != 2 || w.shape.size() != 2)
      return false;
    if (!Graph::has_input(n, 2)) return true;
    const int64_t N = g.values[n.outputs[0]].shape.back();
    const int64_t nb = g.values[n.inputs[2]].data.numel();
    return nb == 1 || nb == N;
  }
  if (n.op == "MatMul") return w.shape.size() == 2 && x.shape.size() >= 1 && !Graph::has_input(n, 2);
  return false;
}

int weights_to_fp16(Graph& g, OptimizeReport& report) {
  std::vector<int> uses(g.values.size(), 0);
  for (const Node& n : g.nodes)
    if (!n.dead)
      for (int v : n.inputs)
        if (v >= 0) ++uses[size_t(v)];
  for (int v : g.outputs) ++uses[size_t(v)];
  int converted = 0;
  int64_t before = 0, after = 0;
  for (const Node& n : g.nodes) {
    if (n.dead || !fp16_weight_eligible(g, n)) continue;
    Value& w = g.values[n.inputs[1]];
    if (w.dtype != DType::f32) continue;  // already f16
    if (uses[size_t(n.inputs[1])] != 1) {
      report.log.push_back("fp16: " + n.name + " keeps float32 weights (shared with another consumer)");
      continue;
    }
    Tensor h = float_to_half(w.data);
    before += int64_t(w.data.nbytes());
    after += int64_t(h.nbytes());
    w.data = std::move(h);
    w.dtype = DType::f16;
    ++converted;
  }
  if (converted)
    report.log.push_back("fp16: weights of " + std::to_string(converted) + " Conv/Gemm/MatMul layers stored as float16 (" +
                         std::to_string(before) + " -> " + std::to_string(after) + " bytes)");
  return converted;
}

}  // namespace ef
