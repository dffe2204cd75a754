// Numeric equivalence: small NCHW graphs run through Session (optimizer on
// and off: BN folding, activation fusion, NHWC lowering) must equal a naive
// NCHW interpreter of the unoptimized graph (ref_interp.h).
// Tolerance: |got - want| <= 1e-4 + 1e-4 * |want| (float32, sums of <= 100 terms).
#include <gtest/gtest.h>

#include <cmath>

#include "edgeflow/session.h"
#include "unit/passes/builder.h"

namespace ef {
namespace {
using test::attrs;
using test::Builder;
using test::I;

void expect_close(const Tensor& got, const ref::T& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.s) << what;
  const float* g = got.data_as<float>();
  int bad = 0;
  for (int64_t i = 0; i < want.n() && bad < 5; ++i) {
    const float tol = 1e-4f + 1e-4f * std::fabs(want.d[i]);
    if (!(std::fabs(g[i] - want.d[i]) <= tol)) {
      ++bad;
      ADD_FAILURE() << what << "[" << i << "]: got " << g[i] << ", want " << want.d[i];
    }
  }
}

// Runs the graph with and without the optimizer; returns the optimized session's report.
OptimizeReport check(const Builder& b, const std::vector<Tensor>& inputs) {
  std::vector<ref::T> want = ref::Interpreter(b.g).run(inputs);
  OptimizeReport rep;
  for (bool opt : {true, false}) {
    Session s(Model::from_graph(b.g), {.optimize = opt});
    const auto& out = s.run(inputs);
    EXPECT_EQ(out.size(), want.size());
    for (size_t i = 0; i < out.size() && i < want.size(); ++i) {
      EXPECT_EQ(s.output_info(i).name, b.g.values[b.g.outputs[i]].name);
      expect_close(out[i], want[i], std::string(opt ? "optimized " : "plain ") + s.output_info(i).name);
    }
    if (opt) rep = s.report();
  }
  return rep;
}

int add_bn(Builder& b, int x, int64_t C, const std::string& name) {
  return b.node("BatchNormalization", name,
                {x, b.rnd(name + "_s", {C}, 0.5f, 1.5f), b.rnd(name + "_b", {C}), b.rnd(name + "_m", {C}),
                 b.rnd(name + "_v", {C}, 0.2f, 2.f)},
                attrs({{"epsilon", 1e-3f}}));
}

int count_op(const Graph& g, const std::string& op) {
  int c = 0;
  for (auto& n : g.nodes) c += n.op == op;
  return c;
}

TEST(PassesNumeric, ConvBnReluPoolAddConcatGapGemm) {
  Builder b;
  int x = b.input("x", {1, 3, 9, 9});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {8, 3, 3, 3}), b.rnd("cb", {8})}, attrs({{"pads", I{1, 1, 1, 1}}}));
  int bn = add_bn(b, c, 8, "bn");
  int r = b.node("Relu", "relu", {bn});
  int m = b.node("MaxPool", "pool", {r}, attrs({{"kernel_shape", I{2, 2}}, {"strides", I{2, 2}}}));
  int a = b.node("Add", "add", {m, b.rnd("bias", {1, 8, 1, 1})});
  int s = b.node("Sigmoid", "sig", {a});
  int cat = b.node("Concat", "cat", {a, s}, attrs({{"axis", int64_t(1)}}));
  int gap = b.node("GlobalAveragePool", "gap", {cat});
  int f = b.node("Flatten", "flat", {gap});
  int y = b.node("Gemm", "fc", {f, b.rnd("fw", {5, 16}), b.rnd("fb", {5})}, attrs({{"transB", int64_t(1)}}));
  b.output(y);
  auto rep = check(b, {ref::random_tensor({1, 3, 9, 9}, b.rng)});
  EXPECT_EQ(rep.bn_folded, 1);
  EXPECT_EQ(rep.act_fused, 1);
  EXPECT_EQ(rep.transposes_inserted, 1);
  EXPECT_EQ(rep.layout_converted, 3);
}

