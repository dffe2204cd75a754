// Every user mistake in a pipeline file gives an ef::Error that names the
// YAML file and line (and the node / port / parameter), never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_nodes.h"

using namespace ef::pipe;

namespace {

std::string error_of(const std::string& yaml, const std::map<std::string, std::string>& sets = {}) {
  try {
    Pipeline p(parse_pipeline(yaml, "bad.yaml", sets));
  } catch (const ef::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg)

}  // namespace

TEST(PipelineConfig, UnknownNodeType) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  x: {type: blurr, inputs: {image: src.image}}\n");
  EXPECT_HAS(m, "bad.yaml:3");
  EXPECT_HAS(m, "unknown node type 'blurr'");
  EXPECT_HAS(m, "background");  // lists the known ones
}

TEST(PipelineConfig, UnknownInputPort) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  v:\n    type: png_sink\n    inputs:\n      img: src.image\n    params: {dir: /tmp/x}\n");
  EXPECT_HAS(m, "bad.yaml:6");
  EXPECT_HAS(m, "no input port 'img'");
  EXPECT_HAS(m, "image (image)");
}

TEST(PipelineConfig, UnknownOutputPort) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  out:\n    type: test_collect\n    inputs: {in: src.frame}\n");
  EXPECT_HAS(m, "bad.yaml:5");
  EXPECT_HAS(m, "no output port 'frame'");
}

TEST(PipelineConfig, MalformedLink) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  out:\n    type: test_collect\n    inputs: {in: src}\n");
  EXPECT_HAS(m, "bad.yaml:5");
  EXPECT_HAS(m, "expected NODE.PORT");
}

TEST(PipelineConfig, TypeMismatchedLink) {
  auto m = error_of(R"(nodes:
  src: {type: test_pattern_source}
  bg:
    type: background
    inputs:
      image: src.image
      mask: src.image
)");
  EXPECT_HAS(m, "bad.yaml:7");
  EXPECT_HAS(m, "src.image (image)");
  EXPECT_HAS(m, "'mask' (mask)");
}

TEST(PipelineConfig, Cycle) {
  auto m = error_of(R"(nodes:
  src: {type: test_pattern_source}
  a: {type: test_join, inputs: {a: src.image, b: b.image}}
  b: {type: test_slow, inputs: {image: a.image}}
)");
  EXPECT_HAS(m, "bad.yaml:");
  EXPECT_HAS(m, "cycle");
  EXPECT_HAS(m, "a -> b -> a");
}

TEST(PipelineConfig, UnlinkedRequiredInput) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  j: {type: test_join, inputs: {a: src.image}}\n");
  EXPECT_HAS(m, "bad.yaml:3");
  EXPECT_HAS(m, "input 'b' (image) is not linked");
}

TEST(PipelineConfig, MissingModelFile) {
  auto m = error_of(R"(nodes:
  src: {type: test_pattern_source}
  det:
    type: inference
    inputs: {image: src.image}
    params:
      model: /nonexistent/face.tflite
)");
  EXPECT_HAS(m, "bad.yaml:7");
  EXPECT_HAS(m, "/nonexistent/face.tflite");
  EXPECT_HAS(m, "does not exist");
}

TEST(PipelineConfig, CorruptModelFile) {
  std::string path = testing::TempDir() + "/corrupt.tflite";
  std::ofstream(path) << "this is not a model";
  auto m = error_of("nodes:\n  src: {type: test_pattern_source}\n  det:\n    type: inference\n    inputs: {image: src.image}\n    params: {model: " + path + "}\n");
  EXPECT_HAS(m, "bad.yaml:6");
  EXPECT_HAS(m, "corrupt.tflite");
}

TEST(PipelineConfig, UnknownAndMistypedParameters) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source, params: {frame: 3}}\n  out: {type: test_collect, inputs: {in: src.image}}\n");
  EXPECT_HAS(m, "bad.yaml:2");
  EXPECT_HAS(m, "param 'frame'");
  EXPECT_HAS(m, "unknown parameter");
  m = error_of("nodes:\n  src:\n    type: test_pattern_source\n    params:\n      frames: many\n  out: {type: test_collect, inputs: {in: src.image}}\n");
  EXPECT_HAS(m, "bad.yaml:5");
  EXPECT_HAS(m, "expected an integer, got 'many'");
  m = error_of("nodes:\n  src: {type: test_pattern_source, params: {size: big}}\n  out: {type: test_collect, inputs: {in: src.image}}\n");
  EXPECT_HAS(m, "bad.yaml:2");
  EXPECT_HAS(m, "WIDTHxHEIGHT");
}

