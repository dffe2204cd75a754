// Helpers shared by the CLI subcommands.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "edgeflow/session.h"

namespace ef::cli {

// "1x3x224x224" or "1,3,224,224" -> {1,3,224,224}; throws naming `what`.
Shape parse_shape(const std::string& s, const std::string& what);
// "0.5,0.5,0.5" -> floats
std::vector<float> parse_floats(const std::string& s, const std::string& what);
// NAME=VALUE list -> map; throws on a missing '='.
std::map<std::string, std::string> parse_pairs(const std::vector<std::string>& items, const std::string& flag);

struct ImageOptions {
  std::string path;
  std::string size;    // "WxH"; empty = from the model input
  std::string mean = "0,0,0";
  std::string std = "1,1,1";
  float scale = 255.f;  // pixel / scale, then (x - mean) / std
  bool bgr = false;     // keep OpenCV's BGR order (default: RGB)
  std::string layout;   // nchw | nhwc; empty = from the model input shape
};
// Read an image and make the input tensor for `info` (a 4-D float input).
Tensor image_tensor(const ImageOptions& o, const Value& info);
// "nchw" or "nhwc" (--layout, else from the input shape), and the image size
// (w, h) the input takes; throw for inputs that are not 4-D float images.
std::string image_layout(const ImageOptions& o, const Value& info);
cv::Size image_size(const ImageOptions& o, const Value& info);
// The same from a BGR frame already in memory (o.path unused); writes into
// `t` when it already has the input's shape (no allocation).
void mat_to_tensor(const cv::Mat& bgr, const ImageOptions& o, const Value& info, Tensor& t);

// --size --mean --std --scale --bgr --layout (run --image, quantize).
void add_image_options(CLI::App* cmd, ImageOptions& o);

// Compile options shared by run/bench/inspect.
struct CommonOptions {
  int threads = 1;
  std::vector<std::string> shapes;  // NAME=DIMS
  bool no_optimize = false;
  std::string precision = "fp32";
  std::string fp16_compute = "auto";
};
void add_common(CLI::App* cmd, CommonOptions& o);
CompileOptions to_compile_options(const CommonOptions& o);
// --precision fp16: TFLite float16 weights are kept as they are at load.
LoadOptions to_load_options(const CommonOptions& o);
// "precision: fp16: N Conv/Gemm/MatMul layers with float16 weights (...)"
// for inspect/bench: what the session's weights are stored in and which
// arithmetic their kernels use.
std::string precision_summary(const Session& s);

// Random inputs (uniform [-1,1] floats, zeros for ints), seeded.
std::vector<Tensor> random_inputs(const Session& s, unsigned seed = 1);

}  // namespace ef::cli
