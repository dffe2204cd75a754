// Whole models at --precision fp16 against float32 (same process) and the
// independent references: torchvision mobilenet_v2 (PyTorch output, seeded
// random weights; $EF_MODELS_DIR, default .cache/models) and MediaPipe
// selfie segmentation / BlazeFace short range on real frames (inputs and
// TFLite-interpreter outputs in ../shared/refs/mediapipe). Skip when absent.
//
// Bounds (the measured values are printed; README "Precision: FP16"):
//   mobilenet_v2: max|fp16 - ref| / max|ref| <= 5e-3, same top-1 class
//   selfie: IoU of (mask > 0.5) vs fp32 >= 0.99
//   BlazeFace: |sigmoid(score) fp16 - fp32| <= 0.02, boxes within 0.5 px
// The MediaPipe files store their weights as float16 already (behind
// DEQUANTIZE), so fp16 loses nothing there: the weights are bit-identical.
// and for every model the converted layers' weight bytes are exactly half.
#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "edgeflow/npy.h"
#include "edgeflow/session.h"
#include "support/assets.h"

namespace ef {
namespace {
namespace fs = std::filesystem;


Tensor read_f32(const fs::path& p, Shape shape) {
  Tensor t(DType::f32, shape);
  std::ifstream f(p, std::ios::binary);
  f.read(static_cast<char*>(t.data()), std::streamsize(t.nbytes()));
  if (size_t(f.gcount()) != t.nbytes()) throw Error(p.string() + ": too short");
  return t;
}

// fp32, and fp16 with float16 arithmetic where it pays (--fp16-compute
// auto, as the CLI loads: TFLite float16 weights kept at load) and with
// float32 arithmetic (f32; the fallback without AVX512-FP16).
struct Pair {
  Session fp32, fp16, fp16w;
};
Pair sessions(const std::string& path) {
  CompileOptions o;
  o.threads = 2;
  Session a(Model::load(path), o);
  o.precision = Precision::fp16;
  Model kept = Model::load(path, {.keep_float16 = true});
  Session b(kept, o);
  o.fp16_compute = Fp16Compute::f32;
  Session c(kept, o);
  return {std::move(a), std::move(b), std::move(c)};
}

// Weight bytes of the layers the fp16 session converted, in both sessions
// (matched by node name: the fp32 session also fuses residual Adds into
// its convolutions, fuse_conv_add, so the node lists differ).
void expect_halved(const Pair& p, const std::string& model) {
  int64_t b32 = 0, b16 = 0;
  int layers = 0;
  const Graph &g16 = p.fp16.graph(), &g32 = p.fp32.graph();
  for (const Node& n : g16.nodes) {
    if (n.inputs.size() < 2 || n.inputs[1] < 0 || g16.in(n, 1).dtype != DType::f16 || !g16.in(n, 1).is_const()) continue;
    auto same = std::find_if(g32.nodes.begin(), g32.nodes.end(), [&](const Node& m) { return m.name == n.name; });
    ASSERT_NE(same, g32.nodes.end()) << n.name;
    ++layers;
    b16 += int64_t(g16.in(n, 1).data.nbytes());
    b32 += int64_t(g32.in(*same, 1).data.nbytes());
  }
  std::printf("  %s: %d layers with float16 weights, %lld -> %lld bytes\n", model.c_str(), layers, (long long)b32,
              (long long)b16);
  EXPECT_GT(layers, 0);
  EXPECT_EQ(b16 * 2, b32);
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.data_as<float>()[i])));
  return m;
}
double max_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(double(a.data_as<float>()[i]) - double(b.data_as<float>()[i]));
    m = std::isnan(d) ? INFINITY : std::max(m, d);
  }
  return m;
}
int64_t argmax(const Tensor& a) {
  int64_t k = 0;
  for (int64_t i = 1; i < a.numel(); ++i)
    if (a.data_as<float>()[i] > a.data_as<float>()[k]) k = i;
  return k;
}

