// QuantizeLinear(x) -> QLinearConv fused by fuse_quantize_conv into one
// QLinearConv reading the float x (on AVX512-VNNI CPUs; the VNNI GEMM
// quantizes while copying its padded input): the fused graph must equal the
// unfused one (optimize = false: the two ops) exactly, on inputs with exact
// rounding ties and saturation, at 1 and 2 threads. Not fused: the int8
// input also read elsewhere (kept, or a graph output), or quantized with
// other parameters than the conv reads it with.
#include "runtime/kernels/qgemm_vnni.h"
#include "unit/quant_ops/fusion_run.h"

namespace ef::test {
namespace {

struct StemCase {
  Shape x;  // NHWC
  int64_t cout, k, stride, pad;
};

// x -> QuantizeLinear(1/16, 3) -> QLinearConv (x_scale conv_xs, x_zp 3; relu) -> y.
Graph stem(const StemCase& c, float conv_xs = 0.0625f) {
  Graph g;
  auto add = [&](const char* name, Tensor t) { return g.add_const(g.unique_name(name), std::move(t)); };
  auto i8 = [&](int v) {
    Tensor z(DType::i8, {});
    *z.data_as<int8_t>() = int8_t(v);
    return add("z", std::move(z));
  };
  const int x = g.add_value("x", DType::f32, c.x, true), q = g.add_value("q"), y = g.add_value("y");
  g.inputs = {x};
  g.add_node("QuantizeLinear", "quant", {x, add("s", scalar_f32(0.0625f)), i8(3)}, {q});
  const int64_t cin = c.x[3];
  std::vector<float> ws;
  std::vector<int32_t> bias;
  for (int64_t o = 0; o < c.cout; ++o) ws.push_back(0.002f + 0.001f * float(o % 5)), bias.push_back(int32_t(o * 41 - 200));
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
  a.set("strides", std::vector<int64_t>{c.stride, c.stride});
  a.set("pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
  a.set("activation", std::string("relu"));
  g.add_node("QLinearConv", "conv",
             {q, add("xs", scalar_f32(conv_xs)), i8(3), add("w", rand_int<int8_t>({c.cout, cin, c.k, c.k}, -127, 127)),
              add("ws", Tensor::from<float>({c.cout}, std::span<const float>(ws))), add("wz", Tensor(DType::i8, {c.cout})),
              add("ys", scalar_f32(0.3f)), i8(-5), add("b", Tensor::from<int32_t>({c.cout}, std::span<const int32_t>(bias)))},
             {y}, a);
  g.outputs = {y};
  return g;
}

// Photos-like input: random, every third value an exact tie ((k + 0.5) / 16), some out of range.
Tensor input(const Shape& s) {
  Tensor x = rand_f32(s, -9.f, 9.f);
  for (int64_t i = 0; i < x.numel(); i += 3) x.data_as<float>()[i] = (float(rand_between(-140, 140)) + 0.5f) * 0.0625f;
  return x;
}

FusionRun run(const Graph& g, const Tensor& x, bool optimize, int threads, std::vector<std::string> keep = {}) {
  return run_fusion(g, {x}, optimize, threads, "QuantizeLinear", std::move(keep));
}

TEST(FuseQuantizeConv, FusedEqualsUnfusedPair) {
  if (!vnni_available()) GTEST_SKIP() << "fused only where the VNNI GEMM runs the conv";
  int k = 0;
  for (const StemCase& c : {StemCase{{1, 33, 30, 3}, 16, 3, 2, 1}, StemCase{{2, 17, 19, 3}, 24, 5, 2, 2},
                            StemCase{{1, 9, 11, 16}, 20, 1, 1, 0}, StemCase{{1, 7, 8, 5}, 8, 3, 1, 1}})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("case " + std::to_string(k++));
      const Tensor x = input(c.x);
      const Graph g = stem(c);
      const FusionRun fused = run(g, x, true, threads);
      EXPECT_EQ(fused.count, 0) << "the QuantizeLinear was not folded into the QLinearConv";
      expect_equal<int8_t>(fused.y, run(g, x, false, threads).y, "fused vs unfused");
    }
}

TEST(FuseQuantizeConv, NotFusedWhenTheInt8InputIsReadElsewhereOrOtherwiseScaled) {
  const StemCase c{{1, 9, 10, 3}, 16, 3, 2, 1};
  const Tensor x = input(c.x);
  const Graph g = stem(c);
  const FusionRun kept = run(g, x, true, 1, {"q"});
  EXPECT_EQ(kept.count, 1);
  expect_equal<int8_t>(kept.y, run(g, x, false, 1).y, "kept vs unfused");
  const Graph other = stem(c, 0.125f);  // the conv reads q at another scale than it was quantized with
  const FusionRun o = run(other, x, true, 1);
  EXPECT_EQ(o.count, 1);
  expect_equal<int8_t>(o.y, run(other, x, false, 1).y, "other scale vs unfused");
}

}  // namespace
}  // namespace ef::test
