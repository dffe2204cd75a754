#include "cli/util.h"

#include "edgeflow/analysis.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

namespace ef::cli {

Shape parse_shape(const std::string& s, const std::string& what) {
  Shape r;
  std::string tok;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == 'x' || s[i] == ',' || s[i] == 'X') {
      if (tok.empty()) throw Error(what + ": bad shape '" + s + "' (expected e.g. 1x3x224x224)");
      try {
        size_t used = 0;
        long long v = std::stoll(tok, &used);
        if (used != tok.size() || v <= 0) throw 0;
        r.push_back(v);
      } catch (...) {
        throw Error(what + ": bad dimension '" + tok + "' in shape '" + s + "'");
      }
      tok.clear();
    } else {
      tok += s[i];
    }
  }
  return r;
}

std::vector<float> parse_floats(const std::string& s, const std::string& what) {
  std::vector<float> r;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    try {
      size_t used = 0;
      r.push_back(std::stof(tok, &used));
      if (used != tok.size()) throw 0;
    } catch (...) {
      throw Error(what + ": bad number '" + tok + "' in '" + s + "'");
    }
  }
  return r;
}

std::map<std::string, std::string> parse_pairs(const std::vector<std::string>& items, const std::string& flag) {
  std::map<std::string, std::string> m;
  for (auto& it : items) {
    auto eq = it.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(flag + ": expected NAME=VALUE, got '" + it + "'");
    m[it.substr(0, eq)] = it.substr(eq + 1);
  }
  return m;
}

Tensor image_tensor(const ImageOptions& o, const Value& info) {
  cv::Mat img = cv::imread(o.path, cv::IMREAD_COLOR);
  if (img.empty()) throw Error(o.path + ": cannot read image (missing file or unknown format)");
  Tensor t;
  mat_to_tensor(img, o, info, t);
  return t;
}

std::string image_layout(const ImageOptions& o, const Value& info) {
  if (info.shape.size() != 4 || info.dtype != DType::f32)
    throw Error("image input '" + info.name + "' is " + dtype_name(info.dtype) + shape_str(info.shape) +
                ", not a 4-D float image tensor");
  std::string layout = o.layout;
  if (layout.empty()) layout = info.shape[1] == 3 ? "nchw" : "nhwc";
  if (layout != "nchw" && layout != "nhwc") throw Error("--layout must be nchw or nhwc, not '" + layout + "'");
  return layout;
}

cv::Size image_size(const ImageOptions& o, const Value& info) {
  const bool nchw = image_layout(o, info) == "nchw";
  return cv::Size(int(nchw ? info.shape[3] : info.shape[2]), int(nchw ? info.shape[2] : info.shape[1]));
}

void mat_to_tensor(const cv::Mat& img, const ImageOptions& o, const Value& info, Tensor& t) {
  const std::string layout = image_layout(o, info);
  const cv::Size size = image_size(o, info);
  const int64_t h = size.height, w = size.width;
  int64_t c = layout == "nchw" ? info.shape[1] : info.shape[3];
  if (!o.size.empty()) {
    Shape wh = parse_shape(o.size, "--size");
    if (wh.size() != 2) throw Error("--size: expected WxH, got '" + o.size + "'");
    if (wh[0] != w || wh[1] != h)
      throw Error("--size " + o.size + " does not match input '" + info.name + "' " + shape_str(info.shape));
  }
  if (c != 3) throw Error("image input '" + info.name + "' has " + std::to_string(c) + " channels, expected 3");
  auto mean = parse_floats(o.mean, "--mean"), sd = parse_floats(o.std, "--std");
  if (mean.size() != 3 || sd.size() != 3) throw Error("--mean and --std take 3 comma-separated values");
  for (float s : sd)
    if (s == 0) throw Error("--std values must be non-zero");
  cv::Mat resized;
  cv::resize(img, resized, cv::Size(int(w), int(h)), 0, 0, cv::INTER_LINEAR);
  if (!o.bgr) cv::cvtColor(resized, resized, cv::COLOR_BGR2RGB);
  if (t.shape() != info.shape || t.dtype() != DType::f32) t = Tensor(DType::f32, info.shape);
  float* d = t.data_as<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const cv::Vec3b& p = resized.at<cv::Vec3b>(int(y), int(x));
      for (int k = 0; k < 3; ++k) {
        float v = (p[k] / o.scale - mean[k]) / sd[k];
        if (layout == "nchw") d[(k * h + y) * w + x] = v;
        else d[(y * w + x) * 3 + k] = v;
      }
    }
}

