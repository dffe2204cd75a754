// QOperator ONNX files (QLinearConv, com.microsoft QLinearAdd and
// QLinearGlobalAveragePool, as ONNX Runtime's quantizer writes them in
// QOperator format) import in their QDQ form and run fused; compared with
// the same file run unfused (optimize = false: the ONNX definition in float
// between DequantizeLinear and QuantizeLinear). Tolerance: 2 output steps.
#include <cmath>

#include "exporters/onnx/onnx_exporter.h"
#include "importers/onnx/onnx_importer.h"
#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

Tensor u8(uint8_t v) {
  Tensor t(DType::u8, {});
  *t.data_as<uint8_t>() = v;
  return t;
}

TEST(QOperator, ImportsAndRunsFused) {
  Graph g;
  int x = g.add_value("x", DType::f32, {1, 3, 8, 8}, true);
  g.inputs = {x};
  auto c = [&](const std::string& n, Tensor t) { return g.add_const(n, std::move(t)); };
  auto v = [&](const std::string& n) { return g.add_value(n); };
  int xs = c("xs", scalar_f32(0.02f)), xz = c("xz", u8(128));
  int xq = v("xq");
  g.add_node("QuantizeLinear", "quant", {x, xs, xz}, {xq});
  Tensor w = rand_int<int8_t>({6, 3, 3, 3}, -127, 127);
  Tensor ws = f32s({6}, {0.004f, 0.005f, 0.006f, 0.007f, 0.008f, 0.009f});
  Tensor wz(DType::i8, {6});
  Tensor b = rand_int<int32_t>({6}, -3000, 3000);
  Attrs ca;
  ca.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  int cq = v("cq"), aq = v("aq"), pq = v("pq"), y = v("y");
  int cs = c("cs", scalar_f32(0.05f)), cz = c("cz", u8(100));
  g.add_node("QLinearConv", "conv", {xq, xs, xz, c("w", w), c("ws", ws), c("wz", wz), cs, cz, c("b", b)}, {cq}, ca);
  int as = c("as", scalar_f32(0.08f)), az = c("az", u8(90));
  g.add_node("QLinearAdd", "add", {cq, cs, cz, cq, cs, cz, as, az}, {aq});
  int ps = c("ps", scalar_f32(0.03f)), pz = c("pz", u8(110));
  g.add_node("QLinearGlobalAveragePool", "gap", {aq, as, az, ps, pz}, {pq});
  g.add_node("DequantizeLinear", "dq", {pq, ps, pz}, {y});
  g.outputs = {y};

  const std::string bytes = export_onnx_bytes(g);  // QLinearAdd/GAP in domain com.microsoft
  Graph imported = import_onnx_bytes(bytes.data(), bytes.size(), "qop.onnx");
  CompileOptions plain;
  plain.optimize = false;
  Session ref(Model::from_graph(imported), plain), fused(Model::from_graph(imported));
  std::map<std::string, int> ops;
  for (const Node& n : fused.graph().nodes) ++ops[n.op];
  EXPECT_EQ(ops["QLinearConv"], 1);
  EXPECT_EQ(ops["QLinearAdd"], 1);
  EXPECT_EQ(ops["QLinearGlobalAveragePool"], 1);
  for (int trial = 0; trial < 3; ++trial) {
    Tensor in = rand_f32({1, 3, 8, 8}, -2.5f, 2.5f);
    Tensor r = ref.run({in})[0].clone(), f = fused.run({in})[0];
    ASSERT_EQ(r.shape(), (Shape{1, 6, 1, 1}));
    for (int64_t i = 0; i < r.numel(); ++i)
      EXPECT_LE(std::fabs(r.data_as<float>()[i] - f.data_as<float>()[i]), 2 * 0.03f + 1e-6f) << i;
  }
}

TEST(QOperator, MissingScaleIsNamed) {
  Graph g;
  int x = g.add_value("x", DType::u8, {1, 4, 2, 2}, true);
  g.inputs = {x};
  int y = g.add_value("y");
  Tensor z(DType::u8, {});
  // a runtime (non-constant) weight scale cannot give the bias its scale
  int ws = g.add_value("ws_runtime", DType::f32, {}, true);
  g.inputs.push_back(ws);
  g.add_node("QLinearConv", "qc",
             {x, g.add_const("s", scalar_f32(1)), g.add_const("z", z), g.add_const("w", Tensor(DType::i8, {2, 4, 1, 1})),
              ws, g.add_const("wz", Tensor(DType::i8, {})), g.add_const("ys", scalar_f32(1)), g.add_const("yz", z),
              g.add_const("b", Tensor(DType::i32, {2}))},
             {y});
  g.outputs = {y};
  const std::string bytes = export_onnx_bytes(g);
  try {
    import_onnx_bytes(bytes.data(), bytes.size(), "bad.onnx");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight scale (input 4) must be a float32 constant"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef::test
