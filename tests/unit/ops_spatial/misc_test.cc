// DepthToSpace, SpaceToDepth, Softmax, BatchNormalization against naive
// references; NCHW shape inference; error messages.
// Tolerance: 1e-4 relative + 1e-5 absolute (spatial_util.h).
#include "spatial_util.h"
#include "support/errors.h"

namespace ef::test {
namespace {

// ONNX definitions in NCHW via index arithmetic of the reshape/transpose:
// DCR: [N, b, b, C', H, W] -> transpose(0,3,4,1,5,2); CRD: [N, C', b, b, H, W] -> (0,1,4,2,5,3)
Tensor d2s_ref(const Tensor& x, int64_t b, bool crd) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), Co = C / (b * b);
  Tensor y(DType::f32, {N, Co, H * b, W * b});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < Co; ++c)
      for (int64_t yy = 0; yy < H * b; ++yy)
        for (int64_t xx = 0; xx < W * b; ++xx) {
          int64_t by = yy % b, bx = xx % b;
          int64_t ci = crd ? c * b * b + by * b + bx : (by * b + bx) * Co + c;
          y.data_as<float>()[((n * Co + c) * H * b + yy) * W * b + xx] =
              x.data_as<float>()[((n * C + ci) * H + yy / b) * W + xx / b];
        }
  return y;
}

// SpaceToDepth: [N, C, H/b, b, W/b, b] -> transpose(0,3,5,1,2,4)
Tensor s2d_ref(const Tensor& x, int64_t b) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor y(DType::f32, {N, C * b * b, H / b, W / b});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t by = 0; by < b; ++by)
      for (int64_t bx = 0; bx < b; ++bx)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t yy = 0; yy < H / b; ++yy)
            for (int64_t xx = 0; xx < W / b; ++xx)
              y.data_as<float>()[((n * C * b * b + (by * b + bx) * C + c) * (H / b) + yy) * (W / b) + xx] =
                  x.data_as<float>()[((n * C + c) * H + yy * b + by) * W + xx * b + bx];
  return y;
}

TEST(DepthSpace, DepthToSpaceBothModes) {
  int iter = 0;
  for (int64_t b : {2, 3})
    for (bool crd : {false, true}) {
      ++iter;
      Tensor x = random_tensor({2, 3 * b * b, 3, 5}, iter);
      Attrs a = nhwc_attrs();
      a.set("blocksize", b);
      a.set("mode", std::string(crd ? "CRD" : "DCR"));
      auto r = run_op("DepthToSpace", {rt("x", to_nhwc(x))}, a, 1 + iter % 2);
      EXPECT_EQ(r.impl, crd ? "ref" : "xnnpack");
      EXPECT_TRUE(close(to_nchw(r.y), d2s_ref(x, b, crd))) << "b " << b << " crd " << crd;
    }
}

TEST(DepthSpace, NchwGraphs) {
  Tensor x = random_tensor({1, 12, 3, 4}, 21);
  Attrs a;
  a.set("blocksize", int64_t(2));
  a.set("mode", std::string("CRD"));
  EXPECT_TRUE(close(run_op("DepthToSpace", {rt("x", x)}, a).y, d2s_ref(x, 2, true)));
  Attrs s;
  s.set("blocksize", int64_t(2));
  Tensor x2 = random_tensor({1, 3, 6, 4}, 22);
  EXPECT_TRUE(close(run_op("SpaceToDepth", {rt("x", x2)}, s).y, s2d_ref(x2, 2)));
}

TEST(DepthSpace, SpaceToDepth) {
  for (int64_t b : {2, 3}) {
    Tensor x = random_tensor({2, 3, 3 * b, 2 * b}, 7 + int(b));
    Attrs a = nhwc_attrs();
    a.set("blocksize", b);
    auto r = run_op("SpaceToDepth", {rt("x", to_nhwc(x))}, a, int(b) - 1);
    EXPECT_TRUE(close(to_nchw(r.y), s2d_ref(x, b))) << "b " << b;
  }
}

