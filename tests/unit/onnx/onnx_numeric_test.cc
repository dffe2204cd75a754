// Numbers, not just structure: ONNX files exported by PyTorch at several
// opsets run through edgeflow and match PyTorch; the opset-11 coerced Softmax
// rewrite matches a naive reference of the old semantics; exported graphs
// (including NHWC ones) compute the same as the graph they came from.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "edgeflow/session.h"
#include "exporters/onnx/onnx_exporter.h"
#include "model_builder.h"
#include "support/assets.h"

namespace ef::test {

namespace {

std::vector<float> read_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(f.good()) << path;
  std::vector<float> v(size_t(f.tellg()) / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  return v;
}

// |a - b| <= atol + rtol * |b| elementwise.
void expect_close(const Tensor& got, const std::vector<float>& want, float rtol, float atol, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::f32) << what;
  ASSERT_EQ(size_t(got.numel()), want.size()) << what << " shape " << shape_str(got.shape());
  const float* g = got.data_as<float>();
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(g[i] - want[i]) <= atol + rtol * std::fabs(want[i])) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << g[i] << ", want " << want[i];
}

const char* kTorchScript = R"PY(
import sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
out = sys.argv[1]
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 8, 3, padding=1); s.bn = nn.BatchNorm2d(8)
        s.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        s.up = nn.Upsample(scale_factor=2, mode='nearest')
        s.c2 = nn.Conv2d(8, 6, 1); s.fc = nn.Linear(6, 5)
    def forward(s, x):
        y = F.relu6(s.bn(s.c1(x)))
        y = F.relu(s.dw(y))
        y = s.c2(s.up(y))
        a, b = torch.split(y, [2, 4], dim=1)
        y = torch.cat([b, a * 0.5], 1)
        z = y.mean(dim=(2, 3)).unsqueeze(1).squeeze(1)
        return torch.softmax(s.fc(z), dim=1), torch.clamp(y, -0.3, 0.4)
net = Net().eval()
with torch.no_grad():
    net.bn.running_mean.uniform_(-0.5, 0.5); net.bn.running_var.uniform_(0.5, 2.0)
    net.bn.weight.uniform_(0.5, 1.5); net.bn.bias.uniform_(-0.2, 0.2)
x = torch.randn(1, 3, 16, 16)
with torch.no_grad():
    p, y = net(x)
x.numpy().astype(np.float32).tofile(out + "/x.bin")
p.numpy().astype(np.float32).tofile(out + "/p.bin")
y.numpy().astype(np.float32).tofile(out + "/y.bin")
for opset in (9, 10, 11, 13):
    torch.onnx.export(net, x, "%s/net%d.onnx" % (out, opset), opset_version=opset,
                      input_names=["x"], output_names=["p", "y"])
)PY";

class TorchModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::filesystem::temp_directory_path() /
                           ("edgeflow_onnx_torch_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    std::ofstream(*dir_ + "/make.py") << kTorchScript;
    std::string cmd = "/usr/bin/python3 " + *dir_ + "/make.py " + *dir_ + " >" + *dir_ + "/log.txt 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    EF_NEED(ok_, "/usr/bin/python3 with torch (see " + *dir_ + "/log.txt)");
  }
  static std::string* dir_;
  static bool ok_;
};
std::string* TorchModels::dir_ = nullptr;
bool TorchModels::ok_ = false;

void check_against_torch(const Model& m, const std::string& dir, const std::string& what) {
  Session s(m);
  Tensor x = Tensor::from<float>({1, 3, 16, 16}, read_floats(dir + "/x.bin"));
  const auto& out = s.run({x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape(), (Shape{1, 5})) << what;
  EXPECT_EQ(out[1].shape(), (Shape{1, 6, 16, 16})) << what;
  expect_close(out[0], read_floats(dir + "/p.bin"), 1e-4f, 1e-5f, what + " output p");
  expect_close(out[1], read_floats(dir + "/y.bin"), 1e-4f, 1e-5f, what + " output y");
}

}  // namespace

TEST_F(TorchModels, EveryOpsetMatchesPyTorch) {
  for (int opset : {9, 10, 11, 13}) {
    std::string path = *dir_ + "/net" + std::to_string(opset) + ".onnx";
    SCOPED_TRACE(path);
    Model m = Model::load(path);
    EXPECT_EQ(m.graph().opset, opset);
    check_against_torch(m, *dir_, "opset " + std::to_string(opset));
  }
}

