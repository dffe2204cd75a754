// The edge block comparison: the layers edge engineers choose between, built
// as IR graphs, counted by the cost model and timed compiled.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

#include "edgeflow/analysis.h"
#include "edgeflow/session.h"

namespace ef {

namespace {
// Builds one block graph: NCHW float, no conv biases (BatchNorm follows).
class Builder {
 public:
  explicit Builder(const Shape& in) {
    x_ = g_.add_value("x", DType::f32, in, true);
    g_.inputs = {x_};
  }
  int x() const { return x_; }

  int conv(int x, int64_t cin, int64_t cout, int64_t k, int64_t stride = 1, int64_t groups = 1) {
    int w = weights({cout, cin / groups, k, k}, double(cin / groups * k * k));
    Attrs a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    int64_t p = k / 2;
    a.set("pads", std::vector<int64_t>{p, p, p, p});
    if (groups > 1) a.set("group", groups);
    return node("Conv", {x, w}, a);
  }
  int conv_transpose(int x, int64_t cin, int64_t cout, int64_t k) {  // stride 2, exact 2x output
    int w = weights({cin, cout, k, k}, double(cin * k * k / 4));
    Attrs a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{2, 2});
    const int64_t p = (k - 1) / 2, extra = k % 2;  // k=3: pads 1, output_padding 1; k=2: none
    a.set("pads", std::vector<int64_t>{p, p, p, p});
    a.set("output_padding", std::vector<int64_t>{extra, extra});
    return node("ConvTranspose", {x, w}, a);
  }
  int bn(int x, int64_t c) {
    std::vector<int> in = {x};
    for (float base : {1.f, 0.f, 0.f, 1.f}) {  // scale, shift, mean, var
      Tensor t(DType::f32, {c});
      for (int64_t i = 0; i < c; ++i) t.data_as<float>()[i] = base + 0.1f * u_(rng_);
      in.push_back(g_.add_const(name("bn"), std::move(t)));
    }
    return node("BatchNormalization", in);
  }
  int relu(int x) { return node("Relu", {x}); }
  int cbr(int x, int64_t cin, int64_t cout, int64_t k, int64_t stride = 1, int64_t groups = 1) {
    return relu(bn(conv(x, cin, cout, k, stride, groups), cout));
  }
  int concat(std::vector<int> xs) {
    Attrs a;
    a.set("axis", int64_t(1));
    return node("Concat", xs, a);
  }
  std::vector<int> split(int x, std::vector<int64_t> sizes) {
    Tensor s(DType::i64, {int64_t(sizes.size())});
    std::copy(sizes.begin(), sizes.end(), s.data_as<int64_t>());
    Attrs a;
    a.set("axis", int64_t(1));
    std::vector<int> outs;
    for (size_t i = 0; i < sizes.size(); ++i) outs.push_back(g_.add_value(name("t")));
    g_.add_node("Split", name("split"), {x, g_.add_const(name("sizes"), std::move(s))}, outs, a);
    return outs;
  }
  int depth_space(const char* op, int x, int64_t block) {
    Attrs a;
    a.set("blocksize", block);
    if (std::string(op) == "DepthToSpace") a.set("mode", std::string("DCR"));
    return node(op, {x}, a);
  }
  Graph finish(int y) {
    g_.outputs = {y};
    infer_shapes(g_);
    return std::move(g_);
  }

 private:
  std::string name(const std::string& base) { return base + std::to_string(++uid_); }
  int node(const std::string& op, std::vector<int> in, Attrs a = {}) {
    int y = g_.add_value(name("t"));
    g_.add_node(op, name(op), std::move(in), {y}, std::move(a));
    return y;
  }
  int weights(const Shape& s, double fan_in) {
    Tensor t(DType::f32, s);
    const float scale = float(1.0 / std::sqrt(std::max(fan_in, 1.0)));
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = scale * u_(rng_);
    return g_.add_const(name("w"), std::move(t));
  }
  Graph g_;
  int x_ = -1, uid_ = 0;
  std::mt19937 rng_{7};
  std::uniform_real_distribution<float> u_{-1.f, 1.f};
};
double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return 1e3 * double(ts.tv_sec) + 1e-6 * double(ts.tv_nsec);
}

}  // namespace