Tensor softmax_ref(const Tensor& x, int axis) {
  const Shape& s = x.shape();
  if (axis < 0) axis += int(s.size());
  int64_t outer = 1, d = s[axis], inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  Tensor y(DType::f32, s);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double m = -INFINITY, sum = 0;
      for (int64_t k = 0; k < d; ++k) m = std::max<double>(m, x.data_as<float>()[(o * d + k) * inner + i]);
      for (int64_t k = 0; k < d; ++k) sum += std::exp(x.data_as<float>()[(o * d + k) * inner + i] - m);
      for (int64_t k = 0; k < d; ++k)
        y.data_as<float>()[(o * d + k) * inner + i] = float(std::exp(x.data_as<float>()[(o * d + k) * inner + i] - m) / sum);
    }
  return y;
}

TEST(Softmax, EveryAxis) {
  Tensor x = random_tensor({2, 3, 5, 7}, 31, -6.f, 6.f);
  for (int axis = -4; axis < 4; ++axis) {
    Attrs a;
    a.set("axis", int64_t(axis));
    auto r = run_op("Softmax", {rt("x", x)}, a, 1 + (axis & 1));
    EXPECT_TRUE(close(r.y, softmax_ref(x, axis))) << "axis " << axis;
    if (axis == -1 || axis == 3) EXPECT_EQ(r.impl, "xnnpack");
  }
  Tensor v = random_tensor({1000}, 32, -20.f, 20.f);
  EXPECT_TRUE(close(run_op("Softmax", {rt("x", v)}, {}).y, softmax_ref(v, 0)));
}

TEST(BatchNorm, NhwcAndTwoDimensional) {
  const int64_t C = 5;
  Tensor scale = random_tensor({C}, 1), bias = random_tensor({C}, 2), mean = random_tensor({C}, 3);
  Tensor var = random_tensor({C}, 4, 0.1f, 2.f);
  const float eps = 1e-3f;
  auto ref = [&](const Tensor& x) {  // NCHW or [N, C]
    Tensor y(DType::f32, x.shape());
    int64_t inner = x.numel() / (x.dim(0) * C);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t c = (i / inner) % C;
      double v = (x.data_as<float>()[i] - mean.data_as<float>()[c]) / std::sqrt(double(var.data_as<float>()[c]) + eps);
      y.data_as<float>()[i] = float(v * scale.data_as<float>()[c] + bias.data_as<float>()[c]);
    }
    return y;
  };
  Attrs a = nhwc_attrs();
  a.set("epsilon", eps);
  Tensor x = random_tensor({2, C, 6, 7}, 5);
  for (int threads : {1, 2}) {
    auto r = run_op("BatchNormalization",
                    {rt("x", to_nhwc(x)), cst("s", scale), cst("b", bias), cst("m", mean), cst("v", var)}, a, threads);
    EXPECT_TRUE(close(to_nchw(r.y), ref(x)));
    // runtime parameters
    auto r2 = run_op("BatchNormalization",
                     {rt("x", to_nhwc(x)), rt("s", scale), rt("b", bias), rt("m", mean), rt("v", var)}, a, threads);
    EXPECT_TRUE(close(to_nchw(r2.y), ref(x)));
  }
  Attrs a2;
  a2.set("epsilon", eps);
  Tensor x2 = random_tensor({3, C}, 6);
  auto r = run_op("BatchNormalization", {rt("x", x2), cst("s", scale), cst("b", bias), cst("m", mean), cst("v", var)},
                  a2);
  EXPECT_TRUE(close(r.y, ref(x2)));
}

// ---- shape inference on NCHW graphs (no layout attribute)
Shape infer_one(const std::string& op, const std::vector<std::pair<Shape, bool>>& ins, Attrs attrs,
                Attrs* attrs_out = nullptr) {
  Graph g;
  std::vector<int> ids;
  int k = 0;
  for (auto& [s, is_const] : ins) {
    std::string name = "in" + std::to_string(k++);
    if (is_const) ids.push_back(g.add_const(name, Tensor(DType::f32, s)));
    else {
      ids.push_back(g.add_value(name, DType::f32, s, true));
      g.inputs.push_back(ids.back());
    }
  }
  int y = g.add_value("y");
  g.add_node(op, "n1", ids, {y}, attrs);
  g.outputs = {y};
  infer_shapes(g);
  if (attrs_out) *attrs_out = g.nodes[0].attrs;
  return g.values[g.find_value("y")].shape;
}

std::vector<int64_t> iv(std::initializer_list<int64_t> v) { return v; }

