// TFLite -> ONNX conversion (what `edgeflow convert` does): the exported ONNX
// of each MediaPipe model, re-imported by edgeflow and run by ONNX Runtime,
// gives the TFLite interpreter's reference outputs. Skips cleanly without
// the references, the models (tools/fetch_models.sh), node or onnxruntime-node
// (bench/compare_ort.sh --install-only).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edgeflow/session.h"
#include "exporters/onnx/onnx_exporter.h"
#include "importers/onnx/onnx_importer.h"
#include "runtime/kernel.h"
#include "support/assets.h"

namespace ef {
namespace {

namespace fs = std::filesystem;

using test::refs_dir;
fs::path models_dir() { return test::mediapipe_dir(); }

// As `edgeflow convert`: static input shapes, shape inference with folding.
Graph converted(const fs::path& model) {
  Graph g = Model::load(model.string()).graph();
  for (int v : g.inputs) g.values[v].shape_known = true;
  ConstEvaluator eval = evaluate_node;
  infer_shapes(g, &eval);
  g.compact();
  return g;
}

std::vector<float> read_f32(const fs::path& p, size_t n) {
  std::ifstream f(p, std::ios::binary);
  std::vector<float> v(n);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * 4));
  if (size_t(f.gcount()) != n * 4) throw Error(p.string() + ": short file");
  return v;
}

// .npy float32, C order
void write_npy(const fs::path& p, const Tensor& t) {
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ",";
  shape += ")";
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t hl = uint16_t(h.size());
  f.write(reinterpret_cast<const char*>(&hl), 2);
  f.write(h.data(), std::streamsize(h.size()));
  f.write(static_cast<const char*>(t.data()), std::streamsize(t.nbytes()));
}
std::vector<float> read_npy_f32(const fs::path& p, Shape* shape) {
  std::ifstream f(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  if (all.size() < 10 || all.compare(0, 6, "\x93NUMPY") != 0) throw Error(p.string() + ": not .npy");
  size_t hl = all[6] == 1 ? size_t(uint8_t(all[8])) | size_t(uint8_t(all[9])) << 8 : 0, off = 10;
  if (all[6] != 1) {
    uint32_t v;
    std::memcpy(&v, all.data() + 8, 4);
    hl = v;
    off = 12;
  }
  std::string h = all.substr(off, hl);
  if (h.find("'<f4'") == std::string::npos) throw Error(p.string() + ": not float32");
  shape->clear();
  auto a = h.find("'shape': (") + 10, b = h.find(')', a);
  std::stringstream ss(h.substr(a, b - a));
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) shape->push_back(std::stoll(tok));
  std::vector<float> v(size_t(numel(*shape)));
  if (all.size() < off + hl + v.size() * 4) throw Error(p.string() + ": truncated");
  std::memcpy(v.data(), all.data() + off + hl, v.size() * 4);
  return v;
}

struct Case {
  std::string model, input;
  Shape shape;
  std::vector<std::pair<std::string, std::string>> outs;  // name, ref file
};
std::vector<Case> cases() {
  return {
      {"selfie_segmentation", "rgb256x256_stretch_0to1__mm060", {1, 256, 256, 3},
       {{"activation_10", "selfie_segmentation__mm060__o0_activation_10"}}},
      {"face_detection_short_range", "rgb128x128_letterbox_m1to1__messi5", {1, 128, 128, 3},
       {{"regressors", "face_detection_short_range__messi5__o0_regressors"},
        {"classificators", "face_detection_short_range__messi5__o1_classificators"}}},
      {"palm_detection_lite", "rgb192x192_letterbox_0to1__hand", {1, 192, 192, 3},
       {{"Identity", "palm_detection_lite__hand__o0_Identity"},
        {"Identity_1", "palm_detection_lite__hand__o1_Identity_1"}}},
      {"hand_landmark_lite", "rgb224x224_handroi_0to1__hand", {1, 224, 224, 3},
       {{"Identity", "hand_landmark_lite__hand__o0_Identity"},
        {"Identity_1", "hand_landmark_lite__hand__o1_Identity_1"},
        {"Identity_2", "hand_landmark_lite__hand__o2_Identity_2"},
        {"Identity_3", "hand_landmark_lite__hand__o3_Identity_3"}}},
  };
}