TEST(PassesNumeric, ResizeDepthToSpaceSliceSoftmaxWithNchwOutputs) {
  Builder b;
  int x = b.input("x", {1, 4, 5, 6});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {8, 4, 1, 1})});
  int up1 = b.node("Resize", "up_nearest", {c, -1, b.floats("s1", {4}, {1, 1, 2, 2})},
                   attrs({{"mode", std::string("nearest")},
                          {"coordinate_transformation_mode", std::string("asymmetric")},
                          {"nearest_mode", std::string("floor")}}));
  int up2 = b.node("Resize", "up_linear", {c, -1, b.floats("s2", {4}, {1, 1, 2, 3})},
                   attrs({{"mode", std::string("linear")}}));
  int d1 = b.node("DepthToSpace", "d2s_dcr", {c}, attrs({{"blocksize", int64_t(2)}}));
  int d2 = b.node("DepthToSpace", "d2s_crd", {c}, attrs({{"blocksize", int64_t(2)}, {"mode", std::string("CRD")}}));
  int d = b.node("Add", "dsum", {d1, d2});
  int sl = b.node("Slice", "slice", {up1, b.ints("st", {1}), b.ints("en", {7}), b.ints("ax", {1}), b.ints("sp", {2})});
  int sm = b.node("Softmax", "softmax", {sl}, attrs({{"axis", int64_t(1)}}));
  b.output(sm);
  b.output(up2);
  b.output(d);
  auto rep = check(b, {ref::random_tensor({1, 4, 5, 6}, b.rng)});
  EXPECT_EQ(rep.transposes_inserted, 4);  // x in; three 4-D outputs back
}

TEST(PassesNumeric, GroupedConvTransposeBnLeakyRelu) {
  Builder b;
  int x = b.input("x", {1, 4, 4, 5});
  int c = b.node("ConvTranspose", "deconv", {x, b.rnd("w", {4, 3, 3, 3}), b.rnd("db", {6})},
                 attrs({{"group", int64_t(2)}, {"strides", I{2, 2}}, {"pads", I{1, 1, 1, 1}}}));
  int bn = add_bn(b, c, 6, "bn");
  int r = b.node("LeakyRelu", "lrelu", {bn}, attrs({{"alpha", 0.1f}}));
  b.output(r);
  auto rep = check(b, {ref::random_tensor({1, 4, 4, 5}, b.rng)});
  EXPECT_EQ(rep.bn_folded, 1);
  EXPECT_EQ(rep.act_fused, 1);
}

TEST(PassesNumeric, DetectionHeadTransposeCancels) {
  Builder b;
  int x = b.input("x", {2, 3, 4, 4});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {6, 3, 3, 3})},
                 attrs({{"pads", I{1, 1, 1, 1}}, {"strides", I{2, 2}}}));
  int t = b.node("Transpose", "tr", {c}, attrs({{"perm", I{0, 2, 3, 1}}}));
  int r = b.node("Reshape", "rs", {t, b.ints("shape", {2, -1, 3})});
  b.output(r);
  auto rep = check(b, {ref::random_tensor({2, 3, 4, 4}, b.rng)});
  EXPECT_EQ(rep.transposes_inserted, 1);
}