TEST(PipelineConfig, MissingVideoFile) {
  auto m = error_of("nodes:\n  cam:\n    type: video_source\n    params: {path: /nonexistent/clip.mp4}\n  out: {type: test_collect, inputs: {in: cam.image}}\n");
  EXPECT_HAS(m, "bad.yaml:4");
  EXPECT_HAS(m, "/nonexistent/clip.mp4");
  EXPECT_HAS(m, "does not exist");
}

TEST(PipelineConfig, CorruptVideoFile) {
  std::string path = testing::TempDir() + "/corrupt.mp4";
  {
    std::ofstream f(path);
    for (int i = 0; i < 1000; ++i) f << "garbage";
  }
  std::string yaml = "nodes:\n  cam:\n    type: video_source\n    params: {path: " + path + "}\n  out: {type: test_collect, inputs: {in: cam.image}}\n";
  std::string m;
  try {
    Pipeline p(parse_pipeline(yaml, "bad.yaml"));
    p.run();  // some backends open anything and fail at the first read
  } catch (const ef::Error& e) {
    m = e.what();
  }
  EXPECT_HAS(m, "bad.yaml:");
  EXPECT_HAS(m, "corrupt.mp4");
}

TEST(PipelineConfig, CameraThatDoesNotExist) {
  auto m = error_of("nodes:\n  cam:\n    type: video_source\n    params: {path: /dev/video97}\n  out: {type: test_collect, inputs: {in: cam.image}}\n");
  EXPECT_HAS(m, "bad.yaml:4");
  EXPECT_HAS(m, "cannot open camera '/dev/video97'");
}

TEST(PipelineConfig, YamlSyntaxError) {
  auto m = error_of("nodes:\n  src: {type: test_pattern_source\n  out: [\n");
  EXPECT_HAS(m, "bad.yaml:");
  EXPECT_HAS(m, "YAML syntax error");
}

TEST(PipelineConfig, SettingsAndOverrides) {
  const char* yaml = "settings: {n: 5}\nnodes:\n  src: {type: test_pattern_source, params: {frames: \"${n}\", size: 16x16}}\n  out: {type: test_collect, inputs: {in: src.image}}\n";
  {
    Pipeline p(parse_pipeline(yaml, "ok.yaml", {{"n", "7"}}));
    EXPECT_EQ(p.run().frames_in, 7);
  }
  {
    Pipeline p(parse_pipeline(yaml, "ok.yaml", {{"src.frames", "3"}}));
    EXPECT_EQ(p.run().frames_in, 3);
  }
  auto m = error_of(yaml, {{"nn", "1"}});
  EXPECT_HAS(m, "--set nn");
  EXPECT_HAS(m, "settings: n");
  m = error_of("nodes:\n  src: {type: test_pattern_source, params: {frames: \"${x}\"}}\n");
  EXPECT_HAS(m, "bad.yaml:2");
  EXPECT_HAS(m, "unknown setting '${x}'");
}

TEST(PipelineConfig, OptionsFromTheCommandLine) {
  const char* yaml = "options: {max_in_flight: 3}\nnodes:\n  src: {type: test_pattern_source}\n  out: {type: test_collect, inputs: {in: src.image}}\n";
  EXPECT_EQ(parse_pipeline(yaml, "ok.yaml").max_in_flight, 3);
  EXPECT_EQ(parse_pipeline(yaml, "ok.yaml", {{"options.max_in_flight", "1"}}).max_in_flight, 1);
  auto m = error_of(yaml, {{"options.max_inflight", "1"}});
  EXPECT_HAS(m, "--set options.max_inflight");
  EXPECT_HAS(m, "unknown option 'max_inflight'");
  m = error_of(yaml, {{"options.max_in_flight", "0"}});
  EXPECT_HAS(m, "--set options.max_in_flight");
  EXPECT_HAS(m, "must be >= 1");
  m = error_of("options: {max_in_flight: lots}\nnodes:\n  src: {type: test_pattern_source}\n");
  EXPECT_HAS(m, "bad.yaml:1");
  EXPECT_HAS(m, "bad value 'lots'");
}

TEST(PipelineConfig, ShippedPipelinesParse) {
  // meeting.yaml must at least parse and name only known node types (the
  // models may be missing on a fresh checkout).
  std::string dir = std::string(EF_SOURCE_DIR) + "/pipelines";
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    auto cfg = load_pipeline(e.path().string());
    for (auto& n : cfg.nodes) EXPECT_NE(find_node_type(n.type), nullptr) << e.path() << ": " << n.type;
  }
}
