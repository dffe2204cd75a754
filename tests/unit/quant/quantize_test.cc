// Quantization end to end on real models and real frames: the written QDQ
// file's structure (int8 per-channel weights with zero point 0, int32 biases
// with scale s_x * s_w[c]), the quantized model against the float one
// (stated bounds), ONNX Runtime running the same file, and the planner's
// rules (--keep-float, layers that cannot be quantized, already quantized).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "edgeflow/npy.h"
#include "edgeflow/vision.h"
#include "exporters/onnx/onnx_exporter.h"
#include "quant/mixed.h"
#include "quant/quantize.h"
#include "quant/report.h"
#include "support/assets.h"

namespace ef::quant {
namespace {
namespace fs = std::filesystem;

const fs::path kSrc = EF_SOURCE_DIR;

// n frames spread evenly over a video (OpenCV), BGR.
std::vector<cv::Mat> video_frames(const fs::path& p, int n) {
  cv::VideoCapture cap(p.string());
  std::vector<cv::Mat> all;
  cv::Mat f;
  while (cap.read(f)) all.push_back(f.clone());
  std::vector<cv::Mat> r;
  for (int i = 0; i < n && !all.empty(); ++i) r.push_back(all[size_t(i) * all.size() / size_t(n)]);
  return r;
}

// RGB, (x/255 - mean) / std, NCHW or NHWC by the input's shape.
struct Prep {
  float mean = 0, std = 1;
  void operator()(const cv::Mat& bgr, Tensor& t) const {
    const Shape& s = t.shape();
    const bool nchw = s[1] == 3;
    const int h = int(nchw ? s[2] : s[1]), w = int(nchw ? s[3] : s[2]);
    cv::Mat m;
    cv::resize(bgr, m, cv::Size(w, h));
    cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
    float* d = t.data_as<float>();
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) {
          const float v = (m.at<cv::Vec3b>(y, x)[c] / 255.f - mean) / std;
          d[nchw ? (c * h + y) * w + x : (y * w + x) * 3 + c] = v;
        }
  }
};

FillFn filler(const std::vector<cv::Mat>& frames, Prep prep) {
  return [&frames, prep](size_t i, Session& s) { prep(frames[i], s.input(0)); };
}

struct Quantized {
  Graph fp, qdq;
  Plan plan;
  std::string file;
};

Quantized quantize_model(const fs::path& model, const std::vector<cv::Mat>& calib, Prep prep, Options o = {}) {
  Quantized r;
  r.fp = prepare(Model::load(model.string()));
  r.plan = plan(r.fp, o);
  Calibration cal = calibrate(r.fp, r.plan, calib.size(), filler(calib, prep), o);
  r.qdq = build_qdq(r.fp, r.plan, cal.stats, o);
  r.file = (fs::temp_directory_path() / ("ef_quant_" + model.stem().string() + "_" + std::to_string(::getpid()) +
                                         ".onnx")).string();
  export_onnx(r.qdq, r.file);
  return r;
}

fs::path mobilenet() { return test::onnx_models_dir() / "mobilenet_v2.onnx"; }
fs::path selfie() { return test::mediapipe_dir() / "selfie_segmentation.tflite"; }
const Prep kImagenet{0.45f, 0.226f};  // single mean/std close to ImageNet's; same for float and int8


// ---- structure of the written file

template <class T>
std::vector<T> values(const onnx::TensorProto& t) {
  std::vector<T> v(t.raw_data().size() / sizeof(T));
  std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(T));
  return v;
}

