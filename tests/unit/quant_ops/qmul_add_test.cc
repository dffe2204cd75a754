// QLinearAdd(QLinearMul(a, b), r) fused by fuse_qmul_add into one QLinearMul
// with a residual (inputs 8-12): the kernels (own AVX-512 and reference)
// round the product to int8 and add r with QLinearAdd's arithmetic, so the
// fused graph must equal the unfused one (optimize = false: the two ops)
// exactly. Per-channel b (the squeeze-excitation scale, odd and 16 channels),
// full-shape b, r as the Add's first or second operand, a relu on the Add,
// 1 and 2 threads.
#include "unit/quant_ops/fusion_run.h"

namespace ef::test {
namespace {

struct MulAddCase {
  Shape a, b;
  bool r_first;
  const char* act;  // "" or "relu"
};

// a, b, r of type t (zero points below shifted by 128 for uint8).
Graph mul_add(const MulAddCase& c, bool keep_product, DType t = DType::i8) {
  Graph g;
  auto scale = [&](float v) { return g.add_const(g.unique_name("s"), scalar_f32(v)); };
  auto zp = [&](int v) {
    Tensor z(t, {});
    if (t == DType::i8) *z.data_as<int8_t>() = int8_t(v);
    else *z.data_as<uint8_t>() = uint8_t(v + 128);
    return g.add_const(g.unique_name("z"), z);
  };
  const int a = g.add_value("a", t, c.a, true), b = g.add_value("b", t, c.b, true), r = g.add_value("r", t, c.a, true);
  g.inputs = {a, b, r};
  const int p = g.add_value("p"), y = g.add_value("y");
  g.add_node("QLinearMul", "mul", {a, scale(0.05f), zp(3), b, scale(0.004f), zp(-128), scale(0.03f), zp(-5)}, {p});
  const std::vector<int> pr = {p, scale(0.03f), zp(-5)}, rr = {r, scale(0.06f), zp(7)};
  std::vector<int> ins = c.r_first ? rr : pr;
  const std::vector<int>& second = c.r_first ? pr : rr;
  ins.insert(ins.end(), second.begin(), second.end());
  ins.insert(ins.end(), {scale(0.08f), zp(-2)});
  Attrs at;
  if (*c.act) at.set("activation", std::string(c.act));
  g.add_node("QLinearAdd", "add", ins, {y}, at);
  g.outputs = {y};
  if (keep_product) g.outputs.push_back(p);
  return g;
}

FusionRun run(const Graph& g, const std::vector<Tensor>& in, bool optimize, int threads) {
  return run_fusion(g, in, optimize, threads, "QLinearAdd");
}

TEST(QLinearMulAdd, FusedEqualsUnfusedPair) {
  int k = 0;
  for (const MulAddCase& c : {MulAddCase{{1, 9, 13, 21}, {1, 1, 1, 21}, false, ""},
                              MulAddCase{{1, 33, 40, 16}, {1, 1, 1, 16}, true, "relu"},
                              MulAddCase{{2, 5, 7, 24}, {2, 5, 7, 24}, false, "relu"},
                              MulAddCase{{1, 3, 5, 40}, {1, 1, 1, 40}, true, ""}})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("case " + std::to_string(k++));
      const std::vector<Tensor> in = {rand_int<int8_t>(c.a, -128, 127), rand_int<int8_t>(c.b, -128, 127),
                                      rand_int<int8_t>(c.a, -128, 127)};
      const Graph g = mul_add(c, false);
      const FusionRun fused = run(g, in, true, threads);
      EXPECT_EQ(fused.count, 0) << "the QLinearAdd was not folded into the QLinearMul";
      expect_equal<int8_t>(fused.y, run(g, in, false, threads).y, "fused vs unfused");
    }
}

TEST(QLinearMulAdd, ProductReadElsewhereIsNotFused) {
  const MulAddCase c{{1, 4, 4, 16}, {1, 1, 1, 16}, false, ""};
  const std::vector<Tensor> in = {rand_int<int8_t>(c.a, -128, 127), rand_int<int8_t>(c.b, -128, 127),
                                  rand_int<int8_t>(c.a, -128, 127)};
  const Graph g = mul_add(c, true);
  const FusionRun kept = run(g, in, true, 1);
  EXPECT_EQ(kept.count, 1);
  expect_equal<int8_t>(kept.y, run(g, in, false, 1).y, "kept vs unfused");
}

// uint8 runs on the reference kernels (the fusion pass takes int8 only): the
// fused form written by hand equals the pair.
TEST(QLinearMulAdd, ReferenceKernelFusedFormEqualsPair) {
  for (bool r_first : {false, true}) {
    const MulAddCase c{{1, 5, 6, 21}, {1, 1, 1, 21}, r_first, "relu"};
    const std::vector<Tensor> in = {rand_int<uint8_t>(c.a, 0, 255), rand_int<uint8_t>(c.b, 0, 255),
                                    rand_int<uint8_t>(c.a, 0, 255)};
    const Graph pair = mul_add(c, false, DType::u8);
    Graph fused = pair;
    Node& mul = fused.nodes[0];
    const Node& add = fused.nodes[1];
    const size_t ri = r_first ? 0 : 3;
    mul.inputs.insert(mul.inputs.end(), {add.inputs[ri], add.inputs[ri + 1], add.inputs[ri + 2], add.inputs[6], add.inputs[7]});
    mul.outputs = add.outputs;
    mul.attrs = add.attrs;
    if (r_first) mul.attrs.set("residual_first", int64_t(1));
    fused.nodes.pop_back();
    expect_equal<uint8_t>(run(fused, in, false, 1).y, run(pair, in, false, 1).y, "hand-fused vs pair");
  }
}

TEST(QLinearMulAdd, ResidualOfAnotherShapeIsNamed) {
  Graph g = mul_add(MulAddCase{{1, 4, 4, 16}, {1, 1, 1, 16}, false, ""}, false);
  // The fused form written by hand with a residual of the wrong shape.
  Node& mul = g.nodes[0];
  const int r = g.add_value("r2", DType::i8, {1, 4, 4, 8}, true);
  g.inputs.push_back(r);
  Node& add = g.nodes[1];
  mul.inputs.insert(mul.inputs.end(), {r, add.inputs[4], add.inputs[5], add.inputs[6], add.inputs[7]});
  try {
    Session s(Model::from_graph(g));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("residual must have the output's shape"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef::test
