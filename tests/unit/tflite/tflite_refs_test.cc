// The MediaPipe models, imported from TFLite and run by edgeflow, against the
// outputs of the real TensorFlow Lite 2.9 interpreter on real images
// (../shared/refs/mediapipe, see its README). Skips cleanly when the
// references are absent (support/assets.h).
//
// Tolerance (from the refs README): max |ours - ref| <= max(1e-3, 2e-5 * peak
// |ref|) per output; for the selfie mask, IoU of (mask > 0.5) >= 0.999.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edgeflow/session.h"
#include "support/assets.h"

namespace ef {
namespace {

namespace fs = std::filesystem;

using test::mediapipe_dir;
using test::refs_dir;

std::vector<float> read_f32(const fs::path& p, size_t count) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string() + ": cannot open");
  std::vector<float> v(count);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * 4));
  if (size_t(f.gcount()) != count * 4) throw Error(p.string() + ": expected " + std::to_string(count * 4) + " bytes");
  f.get();
  if (!f.eof()) throw Error(p.string() + ": longer than " + std::to_string(count * 4) + " bytes");
  return v;
}

struct OutRef {
  std::string name;
  Shape shape;
  std::string file;
};
struct RefRun {
  std::string model, image, input;
  Shape in_shape;
  std::vector<OutRef> outs;
};

// manifest.json: runs[] (model, image, input, outputs).
std::vector<RefRun> runs() {
  const Shape d896_16{1, 896, 16}, d896_1{1, 896, 1}, p18{1, 2016, 18}, p1{1, 2016, 1};
  return {
      {"selfie_segmentation", "mm060", "rgb256x256_stretch_0to1__mm060", {1, 256, 256, 3},
       {{"activation_10", {1, 256, 256, 1}, "selfie_segmentation__mm060__o0_activation_10"}}},
      {"selfie_segmentation", "messi5", "rgb256x256_stretch_0to1__messi5", {1, 256, 256, 3},
       {{"activation_10", {1, 256, 256, 1}, "selfie_segmentation__messi5__o0_activation_10"}}},
      {"face_detection_short_range", "mm060", "rgb128x128_letterbox_m1to1__mm060", {1, 128, 128, 3},
       {{"regressors", d896_16, "face_detection_short_range__mm060__o0_regressors"},
        {"classificators", d896_1, "face_detection_short_range__mm060__o1_classificators"}}},
      {"face_detection_short_range", "messi5", "rgb128x128_letterbox_m1to1__messi5", {1, 128, 128, 3},
       {{"regressors", d896_16, "face_detection_short_range__messi5__o0_regressors"},
        {"classificators", d896_1, "face_detection_short_range__messi5__o1_classificators"}}},
      {"palm_detection_lite", "mm060", "rgb192x192_letterbox_0to1__mm060", {1, 192, 192, 3},
       {{"Identity", p18, "palm_detection_lite__mm060__o0_Identity"},
        {"Identity_1", p1, "palm_detection_lite__mm060__o1_Identity_1"}}},
      {"palm_detection_lite", "hand", "rgb192x192_letterbox_0to1__hand", {1, 192, 192, 3},
       {{"Identity", p18, "palm_detection_lite__hand__o0_Identity"},
        {"Identity_1", p1, "palm_detection_lite__hand__o1_Identity_1"}}},
      {"hand_landmark_lite", "hand", "rgb224x224_handroi_0to1__hand", {1, 224, 224, 3},
       {{"Identity", {1, 63}, "hand_landmark_lite__hand__o0_Identity"},
        {"Identity_1", {1, 1}, "hand_landmark_lite__hand__o1_Identity_1"},
        {"Identity_2", {1, 1}, "hand_landmark_lite__hand__o2_Identity_2"},
        {"Identity_3", {1, 63}, "hand_landmark_lite__hand__o3_Identity_3"}}},
  };
}

class MediaPipeRef : public ::testing::TestWithParam<RefRun> {};

