// train/qat (quantization-aware fine-tuning, Python) on a small model built
// here: its torch interpreter against edgeflow (float: tight; QDQ: within 2
// LSB of the last int8 tensor, through the last layer), fine-tuning that
// lowers the int8-vs-float error on held-out inputs below the PTQ file's
// with the file's structure unchanged, and clear errors for bad input.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "edgeflow/npy.h"
#include "exporters/onnx/onnx_exporter.h"
#include "quant/quantize.h"
#include "support/assets.h"

namespace ef::quant {
namespace {
namespace fs = std::filesystem;

const fs::path kQat = fs::path(EF_SOURCE_DIR) / "train/qat";
constexpr int64_t kH = 32, kW = 32;

bool have_torch() { return std::system("/usr/bin/python3 -c 'import torch, onnx' >/dev/null 2>&1") == 0; }

// Runs a command; returns its exit status and its output (stdout + stderr).
std::pair<int, std::string> sh(const std::string& cmd, const fs::path& log) {
  const int rc = std::system((cmd + " >'" + log.string() + "' 2>&1").c_str());
  std::ifstream f(log);
  std::stringstream ss;
  ss << f.rdbuf();
  return {rc, ss.str()};
}

Tensor random_tensor(Shape s, std::mt19937& rng, float scale) {
  Tensor t(DType::f32, s);
  std::normal_distribution<float> d(0.f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = d(rng);
  return t;
}

// 1x3x32x32 -> Conv 3x3/2 (16) + Relu -> depthwise 3x3 + Relu -> Conv 1x1 (16)
// -> Add (residual) -> Conv 1x1 (4): the shapes of a small segmentation head.
// `tail` adds Tanh after the last Conv (an op train/qat does not know);
// `head` sets the last Conv's output channels.
Graph small_model(uint32_t seed, bool tail = false, int64_t head = 4) {
  std::mt19937 rng(seed);
  Graph g;
  const int x = g.add_value("x", DType::f32, {1, 3, kH, kW}, true);
  g.inputs = {x};
  auto conv = [&](int in, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group, int64_t hw,
                  const std::string& name) {
    const int w = g.add_const(name + "_w", random_tensor({cout, cin / group, k, k}, rng, 1.f / std::sqrt(float(cin / group * k * k))));
    const int b = g.add_const(name + "_b", random_tensor({cout}, rng, 0.1f));
    const int y = g.add_value(name, DType::f32, {1, cout, hw, hw}, true);
    Attrs a;
    const int64_t p = k / 2;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{p, p, p, p});
    a.set("group", group);
    g.add_node("Conv", name, {in, w, b}, {y}, a);
    return y;
  };
  auto unary = [&](const std::string& op, int in, const std::string& name) {
    const int y = g.add_value(name, DType::f32, g.values[in].shape, true);
    g.add_node(op, name, {in}, {y});
    return y;
  };
  const int a = unary("Relu", conv(x, 3, 16, 3, 2, 1, kH / 2, "stem"), "stem_relu");
  const int d = unary("Relu", conv(a, 16, 16, 3, 1, 16, kH / 2, "dw"), "dw_relu");
  const int p = conv(d, 16, 16, 1, 1, 1, kH / 2, "pw");
  const int s = g.add_value("sum", DType::f32, {1, 16, kH / 2, kW / 2}, true);
  g.add_node("Add", "residual", {p, a}, {s});
  int y = conv(s, 16, head, 1, 1, 1, kH / 2, "head");
  if (tail) y = unary("Tanh", y, "tanh");
  g.outputs = {y};
  return g;
}

// Smooth image-like inputs in [0, 1]: random gradients and blobs per channel.
Tensor frames(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Tensor t(DType::f32, {n, 3, kH, kW});
  float* d = t.data_as<float>();
  for (int f = 0; f < n; ++f)
    for (int c = 0; c < 3; ++c) {
      const float a = u(rng), gx = u(rng) - 0.5f, gy = u(rng) - 0.5f, cx = u(rng) * kW, cy = u(rng) * kH,
                  r = 3 + 8 * u(rng), amp = u(rng) - 0.5f;
      for (int64_t y = 0; y < kH; ++y)
        for (int64_t x = 0; x < kW; ++x) {
          const float blob = amp * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r));
          d[((f * 3 + c) * kH + y) * kW + x] = std::clamp(a + gx * x / kW + gy * y / kH + blob, 0.f, 1.f);
        }
    }
  return t;
}