void add_image_options(CLI::App* cmd, ImageOptions& o) {
  cmd->add_option("--size", o.size, "Image size WxH (checked against the model input)");
  cmd->add_option("--mean", o.mean, "Per-channel mean after scaling, e.g. 0.485,0.456,0.406");
  cmd->add_option("--std", o.std, "Per-channel std, e.g. 0.229,0.224,0.225");
  cmd->add_option("--scale", o.scale, "Pixel values are divided by this first (default 255)");
  cmd->add_flag("--bgr", o.bgr, "Feed channels as BGR (default RGB)");
  cmd->add_option("--layout", o.layout, "nchw or nhwc (default: from the input shape)")
      ->check(CLI::IsMember({"nchw", "nhwc"}));
}

void add_common(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--threads", o.threads, "Worker threads")->check(CLI::Range(1, 256));
  cmd->add_option("--shape", o.shapes, "Input shape for dynamic dimensions, NAME=1x3x224x224 (repeatable)");
  cmd->add_flag("--no-optimize", o.no_optimize, "Skip folding/fusion passes");
  cmd->add_option("--precision", o.precision, "fp32, or fp16: Conv/Gemm/MatMul weights stored as float16 "
                  "(half the bytes; see --fp16-compute)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
  cmd->add_option("--fp16-compute", o.fp16_compute, "Arithmetic of the float16-weight layers: auto (float16 where "
                  "the CPU has AVX512-FP16 and the layer gains, else float32), f16 (error without AVX512-FP16) or "
                  "f32 (weights widened)")
      ->check(CLI::IsMember({"auto", "f16", "f32"}));
}

std::string precision_summary(const Session& s) {
  const Graph& g = s.graph();
  int layers = 0, f16_math = 0;
  size_t f16 = 0;
  const std::vector<LayerProfile> impls = s.profile();  // one per node: the kernel each runs
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.inputs.size() > 1 && n.inputs[1] >= 0 && g.in(n, 1).is_const() && g.in(n, 1).dtype == DType::f16) {
      ++layers;
      f16 += g.in(n, 1).data.nbytes();
      f16_math += impls[i].impl == "f16-avx512fp16";
    }
  }
  if (s.options().precision != Precision::fp16) return "precision: fp32";
  if (s.options().delta.enabled) return "precision: fp16 requested; delta execution keeps float32 weights";
  return "precision: fp16: " + std::to_string(layers) + " Conv/Gemm/MatMul layers with float16 weights (" +
         human_bytes(double(f16)) + ", " + human_bytes(double(2 * f16)) +
         " as float32); other weights float32; arithmetic float16 (AVX512-FP16) in " + std::to_string(f16_math) +
         " of them, float32 elsewhere";
}

CompileOptions to_compile_options(const CommonOptions& o) {
  CompileOptions c;
  c.threads = o.threads;
  c.optimize = !o.no_optimize;
  c.precision = o.precision == "fp16" ? Precision::fp16 : o.precision == "int8" ? Precision::int8 : Precision::fp32;
  c.fp16_compute = o.fp16_compute == "f16"   ? Fp16Compute::f16
                   : o.fp16_compute == "f32" ? Fp16Compute::f32
                                             : Fp16Compute::automatic;
  for (auto& [k, v] : parse_pairs(o.shapes, "--shape")) c.input_shapes[k] = parse_shape(v, "--shape " + k);
  return c;
}

LoadOptions to_load_options(const CommonOptions& o) { return {.keep_float16 = o.precision == "fp16"}; }

std::vector<Tensor> random_inputs(const Session& s, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<Tensor> r;
  for (size_t i = 0; i < s.num_inputs(); ++i) {
    const Value& v = s.input_info(i);
    Tensor t(v.dtype, v.shape);
    if (v.dtype == DType::f32)
      for (int64_t k = 0; k < t.numel(); ++k) t.data_as<float>()[k] = u(rng);
    r.push_back(std::move(t));
  }
  return r;
}

}  // namespace ef::cli
