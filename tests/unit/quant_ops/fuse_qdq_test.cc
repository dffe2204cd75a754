// The QDQ fusion pass: a QDQ graph (uint8 activations as ONNX Runtime's
// quantizer writes them, per-channel int8 weights, int32 biases) runs fused
// into QLinearConv/QLinearAdd/QLinearGlobalAveragePool/QGemm; its outputs
// are compared with the same graph run unfused (optimize = false: float
// kernels between DequantizeLinear and QuantizeLinear, the ONNX definition).
// Tolerance: 2 output steps (each fused op may round its int8 output 1 step
// differently from float accumulation; the error does not grow because every
// op requantizes).
#include <cmath>
#include <map>

#include "runtime/kernels/qgemm_vnni.h"
#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

struct QdqBuilder {
  Graph g;
  int n = 0;
  int scalar(float v) { return g.add_const("c" + std::to_string(n++), scalar_f32(v)); }
  int zp(uint8_t z) {
    Tensor t(DType::u8, {});
    *t.data_as<uint8_t>() = z;
    return g.add_const("z" + std::to_string(n++), t);
  }
  int node(const std::string& op, std::vector<int> ins, Attrs a = {}) {
    int y = g.add_value("v" + std::to_string(n++));
    g.add_node(op, "n" + std::to_string(n++), std::move(ins), {y}, std::move(a));
    return y;
  }
  // x -> Q(u8) -> DQ
  int qdq(int x, float s, uint8_t z) {
    int sc = scalar(s), zz = zp(z);
    return node("DequantizeLinear", {node("QuantizeLinear", {x, sc, zz}), sc, zz});
  }
  int weights(Shape shape, int64_t axis_len) {
    Tensor w = rand_int<int8_t>(shape, -127, 127);
    std::vector<float> s(static_cast<size_t>(axis_len));
    for (auto& v : s) v = 0.005f + 0.01f * float(rand_between(0, 10)) / 10.f;
    Attrs a;
    a.set("axis", int64_t(0));
    return node("DequantizeLinear", {g.add_const("w" + std::to_string(n++), w),
                                     g.add_const("ws" + std::to_string(n++), Tensor::from<float>({axis_len}, std::span<const float>(s)))},
                a);
  }
  int bias(int64_t count) { return g.add_const("b" + std::to_string(n++), rand_f32({count}, -0.5f, 0.5f)); }
  // 2x2 stride-2 MaxPool (NHWC: as the layout pass leaves it).
  int maxpool2(int x, bool nhwc) {
    Attrs mp;
    if (nhwc) mp.set("layout", std::string("NHWC"));
    mp.set("kernel_shape", std::vector<int64_t>{2, 2});
    mp.set("strides", std::vector<int64_t>{2, 2});
    return node("MaxPool", {x}, mp);
  }
  // Pad of a 4-D x with `extra` zero channels at the end of axis `axis` (1: NCHW, 3: NHWC).
  int channel_pad(int x, int64_t axis, int64_t extra) {
    Tensor pads(DType::i64, {8});
    std::fill(pads.data_as<int64_t>(), pads.data_as<int64_t>() + 8, 0);
    pads.data_as<int64_t>()[4 + axis] = extra;
    return node("Pad", {x, g.add_const("pads" + std::to_string(n++), pads)});
  }
};

// The graph compiled twice: unfused (optimize = false, the reference) and
// fused; `ops` counts the fused graph's ops.
struct RefAndFused {
  Session ref, fused;
  std::map<std::string, int> ops;
};
RefAndFused compile(const Graph& g) {
  CompileOptions plain;
  plain.optimize = false;
  RefAndFused r{Session(Model::from_graph(g), plain), Session(Model::from_graph(g)), {}};
  for (const Node& n : r.fused.graph().nodes) ++r.ops[n.op];
  return r;
}

// Runs both on 3 random inputs of `shape` (values in [lo, hi]); every output
// of the fused graph within `tol` of the reference's (tol 0: equal).
void expect_close(RefAndFused& run, const Shape& shape, float lo, float hi, float tol) {
  for (int trial = 0; trial < 3; ++trial) {
    Tensor in = rand_f32(shape, lo, hi);
    Tensor r = run.ref.run({in})[0].clone();
    Tensor f = run.fused.run({in})[0];
    ASSERT_EQ(r.shape(), f.shape());
    for (int64_t i = 0; i < r.numel(); ++i)
      EXPECT_LE(std::fabs(r.data_as<float>()[i] - f.data_as<float>()[i]), tol) << i;
  }
}