TEST(Quantize, WrittenFileHasInt8PerChannelWeightsAndInt32Biases) {
  EF_NEED_FILE(mobilenet());
  EF_NEED_FILE(kSrc / "data/vtest.avi");
  auto calib = video_frames(kSrc / "data/vtest.avi", 8);
  Quantized q = quantize_model(mobilenet(), calib, kImagenet);
  onnx::ModelProto m;
  std::ifstream f(q.file, std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&f));
  const auto& g = m.graph();
  std::map<std::string, const onnx::TensorProto*> init;
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const auto& t : g.initializer()) init[t.name()] = &t;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer[o] = &n;
  auto dq = [&](const std::string& v) -> const onnx::NodeProto* {
    auto it = producer.find(v);
    return it != producer.end() && it->second->op_type() == "DequantizeLinear" ? it->second : nullptr;
  };
  auto axis = [](const onnx::NodeProto& n) {
    for (const auto& a : n.attribute())
      if (a.name() == "axis") return int(a.i());
    return 1;  // ONNX default
  };
  int convs = 0;
  for (const auto& n : g.node()) {
    if (n.op_type() != "Conv" && n.op_type() != "Gemm") continue;
    SCOPED_TRACE(n.name());
    ++convs;
    const onnx::NodeProto* dx = dq(n.input(0));
    const onnx::NodeProto* dw = dq(n.input(1));
    const onnx::NodeProto* db = n.input_size() > 2 ? dq(n.input(2)) : nullptr;
    ASSERT_TRUE(dx && dw && db) << "activation, weight and bias must come from DequantizeLinear";
    // Weights: int8, one scale per output channel, zero points 0.
    const auto& wq = *init.at(dw->input(0));
    const auto& ws = *init.at(dw->input(1));
    const auto& wz = *init.at(dw->input(2));
    ASSERT_EQ(wq.data_type(), onnx::TensorProto::INT8);
    ASSERT_EQ(wz.data_type(), onnx::TensorProto::INT8);
    const int ax = n.op_type() == "Conv" ? 0 : 0;  // Gemm: torchvision's Linear is transB=1 [N, K]
    EXPECT_EQ(axis(*dw), ax);
    const int64_t oc = wq.dims(ax);
    ASSERT_EQ(ws.dims_size(), 1);
    EXPECT_EQ(ws.dims(0), oc);
    for (int8_t z : values<int8_t>(wz)) EXPECT_EQ(z, 0);
    for (int8_t w : values<int8_t>(wq)) EXPECT_GE(w, -127);  // symmetric
    // Dequantized weights reproduce the folded float weights within half a step.
    const Node* fn = nullptr;
    for (const auto& node : q.fp.nodes)
      if (node.name == n.name()) fn = &node;
    ASSERT_NE(fn, nullptr);
    const Tensor& wf = q.fp.in(*fn, 1).data;
    auto wqv = values<int8_t>(wq);
    auto wsv = values<float>(ws);
    ASSERT_EQ(int64_t(wqv.size()), wf.numel());
    const int64_t inner = wf.numel() / oc;
    for (int64_t i = 0; i < wf.numel(); ++i) {
      const float s = wsv[size_t(i / inner)];
      ASSERT_LE(std::fabs(wf.data_as<float>()[i] - wqv[i] * s), 0.5f * s * 1.0001f) << i;
    }
    // Bias: int32, scale s_x * s_w[c], zero point 0.
    const auto& bq = *init.at(db->input(0));
    const auto& bs = *init.at(db->input(1));
    const auto& bz = *init.at(db->input(2));
    ASSERT_EQ(bq.data_type(), onnx::TensorProto::INT32);
    ASSERT_EQ(bz.data_type(), onnx::TensorProto::INT32);
    EXPECT_EQ(axis(*db), 0);
    const float sx = values<float>(*init.at(dx->input(1)))[0];
    auto bsv = values<float>(bs);
    ASSERT_EQ(int64_t(bsv.size()), oc);
    for (int64_t c = 0; c < oc; ++c) EXPECT_FLOAT_EQ(bsv[c], sx * wsv[c]) << c;
    for (int32_t z : values<int32_t>(bz)) EXPECT_EQ(z, 0);
    // The activation is int8 per tensor.
    EXPECT_EQ(init.at(dx->input(2))->data_type(), onnx::TensorProto::INT8);
    EXPECT_EQ(init.at(dx->input(1))->dims_size(), 0);
  }
  EXPECT_EQ(convs, 53);  // 52 Conv + 1 Gemm: every weighted layer of mobilenet_v2
  // Q/DQ sits after the fused activation: no Relu/Clip reads a DequantizeLinear
  // that follows a Conv directly (Conv -> Clip -> Q -> DQ, never Conv -> Q -> DQ -> Clip).
  for (const auto& n : g.node())
    if (n.op_type() == "QuantizeLinear") {
      auto it = producer.find(n.input(0));
      if (it != producer.end() && it->second->op_type() == "Conv") {
        for (const auto& c : g.node())
          for (const auto& in : c.input())
            if (in == it->second->output(0)) EXPECT_NE(c.op_type(), "Clip") << it->second->name();
      }
    }
  fs::remove(q.file);
}

