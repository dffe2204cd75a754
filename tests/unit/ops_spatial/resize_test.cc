// Resize (nearest, linear) in every supported coordinate mode, against a naive
// NCHW reference written from the ONNX operator definition (linear: the
// source coordinate is clamped to [0, in-1], as ONNX Runtime does).
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include "spatial_util.h"

namespace ef::test {
namespace {

double src_coord(const std::string& mode, int64_t o, double scale, int64_t in, int64_t out) {
  if (mode == "half_pixel") return (o + 0.5) / scale - 0.5;
  if (mode == "pytorch_half_pixel") return out > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
  if (mode == "align_corners") return out == 1 ? 0.0 : double(o) * (in - 1) / double(out - 1);
  if (mode == "asymmetric") return o / scale;
  if (mode == "tf_half_pixel_for_nn") return (o + 0.5) / scale;
  ADD_FAILURE() << mode;
  return 0;
}

int64_t round_nearest(const std::string& nm, double x, int64_t in) {
  double r;
  if (nm == "floor") r = std::floor(x);
  else if (nm == "ceil") r = std::ceil(x);
  else if (nm == "round_prefer_ceil") r = (x - std::floor(x) == 0.5) ? std::ceil(x) : std::round(x);
  else r = (x - std::floor(x) == 0.5) ? std::floor(x) : std::round(x);
  return std::clamp<int64_t>(int64_t(r), 0, in - 1);
}

// x NCHW; scales along H and W as ONNX passes them (out/in)
Tensor resize_ref(const Tensor& x, int64_t oh, int64_t ow, double sh, double sw, const std::string& mode,
                  const std::string& coord, const std::string& nm) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor y(DType::f32, {N, C, oh, ow});
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const float* img = x.data_as<float>() + nc * H * W;
        double fy = src_coord(coord, oy, sh, H, oh), fx = src_coord(coord, ox, sw, W, ow);
        double v;
        if (mode == "nearest") {
          v = img[round_nearest(nm, fy, H) * W + round_nearest(nm, fx, W)];
        } else {
          fy = std::clamp(fy, 0.0, double(H - 1));
          fx = std::clamp(fx, 0.0, double(W - 1));
          int64_t y0 = int64_t(std::floor(fy)), x0 = int64_t(std::floor(fx));
          int64_t y1 = std::min(y0 + 1, H - 1), x1 = std::min(x0 + 1, W - 1);
          double dy = fy - y0, dx = fx - x0;
          v = img[y0 * W + x0] * (1 - dy) * (1 - dx) + img[y0 * W + x1] * (1 - dy) * dx +
              img[y1 * W + x0] * dy * (1 - dx) + img[y1 * W + x1] * dy * dx;
        }
        y.data_as<float>()[(nc * oh + oy) * ow + ox] = float(v);
      }
  return y;
}

Attrs resize_attrs(const std::string& mode, const std::string& coord, const std::string& nm) {
  Attrs a = nhwc_attrs();
  a.set("mode", mode);
  a.set("coordinate_transformation_mode", coord);
  a.set("nearest_mode", nm);
  return a;
}

TEST(Resize, EveryModeWithScalesAndSizes) {
  const std::vector<std::string> coords = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                           "tf_half_pixel_for_nn"};
  const std::vector<std::string> nearest = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  struct Geo {
    Shape x;
    float sh, sw;  // scales (used when use_sizes is false)
    int64_t oh, ow;  // sizes
  };
  std::vector<Geo> geos = {{{1, 3, 5, 7}, 2.f, 2.f, 10, 14},  {{2, 2, 4, 6}, 1.5f, 0.5f, 6, 3},
                           {{1, 4, 7, 5}, 3.f, 1.f, 21, 5},   {{1, 1, 6, 9}, 0.5f, 0.75f, 3, 6},
                           {{1, 5, 3, 3}, 1.f, 1.f, 1, 1}};
  int iter = 0, xnn = 0;
  for (const auto& geo : geos)
    for (const std::string& mode : {std::string("nearest"), std::string("linear")})
      for (const auto& coord : coords) {
        if (mode == "linear" && coord == "tf_half_pixel_for_nn") continue;
        for (const auto& nm : mode == "nearest" ? nearest : std::vector<std::string>{"round_prefer_floor"})
          for (bool use_sizes : {false, true}) {
            ++iter;
            Tensor x = random_tensor(geo.x, 70 + iter);
            Tensor xh = to_nhwc(x);
            int64_t oh = use_sizes ? geo.oh : int64_t(std::floor(geo.sh * geo.x[2]));
            int64_t ow = use_sizes ? geo.ow : int64_t(std::floor(geo.sw * geo.x[3]));
            double sh = use_sizes ? double(oh) / geo.x[2] : geo.sh;
            double sw = use_sizes ? double(ow) / geo.x[3] : geo.sw;
            if (use_sizes && geo.oh == 1) sh = 1.0 / geo.x[2], sw = 1.0 / geo.x[3];
            std::vector<In> ins = {rt("x", xh), none()};
            if (use_sizes) {
              ins.push_back(none());
              std::vector<int64_t> sz = {geo.x[0], oh, ow, geo.x[1]};
              ins.push_back(cst("sizes", Tensor::from<int64_t>({4}, sz)));
            } else {
              std::vector<float> sc = {1.f, geo.sh, geo.sw, 1.f};
              ins.push_back(cst("scales", Tensor::from<float>({4}, sc)));
            }
            SCOPED_TRACE(mode + " " + coord + " " + nm + " " + shape_str(geo.x) +
                         (use_sizes ? " sizes" : " scales"));
            auto r = run_op("Resize", ins, resize_attrs(mode, coord, nm), 1 + iter % 2);
            xnn += r.impl == "xnnpack";
            EXPECT_TRUE(close(to_nchw(r.y), resize_ref(x, oh, ow, sh, sw, mode, coord, nm)));
          }
      }
  EXPECT_GT(xnn, 0);
}

TEST(Resize, NchwGraph) {
  Tensor x = random_tensor({1, 3, 5, 6}, 8);
  std::vector<float> sc = {1.f, 1.f, 2.f, 1.5f};
  Attrs a = resize_attrs("linear", "half_pixel", "round_prefer_floor");
  a.erase("layout");
  auto r = run_op("Resize", {rt("x", x), none(), cst("scales", Tensor::from<float>({4}, sc))}, a, 2);
  EXPECT_TRUE(close(r.y, resize_ref(x, 10, 9, 2.0, 1.5, "linear", "half_pixel", "")));
}

TEST(Resize, EmptyRoiAndScalesInputsAreIgnored) {
  Tensor x = random_tensor({1, 2, 4, 4}, 5);
  std::vector<int64_t> sz = {1, 8, 8, 2};
  Tensor empty(DType::f32, {0});
  auto r = run_op("Resize", {rt("x", to_nhwc(x)), cst("roi", empty), cst("scales", empty.clone()),
                             cst("sizes", Tensor::from<int64_t>({4}, sz))},
                  resize_attrs("nearest", "asymmetric", "floor"));
  EXPECT_TRUE(close(to_nchw(r.y), resize_ref(x, 8, 8, 2, 2, "nearest", "asymmetric", "floor")));
}

}  // namespace
}  // namespace ef::test
