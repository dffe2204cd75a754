// Bad ONNX input: every failure is an ef::Error with a message naming the
// file and the node/tensor/field at fault; nothing crashes.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "edgeflow/session.h"
#include "model_builder.h"

namespace ef::test {

namespace {
ModelBuilder small_conv_model() {
  ModelBuilder b(13);
  b.input("x", {1, 3, 8, 8});
  std::vector<float> w(16 * 3 * 9);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i % 7) * 0.1f;
  b.init_f32("w", {16, 3, 3, 3}, w);
  auto* c = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  attr_ints(c, "kernel_shape", {3, 3});
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.output("y");
  return b;
}
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}
}  // namespace

TEST(OnnxErrors, MissingFile) {
  std::string msg = error_of([] { import_onnx("/nonexistent/dir/model.onnx"); });
  EXPECT_ERROR_HAS(msg, "/nonexistent/dir/model.onnx");
  EXPECT_ERROR_HAS(msg, "cannot open");
  msg = error_of([] { Model::load("/nonexistent/model.onnx"); });
  EXPECT_ERROR_HAS(msg, "/nonexistent/model.onnx");
}

TEST(OnnxErrors, EmptyFile) {
  std::string path = temp_dir() + "/empty.onnx";
  write_file(path, "");
  std::string msg = error_of([&] { import_onnx(path); });
  EXPECT_ERROR_HAS(msg, path);
  EXPECT_ERROR_HAS(msg, "empty");
}

TEST(OnnxErrors, TruncatedFile) {
  std::string full = small_conv_model().bytes();
  // Half the file, and a few other cut points: each must be a clear error.
  for (size_t cut : {full.size() / 2, full.size() - 1, full.size() - 10, size_t(20), full.size() / 3}) {
    std::string path = temp_dir() + "/cut" + std::to_string(cut) + ".onnx";
    write_file(path, full.substr(0, cut));
    std::string msg = error_of([&] { import_onnx(path); });
    ASSERT_FALSE(msg.empty()) << "cut at " << cut << " of " << full.size() << " was accepted";
    EXPECT_ERROR_HAS(msg, path);
  }
  std::string path = temp_dir() + "/half.onnx";
  write_file(path, full.substr(0, full.size() / 2));
  std::string msg = error_of([&] { import_onnx(path); });
  EXPECT_ERROR_HAS(msg, "truncated or corrupt");
}

TEST(OnnxErrors, RandomBytes) {
  std::mt19937 rng(42);
  int clear = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (auto& c : bytes) c = char(rng());
    std::string msg = error_of([&] { import_onnx_bytes(bytes.data(), bytes.size(), "random.onnx"); });
    ASSERT_FALSE(msg.empty()) << "random bytes accepted (trial " << trial << ")";
    EXPECT_ERROR_HAS(msg, "random.onnx");
    clear += msg.find("not a valid ONNX model") != std::string::npos;
  }
  EXPECT_GT(clear, 100);
  // Through Model::load as well: a file that is not TFLite falls to the ONNX reader.
  std::string path = temp_dir() + "/random.onnx";
  write_file(path, std::string("\x13\x37garbage-not-a-model\xff\xfe", 24));
  EXPECT_ERROR_HAS(error_of([&] { Model::load(path); }), path);
}

TEST(OnnxErrors, UnsupportedOperatorNamesOpNodeAndOpset) {
  ModelBuilder b(13);
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("FancyNewOp", {"r"}, {"y"}, "my_node");
  b.output("y");
  std::string path = b.save(temp_dir() + "/unsupported.onnx");
  Graph g = import_onnx(path);  // not an error at import
  EXPECT_EQ(g.nodes[1].op, "FancyNewOp");
  std::string msg = error_of([&] { infer_shapes(g); });
  EXPECT_ERROR_HAS(msg, "unsupported operator 'FancyNewOp' in node 'my_node' (opset 13)");
  EXPECT_ERROR_HAS(msg, path);
  // The same through the public API.
  msg = error_of([&] { Session s(Model::load(path)); });
  EXPECT_ERROR_HAS(msg, "unsupported operator 'FancyNewOp' in node 'my_node' (opset 13)");
}

TEST(OnnxErrors, NonDefaultDomain) {
  ModelBuilder b(13);
  auto* os = b.m.add_opset_import();
  os->set_domain("com.microsoft");
  os->set_version(1);
  b.input("x", {1, 4});
  b.node("FusedConv", {"x"}, {"y"}, "fc")->set_domain("com.microsoft");
  b.output("y");
  std::string msg = error_of([&] { b.import("ms.onnx"); });
  EXPECT_ERROR_HAS(msg, "ms.onnx");
  EXPECT_ERROR_HAS(msg, "unsupported operator 'FusedConv' (domain com.microsoft)");
  EXPECT_ERROR_HAS(msg, "'fc'");
}