TEST(PassesNumeric, DepthwisePadReducePReluClipAndGemmBn) {
  Builder b;
  int x = b.input("x", {1, 4, 7, 7});
  int dw = b.node("Conv", "dw", {x, b.rnd("w", {4, 1, 3, 3}), b.rnd("bb", {4})},
                  attrs({{"group", int64_t(4)}, {"dilations", I{2, 2}}, {"pads", I{2, 1, 2, 1}}}));
  int bn = add_bn(b, dw, 4, "bn");
  int cl = b.node("Clip", "relu6", {bn, b.floats("lo", {}, {0.f}), b.floats("hi", {}, {6.f})});
  int pd = b.node("Pad", "pad", {cl, b.ints("pads", {0, 0, 1, 0, 0, 0, 0, 2})});
  int mu = b.node("Mul", "mul", {pd, b.rnd("scale", {4, 1, 1})});
  int pr = b.node("PRelu", "prelu", {mu, b.rnd("slope", {4, 1, 1})});
  int hs = b.node("HardSwish", "hswish", {pr});
  int ap = b.node("AveragePool", "avg", {hs}, attrs({{"kernel_shape", I{3, 3}}, {"pads", I{1, 1, 1, 1}}}));
  int rm = b.node("ReduceMean", "mean", {ap}, attrs({{"axes", I{2, 3}}}));
  int f = b.node("Flatten", "flat", {rm});
  int g = b.node("Gemm", "fc", {f, b.rnd("fw", {4, 3}), b.rnd("fb", {3})});
  int bn2 = add_bn(b, g, 3, "bn2");
  b.output(bn2);
  b.output(ap);
  auto rep = check(b, {ref::random_tensor({1, 4, 7, 7}, b.rng, -3.f, 3.f)});
  EXPECT_EQ(rep.bn_folded, 2);
  EXPECT_GE(rep.act_fused, 1);
}

TEST(PassesNumeric, OptimizedGraphHasNoRedundantNodes) {
  Builder b;
  int x = b.input("x", {1, 3, 6, 6});
  int id = b.node("Identity", "id", {x});
  int c = b.node("Conv", "conv", {id, b.rnd("w", {4, 3, 3, 3})});
  int bn = add_bn(b, c, 4, "bn");
  int dr = b.node("Dropout", "drop", {bn});
  int r = b.node("Relu", "relu", {dr});
  b.node("Sigmoid", "unused", {r});
  int p = b.node("GlobalAveragePool", "gap", {r});
  b.output(p);
  auto rep = check(b, {ref::random_tensor({1, 3, 6, 6}, b.rng)});
  Session s(Model::from_graph(b.g));
  // Transpose in, Conv (BN + Relu folded in), GAP, Reshape out.
  EXPECT_EQ(s.graph().nodes.size(), 4u);
  EXPECT_EQ(count_op(s.graph(), "Transpose"), 1);
  EXPECT_EQ(rep.removed, 2);
  EXPECT_EQ(rep.dead, 1);
  EXPECT_EQ(rep.nodes_before, 7);
  EXPECT_EQ(rep.nodes_after, 4);
  EXPECT_FALSE(rep.log.empty());
}

// BlazeFace-style residuals: Add(conv(x), Pad(x on channels)) becomes one
// AddChannelPad (zero channels after, before and on both sides; either Add
// operand order; relu, clip and a non-clamp activation). A Pad also read
// elsewhere stays.
TEST(PassesNumeric, ChannelPadAddFusesIntoOneOp) {
  Builder b;
  int x = b.input("x", {1, 3, 5, 6});
  int stem = b.node("Conv", "stem", {x, b.rnd("stem_w", {4, 3, 1, 1})});
  auto block = [&](int in, int64_t cin, int64_t cout, int64_t before, const std::string& n) {
    int c = b.node("Conv", n + "_conv", {in, b.rnd(n + "_w", {cout, cin, 1, 1}), b.rnd(n + "_b", {cout})});
    int p = b.node("Pad", n + "_pad", {in, b.ints(n + "_pads", {0, before, 0, 0, 0, cout - cin - before, 0, 0})});
    return std::make_pair(c, p);
  };
  auto [c1, p1] = block(stem, 4, 7, 0, "a");
  int r1 = b.node("Relu", "a_relu", {b.node("Add", "a_add", {c1, p1})});
  auto [c2, p2] = block(r1, 7, 9, 2, "b");
  int r2 = b.node("Clip", "b_clip", {b.node("Add", "b_add", {p2, c2}), b.floats("lo", {}, {0.f}), b.floats("hi", {}, {0.5f})});
  auto [c3, p3] = block(r2, 9, 12, 3, "c");
  int r3 = b.node("Sigmoid", "c_sig", {b.node("Add", "c_add", {c3, p3})});
  auto [c4, p4] = block(r3, 12, 12, 0, "d");  // zero padding: a plain Add
  int a4 = b.node("Add", "d_add", {c4, p4});
  auto [c5, p5] = block(a4, 12, 13, 1, "e");
  int a5 = b.node("Add", "e_add", {c5, p5});
  b.output(a5);
  b.output(p5);  // the Pad's output is needed: not fused
  check(b, {ref::random_tensor({1, 3, 5, 6}, b.rng)});
  Session s(Model::from_graph(b.g), {});
  EXPECT_EQ(count_op(s.graph(), "AddChannelPad"), 4);  // a, b, c, d
  EXPECT_EQ(count_op(s.graph(), "Pad"), 1);
  // Delta execution keeps the Pads (they have a sparse form).
  CompileOptions d;
  d.delta.enabled = true;
  Session sd(Model::from_graph(b.g), d);
  EXPECT_EQ(count_op(sd.graph(), "AddChannelPad"), 0);
}

