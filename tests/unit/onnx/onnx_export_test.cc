// ONNX exporter: round trips, NHWC graphs, fused activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "exporters/onnx/onnx_exporter.h"
#include "model_builder.h"

namespace ef::test {

namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Tensor>) return same_tensor(x, y);
        else return x == y;
      },
      a);
}

// Graphs are equal up to value ids: same nodes (op, name, attrs), inputs and
// outputs by name, constants by content.
void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  auto vname = [](const Graph& g, int v) { return v < 0 ? std::string("<none>") : g.values[v].name; };
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node& x = a.nodes[i];
    const Node* y = find_node(b, x.name);
    ASSERT_NE(y, nullptr) << "node " << x.name << " missing after the round trip";
    EXPECT_EQ(x.op, y->op) << x.name;
    ASSERT_EQ(x.inputs.size(), y->inputs.size()) << x.name;
    for (size_t k = 0; k < x.inputs.size(); ++k) {
      EXPECT_EQ(vname(a, x.inputs[k]), vname(b, y->inputs[k])) << x.name << " input " << k;
      if (x.inputs[k] >= 0 && a.values[x.inputs[k]].is_const()) {
        ASSERT_TRUE(b.values[y->inputs[k]].is_const()) << x.name << " input " << k;
        EXPECT_TRUE(same_tensor(a.values[x.inputs[k]].data, b.values[y->inputs[k]].data)) << x.name << " input " << k;
      }
    }
    ASSERT_EQ(x.outputs.size(), y->outputs.size()) << x.name;
    for (size_t k = 0; k < x.outputs.size(); ++k) EXPECT_EQ(vname(a, x.outputs[k]), vname(b, y->outputs[k]));
    EXPECT_EQ(x.attrs.all().size(), y->attrs.all().size()) << x.name;
    for (auto& [k, v] : x.attrs.all()) {
      ASSERT_TRUE(y->attrs.has(k)) << x.name << " lost attribute " << k;
      EXPECT_TRUE(same_attr(v, y->attrs.all().at(k))) << x.name << " attribute " << k;
    }
  }
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const Value& x = a.values[a.inputs[i]];
    const Value& y = b.values[b.inputs[i]];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.shape, y.shape);
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) EXPECT_EQ(vname(a, a.outputs[i]), vname(b, b.outputs[i]));
}

Graph reimport(const Graph& g, const std::string& name = "roundtrip.onnx") {
  std::string bytes = export_onnx_bytes(g);
  return import_onnx_bytes(bytes.data(), bytes.size(), name);
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

}  // namespace

TEST(OnnxExport, RoundTripKeepsOpsAttrsAndConstants) {
  ModelBuilder b(11);
  b.input("x", {-1, 3, 8, 8});
  std::vector<float> w(8 * 3 * 9);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i));
  b.init_f32("w", {8, 3, 3, 3}, w);
  b.init_f32("bias", {8}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto* c = b.node("Conv", {"x", "w", "bias"}, {"c"}, "conv");
  attr_ints(c, "kernel_shape", {3, 3});
  attr_ints(c, "pads", {1, 0, 1, 2});
  attr_ints(c, "strides", {2, 1});
  attr_s(c, "auto_pad", "NOTSET");
  auto* cl = b.node("Clip", {"c"}, {"r"}, "relu6");
  attr_f(cl, "min", 0.f);
  attr_f(cl, "max", 6.f);
  auto* sq = b.node("Unsqueeze", {"r"}, {"u"});
  attr_ints(sq, "axes", {0});
  auto* s = b.node("Squeeze", {"u"}, {"q"});
  attr_ints(s, "axes", {0});
  auto* sp = b.node("Split", {"q"}, {"s1", "s2"}, "split");
  attr_ints(sp, "split", {3, 5});
  attr_i(sp, "axis", 1);
  attr_s(b.node("Upsample", {"s1", "sc"}, {"up"}, "up"), "mode", "nearest");
  b.init_f32("sc", {4}, {1, 1, 2, 2});
  attr_i(b.node("Softmax", {"s2"}, {"sm"}, "sm"), "axis", 1);
  auto* cs = b.node("ConstantOfShape", {"shp"}, {"k"}, "cos");
  b.init_i64("shp", {2, 2});
  auto* t = attr_t(cs, "value");
  t->set_data_type(TensorProto::FLOAT);
  t->add_dims(1);
  t->add_float_data(0.5f);
  b.node("Dropout", {"k"}, {"kd"}, "drop");
  b.output("up", TensorProto::FLOAT, {-1, 3, 8, 8}, true);
  b.output("sm", TensorProto::FLOAT, {-1, 5, 4, 8}, true);  // declared shapes survive the round trip
  b.output("kd", TensorProto::FLOAT, {2, 2}, true);
  Graph g = b.import();
  Graph g2 = reimport(g);
  expect_same_graph(g, g2);
  EXPECT_EQ(g2.opset, 13);
  EXPECT_EQ(g2.values[g2.outputs[1]].shape, (Shape{-1, 5, 4, 8}));
  EXPECT_FALSE(g2.values[g2.outputs[1]].shape_known);
  // And the exported file again yields the same graph.
  expect_same_graph(g2, reimport(g2));
}