// Tolerance of the refs README: max(1e-3, 2e-5 * peak |ref|).
void expect_matches(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double peak = 0, md = 0;
  for (size_t k = 0; k < ref.size(); ++k) {
    peak = std::max(peak, double(std::fabs(ref[k])));
    const double d = std::fabs(double(got[k]) - ref[k]);
    md = std::isnan(d) ? INFINITY : std::max(md, d);
  }
  EXPECT_LE(md, std::max(1e-3, 2e-5 * peak)) << what << " (peak " << peak << ")";
}

class ConvertRef : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    EF_NEED_REFS(refs_dir() / "inputs" / (c.input + ".bin"));
    EF_NEED_FILE(models_dir() / (c.model + ".tflite"));
  }
};

// tflite -> IR -> ONNX bytes -> ONNX importer -> edgeflow session.
TEST_P(ConvertRef, OnnxRoundTripMatchesTFLiteReference) {
  const Case& c = GetParam();
  Graph g = converted(models_dir() / (c.model + ".tflite"));
  std::string bytes = export_onnx_bytes(g);
  Graph back = import_onnx_bytes(bytes.data(), bytes.size(), c.model + ".onnx");
  for (const Node& n : back.nodes) EXPECT_FALSE(n.attrs.has("layout")) << "ONNX file must be plain NCHW ONNX";
  Session s(Model::from_graph(back));
  auto x = Tensor::from<float>(c.shape, read_f32(refs_dir() / "inputs" / (c.input + ".bin"), size_t(numel(c.shape))));
  const auto& outs = s.run({x});
  ASSERT_EQ(outs.size(), c.outs.size());
  for (size_t i = 0; i < c.outs.size(); ++i) {
    EXPECT_EQ(s.output_info(i).name, c.outs[i].first);
    expect_matches({outs[i].data_as<float>(), outs[i].data_as<float>() + outs[i].numel()},
                   read_f32(refs_dir() / "outputs" / (c.outs[i].second + ".bin"), size_t(outs[i].numel())),
                   c.model + " " + c.outs[i].first);
  }
}

// The exported ONNX file run by ONNX Runtime (bench/ort_check.js).
TEST_P(ConvertRef, OnnxRuntimeMatchesTFLiteReference) {
  const Case& c = GetParam();
  const fs::path src = EF_SOURCE_DIR;
  EF_NEED(test::ort_available(), std::string("node with onnxruntime-node"));
  const fs::path dir = fs::temp_directory_path() / ("ef_tflite_convert_" + c.model + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  export_onnx(converted(models_dir() / (c.model + ".tflite")), (dir / "model.onnx").string());
  auto x = Tensor::from<float>(c.shape, read_f32(refs_dir() / "inputs" / (c.input + ".bin"), size_t(numel(c.shape))));
  write_npy(dir / "in.npy", x);
  Graph g = Model::load((dir / "model.onnx").string()).graph();
  const std::string in_name = g.values[g.inputs.at(0)].name;
  const std::string cmd = "node '" + (src / "bench/ort_check.js").string() + "' '" + (dir / "model.onnx").string() +
                          "' --input '" + in_name + "=" + (dir / "in.npy").string() + "' --out '" +
                          (dir / "out").string() + "' > '" + (dir / "log").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "ONNX Runtime failed, see " << dir / "log";
  for (auto& [name, file] : c.outs) {
    Shape shape;
    auto got = read_npy_f32(dir / "out" / (name + ".npy"), &shape);
    expect_matches(got, read_f32(refs_dir() / "outputs" / (file + ".bin"), got.size()), c.model + " " + name + " (ORT)");
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(MediaPipe, ConvertRef, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.model; });

}  // namespace
}  // namespace ef