TEST(ShapeInference, ConvFamilyNchw) {
  Attrs a;
  a.set("strides", iv({2, 2}));
  a.set("auto_pad", std::string("SAME_UPPER"));
  Attrs got;
  EXPECT_EQ(infer_one("Conv", {{{1, 3, 9, 8}, false}, {{16, 3, 3, 3}, true}}, a, &got), (Shape{1, 16, 5, 4}));
  EXPECT_FALSE(got.has("auto_pad"));
  EXPECT_EQ(got.ints("pads"), iv({1, 0, 1, 1}));  // H: total 2 -> 1/1; W: total 1 -> 0/1
  a.set("auto_pad", std::string("SAME_LOWER"));
  infer_one("Conv", {{{1, 3, 9, 8}, false}, {{16, 3, 3, 3}, true}}, a, &got);
  EXPECT_EQ(got.ints("pads"), iv({1, 1, 1, 0}));
  Attrs dw;
  dw.set("group", int64_t(8));
  dw.set("dilations", iv({2, 2}));
  dw.set("pads", iv({2, 2, 2, 2}));
  EXPECT_EQ(infer_one("Conv", {{{2, 8, 10, 11}, false}, {{8, 1, 3, 3}, true}}, dw), (Shape{2, 8, 10, 11}));
  Attrs ct;
  ct.set("strides", iv({2, 2}));
  ct.set("pads", iv({1, 1, 1, 1}));
  ct.set("output_padding", iv({1, 1}));
  EXPECT_EQ(infer_one("ConvTranspose", {{{1, 4, 5, 6}, false}, {{4, 3, 3, 3}, true}}, ct), (Shape{1, 3, 10, 12}));
  Attrs ct2;
  ct2.set("group", int64_t(2));
  ct2.set("output_shape", iv({9, 9}));
  ct2.set("strides", iv({2, 2}));
  EXPECT_EQ(infer_one("ConvTranspose", {{{1, 4, 4, 4}, false}, {{4, 3, 3, 3}, true}}, ct2, &got),
            (Shape{1, 6, 9, 9}));
  EXPECT_FALSE(got.has("output_shape"));
  // SAME_UPPER: out = in * stride; the odd padding pixel goes first (ONNX Runtime)
  Attrs ct3;
  ct3.set("strides", iv({2, 2}));
  ct3.set("auto_pad", std::string("SAME_UPPER"));
  EXPECT_EQ(infer_one("ConvTranspose", {{{1, 4, 5, 5}, false}, {{4, 3, 3, 3}, true}}, ct3, &got),
            (Shape{1, 3, 10, 10}));
  EXPECT_EQ(got.ints("pads"), iv({1, 1, 0, 0}));
  EXPECT_FALSE(got.has("auto_pad"));
  // 1-D convolution [N, C, L]
  Attrs c1;
  c1.set("strides", iv({3}));
  c1.set("pads", iv({1, 2}));
  EXPECT_EQ(infer_one("Conv", {{{2, 4, 20}, false}, {{8, 4, 5}, true}}, c1), (Shape{2, 8, 7}));
  // NHWC: channels last
  Attrs nh = nhwc_attrs();
  nh.set("pads", iv({1, 1, 1, 1}));
  EXPECT_EQ(infer_one("Conv", {{{1, 9, 8, 3}, false}, {{16, 3, 3, 3}, true}}, nh), (Shape{1, 9, 8, 16}));
}