// ---- accuracy on real frames (calibrate on one video, measure on another)

TEST(Quantize, MobilenetV2AgreesWithFloatOnRealFrames) {
  EF_NEED_FILE(mobilenet());
  EF_NEED_FILE(kSrc / "data/Megamind.avi");
  auto calib = video_frames(kSrc / "data/vtest.avi", 16);
  auto eval = video_frames(kSrc / "data/Megamind.avi", 12);
  eval.push_back(cv::imread((kSrc / "data/messi5.jpg").string()));
  Quantized q = quantize_model(mobilenet(), calib, kImagenet);
  Report r = evaluate(q.fp, q.qdq, Model::load(q.file), q.plan, eval.size(), filler(eval, kImagenet));
  ASSERT_EQ(r.outputs.size(), 1u);
  const auto& o = r.outputs[0];
  EXPECT_EQ(o.kind, "classifier");
  // Bounds (measured: 13/13, cosine 0.9999): top-1 on >= 12 of 13 frames, cosine >= 0.999.
  EXPECT_GE(o.top1_agree, 12);
  EXPECT_GE(o.err.cosine(), 0.999);
  EXPECT_GE(o.err.snr_db(), 25.0);
  // Every layer reported, none broken.
  EXPECT_EQ(r.layers.size(), q.plan.layers.size());
  for (const auto& l : r.layers) EXPECT_GE(l.err.snr_db(), 20.0) << l.name;
  fs::remove(q.file);
}

TEST(Quantize, SelfieSegmentationMaskAgreesWithFloat) {
  EF_NEED_FILE(selfie());
  EF_NEED_FILE(kSrc / "data/Megamind.avi");
  auto frames = video_frames(kSrc / "data/Megamind.avi", 36);
  std::vector<cv::Mat> calib, eval;
  for (size_t i = 0; i < frames.size(); ++i) (i % 3 == 2 ? eval : calib).push_back(frames[i]);
  Quantized q = quantize_model(selfie(), calib, Prep{}, Options{.method = Method::percentile});
  Report r = evaluate(q.fp, q.qdq, Model::load(q.file), q.plan, eval.size(), filler(eval, Prep{}));
  const auto& o = r.outputs.at(0);
  EXPECT_EQ(o.kind, "segmentation");
  const double iou = o.iou_sum / o.frames;
  EXPECT_GE(iou, 0.90) << "mask IoU mean vs float";
  // --target's tries run the graph in memory: exactly as the written file runs.
  const auto m = compare(q.qdq, Reference(q.fp, eval.size(), filler(eval, Prep{}), 1), 1);
  EXPECT_EQ(m.at(0).err.err2, o.err.err2);
  EXPECT_EQ(m.at(0).iou_sum, o.iou_sum);
  fs::remove(q.file);
}

// ---- ONNX Runtime runs the same file with the same outputs

// Detection scores (logits, [1, N, 1]): the best detection's score is
// compared on frames where the float one is >= 0.5, whichever anchor wins.
TEST(Report, BestDetectionScore) {
  auto logits = [](std::vector<float> p) {
    for (float& v : p) v = std::log(v / (1 - v));
    return Tensor::from<float>({1, int64_t(p.size()), 1}, std::span<const float>(p));
  };
  OutputAgreement o{"scores", "detection scores", {}};
  std::vector<float> f(16, 0.01f), q(16, 0.01f);
  f[3] = 0.9f, q[3] = 0.7f, q[4] = 0.86f;  // int8 prefers a neighbouring anchor
  compare_output(o, logits(f), logits(q));
  f[3] = 0.3f, q[3] = 0.6f;  // no float detection: not counted
  compare_output(o, logits(f), logits(q));
  EXPECT_EQ(o.top_frames, 1);
  EXPECT_NEAR(o.top_diff_max, 0.04, 1e-5);
  EXPECT_NEAR(o.score_diff_conf, 0.2, 1e-5);  // anchor 3, frame 1
  EXPECT_NEAR(o.score_diff, 0.86 - 0.01, 1e-5);
}

