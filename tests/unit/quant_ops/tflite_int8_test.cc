// An int8 TFLite model (CONV_2D with per-channel weights and int32 bias,
// DEPTHWISE_CONV_2D, ADD, LOGISTIC, FULLY_CONNECTED, RESHAPE), written with
// the FlatBuffer test builder, imports in QDQ form and runs on the int8
// kernels; compared with the same graph run unfused (optimize = false: the
// float definition between DequantizeLinear and QuantizeLinear), within 2
// output steps, and with the fused operators checked.
#include <cmath>
#include <random>

#include "importers/tflite/tflite_importer.h"
#include "runtime/kernels/qgemm_vnni.h"
#include "unit/ops_tensor/helpers.h"
#include "unit/tflite/tflite_builder.h"

namespace ef::test {
namespace {

enum : int32_t { ADD = 0, CONV_2D = 3, DEPTHWISE_CONV_2D = 4, FULLY_CONNECTED = 9, LOGISTIC = 14, RESHAPE = 22 };
enum : int8_t { I32 = 2, I8 = 9 };

TTensor qt(std::vector<int32_t> shape, const std::string& name, float scale, int64_t zp) {
  TTensor t;
  t.shape = std::move(shape);
  t.type = I8;
  t.name = name;
  t.scale = {scale};
  t.zero_point = {zp};
  return t;
}

int32_t qconst(TModel& m, const std::string& name, std::vector<int32_t> shape, int8_t type, std::vector<float> scales,
               int axis, std::mt19937& rng) {
  int64_t n = 1;
  for (int32_t d : shape) n *= d;
  std::uniform_int_distribution<int> d(type == I8 ? -127 : -2000, type == I8 ? 127 : 2000);
  TTensor t;
  t.shape = shape;
  t.type = type;
  t.name = name;
  t.scale = scales;
  t.zero_point.assign(scales.size(), 0);
  t.quantized_dimension = axis;
  if (type == I8) {
    std::vector<int8_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = int8_t(d(rng));
    t.buffer = m.add_buffer(bytes_of(v));
  } else {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = d(rng);
    t.buffer = m.add_buffer(bytes_of(v));
  }
  return m.add_tensor(t);
}

TEST(TFLiteInt8, ImportsAsQdqAndRunsOnInt8Kernels) {
  std::mt19937 rng(7);
  const int H = 8, W = 8, C = 8;
  TModel m;
  m.codes = {{CONV_2D}, {DEPTHWISE_CONV_2D}, {ADD}, {LOGISTIC}, {RESHAPE}, {FULLY_CONNECTED}};
  int x = m.add_tensor(qt({1, H, W, 3}, "image", 0.02f, -10));
  std::vector<float> ws(C), wd(C);
  for (int c = 0; c < C; ++c) ws[c] = 0.003f + 0.0005f * c, wd[c] = 0.01f + 0.001f * c;
  std::vector<float> bs(C), bd(C);
  for (int c = 0; c < C; ++c) bs[c] = 0.02f * ws[c], bd[c] = 0.05f * wd[c];
  int w1 = qconst(m, "w1", {C, 3, 3, 3}, I8, ws, 0, rng), b1 = qconst(m, "b1", {C}, I32, bs, 0, rng);
  int c1 = m.add_tensor(qt({1, H, W, C}, "conv", 0.05f, -128));  // relu: zero point at the bottom
  int w2 = qconst(m, "w2", {1, 3, 3, C}, I8, wd, 3, rng), b2 = qconst(m, "b2", {C}, I32, bd, 0, rng);
  int c2 = m.add_tensor(qt({1, H, W, C}, "dw", 0.06f, 3));
  int s = m.add_tensor(qt({1, H, W, C}, "sum", 0.09f, 1));
  int sg = m.add_tensor(qt({1, H, W, C}, "sig", 1.f / 256, -128));
  std::vector<int32_t> shape{1, H * W * C};
  TTensor st;
  st.shape = {2};
  st.type = I32;
  st.name = "shape";
  st.buffer = m.add_buffer(bytes_of(shape));
  int shp = m.add_tensor(st);
  int flat = m.add_tensor(qt({1, H * W * C}, "flat", 1.f / 256, -128));
  int wf = qconst(m, "wf", {4, H * W * C}, I8, {0.002f}, 0, rng), bf = qconst(m, "bf", {4}, I32, {0.002f / 256}, 0, rng);
  int y = m.add_tensor(qt({1, 4}, "logits", 0.1f, 0));
  auto conv_opts = options({{0, Field::i8, 0}, {1, Field::i32, 1}, {2, Field::i32, 1}, {3, Field::i8, 1}});
  m.ops = {{0, {x, w1, b1}, {c1}, conv_opts},
           {1, {c1, w2, b2}, {c2}, options({{0, Field::i8, 0}, {1, Field::i32, 1}, {2, Field::i32, 1}, {3, Field::i32, 1}})},
           {2, {c1, c2}, {s}},
           {3, {s}, {sg}},
           {4, {sg, shp}, {flat}},
           {5, {flat, wf, bf}, {y}}};
  m.inputs = {x};
  m.outputs = {y};
  const auto bytes = m.build();
  Graph g = import_tflite_bytes(bytes.data(), bytes.size(), "int8.tflite");
  CompileOptions plain;
  plain.optimize = false;
  Session ref(Model::from_graph(g), plain), fused(Model::from_graph(g));
  std::map<std::string, int> ops;
  for (const Node& n : fused.graph().nodes) ++ops[n.op];
  EXPECT_EQ(ops["QLinearConv"], 2);
  EXPECT_EQ(ops["QLinearAdd"], vnni_available() ? 0 : 1);  // folded into the depthwise conv (its own kernel's residual)
  EXPECT_EQ(ops["QLinearSigmoid"], 1);
  EXPECT_EQ(ops["QGemm"], 1);
  EXPECT_EQ(ops["Conv"] + ops["Gemm"] + ops["Add"] + ops["Sigmoid"] + ops["DequantizeLinear"] + ops["QuantizeLinear"], 0);
  ASSERT_EQ(fused.input_info(0).dtype, DType::i8);
  ASSERT_EQ(fused.output_info(0).dtype, DType::i8);
  for (int trial = 0; trial < 3; ++trial) {
    Tensor in = rand_int<int8_t>({1, H, W, 3}, -128, 127);
    Tensor r = ref.run({in})[0].clone(), f = fused.run({in})[0];
    for (int64_t i = 0; i < r.numel(); ++i)
      EXPECT_LE(std::abs(int(r.data_as<int8_t>()[i]) - int(f.data_as<int8_t>()[i])), 2) << i;
  }
}

}  // namespace
}  // namespace ef::test