TEST(Fp16Model, MobileNetV2AgainstPyTorch) {
  const fs::path dir = test::onnx_models_dir();
  EF_NEED_FILE(dir / "mobilenet_v2.onnx");
  Pair p = sessions((dir / "mobilenet_v2.onnx").string());
  expect_halved(p, "mobilenet_v2");
  Tensor x = load_npy((dir / "mobilenet_v2.input.npy").string());
  Tensor ref = load_npy((dir / "mobilenet_v2.output.npy").string());
  Tensor y32 = p.fp32.run({x})[0].clone();
  const double peak = max_abs(ref);
  for (auto [s, what] : {std::pair{&p.fp16, "f16 auto"}, std::pair{&p.fp16w, "f32 arithmetic"}}) {
    Tensor y16 = s->run({x})[0].clone();
    const double e16 = max_diff(y16, ref) / peak, e32 = max_diff(y32, ref) / peak, e = max_diff(y16, y32) / peak;
    std::printf("  mobilenet_v2 (%s): max|diff|/max|ref|: fp16 vs PyTorch %.3g, fp32 vs PyTorch %.3g, fp16 vs fp32 %.3g\n",
                what, e16, e32, e);
    EXPECT_LE(e16, 5e-3) << what;
    EXPECT_EQ(argmax(y16), argmax(ref)) << what;
  }
}

struct MpCase {
  std::string model, input;
  Shape in_shape;
};

TEST(Fp16Model, SelfieSegmentationMaskIoU) {
  const fs::path refs = test::refs_dir(), model = test::mediapipe_dir() / "selfie_segmentation.tflite";
  EF_NEED_FILE(model);
  EF_NEED_REFS(refs / "inputs");
  Pair p = sessions(model.string());
  expect_halved(p, "selfie_segmentation");
  for (const char* img : {"mm060", "messi5"}) {
    const fs::path in = refs / "inputs" / (std::string("rgb256x256_stretch_0to1__") + img + ".bin");
    if (!fs::exists(in)) continue;
    Tensor x = read_f32(in, {1, 256, 256, 3});
    Tensor m32 = p.fp32.run({x})[0].clone();
    for (auto [s, what] : {std::pair{&p.fp16, "f16 auto"}, std::pair{&p.fp16w, "f32 arithmetic"}}) {
      Tensor m16 = s->run({x})[0].clone();
      size_t inter = 0, uni = 0;
      for (int64_t k = 0; k < m32.numel(); ++k) {
        const bool a = m16.data_as<float>()[k] > 0.5f, b = m32.data_as<float>()[k] > 0.5f;
        inter += a && b;
        uni += a || b;
      }
      const double iou = uni ? double(inter) / double(uni) : 1.0;
      std::printf("  selfie on %s (%s): mask IoU fp16 vs fp32 %.5f, max|diff| %.3g\n", img, what, iou,
                  max_diff(m16, m32));
      EXPECT_GT(uni, size_t(m32.numel() / 50)) << img << ": the person mask should not be empty";
      EXPECT_GE(iou, 0.99) << img << " " << what;
    }
  }
}

TEST(Fp16Model, BlazeFaceScores) {
  const fs::path model = test::mediapipe_dir() / "face_detection_short_range.tflite";
  const fs::path in = test::refs_dir() / "inputs" / "rgb128x128_letterbox_m1to1__messi5.bin";
  EF_NEED_FILE(model);
  EF_NEED_REFS(in);
  Pair p = sessions(model.string());
  expect_halved(p, "face_detection_short_range");
  Tensor x = read_f32(in, {1, 128, 128, 3});
  const auto& o32 = p.fp32.run({x});
  std::vector<Tensor> a;
  for (const Tensor& t : o32) a.push_back(t.clone());
  for (auto [s, what] : {std::pair{&p.fp16, "f16 auto"}, std::pair{&p.fp16w, "f32 arithmetic"}}) {
  const auto& o16 = s->run({x});
  ASSERT_EQ(o16.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const bool scores = a[i].shape().back() == 1;
    double d = 0;
    for (int64_t k = 0; k < a[i].numel(); ++k) {
      float u = a[i].data_as<float>()[k], v = o16[i].data_as<float>()[k];
      if (scores) u = 1.f / (1.f + std::exp(-u)), v = 1.f / (1.f + std::exp(-v));
      d = std::max(d, double(std::fabs(u - v)));
    }
    std::printf("  blazeface output %zu (%s, %s): max|fp16 - fp32| %.3g\n", i, scores ? "scores" : "boxes", what, d);
    if (scores) {
      EXPECT_LE(d, 0.02) << what;
    } else {
      EXPECT_LE(d, 0.5) << what;
    }
  }
  }
}

