// The TFLite importer on small FlatBuffers built in the test (field ids of
// the TFLite schema): op mappings checked numerically against naive NHWC
// references written from TF's definitions, and every kind of bad input
// giving a clear ef::Error (never a crash).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "edgeflow/session.h"
#include "importers/tflite/tflite_importer.h"
#include "unit/tflite/tflite_builder.h"

namespace ef {
namespace {

using test::Field;
using test::options;
using test::TModel;
using test::TTensor;

enum : int32_t { ADD = 0, CONV_2D = 3, DEPTHWISE_CONV_2D = 4, DEQUANTIZE = 6, FULLY_CONNECTED = 9, GATHER = 36,
                 RESIZE_BILINEAR = 23, SOFTMAX = 25, CUSTOM = 32, TRANSPOSE_CONV = 67, DENSIFY = 124 };
enum : int8_t { F32 = 0, F16 = 1, I32 = 2, U8 = 3, I8 = 9 };

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// With EF_TFLITE_DUMP_SEEDS=DIR, every crafted model is also written there
// (tests/fuzz/run_fuzz.sh seeds the fuzzer's corpus that way).
Graph load(const std::vector<uint8_t>& b, const std::string& name = "crafted.tflite") {
  static int counter = 0;
  if (const char* dir = std::getenv("EF_TFLITE_DUMP_SEEDS"); dir && *dir && b.size() > 64) {
    std::ofstream(std::string(dir) + "/crafted_" + std::to_string(counter++) + ".tflite", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  return import_tflite_bytes(b.data(), b.size(), name);
}

// Expect an ef::Error whose message contains every needle.
template <class F> void expect_error(F&& f, std::vector<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an ef::Error: " << e.what();
  }
}

// Naive TF conv in NHWC with OHWI weights (group = C / I), TF padding.
std::vector<float> tf_conv(const std::vector<float>& x, int H, int W, int C, const std::vector<float>& w, int O, int KH,
                           int KW, int I, const std::vector<float>& bias, int sh, int sw, bool same, int& OH, int& OW,
                           bool depthwise = false) {
  int pt = 0, pl = 0;
  if (same) {
    OH = (H + sh - 1) / sh;
    OW = (W + sw - 1) / sw;
    pt = std::max(0, (OH - 1) * sh + KH - H) / 2;
    pl = std::max(0, (OW - 1) * sw + KW - W) / 2;
  } else {
    OH = (H - KH) / sh + 1;
    OW = (W - KW) / sw + 1;
  }
  std::vector<float> y(size_t(OH) * OW * O);
  const int mult = depthwise ? O / C : 0;
  for (int oy = 0; oy < OH; ++oy)
    for (int ox = 0; ox < OW; ++ox)
      for (int o = 0; o < O; ++o) {
        double acc = bias.empty() ? 0 : bias[o];
        for (int ky = 0; ky < KH; ++ky)
          for (int kx = 0; kx < KW; ++kx) {
            int iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            if (depthwise) {  // weights [1,KH,KW,C*m]; output channel o reads input o / m
              acc += double(x[(size_t(iy) * W + ix) * C + o / mult]) * w[(size_t(ky) * KW + kx) * O + o];
            } else {
              const int groups = C / I, og = O / groups, g = o / og;
              for (int i = 0; i < I; ++i)
                acc += double(x[(size_t(iy) * W + ix) * C + g * I + i]) * w[((size_t(o) * KH + ky) * KW + kx) * I + i];
            }
          }
        y[(size_t(oy) * OW + ox) * O + o] = float(acc);
      }
  return y;
}

void expect_close(const Tensor& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(size_t(got.numel()), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.data_as<float>()[i], want[i], tol) << "at " << i;
  }
}

// ------------------------------------------------------------ mappings

// CONV_2D, SAME, stride 2, fused RELU, with bias: input 1x7x6x4, weights OHWI 5x3x3x4.
TEST(TFLiteImport, Conv2DSameStrideTwoMatchesNaiveTF) {
  const int H = 7, W = 6, C = 4, O = 5, K = 3;
  auto w = randn(size_t(O) * K * K * C, 1), b = randn(O, 2), x = randn(size_t(H) * W * C, 3);
  TModel m;
  m.codes = {{CONV_2D}};
  int tin = m.add_tensor({{1, H, W, C}, F32, 0, "image"});
  int tw = m.add_const("w", {O, K, K, C}, F32, w);
  int tb = m.add_const("b", {O}, F32, b);
  int tout = m.add_tensor({{1, 4, 3, O}, F32, 0, "features"});
  m.ops = {{0, {tin, tw, tb}, {tout}, options({{0, Field::i8, 0}, {1, Field::i32, 2}, {2, Field::i32, 2}, {3, Field::i8, 1}})}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "Conv");
  EXPECT_EQ(g.nodes[0].attrs.s("layout"), "NHWC");
  EXPECT_EQ(g.nodes[0].attrs.s("activation"), "relu");
  EXPECT_EQ(g.values[g.inputs[0]].name, "image");
  EXPECT_EQ(g.values[g.outputs[0]].name, "features");
  // TF SAME with stride 2 on 7 rows: total pad 2 -> 1 top, 1 bottom; 6 cols: total 1 -> 0 left, 1 right
  EXPECT_EQ(g.nodes[0].attrs.ints("pads"), (std::vector<int64_t>{1, 0, 1, 1}));
  int OH, OW;
  auto ref = tf_conv(x, H, W, C, w, O, K, K, C, b, 2, 2, true, OH, OW);
  for (auto& v : ref) v = std::max(v, 0.f);
  Session s(Model::from_graph(g));
  const auto& out = s.run({Tensor::from<float>({1, H, W, C}, x)});
  EXPECT_EQ(out[0].shape(), (Shape{1, OH, OW, O}));
  expect_close(out[0], ref, 1e-4f);
}

// DEPTHWISE_CONV_2D with depth multiplier 2, VALID; weights float16 behind DEQUANTIZE.
TEST(TFLiteImport, DepthwiseMultiplierWithFloat16WeightsMatchesNaiveTF) {
  const int H = 6, W = 5, C = 3, M = 2, K = 3;
  auto wf = randn(size_t(K) * K * C * M, 4), x = randn(size_t(H) * W * C, 5);
  std::vector<uint16_t> wh;
  for (float& v : wf) {
    wh.push_back(float_to_half(v));
    v = half_to_float(wh.back());  // the reference uses the exact fp16 values
  }
  TModel m;
  m.codes = {{DEQUANTIZE}, {DEPTHWISE_CONV_2D}};
  int tin = m.add_tensor({{1, H, W, C}, F32, 0, "x"});
  int tw16 = m.add_const("w16", {1, K, K, C * M}, F16, wh);
  int tw = m.add_tensor({{1, K, K, C * M}, F32, 0, "w"});
  int tout = m.add_tensor({{1, H - 2, W - 2, C * M}, F32, 0, "y"});
  m.ops = {{0, {tw16}, {tw}},
           {1, {tin, tw, -1}, {tout},
            options({{0, Field::i8, 1}, {1, Field::i32, 1}, {2, Field::i32, 1}, {3, Field::i32, M}})}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes.size(), 1u) << "DEQUANTIZE must be folded at load";
  EXPECT_EQ(g.nodes[0].attrs.i("group"), C);
  EXPECT_EQ(g.in(g.nodes[0], 1).shape, (Shape{C * M, 1, K, K}));
  EXPECT_EQ(g.in(g.nodes[0], 1).dtype, DType::f32);
  int OH, OW;
  auto ref = tf_conv(x, H, W, C, wf, C * M, K, K, 1, {}, 1, 1, false, OH, OW, true);
  Session s(Model::from_graph(g));
  expect_close(s.run({Tensor::from<float>({1, H, W, C}, x)})[0], ref, 1e-4f);
}

// Float16 weights behind DEQUANTIZE, session at Precision::fp16: the
// session's Conv weights are float16 again with exactly the file's bits
// (float16 -> float32 at load and back is exact), and the output matches the
// naive TF convolution on those fp16 values.
// Float16 weights and bias behind DEQUANTIZE: folded to float32 at load, or
// (LoadOptions::keep_float16) kept float16 with no float32 copy. Either way
// an fp16 session's Conv weights are the file's bits, the bias float32, and
// the outputs the same; the kept graph's fp32 session equals the folded one's.
TEST(TFLiteImport, Float16WeightsKeepTheirBitsAtPrecisionFp16) {
  const int H = 5, W = 4, C = 16, O = 8, K = 3;
  auto wf = randn(size_t(O) * K * K * C, 6), x = randn(size_t(H) * W * C, 7), bf = randn(size_t(O), 8);
  std::vector<uint16_t> wh, bh;  // weights OHWI, as in the file
  for (auto* v : {&wf, &bf})
    for (float& e : *v) {
      (v == &wf ? wh : bh).push_back(float_to_half(e));
      e = half_to_float((v == &wf ? wh : bh).back());
    }
  TModel m;
  m.codes = {{DEQUANTIZE}, {CONV_2D}};
  int tin = m.add_tensor({{1, H, W, C}, F32, 0, "x"});
  int tw16 = m.add_const("w16", {O, K, K, C}, F16, wh);
  int tw = m.add_tensor({{O, K, K, C}, F32, 0, "w"});
  int tb16 = m.add_const("b16", {O}, F16, bh);
  int tb = m.add_tensor({{O}, F32, 0, "b"});
  int tout = m.add_tensor({{1, H, W, O}, F32, 0, "y"});
  m.ops = {{0, {tw16}, {tw}},
           {0, {tb16}, {tb}},
           {1, {tin, tw, tb}, {tout}, options({{0, Field::i8, 0}, {1, Field::i32, 1}, {2, Field::i32, 1}})}};
  m.inputs = {tin};
  m.outputs = {tout};
  const std::vector<uint8_t> bytes = m.build();
  const Tensor in = Tensor::from<float>({1, H, W, C}, x);
  int OH, OW;
  auto ref = tf_conv(x, H, W, C, wf, O, K, K, C, bf, 1, 1, true, OH, OW);
  std::vector<Tensor> out16, out32;
  for (bool keep : {false, true}) {
    SCOPED_TRACE(keep ? "keep_float16" : "folded at load");
    Graph g = import_tflite_bytes(bytes.data(), bytes.size(), "f16.tflite", keep);
    for (const Value& v : g.values)  // kept: no float32 copy of the weights or bias
      if (v.is_const() && v.data.numel() >= O) EXPECT_EQ(v.dtype, keep ? DType::f16 : DType::f32) << v.name;
    Session s(Model::from_graph(g), {.precision = Precision::fp16});
    const Node& conv = s.graph().nodes.at(0);
    ASSERT_EQ(conv.op, "Conv");
    const Value& wv = s.graph().values[conv.inputs[1]];
    ASSERT_EQ(wv.dtype, DType::f16);
    ASSERT_EQ(wv.shape, (Shape{O, C, K, K}));  // OIHW in the IR
    EXPECT_EQ(s.graph().values[conv.inputs[2]].dtype, DType::f32);
    const uint16_t* got = wv.data.data_as<uint16_t>();
    int differ = 0;
    for (int o = 0; o < O; ++o)
      for (int i = 0; i < C; ++i)
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw)
            differ += got[((o * C + i) * K + kh) * K + kw] != wh[size_t(((o * K + kh) * K + kw) * C + i)];
    EXPECT_EQ(differ, 0);
    out16.push_back(s.run({in})[0].clone());
    expect_close(out16.back(), ref, 1e-4f);
    Session s32(Model::from_graph(g), {});
    out32.push_back(s32.run({in})[0].clone());
  }
  for (auto* o : {&out16, &out32})
    EXPECT_EQ(std::memcmp((*o)[0].data(), (*o)[1].data(), (*o)[0].nbytes()), 0);
}

// DEQUANTIZE of a runtime int8 input becomes DequantizeLinear: y = (q - zp) * scale.
// (Its import once read a Value after the value list had grown: the fuzzer's
// seeds include this model so an ASan build checks that path at once.)
TEST(TFLiteImport, RuntimeDequantizeOfInt8Input) {
  TModel m;
  m.codes = {{DEQUANTIZE}};
  int tin = m.add_tensor({{1, 5}, I8, 0, "q", {0.25f}, {-3}});
  int tout = m.add_tensor({{1, 5}, F32, 0, "y"});
  m.ops = {{0, {tin}, {tout}}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "DequantizeLinear");
  const std::vector<int8_t> q = {-128, -3, 0, 5, 127};
  Session s(Model::from_graph(g));
  const Tensor& y = s.run({Tensor::from<int8_t>({1, 5}, q)})[0];
  for (size_t i = 0; i < q.size(); ++i) EXPECT_FLOAT_EQ(y.data_as<float>()[i], (q[i] + 3) * 0.25f) << i;
}

// TRANSPOSE_CONV (SAME, stride 2, 3x3) against the TF definition:
// y[o*s - pad + k] += x[o] * w, cropped to the output size.
TEST(TFLiteImport, TransposeConvMatchesNaiveTF) {
  const int H = 3, W = 4, C = 2, O = 3, K = 3, S = 2, OH = 6, OW = 8;
  auto w = randn(size_t(O) * K * K * C, 6), x = randn(size_t(H) * W * C, 7);
  TModel m;
  m.codes = {{TRANSPOSE_CONV}};
  int tshape = m.add_const("oshape", {4}, I32, std::vector<int32_t>{1, OH, OW, O});
  int tw = m.add_const("w", {O, K, K, C}, F32, w);
  int tin = m.add_tensor({{1, H, W, C}, F32, 0, "x"});
  int tout = m.add_tensor({{1, OH, OW, O}, F32, 0, "y"});
  m.ops = {{0, {tshape, tw, tin}, {tout}, options({{0, Field::i8, 0}, {1, Field::i32, S}, {2, Field::i32, S}})}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes[0].op, "ConvTranspose");
  // TF: total = (in-1)*s + k - out; pad_before = total / 2
  const int pt = ((H - 1) * S + K - OH) / 2, pl = ((W - 1) * S + K - OW) / 2;
  std::vector<float> ref(size_t(OH) * OW * O, 0.f);
  for (int iy = 0; iy < H; ++iy)
    for (int ix = 0; ix < W; ++ix)
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx) {
          int oy = iy * S - pt + ky, ox = ix * S - pl + kx;
          if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
          for (int o = 0; o < O; ++o)
            for (int c = 0; c < C; ++c)
              ref[(size_t(oy) * OW + ox) * O + o] +=
                  x[(size_t(iy) * W + ix) * C + c] * w[((size_t(o) * K + ky) * K + kx) * C + c];
        }
  Session s(Model::from_graph(g));
  const auto& out = s.run({Tensor::from<float>({1, H, W, C}, x)});
  EXPECT_EQ(out[0].shape(), (Shape{1, OH, OW, O}));
  expect_close(out[0], ref, 1e-4f);
}

