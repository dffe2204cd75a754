// The pipeline switch: a `delta:` block on an inference node.
#include <gtest/gtest.h>

#include <filesystem>

#include "edgeflow/pipeline.h"
#include "support/assets.h"

namespace {

std::string yaml(const std::string& model, const std::string& delta) {
  return "nodes:\n  src: {type: test_pattern_source}\n  infer:\n    type: inference\n    inputs: {image: src.image}\n"
         "    params:\n      model: " + model + "\n      delta: " + delta + "\n";
}

std::string error_of(const std::string& y) {
  try {
    ef::pipe::Pipeline p(ef::pipe::parse_pipeline(y, "d.yaml"));
  } catch (const ef::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kModel = (ef::test::mediapipe_dir() / "selfie_segmentation.tflite").string();

TEST(DeltaPipeline, BlockIsAccepted) {
  EF_NEED_FILE(std::filesystem::path(kModel));
  EXPECT_EQ(error_of(yaml(kModel, "{threshold: 0.5, input_threshold: 2, global_threshold: 0.01, refresh: 30}")), "");
}

TEST(DeltaPipeline, UnknownKeyIsNamed) {
  auto m = error_of(yaml(kModel, "{treshold: 0.5}"));
  EXPECT_NE(m.find("delta.treshold"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown parameter"), std::string::npos) << m;
}

TEST(DeltaPipeline, BadValueIsNamed) {
  EF_NEED_FILE(std::filesystem::path(kModel));
  auto m = error_of(yaml(kModel, "{threshold: -1}"));
  EXPECT_NE(m.find("delta.threshold"), std::string::npos) << m;
}

TEST(DeltaPipeline, MissingLayerThresholdsFileIsNamed) {
  EF_NEED_FILE(std::filesystem::path(kModel));
  auto m = error_of(yaml(kModel, "{layer_thresholds: /nonexistent/t.txt}"));
  EXPECT_NE(m.find("/nonexistent/t.txt"), std::string::npos) << m;
}

}  // namespace
