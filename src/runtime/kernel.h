// The kernel interface: create (pack weights once) -> setup (bind shapes and
// arena pointers) -> run (per frame, no allocation). One op family a file in
// kernels/, each registering factories with EF_REGISTER_KERNEL.
#pragma once
#include <pthreadpool.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "edgeflow/session.h"

namespace ef {

// A tensor as a kernel sees it: dtype, static shape, pointer into the arena
// (or to constant data). Quantization parameters where the value has them.
struct TensorView {
  DType dtype = DType::f32;
  Shape shape;
  void* data = nullptr;
  const QuantParams* quant = nullptr;
  int64_t numel() const { return ef::numel(shape); }
  template <class T> T* as() const { return static_cast<T*>(data); }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Bind inputs/outputs. Called after memory planning, before the first run,
  // and again only if pointers or shapes change. May allocate.
  virtual void setup(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) {
    in_ = inputs;
    out_ = outputs;
  }
  // Execute. Must not allocate.
  virtual void run() = 0;
  // Short description of how this node runs (e.g. "xnnpack", "ref"), for profiles.
  virtual const char* impl() const { return "ref"; }

 protected:
  std::vector<TensorView> in_, out_;
};

struct KernelContext {
  const Graph& graph;
  const Node& node;
  const CompileOptions& options;
  pthreadpool_t pool;  // may be null (single thread)
  // Constant input i, or nullptr if input i is a runtime value or omitted.
  const Tensor* const_input(size_t i) const {
    if (!Graph::has_input(node, i)) return nullptr;
    const Value& v = graph.values[node.inputs[i]];
    return v.is_const() ? &v.data : nullptr;
  }
  const Value& input(size_t i) const { return graph.values.at(node.inputs.at(i)); }
  const Value& output(size_t i) const { return graph.values.at(node.outputs.at(i)); }
};

// A factory returns nullptr when it cannot handle this node's configuration
// (then the next registered factory for the op is tried).
using KernelFactory = std::unique_ptr<Kernel> (*)(const KernelContext&);

// Higher priority is tried first (XNNPACK kernels use 100, own kernels 0).
void register_kernel(const std::string& op, int priority, KernelFactory factory, const char* impl);
std::unique_ptr<Kernel> create_kernel(const KernelContext& ctx);
bool has_kernel(const std::string& op);

// Evaluate one node on constant inputs with the registered kernels
// (constant folding). Returns the outputs.
std::vector<Tensor> evaluate_node(const Graph& g, const Node& n);

// The CPU runs AVX-512 F, BW and VL (the set the own AVX-512 kernels target).
bool cpu_has_avx512();

// Apply a fused activation ("activation" attr) in place, elementwise.
struct FusedActivation {
  enum Kind { none, relu, clip, hardswish, sigmoid, tanh, leaky_relu } kind = none;
  float min = -INFINITY, max = INFINITY, alpha = 0.01f;
  static FusedActivation from(const Node& n);
  // The clamp range an XNNPACK op can apply itself (relu/relu6/clip), or
  // +-inf if the activation must run separately.
  float out_min() const { return kind == relu || kind == clip ? min : -INFINITY; }
  float out_max() const { return kind == clip ? max : INFINITY; }
  bool needs_separate_pass() const { return kind != none && kind != relu && kind != clip; }
  void apply(float* data, size_t n) const;
};

}  // namespace ef

#define EF_REGISTER_KERNEL(OP, PRIO, FACTORY, IMPL) \
  static const bool EF_CONCAT(ef_kernel_, __COUNTER__) = (::ef::register_kernel(OP, PRIO, FACTORY, IMPL), true)