// FULLY_CONNECTED on a 4-D input: reshaped to 2-D, Gemm transB=1.
TEST(TFLiteImport, FullyConnectedFlattensInput) {
  auto w = randn(4 * 12, 8), b = randn(4, 9), x = randn(12, 10);
  TModel m;
  m.codes = {{FULLY_CONNECTED}};
  int tin = m.add_tensor({{1, 2, 2, 3}, F32, 0, "x"});
  int tw = m.add_const("w", {4, 12}, F32, w);
  int tb = m.add_const("b", {4}, F32, b);
  int tout = m.add_tensor({{1, 4}, F32, 0, "y"});
  m.ops = {{0, {tin, tw, tb}, {tout}, options({{0, Field::i8, 3}})}};  // fused RELU6
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  std::vector<float> ref(4);
  for (int o = 0; o < 4; ++o) {
    double acc = b[o];
    for (int i = 0; i < 12; ++i) acc += double(x[i]) * w[o * 12 + i];
    ref[o] = std::min(6.f, std::max(0.f, float(acc)));
  }
  Session s(Model::from_graph(g));
  expect_close(s.run({Tensor::from<float>({1, 2, 2, 3}, x)})[0], ref, 1e-4f);
}

TEST(TFLiteImport, ResizeAndSoftmaxAttributes) {
  TModel m;
  m.codes = {{RESIZE_BILINEAR}, {SOFTMAX}};
  int tin = m.add_tensor({{1, 2, 2, 3}, F32, 0, "x"});
  int tsize = m.add_const("size", {2}, I32, std::vector<int32_t>{4, 6});
  int tmid = m.add_tensor({{1, 4, 6, 3}, F32, 0, "up"});
  int tout = m.add_tensor({{1, 4, 6, 3}, F32, 0, "p"});
  m.ops = {{0, {tin, tsize}, {tmid}, options({{3, Field::i8, 1}})},  // half_pixel_centers
           {1, {tmid}, {tout}, options({{0, Field::f32, 0.5}})}};   // beta 0.5
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes.size(), 3u);  // Resize, Mul(beta), Softmax
  EXPECT_EQ(g.nodes[0].op, "Resize");
  EXPECT_EQ(g.nodes[0].attrs.s("coordinate_transformation_mode"), "half_pixel");
  EXPECT_EQ(g.nodes[0].attrs.s("mode"), "linear");
  EXPECT_EQ(g.in(g.nodes[0], 3).data.data_as<int64_t>()[1], 4);
  EXPECT_EQ(g.nodes[1].op, "Mul");
  EXPECT_FLOAT_EQ(g.in(g.nodes[1], 1).data.data_as<float>()[0], 0.5f);
  EXPECT_EQ(g.nodes[2].op, "Softmax");
}