namespace ef {
namespace {

// Stands alone (no reference tensors): every fetched model, fed a real photo
// (data/messi5.jpg stretched to the input size, RGB 0..1), gives the same
// outputs in edgeflow (from the .tflite) and in ONNX Runtime (from the ONNX
// file `edgeflow convert` writes). Tolerance: max(1e-3, 2e-4 * peak |ORT|,
// 3 x how far ORT differs from itself with its graph optimizations off), so
// ill-conditioned outputs (pose_landmark's segmentation logits peak at ~1500,
// where ORT's two modes already differ by ~0.7) get the slack float32
// summation order really needs, and well-conditioned ones none.
TEST(ConvertAll, EveryFetchedModelMatchesOnnxRuntimeOnARealImage) {
  const fs::path src = EF_SOURCE_DIR, photo = src / "data/messi5.jpg";
  EF_NEED(test::ort_available(), std::string("node with onnxruntime-node"));
  EF_NEED_FILE(photo);
  cv::Mat bgr = cv::imread(photo.string()), rgb;
  ASSERT_FALSE(bgr.empty());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  EF_NEED_FILE(models_dir());
  int n = 0;
  for (const auto& entry : fs::directory_iterator(models_dir())) {
    if (entry.path().extension() != ".tflite") continue;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    std::optional<Model> model;
    try {
      model = Model::load(entry.path().string());
    } catch (const Error& e) {  // face_landmark_with_attention: MediaPipe's own custom ops
      ASSERT_NE(std::string(e.what()).find("unsupported custom operator"), std::string::npos) << e.what();
      std::printf("skipped %s: %s\n", name.c_str(), e.what());
      continue;
    }
    Session s(*model);
    ASSERT_EQ(s.num_inputs(), 1u);
    Tensor& x = s.input(0);
    ASSERT_EQ(x.shape().size(), 4u);
    cv::Mat sized;
    cv::resize(rgb, sized, cv::Size(int(x.shape()[2]), int(x.shape()[1])), 0, 0, cv::INTER_AREA);
    sized.convertTo(cv::Mat(sized.rows, sized.cols, CV_32FC3, x.data_as<float>()), CV_32FC3, 1.0 / 255);
    const fs::path dir = fs::temp_directory_path() / ("ef_convert_all_" + name + "_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write_npy(dir / "in.npy", x);
    s.run();
    export_onnx(converted(entry.path()), (dir / "model.onnx").string());
    for (const char* opt : {"", " --no-opt"}) {
      const std::string cmd = "node '" + (src / "bench/ort_check.js").string() + "' '" + (dir / "model.onnx").string() +
                              "' '" + (dir / "in.npy").string() + "' --out '" + (dir / (*opt ? "out_noopt" : "out")).string() +
                              "'" + opt + " > '" + (dir / "log").string() + "' 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << "ONNX Runtime failed, see " << dir / "log";
    }
    for (size_t i = 0; i < s.num_outputs(); ++i) {
      std::string file = s.output_info(i).name;
      for (char& c : file)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
      Shape shape;
      auto ref = read_npy_f32(dir / "out" / (file + ".npy"), &shape);
      auto ref2 = read_npy_f32(dir / "out_noopt" / (file + ".npy"), &shape);
      const Tensor& o = s.output(i);
      ASSERT_EQ(size_t(o.numel()), ref.size()) << file;
      ASSERT_EQ(ref2.size(), ref.size()) << file;
      double peak = 0, md = 0, self = 0;
      for (size_t k = 0; k < ref.size(); ++k) {
        peak = std::max(peak, double(std::fabs(ref[k])));
        self = std::max(self, double(std::fabs(ref[k] - ref2[k])));
        const double d = std::fabs(double(o.data_as<float>()[k]) - ref[k]);
        md = std::isnan(d) ? INFINITY : std::max(md, d);
      }
      EXPECT_LE(md, std::max({1e-3, 2e-4 * peak, 3 * self}))
          << name << " output " << file << " (peak " << peak << ", ORT vs ORT without graph optimizations " << self << ")";
    }
    fs::remove_all(dir);
    ++n;
  }
  EF_NEED(n > 0, "the MediaPipe models in " + models_dir().string());
  std::printf("%d models compared with ONNX Runtime\n", n);
}

}  // namespace
}  // namespace ef