TEST(FuseQdq, FusedGraphMatchesTheQdqDefinition) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 3, 10, 10}, true);
  b.g.inputs = {x};
  Attrs c3;
  c3.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  int x0 = b.qdq(x, 0.02f, 128);
  int c1 = b.node("Relu", {b.node("Conv", {x0, b.weights({8, 3, 3, 3}, 8), b.bias(8)}, c3)});
  int a = b.qdq(c1, 0.03f, 0);
  int c2 = b.qdq(b.node("Conv", {a, b.weights({8, 8, 1, 1}, 8), b.bias(8)}), 0.04f, 120);
  int sum = b.qdq(b.node("Add", {a, c2}), 0.05f, 100);
  int gap = b.qdq(b.node("GlobalAveragePool", {sum}), 0.02f, 90);
  int flat = b.qdq(b.node("Flatten", {gap}), 0.02f, 90);
  Attrs gm;
  gm.set("transB", int64_t(1));
  int y = b.qdq(b.node("Gemm", {flat, b.weights({5, 8}, 5), b.bias(5)}, gm), 0.01f, 128);
  b.g.outputs = {y};

  RefAndFused run = compile(b.g);
  auto& [ref, fused, ops] = run;
  EXPECT_EQ(ops["QLinearConv"], 2);
  // With VNNI the Add is folded into the second conv (a residual, inputs 9-11).
  EXPECT_EQ(ops["QLinearAdd"], vnni_available() ? 0 : 1);
  for (const Node& n : fused.graph().nodes)
    if (n.op == "QLinearConv") {
      EXPECT_EQ(Graph::has_input(n, 9), vnni_available() && n.attrs.i("group", 1) == 1 && !n.attrs.has("activation")) << n.name;
    }
  EXPECT_EQ(ops["QLinearGlobalAveragePool"], 1);
  EXPECT_EQ(ops["QGemm"], 1);
  EXPECT_EQ(ops["Conv"] + ops["Add"] + ops["Gemm"] + ops["GlobalAveragePool"], 0);
  // The layout pass's NCHW -> NHWC Transpose of the input moves int8 (the QuantizeLinear moved above it).
  EXPECT_EQ(ops["Transpose"], 1);
  for (const Node& n : fused.graph().nodes)
    if (n.op == "Transpose") {
      EXPECT_EQ(fused.graph().values[n.outputs[0]].dtype, DType::i8);
    }
  expect_close(run, {1, 3, 10, 10}, -2.f, 2.f, 2 * 0.01f + 1e-6f);
}

// MaxPool and a channel Pad (BlazeFace's residual) between Q/DQ pairs with
// the input's parameters move int8 bytes (no requantization left), and
// x * HardSigmoid(x; 1/6, 0.5) -- HardSwish as opset 13 spells it -- becomes
// one int8 lookup table. Exact: max, copies and the table are the float
// definition on the same int8 values.
TEST(FuseQdq, MaxPoolPadAndHardSwishRunInInt8) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 6, 8, 8}, true);
  b.g.inputs = {x};
  int x0 = b.qdq(x, 0.03f, 120);
  int pooled = b.qdq(b.maxpool2(x0, false), 0.03f, 120);
  int padded = b.qdq(b.channel_pad(pooled, 1, 4), 0.03f, 120);  // 6 -> 10 channels
  Attrs hs;
  hs.set("alpha", 1.f / 6.f);
  hs.set("beta", 0.5f);
  int y = b.qdq(b.node("Mul", {padded, b.node("HardSigmoid", {padded}, hs)}), 0.02f, 100);
  b.g.outputs = {y};

  RefAndFused run = compile(b.g);
  auto& [ref, fused, ops] = run;
  EXPECT_EQ(ops["QLinearHardSwish"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["Pad"], 1);
  EXPECT_EQ(ops["QuantizeLinear"], 1);    // the graph input only
  EXPECT_EQ(ops["DequantizeLinear"], 1);  // the graph output only
  for (const Node& n : fused.graph().nodes)
    if (n.op == "MaxPool" || n.op == "Pad") {
      EXPECT_EQ(fused.graph().values[n.outputs[0]].dtype, DType::i8) << n.op;
    }
  expect_close(run, {1, 6, 8, 8}, -3.f, 4.f, 0.f);
}