TEST(OnnxErrors, ExternalData) {
  ModelBuilder b(13);
  b.input("x", {4});
  auto* t = b.g->add_initializer();
  t->set_name("big_weight");
  t->set_data_type(TensorProto::FLOAT);
  t->add_dims(4);
  t->set_data_location(TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  b.node("Add", {"x", "big_weight"}, {"y"}, "add");
  b.output("y");
  std::string msg = error_of([&] { b.import("ext.onnx"); });
  EXPECT_ERROR_HAS(msg, "ext.onnx");
  EXPECT_ERROR_HAS(msg, "initializer 'big_weight'");
  EXPECT_ERROR_HAS(msg, "external");
  EXPECT_ERROR_HAS(msg, "weights.bin");
}

TEST(OnnxErrors, UnsupportedDtypes) {
  {
    ModelBuilder b(13);
    b.input("x", {4});
    auto* t = b.g->add_initializer();
    t->set_name("dbl");
    t->set_data_type(TensorProto::DOUBLE);
    t->add_dims(1);
    t->add_double_data(1.0);
    b.node("Add", {"x", "dbl"}, {"y"}, "add");
    b.output("y");
    std::string msg = error_of([&] { b.import("dt.onnx"); });
    EXPECT_ERROR_HAS(msg, "dt.onnx: initializer 'dbl' has data type float64");
  }
  {
    ModelBuilder b(13);
    b.input("text", {4}, TensorProto::STRING);
    b.node("Foo", {"text"}, {"y"});
    b.output("y");
    std::string msg = error_of([&] { b.import("dt.onnx"); });
    EXPECT_ERROR_HAS(msg, "graph input 'text' has data type string");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    auto* c = b.node("Constant", {}, {"k"}, "const_u16");
    auto* t = attr_t(c, "value");
    t->set_data_type(TensorProto::UINT16);
    t->add_dims(1);
    t->add_int32_data(3);
    b.node("Add", {"x", "k"}, {"y"});
    b.output("y");
    std::string msg = error_of([&] { b.import("dt.onnx"); });
    EXPECT_ERROR_HAS(msg, "node 'const_u16' (Constant) attribute 'value' has data type uint16");
  }
}

TEST(OnnxErrors, WrongDataSize) {
  ModelBuilder b(13);
  b.input("x", {4});
  b.init_f32("w", {2, 3}, {1, 2, 3, 4});  // 4 values for 6 elements
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  std::string msg = error_of([&] { b.import("size.onnx"); });
  EXPECT_ERROR_HAS(msg, "size.onnx: initializer 'w' has 16 bytes of raw data, but its shape [2,3]");
}

TEST(OnnxErrors, OpsetAndIrVersion) {
  for (int opset : {6, 18}) {
    ModelBuilder b(opset);
    b.input("x", {4});
    b.node("Relu", {"x"}, {"y"});
    b.output("y");
    std::string msg = error_of([&] { b.import("v.onnx"); });
    EXPECT_ERROR_HAS(msg, "v.onnx: unsupported opset " + std::to_string(opset));
  }
  ModelBuilder b(13, 42);
  b.input("x", {4});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  EXPECT_ERROR_HAS(error_of([&] { b.import("v.onnx"); }), "unsupported ONNX IR version 42");
  b.m.set_ir_version(7);
  b.m.clear_opset_import();
  EXPECT_ERROR_HAS(error_of([&] { b.import("v.onnx"); }), "no default-domain");
}

TEST(OnnxErrors, EmptyGraphAndDanglingNames) {
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.output("x");
    EXPECT_ERROR_HAS(error_of([&] { b.import("e.onnx"); }), "e.onnx: the graph is empty");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Add", {"x", "nowhere"}, {"y"}, "add");
    b.output("y");
    EXPECT_ERROR_HAS(error_of([&] { b.import("e.onnx"); }),
                     "node 'add' (Add): input 'nowhere' is not defined");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Relu", {"x"}, {"y"}, "relu");
    b.output("zzz");
    EXPECT_ERROR_HAS(error_of([&] { b.import("e.onnx"); }), "graph output 'zzz' is not produced");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Relu", {"x"}, {"y"}, "r1");
    b.node("Relu", {"x"}, {"y"}, "r2");
    b.output("y");
    EXPECT_ERROR_HAS(error_of([&] { b.import("e.onnx"); }), "node 'r2' (Relu): output 'y' is already defined");
  }
  {
    onnx::ModelProto m;  // parses (all fields optional) but is no model
    std::string bytes;
    m.SerializeToString(&bytes);
    bytes = std::string("\x08\x07", 2);  // ir_version 7 only
    EXPECT_ERROR_HAS(error_of([&] { import_onnx_bytes(bytes.data(), bytes.size(), "e.onnx"); }), "e.onnx: ");
  }
}

TEST(OnnxErrors, SubgraphAttributesAreRejectedClearly) {
  ModelBuilder b(13);
  b.input("c", {}, TensorProto::BOOL);
  auto* n = b.node("If", {"c"}, {"y"}, "branch");
  auto* a = n->add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("then");
  b.output("y");
  std::string msg = error_of([&] { b.import("if.onnx"); });
  EXPECT_ERROR_HAS(msg, "if.onnx: node 'branch' (If): attribute 'then_branch' is a subgraph");
}

}  // namespace ef::test

namespace ef::test {

TEST(OnnxErrors, NodeArityIsCheckedAgainstTheOnnxSchema) {
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Gather", {"x"}, {"y"}, "g");  // needs data and indices
    b.output("y");
    EXPECT_ERROR_HAS(error_of([&] { b.import("a.onnx"); }),
                     "a.onnx: node 'g' (Gather) (opset 13) has 1 input(s); the operator takes 2");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Relu", {""}, {"y"}, "r");
    b.output("y");
    EXPECT_ERROR_HAS(error_of([&] { b.import("a.onnx"); }), "node 'r' (Relu) (opset 13): required input 0 ('X') is empty");
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.node("Relu", {"x", "x"}, {"y"}, "r2");
    b.output("y");
    EXPECT_ERROR_HAS(error_of([&] { b.import("a.onnx"); }), "has 2 input(s); the operator takes 1");
  }
}

}  // namespace ef::test