TEST(OnnxExport, WritesAValidFileAndRecordsIo) {
  ModelBuilder b(13);
  b.input("x", {1, 4}, TensorProto::FLOAT16);
  b.input("idx", {-1}, TensorProto::INT64);
  b.node("Gather", {"x", "idx"}, {"y"}, "gather");
  b.output("y", TensorProto::FLOAT16);
  Graph g = b.import();
  g.values[g.outputs[0]].shape = {1, -1};
  g.values[g.outputs[0]].shape_known = true;
  std::string path = temp_dir() + "/io.onnx";
  export_onnx(g, path);
  Graph g2 = import_onnx(path);
  EXPECT_EQ(g2.source, path);
  ASSERT_EQ(g2.inputs.size(), 2u);
  EXPECT_EQ(g2.values[g2.inputs[0]].dtype, DType::f16);
  EXPECT_EQ(g2.values[g2.inputs[1]].shape, (Shape{-1}));
  EXPECT_EQ(g2.values[g2.outputs[0]].dtype, DType::f16);
  auto m = parse(export_onnx_bytes(g));
  EXPECT_EQ(m.ir_version(), 7);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 13);
  const auto& out = m.graph().output(0).type().tensor_type();
  EXPECT_EQ(out.elem_type(), TensorProto::FLOAT16);
  ASSERT_EQ(out.shape().dim_size(), 2);
  EXPECT_EQ(out.shape().dim(0).dim_value(), 1);
  EXPECT_FALSE(out.shape().dim(1).has_dim_value());
}

TEST(OnnxExport, UnwritablePathIsAClearError) {
  Graph g;
  int x = g.add_value("x", DType::f32, {2}, true);
  int y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {y});
  g.inputs = {x};
  g.outputs = {y};
  std::string msg = error_of([&] { export_onnx(g, "/nonexistent/dir/out.onnx"); });
  EXPECT_ERROR_HAS(msg, "/nonexistent/dir/out.onnx");
}

TEST(OnnxExport, InvalidGraphFailsTheChecker) {
  Graph g;
  g.name = "bad";
  int x = g.add_value("x", DType::f32, {2}, true);
  int y = g.add_value("y", DType::f32, {2}, true);
  g.add_node("NoSuchOnnxOp", "weird", {x}, {y});
  g.inputs = {x};
  g.outputs = {y};
  std::string msg = error_of([&] { export_onnx_bytes(g); });
  EXPECT_ERROR_HAS(msg, "invalid model");
  EXPECT_ERROR_HAS(msg, "NoSuchOnnxOp");
}