// Frame i of `all` into the session's input.
void fill(Session& s, const Tensor& all, int64_t i) {
  const int64_t n = all.numel() / all.dim(0);
  ASSERT_EQ(s.input(0).numel(), n);
  std::copy_n(all.data_as<float>() + i * n, n, s.input(0).data_as<float>());
}

// Outputs of `model` run by edgeflow on every frame, stacked on axis 0.
Tensor run_all(const std::string& model, const Tensor& in) {
  Session s(Model::load(model));
  std::vector<float> out;
  Shape shape;
  for (int64_t i = 0; i < in.dim(0); ++i) {
    fill(s, in, i);
    s.run();
    const Tensor& y = s.output(0);
    shape = y.shape();
    out.insert(out.end(), y.data_as<float>(), y.data_as<float>() + y.numel());
  }
  shape[0] = in.dim(0);
  return Tensor::from<float>(shape, std::span<const float>(out));
}

double mse(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += std::pow(double(a.data_as<float>()[i]) - b.data_as<float>()[i], 2);
  return s / double(a.numel());
}

// The small model (float and PTQ QDQ file: minmax ranges on 64 training
// frames) and 32 held-out frames, in a temporary directory.
struct Files {
  fs::path dir, fp, qdq, train, held;
};

const Files& files() {
  static struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup;
  static const Files f = [] {
    Files r;
    r.dir = fs::temp_directory_path() / ("ef_qat_" + std::to_string(::getpid()));
    fs::create_directories(r.dir);
    r.fp = r.dir / "small.onnx", r.qdq = r.dir / "small.int8.onnx";
    r.train = r.dir / "train.npy", r.held = r.dir / "held.npy";
    export_onnx(small_model(7), r.fp.string());
    const Tensor train = frames(64, 1), held = frames(32, 2);
    save_npy(r.train.string(), train);
    save_npy(r.held.string(), held);
    Graph g = prepare(Model::load(r.fp.string()));
    Options o;
    Plan p = plan(g, o);
    auto fill_train = [&train](size_t i, Session& s) { fill(s, train, int64_t(i)); };
    Calibration cal = calibrate(g, p, size_t(train.dim(0)), fill_train, o);
    export_onnx(build_qdq(g, p, cal.stats, o), r.qdq.string());
    return r;
  }();
  cleanup.dir = f.dir;
  return f;
}

std::string py(const std::string& script) { return "/usr/bin/python3 '" + (kQat / script).string() + "' "; }

TEST(Qat, InterpreterMatchesEdgeflowFloatAndInt8) {
  EF_NEED(have_torch(), std::string("/usr/bin/python3 with torch and onnx"));
  const Files& f = files();
  const Tensor held = load_npy(f.held.string());
  for (const fs::path& model : {f.fp, f.qdq}) {
    const fs::path out = f.dir / (model.stem().string() + "_interp");
    auto [rc, log] = sh(py("interpret.py") + "'" + model.string() + "' '" + f.held.string() + "' '" + out.string() + "'",
                        f.dir / "interp.log");
    ASSERT_EQ(rc, 0) << log;
    const Tensor torch_out = load_npy((out / "head.npy").string()), ef_out = run_all(model.string(), held);
    ASSERT_EQ(torch_out.shape(), ef_out.shape());
    double tol = 1e-4;  // float: summation order only
    if (model == f.qdq) {
      // 2 LSB of the head's int8 input, through the head: 2 * s_in * max_c sum|w_c|.
      Graph g = Model::load(f.qdq.string()).graph();
      const Node* head = nullptr;
      for (const Node& n : g.nodes)
        if (n.name == "head") head = &n;
      ASSERT_NE(head, nullptr);
      const Node& dq_in = g.nodes.at(g.values[head->inputs[0]].producer);
      const Node& dq_w = g.nodes.at(g.values[head->inputs[1]].producer);
      const float s_in = g.in(dq_in, 1).data.data_as<float>()[0];
      const Tensor& wq = g.in(dq_w, 0).data;
      const Tensor& ws = g.in(dq_w, 1).data;
      double gain = 0;
      for (int64_t c = 0; c < wq.dim(0); ++c) {
        double sum = 0;
        for (int64_t k = 0; k < wq.numel() / wq.dim(0); ++k)
          sum += std::fabs(wq.data_as<int8_t>()[c * (wq.numel() / wq.dim(0)) + k] * ws.data_as<float>()[c]);
        gain = std::max(gain, sum);
      }
      tol = 2 * s_in * gain;
    }
    double worst = 0;
    for (int64_t i = 0; i < ef_out.numel(); ++i)
      worst = std::max(worst, double(std::fabs(torch_out.data_as<float>()[i] - ef_out.data_as<float>()[i])));
    EXPECT_LE(worst, tol) << model;
  }
}