std::vector<EdgeBlock> edge_blocks(int64_t hw) {
  std::vector<EdgeBlock> out;
  auto add = [&](const std::string& group, const std::string& name, Builder& b, int y) {
    out.push_back({group, name, b.finish(y)});
  };
  for (auto [ci, co] : {std::pair<int64_t, int64_t>{32, 64}, {64, 128}}) {
    const std::string group = std::to_string(ci) + "->" + std::to_string(co) + " ch, " + std::to_string(hw) + "x" +
                              std::to_string(hw) + " input";
    const Shape in = {1, ci, hw, hw};
    {
      Builder b(in);
      add(group, "Conv3x3+BN+ReLU", b, b.cbr(b.x(), ci, co, 3));
    }
    {
      Builder b(in);
      add(group, "Conv3x3/2+BN+ReLU", b, b.cbr(b.x(), ci, co, 3, 2));
    }
    {
      Builder b(in);  // space-to-depth stem: 2x2 pixels -> 4*cin channels, then a 1x1 conv
      add(group, "SpaceToDepth2+Conv1x1+BN+ReLU", b, b.cbr(b.depth_space("SpaceToDepth", b.x(), 2), 4 * ci, co, 1));
    }
    {
      Builder b(in);  // GhostNet module: 1x1 primary to cout/2, 3x3 depthwise "cheap" features, concat
      int p = b.cbr(b.x(), ci, co / 2, 1);
      add(group, "Ghost (1x1 primary, dw3x3)", b, b.concat({p, b.cbr(p, co / 2, co / 2, 3, 1, co / 2)}));
    }
    {
      Builder b(in);  // the same with a 3x3 primary (drop-in for a 3x3 conv)
      int p = b.cbr(b.x(), ci, co / 2, 3);
      add(group, "Ghost (3x3 primary, dw3x3)", b, b.concat({p, b.cbr(p, co / 2, co / 2, 3, 1, co / 2)}));
    }
    {
      Builder b(in);  // FasterNet PConv: 3x3 conv on cin/4 channels, the rest passes through; then 1x1
      auto parts = b.split(b.x(), {ci / 4, ci - ci / 4});
      int y = b.concat({b.conv(parts[0], ci / 4, ci / 4, 3), parts[1]});
      add(group, "PConv3x3(1/4)+Conv1x1+BN+ReLU", b, b.cbr(y, ci, co, 1));
    }
    {
      Builder b(in);  // DenseNet-style: 4 layers, each Conv3x3+BN+ReLU of all features so far
      const int64_t growth = (co - ci) / 4;
      std::vector<int> feats = {b.x()};
      int64_t c = ci;
      for (int l = 0; l < 4; ++l) {
        int cat = feats.size() == 1 ? feats[0] : b.concat(feats);
        feats = {cat, b.cbr(cat, c, growth, 3)};
        c += growth;
      }
      add(group, "Dense block (4x Conv3x3, growth " + std::to_string(growth) + ")", b, b.concat(feats));
    }
  }
  for (int64_t s : {8, 16, 32}) {
    const std::string group = "128 ch, 2x upsampling of " + std::to_string(s) + "x" + std::to_string(s);
    const Shape in = {1, 128, s, s};
    {
      Builder b(in);
      add(group, "ConvTranspose3x3/2 128->128", b, b.conv_transpose(b.x(), 128, 128, 3));
    }
    {
      Builder b(in);
      add(group, "ConvTranspose2x2/2 128->128", b, b.conv_transpose(b.x(), 128, 128, 2));
    }
    {
      Builder b(in);
      add(group, "Conv1x1 128->512+PixelShuffle2", b, b.depth_space("DepthToSpace", b.conv(b.x(), 128, 512, 1), 2));
    }
    {
      Builder b(in);
      add(group, "PixelShuffle2 (128->32 ch)", b, b.depth_space("DepthToSpace", b.x(), 2));
    }
  }
  return out;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

BlockMeasure measure_block(const EdgeBlock& blk, int threads, int runs) {
  BlockMeasure m;
  ModelCost c = model_cost(blk.graph);
  m.params = c.total.params;
  m.macs = c.total.macs;
  m.in_shape = blk.graph.values[blk.graph.inputs.at(0)].shape;
  m.out_shape = blk.graph.values[blk.graph.outputs.at(0)].shape;
  CompileOptions o;
  o.threads = threads;
  Session s(Model::from_graph(blk.graph), o);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Tensor& x = s.input(0);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = u(rng);
  for (int i = 0; i < std::max(3, runs / 10); ++i) s.run();
  std::vector<double> ms, cpu;
  for (int i = 0; i < runs; ++i) {
    const double c0 = process_cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    s.run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(process_cpu_ms() - c0);
  }
  m.median_ms = median_of(ms);
  m.median_cpu_ms = median_of(cpu);
  return m;
}

}  // namespace ef