// A TFLite-style graph: NHWC activations, fused activations, OIHW weights.
Graph nhwc_graph() {
  Graph g;
  g.name = "nhwc";
  int x = g.add_value("input", DType::f32, {1, 8, 8, 3}, true);
  std::vector<float> w(4 * 3 * 3 * 3), dw(4 * 1 * 3 * 3), bias = {0.1f, -0.2f, 0.3f, 0.f};
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(float(i)) * 0.3f;
  for (size_t i = 0; i < dw.size(); ++i) dw[i] = std::sin(float(i)) * 0.5f;
  int wv = g.add_const("conv_w", Tensor::from<float>({4, 3, 3, 3}, w));
  int bv = g.add_const("conv_b", Tensor::from<float>({4}, bias));
  int dwv = g.add_const("dw_w", Tensor::from<float>({4, 1, 3, 3}, dw));
  int c1 = g.add_value("c1", DType::f32, {1, 8, 8, 4}, true);
  int c2 = g.add_value("c2", DType::f32, {1, 4, 4, 4}, true);
  int p = g.add_value("pool", DType::f32, {1, 1, 1, 4}, true);
  int sc = g.add_const("scales", Tensor::from<float>({4}, std::vector<float>{1, 2, 2, 1}));
  int up = g.add_value("up", DType::f32, {1, 8, 8, 4}, true);
  int out = g.add_value("out", DType::f32, {1, 8, 8, 4}, true);
  Attrs a1;
  a1.set("layout", std::string("NHWC"));
  a1.set("kernel_shape", std::vector<int64_t>{3, 3});
  a1.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a1.set("activation", std::string("relu6"));
  g.add_node("Conv", "conv", {x, wv, bv}, {c1}, a1);
  Attrs a2;
  a2.set("layout", std::string("NHWC"));
  a2.set("kernel_shape", std::vector<int64_t>{3, 3});
  a2.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a2.set("strides", std::vector<int64_t>{2, 2});
  a2.set("group", int64_t(4));
  a2.set("activation", std::string("hardswish"));
  g.add_node("Conv", "dwconv", {c1, dwv}, {c2}, a2);
  Attrs a3;
  a3.set("layout", std::string("NHWC"));
  g.add_node("GlobalAveragePool", "gap", {c2}, {p}, a3);
  Attrs a4;
  a4.set("layout", std::string("NHWC"));
  a4.set("mode", std::string("nearest"));
  g.add_node("Resize", "resize", {c2, -1, sc}, {up}, a4);
  Attrs a5;
  a5.set("activation", std::string("clip"));
  a5.set("act_min", -1.f);
  a5.set("act_max", 1.f);
  g.add_node("Add", "add", {up, p}, {out}, a5);
  g.inputs = {x};
  g.outputs = {out};
  return g;
}

TEST(OnnxExport, NhwcGraphGetsTransposesAndSeparateActivations) {
  Graph g = nhwc_graph();
  auto m = parse(export_onnx_bytes(g));
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) {
    ops.push_back(n.op_type());
    for (const auto& a : n.attribute()) {
      EXPECT_NE(a.name(), "layout") << n.name();
      EXPECT_NE(a.name(), "activation") << n.name();
      EXPECT_NE(a.name().rfind("act_", 0), 0u) << n.name();
    }
  }
  // input -> NCHW once; conv+relu6 (Clip); dwconv+hardswish (HardSigmoid, Mul) stays NCHW for gap and
  // resize; back to NHWC only where a layout-free op (Add) reads the value.
  EXPECT_EQ(ops, (std::vector<std::string>{"Transpose", "Conv", "Clip", "Conv", "HardSigmoid", "Mul",
                                           "GlobalAveragePool", "Transpose", "Resize", "Transpose", "Add",
                                           "Clip"}));
  // Weights unchanged (OIHW), Resize scales reordered to NCHW.
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == "conv_w") {
      ASSERT_EQ(t.dims_size(), 4);
      EXPECT_EQ(t.dims(0), 4);
      EXPECT_EQ(t.dims(1), 3);
    }
    if (t.name() == "scales/nchw") {
      std::vector<float> s(4);
      std::memcpy(s.data(), t.raw_data().data(), 16);
      EXPECT_EQ(s, (std::vector<float>{1, 1, 2, 2}));
    }
  }
  // The graph's input and output keep their NHWC shapes.
  const auto& in = m.graph().input(0).type().tensor_type().shape();
  EXPECT_EQ(in.dim(3).dim_value(), 3);
  const auto& out = m.graph().output(0).type().tensor_type().shape();
  EXPECT_EQ(out.dim(3).dim_value(), 4);
}

}  // namespace ef::test
