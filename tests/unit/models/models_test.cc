// Whole models against PyTorch: torchvision mobilenet_v2 and resnet18 and a
// small segmentation net (SpaceToDepth stem, depthwise/grouped/dilated convs,
// Concat skips, Resize, PixelShuffle head), exported by
// tools/make_test_models.py with seeded random weights and randomized
// BatchNorm statistics. The files live in $EF_MODELS_DIR (default
// <source>/.cache/models, made by `./x setup`); the tests skip when absent.
//
// Metric: rel = max_i |out_i - ref_i| / max_i |ref_i|  must be <= 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>

#include "edgeflow/npy.h"
#include "edgeflow/session.h"
#include "support/assets.h"

namespace ef {
namespace {

constexpr double kRelTol = 1e-4;

std::string models_dir() { return test::onnx_models_dir().string(); }

struct Case {
  std::string model;
  int threads;
  bool optimize;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " threads=" << c.threads << (c.optimize ? "" : " optimize=false");
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return info.param.model + "_t" + std::to_string(info.param.threads) + (info.param.optimize ? "" : "_noopt");
}

struct Diff {
  double max_abs = 0, max_ref = 0;
  int64_t worst = 0;
  double rel() const { return max_ref > 0 ? max_abs / max_ref : max_abs; }
};

Diff compare(const Tensor& out, const Tensor& ref) {
  Diff d;
  const float* a = out.data_as<float>();
  const float* b = ref.data_as<float>();
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double e = std::fabs(double(a[i]) - double(b[i]));
    if (!(e <= d.max_abs)) {  // also catches NaN
      d.max_abs = std::isnan(e) ? INFINITY : e;
      d.worst = i;
    }
    d.max_ref = std::max(d.max_ref, std::fabs(double(b[i])));
  }
  return d;
}

class WholeModel : public testing::TestWithParam<Case> {};

TEST_P(WholeModel, MatchesPyTorch) {
  const Case& c = GetParam();
  namespace fs = std::filesystem;
  fs::path dir = models_dir();
  fs::path onnx = dir / (c.model + ".onnx"), in = dir / (c.model + ".input.npy"),
           ref_path = dir / (c.model + ".output.npy");
  EF_NEED_FILE(onnx);
  EF_NEED_FILE(in);
  EF_NEED_FILE(ref_path);

  Model model = Model::load(onnx.string());
  CompileOptions opt;
  opt.threads = c.threads;
  opt.optimize = c.optimize;
  Session s(model, opt);
  ASSERT_EQ(s.num_inputs(), 1u);
  ASSERT_EQ(s.num_outputs(), 1u);

  Tensor x = load_npy(in.string());
  Tensor ref = load_npy(ref_path.string());
  const auto& outs = s.run({x});
  ASSERT_EQ(outs.size(), 1u);
  ASSERT_EQ(outs[0].dtype(), DType::f32);
  ASSERT_EQ(shape_str(outs[0].shape()), shape_str(ref.shape()));
  Diff d = compare(outs[0], ref);
  std::printf("  %s threads=%d%s: max|a-b| / max|ref| = %.3g (max|ref| %.4g)\n", c.model.c_str(), c.threads,
              c.optimize ? "" : " optimize=false", d.rel(), d.max_ref);
  EXPECT_LE(d.rel(), kRelTol) << c.model << " threads=" << c.threads << ": max|a-b| " << d.max_abs
                              << " at flat index " << d.worst << " (got " << outs[0].data_as<float>()[d.worst]
                              << ", want " << ref.data_as<float>()[d.worst] << "), max|ref| " << d.max_ref;

  // A second run on the same session (arena reused) gives identical results.
  Tensor first = outs[0].clone();
  const auto& again = s.run({x});
  EXPECT_EQ(std::memcmp(first.data(), again[0].data(), first.nbytes()), 0) << "second run differs";

  if (c.optimize) {
    const OptimizeReport& r = s.report();
    EXPECT_GT(r.bn_folded, 0) << "the exported model keeps its BatchNormalization nodes; none was folded";
    EXPECT_GT(r.act_fused, 0) << "no activation was fused";
    if (c.model == "segnet") EXPECT_GT(r.folded, 0) << "segnet's Shape->Slice->Concat size chain was not folded";
    if (c.model == "resnet18" && __builtin_cpu_supports("avx512f")) {  // the residual path above is the fused one
      int residual_convs = 0;
      for (const Node& n : s.graph().nodes) residual_convs += n.op == "Conv" && Graph::has_input(n, 3);
      EXPECT_EQ(residual_convs, 8) << "resnet18's residual Adds were not fused into their convolutions";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, WholeModel,
                         testing::Values(Case{"mobilenet_v2", 1, true}, Case{"mobilenet_v2", 2, true},
                                         Case{"mobilenet_v2", 1, false}, Case{"resnet18", 1, true},
                                         Case{"resnet18", 2, true}, Case{"resnet18", 1, false},
                                         Case{"segnet", 1, true}, Case{"segnet", 2, true},
                                         Case{"segnet", 1, false}),
                         case_name);

// A model file that is not there is a clear error naming the file.
TEST(WholeModelErrors, MissingFileNamesIt) {
  try {
    Model::load("/nonexistent/dir/model.onnx");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef
