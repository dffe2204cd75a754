// Cross-check against PyTorch (an independent implementation of the same
// operators): torch_refs.py writes inputs and torch's outputs into the build
// directory; each case runs the ONNX-equivalent NHWC node through a Session.
// Skips when /usr/bin/python3 with torch is not available.
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include <cstdlib>
#include <filesystem>

#include "edgeflow/npy.h"
#include "spatial_util.h"
#include "support/assets.h"

namespace ef::test {
namespace {

std::string torch_refs_dir() {
  static std::string dir = [] {
    std::string d = std::string(EF_BINARY_DIR) + "/ops_spatial_torch_refs";
    std::string cmd = "/usr/bin/python3 " + std::string(EF_SOURCE_DIR) +
                      "/tests/unit/ops_spatial/torch_refs.py " + d + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return d;
  }();
  return dir;
}

Tensor load(const std::string& name, const char* what) { return load_npy(torch_refs_dir() + "/" + name + "_" + what + ".npy"); }

#define NEED_TORCH() EF_NEED(!torch_refs_dir().empty(), std::string("/usr/bin/python3 with torch"))

std::vector<int64_t> iv(std::initializer_list<int64_t> v) { return v; }

void check(const std::string& name, const std::string& op, std::vector<In> extra, Attrs a, int threads = 1) {
  Tensor x = load(name, "x");
  std::vector<In> ins = {rt("x", to_nhwc(x))};
  for (auto& e : extra) ins.push_back(std::move(e));
  auto r = run_op(op, ins, a, threads);
  EXPECT_TRUE(close(to_nchw(r.y), load(name, "y"))) << name << " (" << r.impl << ")";
}

TEST(TorchCrossCheck, Convolutions) {
  NEED_TORCH();
  Attrs a = nhwc_attrs();
  a.set("pads", iv({1, 2, 0, 1}));
  a.set("strides", iv({2, 1}));
  a.set("dilations", iv({2, 1}));
  a.set("group", int64_t(2));
  check("conv_grouped", "Conv", {cst("w", load("conv_grouped", "w")), cst("b", load("conv_grouped", "b"))}, a);
  Attrs d = nhwc_attrs();
  d.set("pads", iv({1, 1, 1, 1}));
  d.set("strides", iv({2, 2}));
  d.set("group", int64_t(8));
  check("conv_dw", "Conv", {cst("w", load("conv_dw", "w")), cst("b", load("conv_dw", "b"))}, d, 2);
  Attrs t = nhwc_attrs();
  t.set("pads", iv({1, 1, 1, 1}));
  t.set("strides", iv({2, 2}));
  t.set("output_padding", iv({1, 1}));
  check("deconv", "ConvTranspose", {cst("w", load("deconv", "w")), cst("b", load("deconv", "b"))}, t);
  Attrs tg = nhwc_attrs();
  tg.set("pads", iv({1, 1, 1, 1}));
  tg.set("strides", iv({2, 2}));
  tg.set("group", int64_t(2));
  check("deconv_grouped", "ConvTranspose",
        {cst("w", load("deconv_grouped", "w")), cst("b", load("deconv_grouped", "b"))}, tg, 2);
}

TEST(TorchCrossCheck, Pools) {
  NEED_TORCH();
  Attrs m = nhwc_attrs();
  m.set("kernel_shape", iv({3, 3}));
  m.set("strides", iv({2, 2}));
  m.set("pads", iv({1, 1, 1, 1}));
  m.set("dilations", iv({2, 2}));
  m.set("ceil_mode", int64_t(1));
  check("maxpool_ceil", "MaxPool", {}, m);
  Attrs a = nhwc_attrs();
  a.set("kernel_shape", iv({3, 3}));
  a.set("strides", iv({2, 2}));
  a.set("pads", iv({1, 1, 1, 1}));
  a.set("ceil_mode", int64_t(1));
  a.set("count_include_pad", int64_t(1));
  check("avgpool_inc", "AveragePool", {}, a);
  a.set("count_include_pad", int64_t(0));
  check("avgpool_exc", "AveragePool", {}, a, 2);
}

In scales(float sh, float sw) {
  std::vector<float> v = {1.f, sh, sw, 1.f};
  return cst("scales", Tensor::from<float>({4}, v));
}
In sizes(int64_t h, int64_t w, int64_t c) {
  std::vector<int64_t> v = {1, h, w, c};
  return cst("sizes", Tensor::from<int64_t>({4}, v));
}
Attrs rs(const std::string& mode, const std::string& coord, const std::string& nm = "round_prefer_floor") {
  Attrs a = nhwc_attrs();
  a.set("mode", mode);
  a.set("coordinate_transformation_mode", coord);
  a.set("nearest_mode", nm);
  return a;
}

TEST(TorchCrossCheck, Resize) {
  NEED_TORCH();
  check("bilinear_up", "Resize", {none(), scales(2, 2)}, rs("linear", "pytorch_half_pixel"));
  check("bilinear_up", "Resize", {none(), scales(2, 2)}, rs("linear", "half_pixel"), 2);
  check("bilinear_down", "Resize", {none(), none(), sizes(3, 4, 3)}, rs("linear", "pytorch_half_pixel"));
  check("bilinear_ac", "Resize", {none(), none(), sizes(9, 12, 3)}, rs("linear", "align_corners"));
  check("nearest_up", "Resize", {none(), scales(2, 2)}, rs("nearest", "asymmetric", "floor"));
  check("nearest_size", "Resize", {none(), none(), sizes(7, 13, 3)}, rs("nearest", "asymmetric", "floor"));
  check("nearest_exact", "Resize", {none(), none(), sizes(8, 11, 3)}, rs("nearest", "half_pixel", "round_prefer_ceil"));
  check("nearest_exact", "Resize", {none(), none(), sizes(8, 11, 3)}, rs("nearest", "tf_half_pixel_for_nn", "floor"));
}

TEST(TorchCrossCheck, PixelShuffleAndSoftmax) {
  NEED_TORCH();
  Attrs d = nhwc_attrs();
  d.set("blocksize", int64_t(2));
  d.set("mode", std::string("CRD"));
  check("pixel_shuffle", "DepthToSpace", {}, d);
  Attrs s;
  s.set("axis", int64_t(1));
  auto r = run_op("Softmax", {rt("x", load("softmax_c", "x"))}, s);
  EXPECT_TRUE(close(r.y, load("softmax_c", "y")));
}

}  // namespace
}  // namespace ef::test