// TFLite float16 weights kept at load (LoadOptions::keep_float16) give an
// fp16 session the same weights (bit for bit) and outputs as folding them to
// float32 and narrowing them back, without the float32 copy in the model.
TEST(Fp16Model, TfliteFloat16KeptAtLoadSameAsFolded) {
  const fs::path model = test::mediapipe_dir() / "selfie_segmentation.tflite";
  EF_NEED_FILE(model);
  Model folded = Model::load(model.string()), kept = Model::load(model.string(), {.keep_float16 = true});
  auto const_bytes = [](const Model& m, DType t) {
    size_t b = 0;
    for (const Value& v : m.graph().values) b += v.is_const() && v.dtype == t ? v.data.nbytes() : 0;
    return b;
  };
  std::printf("  selfie constants at load: folded %zu f32 + %zu f16 bytes, kept %zu f32 + %zu f16 bytes\n",
              const_bytes(folded, DType::f32), const_bytes(folded, DType::f16), const_bytes(kept, DType::f32),
              const_bytes(kept, DType::f16));
  EXPECT_EQ(const_bytes(folded, DType::f16), 0u);
  EXPECT_LT(const_bytes(kept, DType::f32), const_bytes(folded, DType::f32) / 10);
  CompileOptions o;
  o.precision = Precision::fp16;
  Session a(folded, o), b(kept, o);
  const Graph &ga = a.graph(), &gb = b.graph();
  ASSERT_EQ(ga.nodes.size(), gb.nodes.size());
  int f16_layers = 0;
  for (size_t k = 0; k < ga.nodes.size(); ++k) {
    const Node &na = ga.nodes[k], &nb = gb.nodes[k];
    ASSERT_EQ(na.op, nb.op);
    for (size_t i = 0; i < na.inputs.size(); ++i) {
      if (na.inputs[i] < 0 || !ga.values[na.inputs[i]].is_const()) continue;
      const Tensor &ta = ga.values[na.inputs[i]].data, &tb = gb.values[nb.inputs[i]].data;
      ASSERT_EQ(ta.dtype(), tb.dtype()) << na.name << " input " << i;
      ASSERT_EQ(ta.nbytes(), tb.nbytes()) << na.name << " input " << i;
      EXPECT_EQ(std::memcmp(ta.data(), tb.data(), ta.nbytes()), 0) << na.name << " input " << i;
      f16_layers += i == 1 && ta.dtype() == DType::f16;
    }
  }
  // Independent count, on the graph as loaded (before any pass): the
  // ungrouped convs whose float16 weights have at least 16 input channels
  // (weights_to_fp16.cc's rule); each must keep its float16 weights.
  int expected = 0;
  for (const Node& n : kept.graph().nodes) {
    if (n.op != "Conv" || n.attrs.i("group", 1) != 1 || n.inputs.size() < 2) continue;
    const Value& w = kept.graph().values[n.inputs[1]];
    expected += w.is_const() && w.dtype == DType::f16 && w.shape.size() == 4 && w.shape[1] >= 16;
  }
  std::printf("  selfie: %d layers keep float16 weights, %d eligible at load\n", f16_layers, expected);
  EXPECT_GT(expected, 0);
  EXPECT_EQ(f16_layers, expected);
  Tensor x(DType::f32, {1, 256, 256, 3});
  for (int64_t k = 0; k < x.numel(); ++k) x.data_as<float>()[k] = float(k % 251) / 250.f;
  Tensor ya = a.run({x})[0].clone();
  EXPECT_EQ(max_diff(ya, b.run({x})[0]), 0.0);
}

}  // namespace
}  // namespace ef
