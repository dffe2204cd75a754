// Delta execution of whole real models (every op they use: convolutions,
// depthwise, SE blocks with global pooling and channel scaling, residual
// adds, bilinear resizes, transposed convolution, Gemm) against dense
// execution, on frames where a small square moves over a still background.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "edgeflow/session.h"
#include "delta_test_util.h"
#include "support/assets.h"

namespace ef {
namespace {


Tensor scene(const Value& in, int t) {
  Tensor f(DType::f32, in.shape);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  float* d = f.data_as<float>();
  for (int64_t i = 0; i < f.numel(); ++i) d[i] = u(rng);
  // a bright 20x24 block moving; NHWC or NCHW by where the 3 channels are
  const bool nchw = in.shape[1] == 3;
  const int64_t H = nchw ? in.shape[2] : in.shape[1], W = nchw ? in.shape[3] : in.shape[2], C = 3;
  for (int64_t y = 40 + 3 * t; y < std::min<int64_t>(H, 60 + 3 * t); ++y)
    for (int64_t x = 30 + 4 * t; x < std::min<int64_t>(W, 54 + 4 * t); ++x)
      for (int64_t c = 0; c < C; ++c) d[nchw ? (c * H + y) * W + x : (y * W + x) * C + c] = 0.9f;
  return f;
}

void expect_delta_equals_dense(const std::filesystem::path& file, float tol) {
  const std::string path = file.string();
  EF_NEED_FILE(file);
  Model m = Model::load(path);
  Session dense(m);
  CompileOptions o = delta_test::sparse_delta();
  Session delta(m, o);
  for (int t = 0; t < 6; ++t) {
    Tensor f = scene(dense.input_info(0), t);
    Tensor want = dense.run({f})[0].clone();
    const Tensor& got = delta.run({f})[0];
    float worst = 0, scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      worst = std::max(worst, std::fabs(want.data_as<float>()[i] - got.data_as<float>()[i]));
      scale = std::max(scale, std::fabs(want.data_as<float>()[i]));
    }
    EXPECT_LE(worst, tol * std::max(1.f, scale)) << path << " frame " << t;
  }
  DeltaStats s = delta.delta_stats();
  EXPECT_LT(s.executed_macs, s.dense_macs_per_frame * 6) << "a small moving block should save work";
}

TEST(DeltaModel, SelfieSegmentationThreshold0EqualsDense) {
  expect_delta_equals_dense(test::mediapipe_dir() / "selfie_segmentation.tflite", 1e-4f);
}
TEST(DeltaModel, MobileNetV2Threshold0EqualsDense) { expect_delta_equals_dense(test::onnx_models_dir() / "mobilenet_v2.onnx", 1e-4f); }

}  // namespace
}  // namespace ef