TEST_F(TorchModels, ExportedModelsStillMatchPyTorch) {
  for (int opset : {9, 11}) {
    std::string path = *dir_ + "/net" + std::to_string(opset) + ".onnx";
    std::string out = *dir_ + "/net" + std::to_string(opset) + "_export.onnx";
    SCOPED_TRACE(path);
    export_onnx(Model::load(path).graph(), out);
    check_against_torch(Model::load(out), *dir_, "exported from opset " + std::to_string(opset));
    // An optimized (folded, fused, NHWC) session graph exports too.
    Session s(Model::load(path));
    std::string opt = *dir_ + "/net" + std::to_string(opset) + "_optimized.onnx";
    export_onnx(s.graph(), opt);
    check_against_torch(Model::load(opt), *dir_, "optimized graph exported from opset " + std::to_string(opset));
  }
}

// Softmax before opset 13 normalises over the flattened trailing dimensions.
TEST(OnnxNumeric, Opset11SoftmaxCoercedSemantics) {
  ModelBuilder b(11);
  b.input("x", {2, 3, 4});
  attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
  b.output("y");
  Graph g = b.import();
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = std::sin(float(i) * 0.7f) * 3.f;
  std::vector<float> want(24);
  for (int r = 0; r < 2; ++r) {  // rows of the 2 x 12 coerced matrix
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < 12; ++j) mx = std::max(mx, x[r * 12 + j]);
    for (int j = 0; j < 12; ++j) sum += std::exp(x[r * 12 + j] - mx);
    for (int j = 0; j < 12; ++j) want[r * 12 + j] = std::exp(x[r * 12 + j] - mx) / sum;
  }
  Session s(Model::from_graph(g));
  const auto& out = s.run({Tensor::from<float>({2, 3, 4}, x)});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3, 4}));
  expect_close(out[0], want, 1e-5f, 1e-7f, "softmax");
}

// Graph that Session would build from a TFLite file: NHWC spatial ops with
// fused activations; exported to ONNX (NCHW + transposes) and re-imported it
// must compute the same outputs.
TEST(OnnxNumeric, NhwcGraphExportComputesTheSame) {
  Graph g;
  int x = g.add_value("input", DType::f32, {1, 9, 7, 3}, true);
  std::vector<float> w(4 * 3 * 3 * 3), dw(4 * 9), bias = {0.1f, -0.2f, 0.3f, 0.f};
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(float(i)) * 0.3f;
  for (size_t i = 0; i < dw.size(); ++i) dw[i] = std::sin(float(i)) * 0.5f;
  int wv = g.add_const("conv_w", Tensor::from<float>({4, 3, 3, 3}, w));
  int bv = g.add_const("conv_b", Tensor::from<float>({4}, bias));
  int dwv = g.add_const("dw_w", Tensor::from<float>({4, 1, 3, 3}, dw));
  int c1 = g.add_value("c1"), c2 = g.add_value("c2"), p = g.add_value("pool"), out = g.add_value("out");
  Attrs a1;
  a1.set("layout", std::string("NHWC"));
  a1.set("kernel_shape", std::vector<int64_t>{3, 3});
  a1.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a1.set("activation", std::string("relu6"));
  g.add_node("Conv", "conv", {x, wv, bv}, {c1}, a1);
  Attrs a2 = a1;
  a2.set("strides", std::vector<int64_t>{2, 2});
  a2.set("group", int64_t(4));
  a2.set("activation", std::string("hardswish"));
  g.add_node("Conv", "dwconv", {c1, dwv}, {c2}, a2);
  Attrs a3;
  a3.set("layout", std::string("NHWC"));
  g.add_node("GlobalAveragePool", "gap", {c2}, {p}, a3);
  Attrs a5;
  a5.set("activation", std::string("leaky_relu"));
  a5.set("act_alpha", 0.2f);
  g.add_node("Sub", "sub", {c2, p}, {out}, a5);
  g.inputs = {x};
  g.outputs = {out};

  std::vector<float> xin(9 * 7 * 3);
  for (size_t i = 0; i < xin.size(); ++i) xin[i] = std::sin(float(i) * 0.37f) * 4.f;
  Tensor xt = Tensor::from<float>({1, 9, 7, 3}, xin);
  Session ref(Model::from_graph(g));
  Tensor want = ref.run({xt})[0].clone();
  ASSERT_EQ(want.shape(), (Shape{1, 5, 4, 4}));

  std::string bytes = export_onnx_bytes(g);
  Graph back = import_onnx_bytes(bytes.data(), bytes.size(), "nhwc.onnx");
  Session s(Model::from_graph(back));
  const auto& got = s.run({xt});
  ASSERT_EQ(got[0].shape(), want.shape());
  expect_close(got[0], std::vector<float>(want.data_as<float>(), want.data_as<float>() + want.numel()), 1e-5f,
               1e-6f, "nhwc export");
}

}  // namespace ef::test