using vision::mask_iou;  // IoU of the (> 0.5) masks of two outputs of the same shape

void expect_ort_matches(const Quantized& q, const Tensor& x, double rel_tol) {
  EF_NEED(test::ort_available(), std::string("node with onnxruntime-node"));
  const fs::path dir = fs::path(q.file).replace_extension("ort");
  fs::create_directories(dir);
  save_npy((dir / "in.npy").string(), x);
  Session s(Model::load(q.file));
  const std::string in = s.input_info(0).name;
  s.run({x});
  const std::string cmd = "node '" + (kSrc / "bench/ort_check.js").string() + "' '" + q.file + "' --input '" + in +
                          "=" + (dir / "in.npy").string() + "' --out '" + (dir / "out").string() + "' > '" +
                          (dir / "log").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "ONNX Runtime failed, see " << dir / "log";
  for (size_t k = 0; k < s.num_outputs(); ++k) {
    std::string name = s.output_info(k).name;
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
    Tensor ort = load_npy((dir / "out" / (name + ".npy")).string());
    const Tensor& ef = s.output(k);
    ASSERT_EQ(ort.shape(), ef.shape()) << name;
    double peak = 0, diff = 0, sum = 0;
    for (int64_t i = 0; i < ef.numel(); ++i) {
      const float a = ort.data_as<float>()[i], b = ef.data_as<float>()[i];
      peak = std::max(peak, double(std::fabs(a)));
      diff = std::max(diff, double(std::fabs(a - b)));
      sum += std::fabs(a - b);
    }
    // ORT runs int8 kernels with its own requantization rounding; edgeflow's
    // differ in the last bit of some activations, which propagates.
    if (output_kind(ef.shape()) == "segmentation") {
      // A mask: boundary pixels flip, and an 8-frame selfie file (int8 also
      // around every HardSwish and Sigmoid) amplifies any difference that
      // moves an activation across a rounding boundary. The bound's basis is
      // measured here: edgeflow without its optimizer runs the QDQ file
      // unfused (float kernels between QuantizeLinear/DequantizeLinear, ONNX
      // rounding), which is what ORT computes too (measured: its default and
      // --no-opt runs of this file are bit-identical). Their disagreement is
      // what float-accumulation order alone causes in this file; edgeflow's
      // int8 kernels may disagree with ORT at most 2x that. Measured on
      // messi5.jpg: 1 - IoU unfused vs ORT 0.048, int8 vs ORT 0.064 (1.34x).
      CompileOptions no_opt;
      no_opt.optimize = false;
      Session unfused(Model::load(q.file), no_opt);
      unfused.run({x});
      const double base = 1 - mask_iou(ort, unfused.output(k)), ours = 1 - mask_iou(ort, ef);
      std::printf("  %s: mask 1 - IoU vs ORT: edgeflow unfused %.4f, int8 %.4f\n", name.c_str(), base, ours);
      EXPECT_LE(ours, 2 * base) << name << ": mask disagreement int8 edgeflow vs ORT; unfused edgeflow vs ORT " << base;
      EXPECT_LE(sum / double(ef.numel()), 2 * rel_tol * peak) << name << ": mean|ORT - edgeflow|";
    } else {
      EXPECT_LE(diff, rel_tol * peak) << name << ": max|ORT - edgeflow| " << diff << ", peak " << peak;
    }
  }
  fs::remove_all(dir);
}

TEST(Quantize, OnnxRuntimeRunsTheMobilenetFile) {
  EF_NEED_FILE(mobilenet());
  auto calib = video_frames(kSrc / "data/vtest.avi", 8);
  Quantized q = quantize_model(mobilenet(), calib, kImagenet);
  Tensor x(DType::f32, {1, 3, 224, 224});
  kImagenet(cv::imread((kSrc / "data/messi5.jpg").string()), x);
  expect_ort_matches(q, x, 0.03);
  fs::remove(q.file);
}

