// Float16 constants standing for float32 ones (TFLite weights behind
// DEQUANTIZE, loaded with LoadOptions::keep_float16) become float32 where
// their consumers compute in float32: all of them, except, when
// `keep_fp16_weights` (a Precision::fp16 session), the weights of the layers
// the f16-weight kernels run (fp16_weight_eligible), which keep the file's
// bits. Constants of float16 computations (a consumer with a float16 output,
// or a Cast) stay as they are.
#include <string>

#include "graph/passes/passes.h"

namespace ef {

int widen_float16_weights(Graph& g, bool keep_fp16_weights, OptimizeReport& report) {
  auto widen_if = [&](auto&& must_widen) {
    // Per float16 constant: does a float32 consumer need it widened?
    std::vector<char> widen(g.values.size(), 0);
    for (const Node& n : g.nodes) {
      if (n.dead || n.op == "Cast" || n.outputs.empty() || g.values[n.outputs[0]].dtype != DType::f32) continue;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const int v = n.inputs[i];
        if (v >= 0 && g.values[v].is_const() && g.values[v].dtype == DType::f16 && must_widen(n, i))
          widen[size_t(v)] = 1;
      }
    }
    int count = 0;
    for (size_t v = 0; v < g.values.size(); ++v) {
      if (!widen[v]) continue;
      Value& c = g.values[v];
      c.data = half_to_float(c.data);
      c.dtype = DType::f32;
      ++count;
    }
    return count;
  };
  auto weight_input = [](const Node& n, size_t i) {
    return i == 1 && (n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul");
  };
  // First everything but layer weights (biases among them: eligibility
  // needs float32 biases), then the weights of layers that cannot keep them.
  int widened = widen_if([&](const Node& n, size_t i) { return !keep_fp16_weights || !weight_input(n, i); });
  widened += widen_if([&](const Node& n, size_t i) { return !weight_input(n, i) || !fp16_weight_eligible(g, n); });
  if (widened)
    report.log.push_back("float16: " + std::to_string(widened) + " float16 constants from the file widened to float32");
  return widened;
}

}  // namespace ef