// BlazeFace's block: Add(conv(x), Pad(x) to more channels). On VNNI CPUs the
// Add folds into the conv and the Pad goes: the conv reads x's 6 channels as
// its residual and the missing 4 as the zero point (the Pad's value). Within
// 2 output steps of the QDQ definition, as the first test.
TEST(FuseQdq, ResidualChannelPadIsReadAway) {
  QdqBuilder b;  // NHWC as a TFLite import has it
  int x = b.g.add_value("x", DType::f32, {1, 5, 7, 6}, true);
  b.g.inputs = {x};
  int x0 = b.qdq(x, 0.03f, 120);
  int padded = b.qdq(b.channel_pad(x0, 3, 4), 0.03f, 120);  // 6 -> 10 channels
  Attrs nhwc;
  nhwc.set("layout", std::string("NHWC"));
  int c = b.qdq(b.node("Conv", {x0, b.weights({10, 6, 1, 1}, 10), b.bias(10)}, nhwc), 0.04f, 128);
  int y = b.qdq(b.node("Add", {c, padded}), 0.05f, 110);
  b.g.outputs = {y};
  RefAndFused run = compile(b.g);
  auto& [ref, fused, ops] = run;
  EXPECT_EQ(ops["Pad"], vnni_available() ? 0 : 1);
  EXPECT_EQ(ops["QLinearAdd"], vnni_available() ? 0 : 1);
  expect_close(run, {1, 5, 7, 6}, -3.f, 4.f, 2 * 0.05f + 1e-6f);
}

// BlazeFace's stride-2 block: Add(conv stride 2 (x), Pad(MaxPool 2x2 (x))).
// On VNNI CPUs the Add folds into the conv, and the Pad and the MaxPool go:
// the conv maxes x's 2x2 windows as its residual. Within 2 output steps of
// the QDQ definition, as the first test (odd sizes: QLinearConv.
// PooledResidualMatchesNaiveReferenceExactly).
TEST(FuseQdq, ResidualMaxPoolAndChannelPadAreReadAway) {
  QdqBuilder b;  // NHWC as a TFLite import has it
  int x = b.g.add_value("x", DType::f32, {1, 8, 10, 6}, true);
  b.g.inputs = {x};
  int x0 = b.qdq(x, 0.03f, 120);
  int pooled = b.qdq(b.maxpool2(x0, true), 0.03f, 120);
  int padded = b.qdq(b.channel_pad(pooled, 3, 4), 0.03f, 120);  // 6 -> 10 channels
  Attrs conv;
  conv.set("layout", std::string("NHWC"));
  conv.set("strides", std::vector<int64_t>{2, 2});
  int c = b.qdq(b.node("Conv", {x0, b.weights({10, 6, 1, 1}, 10), b.bias(10)}, conv), 0.04f, 128);
  int y = b.qdq(b.node("Add", {c, padded}), 0.05f, 110);
  b.g.outputs = {y};
  RefAndFused run = compile(b.g);
  auto& [ref, fused, ops] = run;
  EXPECT_EQ(ops["MaxPool"], vnni_available() ? 0 : 1);
  EXPECT_EQ(ops["Pad"], vnni_available() ? 0 : 1);
  EXPECT_EQ(ops["QLinearConv"], 1);
  for (const Node& n : fused.graph().nodes)
    if (n.op == "QLinearConv") {
      EXPECT_EQ(n.attrs.i("residual_pool", 1), vnni_available() ? 2 : 1);
    }
  expect_close(run, {1, 8, 10, 6}, -3.f, 4.f, 2 * 0.05f + 1e-6f);
}