TEST(ShapeInference, PoolsResizeLinearNchw) {
  Attrs p;
  p.set("kernel_shape", iv({3, 3}));
  p.set("strides", iv({2, 2}));
  p.set("ceil_mode", int64_t(1));
  EXPECT_EQ(infer_one("MaxPool", {{{1, 8, 112, 112}, false}}, p), (Shape{1, 8, 56, 56}));
  EXPECT_EQ(infer_one("MaxPool", {{{1, 8, 7, 6}, false}}, p), (Shape{1, 8, 3, 3}));
  p.set("pads", iv({1, 1, 1, 1}));
  // in 6, pad 1+1, k3, s2, ceil: ceil(5/2)+1 = 4, last window starts at 6 >= 6+1? no -> 4
  EXPECT_EQ(infer_one("AveragePool", {{{1, 8, 6, 5}, false}}, p), (Shape{1, 8, 4, 3}));
  EXPECT_EQ(infer_one("GlobalAveragePool", {{{2, 8, 6, 5}, false}}, {}), (Shape{2, 8, 1, 1}));
  EXPECT_EQ(infer_one("GlobalMaxPool", {{{2, 6, 5, 8}, false}}, nhwc_attrs()), (Shape{2, 1, 1, 8}));
  Attrs g;
  g.set("transB", int64_t(1));
  EXPECT_EQ(infer_one("Gemm", {{{4, 7}, false}, {{9, 7}, true}, {{9}, true}}, g), (Shape{4, 9}));
  EXPECT_EQ(infer_one("MatMul", {{{2, 1, 3, 4}, false}, {{5, 4, 6}, false}}, {}), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(infer_one("MatMul", {{{4}, false}, {{3, 4, 6}, false}}, {}), (Shape{3, 6}));
  EXPECT_EQ(infer_one("Softmax", {{{2, 3}, false}}, {}), (Shape{2, 3}));
  Attrs d;
  d.set("blocksize", int64_t(2));
  EXPECT_EQ(infer_one("DepthToSpace", {{{1, 12, 3, 4}, false}}, d), (Shape{1, 3, 6, 8}));
  EXPECT_EQ(infer_one("SpaceToDepth", {{{1, 3, 6, 8}, false}}, d), (Shape{1, 12, 3, 4}));
  EXPECT_EQ(infer_one("BatchNormalization",
                      {{{1, 3, 6, 8}, false}, {{3}, true}, {{3}, true}, {{3}, true}, {{3}, true}}, {}),
            (Shape{1, 3, 6, 8}));
  // Resize with scales
  Graph gr;
  int x = gr.add_value("x", DType::f32, {1, 3, 5, 7}, true);
  std::vector<float> sc = {1, 1, 2.5f, 0.5f};
  int s = gr.add_const("scales", Tensor::from<float>({4}, sc));
  int y = gr.add_value("y");
  gr.add_node("Resize", "up", {x, -1, s}, {y});
  gr.inputs = {x};
  gr.outputs = {y};
  infer_shapes(gr);
  EXPECT_EQ(gr.values[y].shape, (Shape{1, 3, 12, 3}));
}

// ---- errors name the node and the field

TEST(SpatialErrors, ConvChannelMismatchNamesTheNode) {
  std::string e = error_of([] { infer_one("Conv", {{{1, 4, 8, 8}, false}, {{16, 3, 3, 3}, true}}, {}); });
  EXPECT_NE(e.find("n1"), std::string::npos) << e;
  EXPECT_NE(e.find("input channels 4"), std::string::npos) << e;
  EXPECT_NE(e.find("[16,3,3,3]"), std::string::npos) << e;
}

TEST(SpatialErrors, ClearMessages) {
  Attrs g;
  std::string e = error_of([&] { infer_one("Gemm", {{{4, 7}, false}, {{6, 9}, true}}, g); });
  EXPECT_NE(e.find("inner dimensions"), std::string::npos) << e;
  EXPECT_NE(e.find("n1"), std::string::npos) << e;
  e = error_of([] { infer_one("Resize", {{{1, 3, 4, 4}, false}}, {}); });
  EXPECT_NE(e.find("neither scales nor sizes"), std::string::npos) << e;
  e = error_of([] { infer_one("MaxPool", {{{1, 3, 4, 4}, false}}, {}); });
  EXPECT_NE(e.find("kernel_shape"), std::string::npos) << e;
  Attrs d;
  d.set("blocksize", int64_t(2));
  e = error_of([&] { infer_one("DepthToSpace", {{{1, 6, 3, 4}, false}}, d); });
  EXPECT_NE(e.find("not divisible"), std::string::npos) << e;
  Attrs bad;
  bad.set("axis", int64_t(3));
  e = error_of([&] { infer_one("Softmax", {{{2, 3}, false}}, bad); });
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  Attrs rs = nhwc_attrs();
  rs.set("mode", std::string("cubic"));
  e = error_of([&] {
    std::vector<float> sc = {1, 2, 2, 1};
    run_op("Resize", {rt("x", Tensor(DType::f32, {1, 4, 4, 2})), none(), cst("s", Tensor::from<float>({4}, sc))}, rs);
  });
  EXPECT_NE(e.find("cubic"), std::string::npos) << e;
  EXPECT_NE(e.find("node_Resize"), std::string::npos) << e;
}

}  // namespace
}  // namespace ef::test
