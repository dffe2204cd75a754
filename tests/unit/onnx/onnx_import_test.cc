// ONNX importer: parsing, dtypes, attributes, names, opset-13 normalisation.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "model_builder.h"

namespace ef::test {

TEST(OnnxImport, ConvModelWithSymbolicBatch) {
  ModelBuilder b(11);
  b.input("x", {-1, 3, 8, 8});
  b.init_f32("w", {4, 3, 3, 3}, std::vector<float>(108, 0.5f));
  b.init_f32("bias", {4}, {1, 2, 3, 4});
  auto* conv = b.node("Conv", {"x", "w", "bias"}, {"y"}, "conv1");
  attr_ints(conv, "kernel_shape", {3, 3});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  attr_ints(conv, "strides", {1, 1});
  attr_i(conv, "group", 1);
  b.node("Relu", {"y"}, {"z"});  // unnamed: gets "Relu_1"
  b.output("z");
  Graph g = b.import("conv.onnx");

  EXPECT_EQ(g.source, "conv.onnx");
  EXPECT_EQ(g.opset, 11);
  EXPECT_EQ(g.name, "test");
  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& x = g.values[g.inputs[0]];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DType::f32);
  EXPECT_EQ(x.shape, (Shape{-1, 3, 8, 8}));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "conv1");
  EXPECT_EQ(g.nodes[1].name, "Relu_1");
  const Node& c = g.nodes[0];
  EXPECT_EQ(c.op, "Conv");
  EXPECT_EQ(c.attrs.ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(c.attrs.ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(c.attrs.i("group"), 1);
  const Value& w = g.in(c, 1);
  ASSERT_TRUE(w.is_const());
  EXPECT_EQ(w.data.shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(w.data.data_as<float>()[107], 0.5f);
  EXPECT_EQ(values_of<float>(g.in(c, 2).data), (std::vector<float>{1, 2, 3, 4}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.values[g.outputs[0]].name, "z");
  EXPECT_EQ(g.values[g.outputs[0]].producer, 1);
}

TEST(OnnxImport, InitializersListedAsInputsAreNotRuntimeInputs) {
  ModelBuilder b(9, 3);
  b.input("x", {2, 2});
  b.input("w", {2, 2});  // IR < 4: every initializer is also a graph input
  b.init_f32("w", {2, 2}, {1, 2, 3, 4});
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y");
  Graph g = b.import();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].name, "x");
  EXPECT_TRUE(g.in(g.nodes[0], 1).is_const());
}

TEST(OnnxImport, AllAttributeKinds) {
  ModelBuilder b;
  b.input("x", {1});
  auto* n = b.node("Foo", {"x"}, {"y"}, "foo");
  attr_i(n, "i", -7);
  attr_f(n, "f", 2.5f);
  attr_s(n, "s", "hello");
  attr_ints(n, "ints", {1, -2, 3});
  attr_floats(n, "floats", {0.5f, -1.5f});
  attr_strings(n, "strings", {"a", "bc"});
  auto* t = attr_t(n, "t");
  t->set_data_type(TensorProto::INT32);
  t->add_dims(2);
  t->add_int32_data(5);
  t->add_int32_data(-6);
  b.output("y");
  Graph g = b.import();
  const Attrs& a = g.nodes[0].attrs;
  EXPECT_EQ(a.i("i"), -7);
  EXPECT_EQ(a.f("f", 0), 2.5f);
  EXPECT_EQ(a.s("s"), "hello");
  EXPECT_EQ(a.ints("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(a.floats("floats"), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(a.strings("strings"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(a.tensor("t").dtype(), DType::i32);
  EXPECT_EQ(values_of<int32_t>(a.tensor("t")), (std::vector<int32_t>{5, -6}));
}

TEST(OnnxImport, UnnamedAndDuplicateNodeNamesBecomeUnique) {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"a"});
  b.node("Relu", {"a"}, {"b"}, "r");
  b.node("Relu", {"b"}, {"c"}, "r");
  b.node("Relu", {"c"}, {"d"}, "Relu_0");
  b.output("d");
  Graph g = b.import();
  std::set<std::string> names;
  for (auto& n : g.nodes) names.insert(n.name);
  EXPECT_EQ(names.size(), 4u);
  EXPECT_TRUE(names.count("Relu_0"));
  EXPECT_TRUE(names.count("r"));
}

// Every supported dtype and every encoding of initializer data.
TEST(OnnxImport, InitializerEncodings) {
  ModelBuilder b;
  b.input("x", {1});
  auto add = [&](const std::string& name, int type) {
    auto* t = b.g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    t->add_dims(3);
    b.node("Foo", {"x", name}, {name + "_out"});
    b.output(name + "_out");
    return t;
  };
  auto* f = add("f32", TensorProto::FLOAT);
  for (float v : {1.5f, -2.f, 3.25f}) f->add_float_data(v);
  auto* h = add("f16", TensorProto::FLOAT16);
  for (float v : {1.5f, -2.f, 65504.f}) h->add_int32_data(float_to_half(v));
  auto* i8 = add("i8", TensorProto::INT8);
  for (int v : {-128, 0, 127}) i8->add_int32_data(v);
  auto* u8 = add("u8", TensorProto::UINT8);
  for (int v : {0, 128, 255}) u8->add_int32_data(v);
  auto* bl = add("bool", TensorProto::BOOL);
  for (int v : {1, 0, 1}) bl->add_int32_data(v);
  auto* i32 = add("i32", TensorProto::INT32);
  for (int v : {-5, 0, 1 << 30}) i32->add_int32_data(v);
  auto* i64 = add("i64", TensorProto::INT64);
  for (int64_t v : {-(int64_t(1) << 40), int64_t(0), int64_t(7)}) i64->add_int64_data(v);
  // raw_data (little-endian) for two types
  auto* rh = add("raw_f16", TensorProto::FLOAT16);
  uint16_t hv[3] = {float_to_half(0.5f), float_to_half(-1.f), float_to_half(2.f)};
  rh->set_raw_data(hv, sizeof hv);
  auto* ri = add("raw_i64", TensorProto::INT64);
  int64_t iv[3] = {1, -2, int64_t(1) << 50};
  ri->set_raw_data(iv, sizeof iv);
  Graph g = b.import();

  auto c = [&](const std::string& n) -> const Tensor& {
    int id = g.find_value(n);
    EXPECT_GE(id, 0) << n;
    EXPECT_TRUE(g.values[id].is_const()) << n;
    return g.values[id].data;
  };
  EXPECT_EQ(values_of<float>(c("f32")), (std::vector<float>{1.5f, -2.f, 3.25f}));
  EXPECT_EQ(c("f16").dtype(), DType::f16);
  EXPECT_EQ(half_to_float(c("f16").data_as<uint16_t>()[2]), 65504.f);
  EXPECT_EQ(half_to_float(c("f16").data_as<uint16_t>()[0]), 1.5f);
  EXPECT_EQ(values_of<int8_t>(c("i8")), (std::vector<int8_t>{-128, 0, 127}));
  EXPECT_EQ(values_of<uint8_t>(c("u8")), (std::vector<uint8_t>{0, 128, 255}));
  EXPECT_EQ(c("bool").dtype(), DType::boolean);
  EXPECT_EQ(values_of<uint8_t>(c("bool")), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(values_of<int32_t>(c("i32")), (std::vector<int32_t>{-5, 0, 1 << 30}));
  EXPECT_EQ(values_of<int64_t>(c("i64")), (std::vector<int64_t>{-(int64_t(1) << 40), 0, 7}));
  EXPECT_EQ(half_to_float(c("raw_f16").data_as<uint16_t>()[1]), -1.f);
  EXPECT_EQ(values_of<int64_t>(c("raw_i64")), (std::vector<int64_t>{1, -2, int64_t(1) << 50}));
}

TEST(OnnxImport, InputDtypes) {
  ModelBuilder b;
  b.input("a", {2}, TensorProto::FLOAT16);
  b.input("b", {2}, TensorProto::UINT8);
  b.input("c", {2}, TensorProto::BOOL);
  b.input("d", {}, TensorProto::INT64);
  b.node("Foo", {"a", "b", "c", "d"}, {"y"});
  b.output("y");
  Graph g = b.import();
  ASSERT_EQ(g.inputs.size(), 4u);
  EXPECT_EQ(g.values[g.inputs[0]].dtype, DType::f16);
  EXPECT_EQ(g.values[g.inputs[1]].dtype, DType::u8);
  EXPECT_EQ(g.values[g.inputs[2]].dtype, DType::boolean);
  EXPECT_EQ(g.values[g.inputs[3]].dtype, DType::i64);
  EXPECT_TRUE(g.values[g.inputs[3]].shape.empty());
  EXPECT_TRUE(g.values[g.inputs[3]].shape_known);
}

TEST(OnnxImport, ConstantNodesBecomeConstants) {
  ModelBuilder b;
  b.input("x", {2, 3});
  auto* c1 = b.node("Constant", {}, {"shape"}, "c1");
  auto* t = attr_t(c1, "value");
  t->set_data_type(TensorProto::INT64);
  t->add_dims(2);
  t->add_int64_data(3);
  t->add_int64_data(2);
  auto* c2 = b.node("Constant", {}, {"k"});
  attr_f(c2, "value_float", 0.25f);
  auto* c3 = b.node("Constant", {}, {"ax"});
  attr_ints(c3, "value_ints", {0, 1});
  auto* c4 = b.node("Constant", {}, {"one"});
  attr_i(c4, "value_int", 1);
  b.node("Reshape", {"x", "shape"}, {"r"}, "reshape");
  b.node("Mul", {"r", "k"}, {"m"}, "mul");
  b.node("Foo", {"m", "ax", "one"}, {"y"}, "foo");
  b.output("y");
  Graph g = b.import();
  EXPECT_EQ(ops_of(g), (std::vector<std::string>{"Reshape", "Mul", "Foo"}));
  const Node& r = *find_node(g, "reshape");
  ASSERT_TRUE(g.in(r, 1).is_const());
  EXPECT_EQ(values_of<int64_t>(g.in(r, 1).data), (std::vector<int64_t>{3, 2}));
  const Node& m = *find_node(g, "mul");
  EXPECT_TRUE(g.in(m, 1).data.shape().empty());
  EXPECT_EQ(g.in(m, 1).data.data_as<float>()[0], 0.25f);
  const Node& f = *find_node(g, "foo");
  EXPECT_EQ(values_of<int64_t>(g.in(f, 1).data), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(values_of<int64_t>(g.in(f, 2).data), (std::vector<int64_t>{1}));
}

TEST(OnnxImport, OmittedOptionalInputsAndOutputs) {
  ModelBuilder b;
  b.input("x", {1, 3, 4, 4});
  b.init_f32("scales", {4}, {1, 1, 2, 2});
  b.node("Resize", {"x", "", "scales"}, {"y"}, "resize");
  b.node("Foo", {"y"}, {"a", "", "c", ""}, "foo");
  b.output("a");
  b.output("c");
  Graph g = b.import();
  const Node& r = *find_node(g, "resize");
  EXPECT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(r.inputs[1], -1);
  const Node& f = *find_node(g, "foo");
  EXPECT_EQ(f.outputs.size(), 3u);  // trailing omitted output dropped, middle one kept as a private value
}

// ---- normalisation to the opset-13 forms

TEST(OnnxNormalise, SqueezeUnsqueezeAxesAttributeBecomesInput) {
  ModelBuilder b(11);
  b.input("x", {1, 3, 1});
  auto* s = b.node("Squeeze", {"x"}, {"s"}, "sq");
  attr_ints(s, "axes", {0, 2});
  auto* u = b.node("Unsqueeze", {"s"}, {"u"}, "unsq");
  attr_ints(u, "axes", {1});
  b.node("Squeeze", {"u"}, {"y"}, "sq_all");  // no axes: stays one input
  b.output("y");
  Graph g = b.import();
  for (const char* n : {"sq", "unsq"}) {
    const Node& node = *find_node(g, n);
    EXPECT_FALSE(node.attrs.has("axes")) << n;
    ASSERT_EQ(node.inputs.size(), 2u) << n;
    ASSERT_TRUE(g.in(node, 1).is_const());
    EXPECT_EQ(g.in(node, 1).dtype, DType::i64);
  }
  EXPECT_EQ(values_of<int64_t>(g.in(*find_node(g, "sq"), 1).data), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(values_of<int64_t>(g.in(*find_node(g, "unsq"), 1).data), (std::vector<int64_t>{1}));
  EXPECT_EQ(find_node(g, "sq_all")->inputs.size(), 1u);
}

TEST(OnnxNormalise, SplitAttributeBecomesInput) {
  ModelBuilder b(11);
  b.input("x", {6, 2});
  auto* s = b.node("Split", {"x"}, {"a", "b"}, "split");
  attr_ints(s, "split", {2, 4});
  attr_i(s, "axis", 0);
  b.output("a");
  b.output("b");
  Graph g = b.import();
  const Node& n = g.nodes[0];
  EXPECT_FALSE(n.attrs.has("split"));
  EXPECT_EQ(n.attrs.i("axis"), 0);
  ASSERT_EQ(n.inputs.size(), 2u);
  EXPECT_EQ(values_of<int64_t>(g.in(n, 1).data), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(n.outputs.size(), 2u);
}

TEST(OnnxNormalise, ClipAttributesBecomeInputs) {
  ModelBuilder b(10);
  b.input("x", {4});
  auto* c = b.node("Clip", {"x"}, {"a"}, "clip6");
  attr_f(c, "min", 0.f);
  attr_f(c, "max", 6.f);
  auto* c2 = b.node("Clip", {"a"}, {"y"}, "clip_max_only");
  attr_f(c2, "max", 3.f);
  b.output("y");
  Graph g = b.import();
  const Node& n = *find_node(g, "clip6");
  EXPECT_FALSE(n.attrs.has("min"));
  EXPECT_FALSE(n.attrs.has("max"));
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(g.in(n, 1).data.data_as<float>()[0], 0.f);
  EXPECT_EQ(g.in(n, 2).data.data_as<float>()[0], 6.f);
  EXPECT_TRUE(g.in(n, 1).data.shape().empty());
  const Node& m = *find_node(g, "clip_max_only");
  ASSERT_EQ(m.inputs.size(), 3u);
  EXPECT_EQ(m.inputs[1], -1);
  EXPECT_EQ(g.in(m, 2).data.data_as<float>()[0], 3.f);
}

TEST(OnnxNormalise, UpsampleBecomesResize) {
  for (int opset : {7, 9}) {
    ModelBuilder b(opset);
    b.input("x", {1, 2, 3, 3});
    auto* u = opset == 7 ? b.node("Upsample", {"x"}, {"y"}, "up") : b.node("Upsample", {"x", "sc"}, {"y"}, "up");
    if (opset == 7) attr_floats(u, "scales", {1, 1, 2, 2});
    else b.init_f32("sc", {4}, {1, 1, 2, 2});
    attr_s(u, "mode", "nearest");
    b.output("y");
    Graph g = b.import();
    ASSERT_EQ(g.nodes.size(), 1u);
    const Node& n = g.nodes[0];
    EXPECT_EQ(n.op, "Resize") << opset;
    EXPECT_EQ(n.name, "up");
    ASSERT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(n.inputs[1], -1);  // roi omitted
    EXPECT_EQ(values_of<float>(g.in(n, 2).data), (std::vector<float>{1, 1, 2, 2}));
    EXPECT_EQ(n.attrs.s("mode"), "nearest");
    EXPECT_EQ(n.attrs.s("coordinate_transformation_mode"), "asymmetric");
    EXPECT_EQ(n.attrs.s("nearest_mode"), "floor");
    EXPECT_FALSE(n.attrs.has("scales"));
  }
}

TEST(OnnxNormalise, LinearUpsampleAndOpset10ResizeAreAsymmetric) {
  ModelBuilder b(10);
  b.input("x", {1, 2, 3, 3});
  b.init_f32("sc", {4}, {1, 1, 2, 2});
  attr_s(b.node("Upsample", {"x", "sc"}, {"a"}, "up"), "mode", "linear");
  attr_s(b.node("Resize", {"a", "sc"}, {"y"}, "rs"), "mode", "linear");
  b.output("y");
  Graph g = b.import();
  for (auto& n : g.nodes) {
    EXPECT_EQ(n.op, "Resize");
    EXPECT_EQ(n.attrs.s("mode"), "linear");
    EXPECT_EQ(n.attrs.s("coordinate_transformation_mode"), "asymmetric");
    EXPECT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(n.inputs[1], -1);
  }
}

TEST(OnnxNormalise, ResizeEmptyRoiAndScalesAreOmitted) {
  ModelBuilder b(11);
  b.input("x", {1, 2, 3, 3});
  b.init_f32("roi", {0}, {});
  b.init_f32("sc", {0}, {});
  b.init_i64("sizes", {1, 2, 6, 6});
  b.node("Resize", {"x", "roi", "sc", "sizes"}, {"y"}, "rs");
  b.output("y");
  Graph g = b.import();
  const Node& n = g.nodes[0];
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(n.inputs[1], -1);
  EXPECT_EQ(n.inputs[2], -1);
  EXPECT_EQ(values_of<int64_t>(g.in(n, 3).data), (std::vector<int64_t>{1, 2, 6, 6}));
}

TEST(OnnxNormalise, ReduceMeanAxesInputBecomesAttribute) {
  ModelBuilder b(17);
  b.input("x", {1, 3, 4, 4});
  b.init_i64("axes", {2, 3});
  auto* r = b.node("ReduceMean", {"x", "axes"}, {"y"}, "mean");
  attr_i(r, "keepdims", 1);
  b.output("y");
  Graph g = b.import();
  const Node& n = g.nodes[0];
  EXPECT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(n.attrs.ints("axes"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(n.attrs.i("keepdims"), 1);
}

TEST(OnnxNormalise, ReduceSumAxesAttributeBecomesInputBeforeOpset13) {
  ModelBuilder b(11);
  b.input("x", {1, 3, 4, 4});
  attr_ints(b.node("ReduceSum", {"x"}, {"y"}, "sum"), "axes", {1});
  b.output("y");
  Graph g = b.import();
  ASSERT_EQ(g.nodes[0].inputs.size(), 2u);
  EXPECT_EQ(values_of<int64_t>(g.in(g.nodes[0], 1).data), (std::vector<int64_t>{1}));
}

TEST(OnnxNormalise, OldSoftmaxWithNonLastAxisIsFlattenSoftmaxReshape) {
  ModelBuilder b(11);
  b.input("x", {2, 3, 4});
  attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
  b.output("y");
  Graph g = b.import();
  EXPECT_EQ(ops_of(g), (std::vector<std::string>{"Flatten", "Softmax", "Shape", "Reshape"}));
  const Node& f = g.nodes[0];
  EXPECT_EQ(f.attrs.i("axis"), 1);
  const Node& s = *find_node(g, "sm");
  EXPECT_EQ(s.op, "Softmax");
  EXPECT_EQ(s.attrs.i("axis"), 1);
  EXPECT_EQ(s.inputs[0], f.outputs[0]);
  const Node& r = g.nodes[3];
  EXPECT_EQ(r.inputs[0], s.outputs[0]);
  EXPECT_EQ(r.inputs[1], g.nodes[2].outputs[0]);
  EXPECT_EQ(g.values[r.outputs[0]].name, "y");
  EXPECT_EQ(g.nodes[2].inputs[0], g.inputs[0]);
}

TEST(OnnxNormalise, OldSoftmaxOnLastAxisStaysOneNode) {
  ModelBuilder b(11);
  b.input("x", {2, 5});
  b.node("Softmax", {"x"}, {"a"}, "sm_default");  // axis 1 = last for rank 2
  attr_i(b.node("LogSoftmax", {"a"}, {"y"}, "lsm"), "axis", -1);
  b.output("y");
  Graph g = b.import();
  EXPECT_EQ(ops_of(g), (std::vector<std::string>{"Softmax", "LogSoftmax"}));
}

TEST(OnnxNormalise, OldSoftmaxUsesValueInfoRank) {
  ModelBuilder b(12);
  b.input("x", {2, 3, 4});
  b.node("Relu", {"x"}, {"r"});
  b.value_info("r", {2, 3, 4});
  attr_i(b.node("Softmax", {"r"}, {"y"}, "sm"), "axis", 2);
  b.output("y");
  Graph g = b.import();
  EXPECT_EQ(ops_of(g), (std::vector<std::string>{"Relu", "Softmax"}));
}

TEST(OnnxNormalise, Opset13SoftmaxIsUnchanged) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
  b.output("y");
  Graph g = b.import();
  ASSERT_EQ(ops_of(g), (std::vector<std::string>{"Softmax"}));
  EXPECT_EQ(g.nodes[0].attrs.i("axis"), 1);
}

TEST(OnnxNormalise, BatchNormTrainingOutputsDroppedAndDropoutKept) {
  ModelBuilder b(9);
  b.input("x", {1, 2, 3, 3});
  for (const char* n : {"s", "bb", "m", "v"}) b.init_f32(n, {2}, {1, 1});
  auto* bn = b.node("BatchNormalization", {"x", "s", "bb", "m", "v"}, {"y", "rm", "rv", "sm", "sv"}, "bn");
  attr_f(bn, "epsilon", 1e-3f);
  attr_i(bn, "spatial", 1);
  b.node("Dropout", {"y"}, {"z", "mask"}, "drop");
  b.output("z");
  Graph g = b.import();
  const Node& n = *find_node(g, "bn");
  EXPECT_EQ(n.outputs.size(), 1u);
  EXPECT_FALSE(n.attrs.has("spatial"));
  EXPECT_FLOAT_EQ(n.attrs.f("epsilon", 0), 1e-3f);
  const Node* d = find_node(g, "drop");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->op, "Dropout");
}

TEST(OnnxNormalise, PadAndSliceAttributesBecomeInputs) {
  ModelBuilder b(9);
  b.input("x", {1, 2, 4, 4});
  auto* p = b.node("Pad", {"x"}, {"p"}, "pad");
  attr_ints(p, "pads", {0, 0, 1, 1, 0, 0, 1, 1});
  attr_f(p, "value", 0.5f);
  attr_s(p, "mode", "constant");
  auto* s = b.node("Slice", {"p"}, {"y"}, "slice");
  attr_ints(s, "starts", {1});
  attr_ints(s, "ends", {3});
  attr_ints(s, "axes", {2});
  b.output("y");
  Graph g = b.import();
  const Node& pn = *find_node(g, "pad");
  ASSERT_EQ(pn.inputs.size(), 3u);
  EXPECT_EQ(values_of<int64_t>(g.in(pn, 1).data), (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(g.in(pn, 2).data.data_as<float>()[0], 0.5f);
  EXPECT_EQ(pn.attrs.s("mode"), "constant");
  EXPECT_FALSE(pn.attrs.has("pads"));
  const Node& sn = *find_node(g, "slice");
  ASSERT_EQ(sn.inputs.size(), 4u);
  EXPECT_EQ(values_of<int64_t>(g.in(sn, 1).data), (std::vector<int64_t>{1}));
  EXPECT_EQ(values_of<int64_t>(g.in(sn, 2).data), (std::vector<int64_t>{3}));
  EXPECT_EQ(values_of<int64_t>(g.in(sn, 3).data), (std::vector<int64_t>{2}));
  EXPECT_TRUE(sn.attrs.all().empty());
}

TEST(OnnxImport, UnsortedNodesAreAccepted) {
  ModelBuilder b;
  b.input("x", {2});
  b.node("Relu", {"a"}, {"y"}, "second");
  b.node("Neg", {"x"}, {"a"}, "first");
  b.output("y");
  Graph g = b.import();
  g.topo_sort();
  EXPECT_EQ(g.nodes[0].name, "first");
}

}  // namespace ef::test