TEST(Qat, FineTuningLowersTheInt8ErrorOnHeldOutInputs) {
  EF_NEED(have_torch(), std::string("/usr/bin/python3 with torch and onnx"));
  const Files& f = files();
  const fs::path out = f.dir / "small.qat.onnx";
  auto [rc, log] = sh(py("qat.py") + "'" + f.fp.string() + "' '" + f.qdq.string() + "' '" + f.train.string() + "' '" +
                          out.string() + "' --steps 400 --batch 8 --lr 3e-4 --threads 1",
                      f.dir / "qat.log");
  ASSERT_EQ(rc, 0) << log;
  const Tensor held = load_npy(f.held.string());
  const Tensor ref = run_all(f.fp.string(), held);
  const double ptq = mse(ref, run_all(f.qdq.string(), held)), qat = mse(ref, run_all(out.string(), held));
  EXPECT_LT(qat, 0.8 * ptq) << "int8-vs-float MSE on held-out inputs: PTQ " << ptq << ", QAT " << qat << "\n" << log;

  // Same file structure: nodes, initializer names, types and shapes; only values change.
  auto load = [](const fs::path& p) {
    onnx::ModelProto m;
    std::ifstream in(p, std::ios::binary);
    m.ParseFromIstream(&in);
    return m;
  };
  const onnx::ModelProto a = load(f.qdq), b = load(out);
  ASSERT_EQ(a.graph().node_size(), b.graph().node_size());
  for (int i = 0; i < a.graph().node_size(); ++i)
    EXPECT_EQ(a.graph().node(i).SerializeAsString(), b.graph().node(i).SerializeAsString()) << i;
  ASSERT_EQ(a.graph().initializer_size(), b.graph().initializer_size());
  int changed = 0;
  for (int i = 0; i < a.graph().initializer_size(); ++i) {
    const auto &x = a.graph().initializer(i), &y = b.graph().initializer(i);
    EXPECT_EQ(x.name(), y.name());
    EXPECT_EQ(x.data_type(), y.data_type()) << x.name();
    EXPECT_EQ(x.dims().size(), y.dims().size()) << x.name();
    if (x.data_type() == onnx::TensorProto::FLOAT) EXPECT_EQ(x.raw_data(), y.raw_data()) << x.name() << ": a scale changed";
    changed += x.raw_data() != y.raw_data();
  }
  EXPECT_GT(changed, 0);
}

TEST(Qat, BadInputGivesAClearError) {
  EF_NEED(have_torch(), std::string("/usr/bin/python3 with torch and onnx"));
  const Files& f = files();
  const fs::path out = f.dir / "bad.onnx", tanh = f.dir / "tanh.onnx", other = f.dir / "other.onnx";
  export_onnx(small_model(7, true), tanh.string());
  export_onnx(small_model(7, false, 8), other.string());
  auto qat = [&](const fs::path& fp, const fs::path& qdq, const fs::path& frames) {
    return sh(py("qat.py") + "'" + fp.string() + "' '" + qdq.string() + "' '" + frames.string() + "' '" + out.string() +
                  "' --steps 1",
              f.dir / "bad.log");
  };
  auto expect_error = [&](std::pair<int, std::string> r, const std::string& what) {
    EXPECT_NE(r.first, 0) << r.second;
    EXPECT_NE(r.second.find(what), std::string::npos) << "expected '" << what << "' in:\n" << r.second;
    EXPECT_EQ(r.second.find("Traceback"), std::string::npos) << r.second;
  };
  expect_error(qat(tanh, f.qdq, f.train), "op Tanh");                   // an op the interpreter does not know
  expect_error(qat(other, f.qdq, f.train), "does not match");            // the QDQ file of another model
  expect_error(qat(f.fp, f.fp, f.train), "not a QDQ file");              // the float file twice
  save_npy((f.dir / "wrong.npy").string(), Tensor(DType::f32, {2, 3, 16, 16}));
  expect_error(qat(f.fp, f.qdq, f.dir / "wrong.npy"), "model input is");  // frames of another size
  expect_error(qat(f.fp, f.qdq, f.dir / "eval.npy"), "held-out");        // the held-out frames
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace ef::quant