// A 4x6 matrix stored block-sparse (2x2 blocks, rows of blocks CSR) behind DENSIFY.
TEST(TFLiteImport, DensifyBlockSparseConstant) {
  // dense (row-major 4x6); blocks (bi,bj): non-zero blocks (0,0), (0,2), (1,1)
  const std::vector<float> dense = {1, 2, 0, 0, 5, 6,   //
                                    3, 4, 0, 0, 7, 8,   //
                                    0, 0, 9, 10, 0, 0,  //
                                    0, 0, 11, 12, 0, 0};
  // values in traversal order: block row, block col (CSR), then row-in-block, col-in-block
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  auto sparsity = [](flatbuffers::FlatBufferBuilder& b) {
    auto idx_vec = [&](std::vector<int32_t> v) {
      auto vv = b.CreateVector(v);
      auto s = b.StartTable();
      b.AddOffset(test::F(0), vv);
      return flatbuffers::Offset<void>(b.EndTable(s));
    };
    auto dim = [&](int8_t fmt, int32_t dense_size, flatbuffers::Offset<void> seg, flatbuffers::Offset<void> idx) {
      auto s = b.StartTable();
      b.AddElement<int8_t>(test::F(0), fmt, 0);
      b.AddElement<int32_t>(test::F(1), dense_size, 0);
      if (!seg.IsNull()) {
        b.AddElement<uint8_t>(test::F(2), 1, 0);  // Int32Vector
        b.AddOffset(test::F(3), seg);
        b.AddElement<uint8_t>(test::F(4), 1, 0);
        b.AddOffset(test::F(5), idx);
      }
      return flatbuffers::Offset<void>(b.EndTable(s));
    };
    auto seg = idx_vec({0, 2, 3}), ind = idx_vec({0, 2, 1});
    std::vector<flatbuffers::Offset<void>> dims = {dim(0, 2, {}, {}), dim(1, 0, seg, ind), dim(0, 2, {}, {}),
                                                   dim(0, 2, {}, {})};
    auto order = b.CreateVector(std::vector<int32_t>{0, 1, 2, 3});
    auto bmap = b.CreateVector(std::vector<int32_t>{0, 1});
    auto dv = b.CreateVector(dims);
    auto s = b.StartTable();
    b.AddOffset(test::F(0), order);
    b.AddOffset(test::F(1), bmap);
    b.AddOffset(test::F(2), dv);
    return flatbuffers::Offset<void>(b.EndTable(s));
  };
  TModel m;
  m.codes = {{DENSIFY}, {ADD}};
  TTensor sp{{4, 6}, F32, m.add_buffer(test::bytes_of(values)), "w_sparse"};
  sp.sparsity = sparsity;
  int tsp = m.add_tensor(sp);
  int tw = m.add_tensor({{4, 6}, F32, 0, "w"});
  int tin = m.add_tensor({{4, 6}, F32, 0, "x"});
  int tout = m.add_tensor({{4, 6}, F32, 0, "y"});
  m.ops = {{0, {tsp}, {tw}}, {1, {tin, tw}, {tout}}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  ASSERT_EQ(g.nodes.size(), 1u);
  const Tensor& w = g.in(g.nodes[0], 1).data;
  ASSERT_EQ(w.shape(), (Shape{4, 6}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(w.data_as<float>()[i], dense[i]) << i;
}

TEST(TFLiteImport, PerChannelQuantizationIsRead) {
  TModel m;
  m.codes = {{ADD}};
  TTensor q{{1, 1, 1, 3}, I8, m.add_buffer({1, 2, 3}), "wq"};
  q.scale = {0.5f, 0.25f, 0.125f};
  q.zero_point = {0, 1, -1};
  q.quantized_dimension = 3;
  int tq = m.add_tensor(q);
  TTensor in{{1, 1, 1, 3}, I8, 0, "x"};
  in.scale = {0.1f};
  in.zero_point = {-3};
  int tin = m.add_tensor(in);
  int tout = m.add_tensor({{1, 1, 1, 3}, I8, 0, "y", {0.2f}, {5}});
  m.ops = {{0, {tin, tq}, {tout}}};
  m.inputs = {tin};
  m.outputs = {tout};
  Graph g = load(m.build());
  // Quantized ADD comes in QDQ form: DequantizeLinear(x), DequantizeLinear(wq) -> Add -> QuantizeLinear.
  ASSERT_GE(g.find_value("wq"), 0);
  const Value& w = g.values[g.find_value("wq")];
  int adds = 0;
  for (const Node& n : g.nodes) {
    if (n.op != "Add") continue;
    ++adds;
    for (int v : n.inputs) EXPECT_EQ(g.values[v].dtype, DType::f32);
  }
  EXPECT_EQ(adds, 1);
  EXPECT_EQ(w.dtype, DType::i8);
  EXPECT_EQ(w.quant.axis, 3);
  EXPECT_EQ(w.quant.scale, (std::vector<float>{0.5f, 0.25f, 0.125f}));
  EXPECT_EQ(w.quant.zero_point, (std::vector<int32_t>{0, 1, -1}));
  EXPECT_EQ(g.values[g.inputs[0]].quant.axis, -1);
  EXPECT_EQ(g.values[g.inputs[0]].quant.zero_point, (std::vector<int32_t>{-3}));
}

// ------------------------------------------------------------ bad input

TModel tiny_add() {  // y = x + c
  TModel m;
  m.codes = {{ADD}};
  int tin = m.add_tensor({{1, 4}, F32, 0, "x"});
  int tc = m.add_const("c", {1, 4}, F32, std::vector<float>{1, 2, 3, 4});
  int tout = m.add_tensor({{1, 4}, F32, 0, "y"});
  m.ops = {{0, {tin, tc}, {tout}}};
  m.inputs = {tin};
  m.outputs = {tout};
  return m;
}

TEST(TFLiteBadInput, TinyModelIsValid) {
  Graph g = load(tiny_add().build());
  Session s(Model::from_graph(g));
  const auto& out = s.run({Tensor::from<float>({1, 4}, std::vector<float>{1, 1, 1, 1})});
  EXPECT_EQ(out[0].data_as<float>()[3], 5.f);
}

TEST(TFLiteBadInput, TruncatedFileIsAnErrorAtEveryLength) {
  auto b = tiny_add().build();
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> t(b.begin(), b.begin() + n);
    EXPECT_THROW(load(t, "cut.tflite"), Error) << "length " << n;
  }
  expect_error([&] { load(std::vector<uint8_t>(b.begin(), b.begin() + b.size() / 2), "cut.tflite"); },
               {"cut.tflite"});
}

TEST(TFLiteBadInput, CorruptBytesNeverCrash) {
  auto b = tiny_add().build();
  std::mt19937 rng(42);
  int errors = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto c = b;
    for (int k = 0; k < 1 + trial % 4; ++k) c[8 + rng() % (c.size() - 8)] = uint8_t(rng());
    try {
      load(c);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
  // random bytes behind a valid identifier
  std::vector<uint8_t> r(4096);
  for (auto& x : r) x = uint8_t(rng());
  std::memcpy(r.data() + 4, "TFL3", 4);
  EXPECT_THROW(load(r), Error);
}

TEST(TFLiteBadInput, NonTFLiteFile) {
  std::string text = "ir_version: 7\nthis is not a flatbuffer\n";
  expect_error([&] { import_tflite_bytes(text.data(), text.size(), "model.txt"); }, {"model.txt", "not a TFLite file"});
  auto p = std::filesystem::temp_directory_path() / "ef_not_really.tflite";
  std::ofstream(p) << text;
  expect_error([&] { Model::load(p.string()); }, {"ef_not_really.tflite", "TFL3"});
  expect_error([&] { import_tflite((p.string() + ".missing")); }, {"cannot open"});
  std::filesystem::remove(p);
}

TEST(TFLiteBadInput, UnknownBuiltinNamesOpVersionAndTensor) {
  TModel m = tiny_add();
  m.codes = {{GATHER, "", 3}};
  expect_error([&] { load(m.build()); }, {"GATHER", "version 3", "'y'", "unsupported"});
  m.codes = {{200, "", 1}};  // beyond every known code, via builtin_code (deprecated capped at 127)
  expect_error([&] { load(m.build()); }, {"BUILTIN_200"});
}

TEST(TFLiteBadInput, UnknownCustomOpNamesIt) {
  TModel m = tiny_add();
  m.codes = {{CUSTOM, "MyFancyOp", 2}};
  expect_error([&] { load(m.build()); }, {"MyFancyOp", "version 2", "'y'", "unsupported custom operator"});
}

TEST(TFLiteBadInput, BufferIndexOutOfRange) {
  TModel m = tiny_add();
  m.tensors[1].buffer = 99;
  expect_error([&] { load(m.build()); }, {"'c'", "buffer 99", "2 buffers"});
}

TEST(TFLiteBadInput, BufferSizeDoesNotMatchShape) {
  TModel m = tiny_add();
  m.buffers[1].resize(12);
  expect_error([&] { load(m.build()); }, {"'c'", "needs 16 bytes", "holds 12"});
}

TEST(TFLiteBadInput, TensorAndOpcodeIndicesOutOfRange) {
  TModel m = tiny_add();
  m.ops[0].inputs[1] = 17;
  expect_error([&] { load(m.build()); }, {"tensor index 17", "out of range"});
  m = tiny_add();
  m.ops[0].opcode = 5;
  expect_error([&] { load(m.build()); }, {"opcode index 5"});
  m = tiny_add();
  m.outputs = {42};
  expect_error([&] { load(m.build()); }, {"42", "out of range"});
}

TEST(TFLiteBadInput, InconsistentQuantization) {
  TModel m = tiny_add();
  m.tensors[1].type = I8;
  m.buffers[1].resize(4);
  m.tensors[1].scale = {0.1f, 0.2f, 0.3f};  // 3 scales for 4 channels along dim 1
  m.tensors[1].zero_point = {0, 0, 0};
  m.tensors[1].quantized_dimension = 1;
  expect_error([&] { load(m.build()); }, {"'c'", "3 scales", "4 channels"});
  m.tensors[1].scale = {0.1f, 0.2f, 0.3f, 0.4f};
  m.tensors[1].zero_point = {0, 0};
  expect_error([&] { load(m.build()); }, {"'c'", "4 scales but 2 zero points"});
  m.tensors[1].zero_point = {0, 0, 0, 0};
  m.tensors[1].quantized_dimension = 7;
  expect_error([&] { load(m.build()); }, {"'c'", "quantized_dimension 7"});
  m.tensors[1].quantized_dimension = 1;
  m.tensors[1].zero_point = {0, 300, 0, 0};
  expect_error([&] { load(m.build()); }, {"'c'", "zero point 300"});
}

TEST(TFLiteBadInput, WrongSchemaVersion) {
  TModel m = tiny_add();
  m.version = 2;
  expect_error([&] { load(m.build()); }, {"schema version 2"});
}

TEST(TFLiteBadInput, BadCustomOptionsForTransposeConvBias) {
  TModel m;
  m.codes = {{CUSTOM, "Convolution2DTransposeBias", 1}};
  int tin = m.add_tensor({{1, 2, 2, 3}, F32, 0, "x"});
  int tw = m.add_const("w", {4, 2, 2, 3}, F32, std::vector<float>(48, 0.f));
  int tb = m.add_const("b", {4}, F32, std::vector<float>(4, 0.f));
  int tout = m.add_tensor({{1, 4, 4, 4}, F32, 0, "up"});
  m.ops = {{0, {tin, tw, tb}, {tout}, nullptr, {1, 0, 0, 0}}};
  m.inputs = {tin};
  m.outputs = {tout};
  expect_error([&] { load(m.build()); }, {"Convolution2DTransposeBias", "12 bytes", "'up'"});
  m.ops[0].custom_options = test::bytes_of(std::vector<int32_t>{1, 2, 2});
  Graph g = load(m.build());
  EXPECT_EQ(g.nodes[0].op, "ConvTranspose");
  EXPECT_EQ(g.in(g.nodes[0], 1).shape, (Shape{3, 4, 2, 2}));  // IOHW
}

}  // namespace
}  // namespace ef
