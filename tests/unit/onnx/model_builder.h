// Builds small ONNX models in C++ for the importer/exporter tests.
#pragma once
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "edgeflow/graph.h"
#include "importers/onnx/onnx_importer.h"
#include "support/errors.h"

namespace ef::test {

using onnx::TensorProto;

struct ModelBuilder {
  onnx::ModelProto m;
  onnx::GraphProto* g;

  explicit ModelBuilder(int opset = 13, int ir = 7) {
    m.set_ir_version(ir);
    m.set_producer_name("edgeflow-test");
    auto* os = m.add_opset_import();
    os->set_domain("");
    os->set_version(opset);
    g = m.mutable_graph();
    g->set_name("test");
  }

  // dims: -1 -> a symbolic dimension ("N").
  onnx::ValueInfoProto* input(const std::string& name, std::vector<int64_t> dims, int type = TensorProto::FLOAT) {
    auto* vi = g->add_input();
    set_type(vi, name, dims, type);
    return vi;
  }
  onnx::ValueInfoProto* output(const std::string& name, int type = TensorProto::FLOAT,
                               std::vector<int64_t> dims = {}, bool with_shape = false) {
    auto* vi = g->add_output();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(type);
    if (with_shape) set_type(vi, name, dims, type);
    return vi;
  }
  void value_info(const std::string& name, std::vector<int64_t> dims, int type = TensorProto::FLOAT) {
    set_type(g->add_value_info(), name, dims, type);
  }
  static void set_type(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims, int type) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    auto* sh = tt->mutable_shape();
    for (auto d : dims) {
      auto* dim = sh->add_dim();
      if (d >= 0) dim->set_dim_value(d);
      else dim->set_dim_param("N");
    }
  }

  onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                        const std::string& name = "") {
    auto* n = g->add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(name);
    for (auto& s : ins) n->add_input(s);
    for (auto& s : outs) n->add_output(s);
    return n;
  }

  TensorProto* init_f32(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(v.data(), v.size() * sizeof(float));
    return t;
  }
  TensorProto* init_i64(const std::string& name, const std::vector<int64_t>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(TensorProto::INT64);
    t->add_dims(int64_t(v.size()));
    for (auto x : v) t->add_int64_data(x);
    return t;
  }

  std::string bytes() const {
    std::string s;
    m.SerializeToString(&s);
    return s;
  }
  Graph import(const std::string& name = "test.onnx") const {
    std::string b = bytes();
    return import_onnx_bytes(b.data(), b.size(), name);
  }
  std::string save(const std::string& path) const {
    std::ofstream f(path, std::ios::binary);
    std::string b = bytes();
    f.write(b.data(), std::streamsize(b.size()));
    return path;
  }
};

inline void attr_i(onnx::NodeProto* n, const std::string& k, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void attr_f(onnx::NodeProto* n, const std::string& k, float v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void attr_s(onnx::NodeProto* n, const std::string& k, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void attr_ints(onnx::NodeProto* n, const std::string& k, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
inline void attr_floats(onnx::NodeProto* n, const std::string& k, const std::vector<float>& v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (auto x : v) a->add_floats(x);
}
inline void attr_strings(onnx::NodeProto* n, const std::string& k, const std::vector<std::string>& v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (auto& x : v) a->add_strings(x);
}
inline TensorProto* attr_t(onnx::NodeProto* n, const std::string& k) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::TENSOR);
  return a->mutable_t();
}

// A scratch directory for files written by a test.
inline std::string temp_dir() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("edgeflow_onnx_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
  std::filesystem::create_directories(dir);
  return dir.string();
}


#define EXPECT_ERROR_HAS(msg, part) \
  EXPECT_NE(std::string(msg).find(part), std::string::npos) << "message: '" << (msg) << "' lacks '" << (part) << "'"

// Value/node lookup by name.
inline const Node* find_node(const Graph& g, const std::string& name) {
  for (auto& n : g.nodes)
    if (n.name == name) return &n;
  return nullptr;
}
inline std::vector<std::string> ops_of(const Graph& g) {
  std::vector<std::string> r;
  for (auto& n : g.nodes) r.push_back(n.op);
  return r;
}
template <class T>
std::vector<T> values_of(const Tensor& t) {
  const T* p = t.data_as<T>();
  return std::vector<T>(p, p + t.numel());
}

}  // namespace ef::test
