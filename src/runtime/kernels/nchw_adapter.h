// Runs a channels-last spatial kernel on a node the layout pass left in NCHW
// (e.g. 1-D convolutions/pools on [N, C, L], which the pass does not
// convert): the node is re-described with layout=NHWC on a private one-node
// graph, the NHWC kernel is created from it, and the adapter transposes input
// 0 to channels-last and output 0 back around every run (buffers sized at
// setup). A fallback for correctness, not a fast path.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace ef {
namespace nchw_detail {

inline Shape channels_last(const Shape& s) {
  Shape r = {s[0]};
  for (size_t i = 2; i < s.size(); ++i) r.push_back(s[i]);
  r.push_back(s[1]);
  return r;
}

// [N, C, P] <-> [N, P, C] for 4-byte elements
inline void transpose_ncp(const float* src, float* dst, int64_t N, int64_t C, int64_t P, bool to_last,
                          pthreadpool_t pool) {
  struct Ctx {
    const float* src;
    float* dst;
    int64_t C, P;
    bool to_last;
  } ctx{src, dst, C, P, to_last};
  auto task = [](void* p, size_t nc) {
    const Ctx& c = *static_cast<const Ctx*>(p);
    const int64_t n = int64_t(nc) / c.C, ch = int64_t(nc) % c.C;
    if (c.to_last) {
      const float* s = c.src + (n * c.C + ch) * c.P;
      float* d = c.dst + n * c.P * c.C + ch;
      for (int64_t i = 0; i < c.P; ++i) d[i * c.C] = s[i];
    } else {
      const float* s = c.src + n * c.P * c.C + ch;
      float* d = c.dst + (n * c.C + ch) * c.P;
      for (int64_t i = 0; i < c.P; ++i) d[i] = s[i * c.C];
    }
  };
  if (pool)
    pthreadpool_parallelize_1d(pool, task, &ctx, size_t(N * C), 0);
  else
    for (size_t i = 0; i < size_t(N * C); ++i) task(&ctx, i);
}

class NchwAdapter : public Kernel {
 public:
  NchwAdapter(std::unique_ptr<Graph> g, std::unique_ptr<Kernel> inner, pthreadpool_t pool)
      : g_(std::move(g)), inner_(std::move(inner)), pool_(pool) {
    impl_ = std::string("nchw+") + inner_->impl();
  }
  void setup(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
    Kernel::setup(in, out);
    xbuf_ = Tensor(DType::f32, channels_last(in[0].shape));
    ybuf_ = Tensor(DType::f32, channels_last(out[0].shape));
    std::vector<TensorView> ins = in, outs = out;
    ins[0].shape = xbuf_.shape();
    ins[0].data = xbuf_.data();
    outs[0].shape = ybuf_.shape();
    outs[0].data = ybuf_.data();
    inner_->setup(ins, outs);
  }
  void run() override {
    const Shape& xs = in_[0].shape;
    const Shape& ys = out_[0].shape;
    transpose_ncp(in_[0].as<const float>(), xbuf_.data_as<float>(), xs[0], xs[1], in_[0].numel() / (xs[0] * xs[1]),
                  true, pool_);
    inner_->run();
    transpose_ncp(ybuf_.data_as<const float>(), out_[0].as<float>(), ys[0], ys[1], out_[0].numel() / (ys[0] * ys[1]),
                  false, pool_);
  }
  const char* impl() const override { return impl_.c_str(); }

 private:
  std::unique_ptr<Graph> g_;  // the NHWC re-description the inner kernel was made from
  std::unique_ptr<Kernel> inner_;
  pthreadpool_t pool_;
  Tensor xbuf_, ybuf_;
  std::string impl_;
};

}  // namespace nchw_detail

// For an NCHW (no layout attr) f32 node whose input 0 and output 0 are
// activations of rank >= 3: the first of `factories` that accepts the NHWC
// version, wrapped; nullptr if none does. `fix` may adjust the NHWC
// re-description further (e.g. permute Resize's scales).
inline std::unique_ptr<Kernel> make_nchw_adapter(const KernelContext& c,
                                                 std::initializer_list<KernelFactory> factories,
                                                 const std::function<void(Graph&, Node&)>& fix = {}) {
  using namespace nchw_detail;
  if (c.node.inputs.empty() || c.node.inputs[0] < 0 || c.node.outputs.empty()) return nullptr;
  const Value& x = c.input(0);
  const Value& y = c.output(0);
  if (x.dtype != DType::f32 || y.dtype != DType::f32 || x.shape.size() < 3 || y.shape.size() != x.shape.size())
    return nullptr;
  auto g = std::make_unique<Graph>();
  g->name = c.graph.name;
  g->source = c.graph.source;
  Node n = c.node;
  n.attrs.set("layout", std::string("NHWC"));
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i] < 0) continue;
    Value v = c.graph.values[n.inputs[i]];
    if (i == 0) v.shape = channels_last(v.shape);
    n.inputs[i] = int(g->values.size());
    g->values.push_back(std::move(v));
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (n.outputs[i] < 0) continue;
    Value v = c.graph.values[n.outputs[i]];
    if (i == 0) v.shape = channels_last(v.shape);
    n.outputs[i] = int(g->values.size());
    g->values.push_back(std::move(v));
  }
  if (fix) fix(*g, n);
  g->nodes.push_back(std::move(n));
  KernelContext nc{*g, g->nodes[0], c.options, c.pool};
  for (KernelFactory f : factories)
    if (auto k = f(nc)) return std::make_unique<NchwAdapter>(std::move(g), std::move(k), c.pool);
  return nullptr;
}

}  // namespace ef