// A bilinear Resize requantized with its input's parameters runs on int8
// (no Q/DQ left around it); one requantized with other parameters stays
// float. Within 1 output step of the unfused graph (XNNPACK's fixed-point
// bilinear weights; see ResizeInt8 in qlinear_test.cc).
TEST(FuseQdq, ResizeWithTheInputsParametersRunsInInt8) {
  for (const bool same : {true, false}) {
    QdqBuilder b;
    int x = b.g.add_value("x", DType::f32, {1, 5, 6, 7}, true);
    b.g.inputs = {x};
    Attrs ra;
    ra.set("mode", std::string("linear"));
    ra.set("coordinate_transformation_mode", std::string("half_pixel"));
    std::vector<float> sc = {1.f, 1.f, 2.f, 2.f};
    const int scales = b.g.add_const("scales", Tensor::from<float>({4}, std::span<const float>(sc)));
    int up = b.node("Resize", {b.qdq(x, 0.03f, 120), -1, scales}, ra);
    b.g.outputs = {b.qdq(b.node("Relu", {b.qdq(up, same ? 0.03f : 0.04f, 120)}), 0.03f, 120)};
    auto [ref, fused, ops] = compile(b.g);
    ASSERT_EQ(ops["Resize"], 1);
    for (const Node& n : fused.graph().nodes)
      if (n.op == "Resize") {
        EXPECT_EQ(fused.graph().values[n.outputs[0]].dtype, same ? DType::i8 : DType::f32);
      }
    EXPECT_EQ(ops["QuantizeLinear"], same ? 2 : 3) << "same parameters: " << same;
    Tensor in = rand_f32({1, 5, 6, 7}, -3.f, 4.f);
    Tensor r = ref.run({in})[0].clone();
    Tensor f = fused.run({in})[0];
    for (int64_t i = 0; i < r.numel(); ++i) EXPECT_LE(std::fabs(r.data_as<float>()[i] - f.data_as<float>()[i]), 0.03f + 1e-6f);
  }
}

// A Gemm whose output stays float (a classifier writing the graph output)
// becomes a QGemm with float output on VNNI CPUs (else stays float). The
// only difference from the float definition is the bias rounded to int32 at
// scale x_scale * w_scale[n] (at most half of that step) and float rounding.
TEST(FuseQdq, GemmWithFloatOutputRunsOnInt8) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 24}, true);
  b.g.inputs = {x};
  Attrs gm;
  gm.set("transB", int64_t(1));
  b.g.outputs = {b.node("Gemm", {b.qdq(x, 0.02f, 128), b.weights({19, 24}, 19), b.bias(19)}, gm)};
  auto [ref, fused, ops] = compile(b.g);
  EXPECT_EQ(ops["QGemm"], vnni_available() ? 1 : 0);
  EXPECT_EQ(ops["Gemm"], vnni_available() ? 0 : 1);
  Tensor in = rand_f32({1, 24}, -2.f, 2.f);
  Tensor r = ref.run({in})[0].clone();
  Tensor f = fused.run({in})[0];
  ASSERT_EQ(f.dtype(), DType::f32);
  for (int64_t i = 0; i < r.numel(); ++i)  // weight scales <= 0.015: bias step <= 0.02 * 0.015
    EXPECT_NEAR(r.data_as<float>()[i], f.data_as<float>()[i], 0.5f * 0.02f * 0.015f + 1e-5f) << i;
}

// The same for a 1x1 Conv writing the graph output (BlazeFace's heads): a
// QLinearConv with float output on VNNI CPUs; a depthwise conv stays float
// (its kernel has no float output).
TEST(FuseQdq, ConvWithFloatOutputRunsOnInt8) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 16, 5, 6}, true);
  b.g.inputs = {x};
  Attrs dw;
  dw.set("group", int64_t(16));
  dw.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  int xq = b.qdq(x, 0.02f, 128);
  b.g.outputs = {b.node("Conv", {xq, b.weights({7, 16, 1, 1}, 7), b.bias(7)}),
                 b.node("Conv", {xq, b.weights({16, 1, 3, 3}, 16), b.bias(16)}, dw)};
  auto [ref, fused, ops] = compile(b.g);
  EXPECT_EQ(ops["QLinearConv"], vnni_available() ? 1 : 0);
  EXPECT_EQ(ops["Conv"], vnni_available() ? 1 : 2);
  Tensor in = rand_f32({1, 16, 5, 6}, -2.f, 2.f);
  auto rr = ref.run({in});
  std::vector<Tensor> r = {rr[0].clone(), rr[1].clone()};
  auto f = fused.run({in});
  for (int k = 0; k < 2; ++k) {
    ASSERT_EQ(f[k].dtype(), DType::f32);
    for (int64_t i = 0; i < r[k].numel(); ++i)  // as above: the bias rounded to a step of 0.02 * 0.015 at most
      EXPECT_NEAR(r[k].data_as<float>()[i], f[k].data_as<float>()[i], 0.5f * 0.02f * 0.015f + 1e-5f) << k << " " << i;
  }
}