TEST_P(MediaPipeRef, MatchesTFLiteInterpreter) {
  const RefRun& r = GetParam();
  const fs::path model = mediapipe_dir() / (r.model + ".tflite");
  const fs::path input = refs_dir() / "inputs" / (r.input + ".bin");
  EF_NEED_REFS(refs_dir() / "manifest.json");
  EF_NEED_REFS(input);
  EF_NEED_FILE(model);

  Model m = Model::load(model.string());
  EXPECT_EQ(m.format(), "tflite");
  Session s(m, {.threads = 2});
  ASSERT_EQ(s.num_inputs(), 1u);
  EXPECT_EQ(s.input_info(0).shape, r.in_shape);
  Tensor x = Tensor::from<float>(r.in_shape, read_f32(input, size_t(numel(r.in_shape))));
  const auto& outs = s.run({x});
  ASSERT_EQ(outs.size(), r.outs.size());
  for (size_t i = 0; i < r.outs.size(); ++i) {
    const OutRef& o = r.outs[i];
    SCOPED_TRACE(r.model + " on " + r.image + ", output " + o.name);
    // Outputs keep their TFLite names and order.
    EXPECT_EQ(s.output_info(i).name, o.name);
    ASSERT_EQ(outs[i].shape(), o.shape);
    ASSERT_EQ(outs[i].dtype(), DType::f32);
    auto ref = read_f32(refs_dir() / "outputs" / (o.file + ".bin"), size_t(numel(o.shape)));
    const float* got = outs[i].data_as<float>();
    double peak = 0, maxdiff = 0;
    size_t worst = 0;
    for (size_t k = 0; k < ref.size(); ++k) {
      peak = std::max(peak, double(std::fabs(ref[k])));
      double d = std::fabs(double(got[k]) - ref[k]);
      if (!(d <= maxdiff)) {  // also catches NaN
        maxdiff = std::isnan(d) ? INFINITY : d;
        worst = k;
      }
    }
    if (r.model == "selfie_segmentation") {
      size_t inter = 0, uni = 0;
      for (size_t k = 0; k < ref.size(); ++k) {
        bool a = got[k] > 0.5f, b = ref[k] > 0.5f;
        inter += a && b;
        uni += a || b;
      }
      const double iou = uni ? double(inter) / double(uni) : 1.0;
      EXPECT_GE(iou, 0.999) << "mask IoU; max abs diff " << maxdiff;
      EXPECT_GT(uni, ref.size() / 50) << "the person mask should not be empty";
    } else {
      const double tol = std::max(1e-3, 2e-5 * peak);
      EXPECT_LE(maxdiff, tol) << "at flat index " << worst << ": got " << got[worst] << ", want " << ref[worst]
                              << " (peak " << peak << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, MediaPipeRef, ::testing::ValuesIn(runs()), [](const auto& info) {
  return info.param.model + "_" + info.param.image;
});

// Every fetched model imports and passes shape inference; the ones whose ops
// are all supported compile into a session.
TEST(TFLiteModels, AllFetchedModelsImport) {
  const fs::path dir = mediapipe_dir();
  for (const char* name : {"selfie_segmentation", "selfie_segmentation_landscape", "face_detection_short_range",
                           "face_detection_full_range", "face_detection_full_range_sparse", "hand_landmark_lite",
                           "hand_landmark_full", "palm_detection_lite", "palm_detection_full", "pose_detection",
                           "pose_landmark_lite", "face_landmark"}) {
    fs::path p = dir / (std::string(name) + ".tflite");
    EF_NEED_FILE(p);
    SCOPED_TRACE(p.string());
    Model m = Model::load(p.string());
    EXPECT_GT(m.graph().nodes.size(), 10u);
    for (const Node& node : m.graph().nodes) {
      const std::string l = node.attrs.s("layout", "");
      if (node.op == "Conv" || node.op == "MaxPool" || node.op == "AveragePool" || node.op == "Resize")
        EXPECT_EQ(l, "NHWC") << node.name;
      EXPECT_NE(node.op, "Transpose") << "the importer must not insert transposes";
    }
    EXPECT_NO_THROW(Session(m, {}));
  }
}

// The sparse full-range face detector (DENSIFY of pruned weights) is a
// different network from the dense full-range one, so the two are compared on
// what they mean: on messi5 (letterboxed to 192x192, -1..1) both must find
// the face, at the same place. A wrong densification gives garbage here.
struct Detection {
  float score = -INFINITY, cx = 0, cy = 0;
};
Detection best_face(Session& s, const Tensor& x) {
  const auto& o = s.run({x});
  // outputs: regressors [1,2304,16], classificators [1,2304,1]; anchors: 48x48
  // grid (stride 4), one per cell, centre ((j+0.5)/48, (i+0.5)/48).
  Detection d;
  const int64_t n = o[1].numel();
  for (int64_t k = 0; k < n; ++k) {
    const float logit = o[1].data_as<float>()[k];
    if (logit > d.score) {
      d.score = logit;
      const float ax = (float(k % 48) + 0.5f) / 48.f, ay = (float(k / 48) + 0.5f) / 48.f;
      d.cx = ax + o[0].data_as<float>()[k * 16 + 0] / 192.f;
      d.cy = ay + o[0].data_as<float>()[k * 16 + 1] / 192.f;
    }
  }
  return d;
}

TEST(TFLiteModels, SparseFullRangeFaceDetectorFindsTheFace) {
  const fs::path dense = mediapipe_dir() / "face_detection_full_range.tflite";
  const fs::path sparse = mediapipe_dir() / "face_detection_full_range_sparse.tflite";
  const fs::path png = test::data_dir() / "messi5.jpg";
  EF_NEED_FILE(dense);
  EF_NEED_FILE(sparse);
  EF_NEED_FILE(png);
  cv::Mat bgr = cv::imread(png.string(), cv::IMREAD_COLOR), rgb, small;
  ASSERT_FALSE(bgr.empty());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const double sc = std::min(192.0 / rgb.cols, 192.0 / rgb.rows);
  const int nw = int(std::lround(rgb.cols * sc)), nh = int(std::lround(rgb.rows * sc));
  cv::resize(rgb, small, cv::Size(nw, nh), 0, 0, cv::INTER_LINEAR);
  Tensor x(DType::f32, {1, 192, 192, 3});
  float* p = x.data_as<float>();
  std::fill(p, p + x.numel(), -1.f);
  const int ox = (192 - nw) / 2, oy = (192 - nh) / 2;
  for (int i = 0; i < nh; ++i)
    for (int j = 0; j < nw; ++j)
      for (int c = 0; c < 3; ++c)
        p[((oy + i) * 192 + ox + j) * 3 + c] = float(small.at<cv::Vec3b>(i, j)[c]) * (2.f / 255.f) - 1.f;
  Session a(Model::load(dense.string())), b(Model::load(sparse.string()));
  Detection da = best_face(a, x), db = best_face(b, x);
  std::printf("dense: logit %.2f at (%.3f, %.3f); sparse: logit %.2f at (%.3f, %.3f)\n", da.score, da.cx, da.cy,
              db.score, db.cx, db.cy);
  EXPECT_GT(da.score, 0.f) << "dense model: no face (sigmoid < 0.5)";
  EXPECT_GT(db.score, 0.f) << "sparse model: no face (sigmoid < 0.5)";
  EXPECT_NEAR(da.cx, db.cx, 0.03) << "face centres differ";
  EXPECT_NEAR(da.cy, db.cy, 0.03) << "face centres differ";
  // messi5: the face is in the upper middle of the letterboxed frame
  EXPECT_GT(da.cy, 0.2f);
  EXPECT_LT(da.cy, 0.6f);
}

}  // namespace
}  // namespace ef