// ResNet blocks: Add(Conv(x), r) [+ Relu] becomes one Conv with r as input
// 3 when the Conv can run on the own GEMM: the identity block (K = 8*3*3,
// relu, the graph input as residual), a 1x1 8->8 (K = 8, which alone would
// stay on XNNPACK: with a residual the GEMM takes it), the downsample block (both
// Add inputs are convs: the first one takes the other as residual, and the
// fused Conv runs at the Add's place, after it), a plain Add. Not fused: a broadcast
// residual, a Conv output also read elsewhere, a depthwise Conv (XNNPACK),
// a sigmoid after the Add (not a clamp). Delta execution keeps the Adds.
TEST(PassesNumeric, ResidualAddFusesIntoGemmConv) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "CPU without AVX-512F: the GEMM path is not used";
  Builder b;
  int x = b.input("x", {1, 8, 9, 7});
  auto conv = [&](int in, int64_t cin, int64_t cout, int64_t k, int64_t s, const std::string& n) {
    int c = b.node("Conv", n, {in, b.rnd(n + "_w", {cout, cin, k, k}, -0.2f, 0.2f)},
                   attrs({{"pads", I{k / 2, k / 2, k / 2, k / 2}}, {"strides", I{s, s}}}));
    return add_bn(b, c, cout, n + "_bn");
  };
  int a1 = conv(b.node("Relu", "a_r0", {conv(x, 8, 8, 3, 1, "a_c1")}), 8, 8, 3, 1, "a_c2");
  int a = b.node("Relu", "a_out", {b.node("Add", "a_add", {a1, x})});
  int k = b.node("Add", "k_add", {conv(a, 8, 8, 1, 1, "k_c"), a});  // K = 8: on the GEMM only with the residual
  int d1 = conv(b.node("Relu", "d_r0", {conv(a, 8, 16, 3, 2, "d_c1")}), 16, 16, 3, 1, "d_c2");
  int d = b.node("Relu", "d_out", {b.node("Add", "d_add", {d1, conv(a, 8, 16, 1, 2, "d_down")})});
  int p = b.node("Add", "p_add", {d, conv(d, 16, 16, 3, 1, "p_c")});  // plain, residual first
  int q = b.node("Add", "q_add", {conv(p, 16, 16, 3, 1, "q_c"), b.rnd("q_bias", {1, 16, 1, 1})});  // broadcast
  int e_c = conv(q, 16, 16, 3, 1, "e_c");
  int e = b.node("Add", "e_add", {e_c, q});  // e_c is also a graph output
  int dw = b.node("Conv", "w_dw", {e, b.rnd("w_dw_w", {16, 1, 3, 3})}, attrs({{"pads", I{1, 1, 1, 1}}, {"group", int64_t(16)}}));
  int w = b.node("Add", "w_add", {dw, e});
  int s = b.node("Sigmoid", "s_sig", {b.node("Add", "s_add", {conv(w, 16, 16, 3, 1, "s_c"), w})});
  b.output(s);
  b.output(e_c);
  b.output(k);
  check(b, {ref::random_tensor({1, 8, 9, 7}, b.rng)});
  Session sess(Model::from_graph(b.g), {});
  std::string fused, adds;
  for (const Node& n : sess.graph().nodes) {
    if (n.op == "Conv" && Graph::has_input(n, 3)) fused += n.name + " ";
    if (n.op == "Add") adds += n.name + " ";
  }
  EXPECT_EQ(fused, "a_c2 k_c d_c2 p_c ");
  EXPECT_EQ(adds, "q_add e_add w_add s_add ");
  {  // 2 threads: the residual read by each pixel task
    Session s2(Model::from_graph(b.g), {.threads = 2});
    const Tensor in = ref::random_tensor({1, 8, 9, 7}, b.rng);
    const std::vector<ref::T> want = ref::Interpreter(b.g).run({in});
    const auto& got = s2.run({in});
    for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], "2 threads output " + std::to_string(i));
  }
  CompileOptions dopt;
  dopt.delta.enabled = true;
  Session sd(Model::from_graph(b.g), dopt);
  for (const Node& n : sd.graph().nodes) EXPECT_FALSE(n.op == "Conv" && Graph::has_input(n, 3)) << n.name;
}