// A per-axis QuantizeLinear stays below a Transpose (its axis would move);
// the result is the QDQ definition's exactly.
TEST(FuseQdq, PerAxisQuantizeStaysBelowTranspose) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 3, 4, 5}, true);
  b.g.inputs = {x};
  Attrs perm, axis;
  perm.set("perm", std::vector<int64_t>{0, 2, 3, 1});
  axis.set("axis", int64_t(3));
  const std::vector<float> sc = {0.01f, 0.02f, 0.03f};
  int s = b.g.add_const("s", Tensor::from<float>({3}, std::span<const float>(sc)));
  int q = b.node("QuantizeLinear", {b.node("Transpose", {x}, perm), s}, axis);
  b.g.outputs = {b.node("DequantizeLinear", {q, s}, axis)};
  auto [ref, fused, ops] = compile(b.g);
  EXPECT_EQ(ops["Transpose"], 1);
  for (const Node& n : fused.graph().nodes)
    if (n.op == "Transpose") {
      EXPECT_EQ(fused.graph().values[n.outputs[0]].dtype, DType::f32);
    }
  Tensor in = rand_f32({1, 3, 4, 5}, -1.f, 1.f);
  Tensor r = ref.run({in})[0].clone();
  Tensor f = fused.run({in})[0];
  for (int64_t i = 0; i < r.numel(); ++i) EXPECT_EQ(r.data_as<float>()[i], f.data_as<float>()[i]) << i;
}

TEST(FuseQdq, OpsWithoutInt8KernelStayFloatAndStillRun) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 4, 6, 6}, true);
  b.g.inputs = {x};
  int t = b.qdq(b.node("Tanh", {b.qdq(x, 0.02f, 128)}), 0.01f, 128);  // no QLinearTanh
  b.g.outputs = {t};
  auto [ref, fused, ops] = compile(b.g);
  Tensor in = rand_f32({1, 4, 6, 6}, -2.f, 2.f);
  Tensor r = ref.run({in})[0].clone();
  Tensor f = fused.run({in})[0];
  for (int64_t i = 0; i < r.numel(); ++i) EXPECT_EQ(r.data_as<float>()[i], f.data_as<float>()[i]);
}


// A tensor quantized twice with equal parameters (a quantizer that saw the
// tensor and its transposed copy) is quantized once, so its producer fuses.
TEST(FuseQdq, DuplicateQuantizeNodesMerge) {
  QdqBuilder b;
  int x = b.g.add_value("x", DType::f32, {1, 2, 3, 4}, true);
  b.g.inputs = {x};
  int a = b.qdq(x, 0.02f, 128);
  int s = b.node("Add", {a, a});
  int y1 = b.qdq(s, 0.04f, 128), y2 = b.qdq(s, 0.04f, 128);
  b.g.outputs = {y1, y2};
  auto [ref, fused, ops] = compile(b.g);
  EXPECT_EQ(ops["QLinearAdd"], 1);
  EXPECT_EQ(ops["Add"], 0);
  Tensor in = rand_f32({1, 2, 3, 4}, -2.f, 2.f);
  auto r = ref.run({in});
  std::vector<Tensor> rr = {r[0].clone(), r[1].clone()};
  auto f = fused.run({in});
  for (int k = 0; k < 2; ++k)
    for (int64_t i = 0; i < rr[k].numel(); ++i)
      EXPECT_LE(std::fabs(rr[k].data_as<float>()[i] - f[k].data_as<float>()[i]), 0.04f + 1e-6f);
}
}  // namespace
}  // namespace ef::test