TEST(Quantize, OnnxRuntimeRunsTheSelfieSegmentationFile) {
  EF_NEED_FILE(selfie());
  auto calib = video_frames(kSrc / "data/Megamind.avi", 8);
  Quantized q = quantize_model(selfie(), calib, Prep{});
  Tensor x(DType::f32, {1, 256, 256, 3});
  Prep{}(cv::imread((kSrc / "data/messi5.jpg").string()), x);
  expect_ort_matches(q, x, 0.01);
  fs::remove(q.file);
}

// ---- planner rules

TEST(Quantize, KeepFloatFirstLastAndNames) {
  EF_NEED_FILE(mobilenet());
  Graph g = prepare(Model::load(mobilenet().string()));
  Plan all = plan(g, {});
  ASSERT_EQ(all.layers.size(), 64u);  // 52 Conv, 10 Add, 1 GlobalAveragePool, 1 Gemm
  const std::string first = g.nodes[all.layers.front()].name, last = g.nodes[all.layers.back()].name;
  const std::string mid = g.nodes[all.layers[20]].name;
  Plan p = plan(g, Options{.keep_float = {"first", "last", mid}});
  EXPECT_EQ(p.layers.size(), 61u);
  std::set<std::string> kept;
  for (auto& k : p.kept_float) kept.insert(k.name);
  EXPECT_EQ(kept, (std::set<std::string>{first, last, mid}));
  EXPECT_EQ(g.nodes[all.layers.back()].op, "Gemm");
  try {
    plan(g, Options{.keep_float = {"no_such_layer"}});
    FAIL() << "unknown --keep-float name accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no layer named 'no_such_layer'"), std::string::npos) << e.what();
  }
}

// A Conv whose weights are computed at run time has no int8 form here: it
// stays float, is reported with the reason, and the rest is quantized.
TEST(Quantize, LayerThatCannotBeQuantizedIsKeptFloatAndReported) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, 2, 6, 6}, true);
  g.inputs = {x};
  std::vector<float> w1(4 * 2 * 9, 0.1f), w2(3 * 4, 0.2f);
  int wa = g.add_const("wa", Tensor::from<float>({4, 2, 3, 3}, std::span<const float>(w1)));
  int wb = g.add_const("wb", Tensor::from<float>({4, 2, 3, 3}, std::span<const float>(w1)));
  int wsum = g.add_value("wsum", DType::f32, {4, 2, 3, 3}, true);
  g.add_node("Add", "make_weights", {wa, wb}, {wsum});  // not constant-folded: built after prepare
  int y = g.add_value("y", DType::f32, {1, 4, 6, 6}, true);
  Attrs a;
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node("Conv", "dynamic_conv", {x, wsum}, {y}, a);
  int w2v = g.add_const("w2", Tensor::from<float>({3, 4, 1, 1}, std::span<const float>(w2)));
  int z = g.add_value("z", DType::f32, {1, 3, 6, 6}, true);
  g.add_node("Conv", "static_conv", {y, w2v}, {z});
  g.outputs = {z};
  Plan p = plan(g, {});
  ASSERT_EQ(p.kept_float.size(), 1u);
  EXPECT_EQ(p.kept_float[0].name, "dynamic_conv");
  EXPECT_NE(p.kept_float[0].reason.find("not a constant"), std::string::npos) << p.kept_float[0].reason;
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(g.nodes[p.layers[0]].name, "static_conv");
  EXPECT_EQ(p.float_ops.at("Add"), 1);  // constant Add operands: not an int8 layer
}

TEST(Quantize, AlreadyQuantizedModelIsRefused) {
  EF_NEED_FILE(mobilenet());
  auto calib = video_frames(kSrc / "data/vtest.avi", 8);
  Quantized q = quantize_model(mobilenet(), calib, kImagenet);
  try {
    prepare(Model::load(q.file));
    FAIL() << "a QDQ model was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(q.file), std::string::npos) << e.what();
  }
  fs::remove(q.file);
}

}  // namespace
}  // namespace ef::quant