// TFLite's ZeroPadding2D before VALID convolutions: the zero Pad on H/W moves
// into the Conv's pads (dense and depthwise, asymmetric, added to existing
// pads). Not fused: a Pad with a non-zero value, one on the channels, one
// whose output is also a graph output.
TEST(PassesNumeric, SpatialZeroPadFusesIntoConv) {
  Builder b;
  int x = b.input("x", {1, 3, 9, 8});
  int stem = b.node("Conv", "stem", {x, b.rnd("stem_w", {6, 3, 1, 1})});
  int p1 = b.node("Pad", "p1", {stem, b.ints("p1_pads", {0, 0, 1, 2, 0, 0, 2, 0})});
  int c1 = b.node("Conv", "c1", {p1, b.rnd("c1_w", {6, 6, 3, 3}), b.rnd("c1_b", {6})},
                  attrs({{"strides", I{2, 2}}, {"pads", I{0, 1, 1, 0}}}));
  int p2 = b.node("Pad", "p2", {c1, b.ints("p2_pads", {0, 0, 1, 1, 0, 0, 1, 1})});
  int c2 = b.node("Conv", "c2", {p2, b.rnd("c2_w", {6, 1, 3, 3})}, attrs({{"group", int64_t(6)}}));
  int p3 = b.node("Pad", "p3", {c2, b.ints("p3_pads", {0, 0, 1, 1, 0, 0, 1, 1}), b.floats("p3_v", {}, {0.5f})});
  int c3 = b.node("Conv", "c3", {p3, b.rnd("c3_w", {4, 6, 3, 3})});
  int p4 = b.node("Pad", "p4", {c3, b.ints("p4_pads", {0, 0, 1, 1, 0, 0, 1, 1})});
  int c4 = b.node("Conv", "c4", {p4, b.rnd("c4_w", {4, 4, 3, 3})});
  b.output(c4);
  b.output(p4);
  check(b, {ref::random_tensor({1, 3, 9, 8}, b.rng)});
  Session s(Model::from_graph(b.g), {});
  EXPECT_EQ(count_op(s.graph(), "Pad"), 2);  // p3 (value 0.5), p4 (a graph output)
  for (const Node& n : s.graph().nodes) {
    if (n.name == "c1") EXPECT_EQ(n.attrs.ints("pads"), (std::vector<int64_t>{1, 3, 3, 0}));
    if (n.name == "c2") EXPECT_EQ(n.attrs.ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  }
}

}  // namespace
}  // namespace ef
