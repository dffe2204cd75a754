// DequantizeLinear(int8) -> ConvTranspose (kernel == stride, at most 16
// outputs per input pixel): the fuse_dequantize_conv_transpose pass lets the
// direct kernel read the int8 tensor (inputs 3, 4: scale and zero point).
// The kernel dequantizes as DequantizeLinear does, so the fused graph must
// equal the unfused one (optimize = false: DequantizeLinear, then the float
// ConvTranspose) exactly; the float kernel itself is checked against a naive
// reference in ops_spatial/conv_test.cc.
#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

bool direct_kernel_cpu() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

struct DeconvCase {
  int64_t n, h, w, c, m, k, pad;
};

// q (int8 graph input, NHWC) -> DequantizeLinear -> ConvTranspose (+ sigmoid) -> y;
// with keep_dq the dequantized value is a graph output too.
Graph dq_deconv(const DeconvCase& p, bool keep_dq) {
  Graph g;
  const int q = g.add_value("q", DType::i8, {p.n, p.h, p.w, p.c}, true);
  g.inputs = {q};
  Tensor zp(DType::i8, {});
  *zp.data_as<int8_t>() = -7;
  const int xf = g.add_value("xf");
  g.add_node("DequantizeLinear", "dq", {q, g.add_const("s", scalar_f32(0.037f)), g.add_const("z", zp)}, {xf});
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("strides", std::vector<int64_t>{p.k, p.k});
  a.set("pads", std::vector<int64_t>{p.pad, p.pad, 0, p.pad});
  a.set("activation", std::string("sigmoid"));
  const int y = g.add_value("y");
  g.add_node("ConvTranspose", "deconv",
             {xf, g.add_const("w", rand_f32({p.c, p.m, p.k, p.k}, -1.f, 1.f)), g.add_const("b", rand_f32({p.m}))}, {y},
             a);
  g.outputs = {y};
  if (keep_dq) g.outputs.push_back(xf);
  return g;
}

struct Ran {
  std::unique_ptr<Session> s;
  Tensor y;
  int dequantize_nodes = 0;
};
Ran run(const Graph& g, const Tensor& q, bool optimize, int threads) {
  CompileOptions o;
  o.optimize = optimize;
  o.threads = threads;
  Ran r{std::make_unique<Session>(Model::from_graph(g), o), {}};
  r.y = r.s->run({q}).at(0).clone();
  for (const Node& n : r.s->graph().nodes) r.dequantize_nodes += n.op == "DequantizeLinear";
  return r;
}

TEST(ConvTransposeInt8, FusedDequantizeEqualsUnfusedGraph) {
  if (!direct_kernel_cpu()) GTEST_SKIP() << "the direct kernel needs AVX-512";
  int iter = 0;
  for (DeconvCase p : {DeconvCase{1, 5, 11, 16, 1, 2, 0}, DeconvCase{2, 3, 19, 21, 2, 2, 1}, DeconvCase{1, 4, 17, 3, 1, 3, 1},
                       DeconvCase{1, 2, 33, 40, 4, 2, 0}, DeconvCase{1, 6, 7, 5, 1, 1, 0}})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("case " + std::to_string(iter++) + " threads " + std::to_string(threads));
      const Graph g = dq_deconv(p, false);
      const Tensor q = rand_int<int8_t>({p.n, p.h, p.w, p.c}, -128, 127);
      const Ran fused = run(g, q, true, threads);
      EXPECT_EQ(fused.dequantize_nodes, 0) << "DequantizeLinear not folded into the ConvTranspose";
      EXPECT_EQ(fused.s->profile().back().impl, "avx512-direct");
      expect_equal<float>(fused.y, run(g, q, false, threads).y, "fused vs unfused");
    }
}

TEST(ConvTransposeInt8, DequantizedValueThatIsKeptIsNotFolded) {
  if (!direct_kernel_cpu()) GTEST_SKIP() << "the direct kernel needs AVX-512";
  const DeconvCase p{1, 4, 9, 16, 1, 2, 0};
  const Graph g = dq_deconv(p, true);
  const Tensor q = rand_int<int8_t>({p.n, p.h, p.w, p.c}, -128, 127);
  const Ran kept = run(g, q, true, 1);
  EXPECT_EQ(kept.dequantize_nodes, 1);
  expect_equal<float>(kept.y, run(g, q, false, 1).y, "kept vs unfused");
}

TEST(ConvTransposeInt8, Int8InputWithoutScaleIsNamed) {
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("strides", std::vector<int64_t>{2, 2});
  const std::string e = compile_error("ConvTranspose",
                                      {In::rt(rand_int<int8_t>({1, 3, 3, 4}, -5, 5)), In::k(rand_f32({4, 1, 2, 2})),
                                       In::none(), In::k(scalar_f32(0.1f))},
                                      a);
  EXPECT_NE(e.find("int8 input 'in0' needs a scalar scale (input 3) and zero point (input 4)"), std::string::npos) << e;
}

}  // namespace
}  // namespace ef::test
