// Structural tests, one pass at a time: node counts, attributes, rewired
// values, and BatchNorm-folded weights against a hand computation.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/passes/passes.h"
#include "unit/passes/builder.h"

namespace ef {
namespace {
using test::attrs;
using test::Builder;
using test::I;

const float* fdata(const Graph& g, int v) { return g.values.at(v).data.data_as<float>(); }
std::string out_name(const Graph& g, const Node& n, size_t i = 0) { return g.values[n.outputs[i]].name; }
std::string in_name(const Graph& g, const Node& n, size_t i) { return g.values[n.inputs[i]].name; }
bool logged(const OptimizeReport& r, const std::string& s) {
  for (auto& l : r.log)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

// ---------------------------------------------------------------- remove_identity
TEST(RemoveIdentity, RemovesNoOpsAndRewiresConsumers) {
  Builder b;
  int x = b.input("x", {1, 4, 3, 3});
  int a = b.node("Identity", "id", {x});
  int d = b.node("Dropout", "drop", {a}, {}, 2);  // mask output unused
  int t = b.node("Transpose", "tr", {d}, attrs({{"perm", I{0, 1, 2, 3}}}));
  int c = b.node("Cast", "cast", {t}, attrs({{"to", int64_t(1)}}));
  int r = b.node("Reshape", "rs", {c, b.ints("shape", {1, 4, 3, 3})});
  int y = b.node("Relu", "relu", {r});
  b.output(y);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(remove_identity(b.g, rep), 5);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  EXPECT_EQ(b.g.nodes[0].op, "Relu");
  EXPECT_EQ(in_name(b.g, b.g.nodes[0], 0), "x");
  EXPECT_EQ(rep.log.size(), 5u);
  EXPECT_TRUE(logged(rep, "node 'drop' (Dropout)"));
}

TEST(RemoveIdentity, KeepsGraphOutputNames) {
  Builder b;
  int x = b.input("x", {1, 2, 4, 4});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {2, 2, 1, 1})});
  int r = b.node("Relu", "relu", {c});
  int y = b.node("Identity", "y", {c});  // graph output through an Identity
  b.output(y);
  b.output(r);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(remove_identity(b.g, rep), 1);
  ASSERT_EQ(b.g.nodes.size(), 2u);
  const Node* conv = b.find("conv");
  ASSERT_TRUE(conv);
  EXPECT_EQ(out_name(b.g, *conv), "y");  // the producer now writes the output itself
  EXPECT_EQ(in_name(b.g, *b.find("relu"), 0), "y");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, "y");
  EXPECT_EQ(b.g.values[b.g.outputs[1]].name, "relu");
}

TEST(RemoveIdentity, KeepsAnIdentityBetweenGraphInputAndOutput) {
  Builder b;
  int x = b.input("x", {2, 3});
  int d = b.node("Dropout", "y", {x});
  b.output(d);
  infer_shapes(b.g);
  OptimizeReport rep;
  remove_identity(b.g, rep);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  EXPECT_EQ(b.g.nodes[0].op, "Identity");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, "y");
  EXPECT_EQ(b.g.values[b.g.inputs[0]].name, "x");
}

TEST(RemoveIdentity, LeavesRealWorkAlone) {
  Builder b;
  int x = b.input("x", {1, 4, 3, 3});
  int d = b.node("Dropout", "drop", {x}, {}, 2);
  int t = b.node("Transpose", "tr", {d}, attrs({{"perm", I{0, 2, 3, 1}}}));
  int r = b.node("Reshape", "rs", {t, b.ints("shape", {1, -1})});
  b.output(r);
  b.output(b.g.nodes[0].outputs[1]);  // the mask is used: Dropout stays
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(remove_identity(b.g, rep), 0);
  EXPECT_EQ(b.g.nodes.size(), 3u);
}

TEST(RemoveIdentity, MergesReshapeChains) {
  Builder b;
  int x = b.input("x", {2, 3, 4});
  int r = b.node("Reshape", "rs", {x, b.ints("shape", {2, 12, 1})});
  int f = b.node("Flatten", "flat", {r});
  b.output(b.node("Relu", "relu", {f}));
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(remove_identity(b.g, rep), 1);
  infer_shapes(b.g);
  ASSERT_EQ(b.g.nodes.size(), 2u);
  const Node* m = b.find("flat");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, "Reshape");
  EXPECT_EQ(in_name(b.g, *m, 0), "x");
  EXPECT_EQ(b.g.values[m->outputs[0]].shape, (Shape{2, 12}));
}

// ---------------------------------------------------------------- eliminate_dead
TEST(EliminateDead, RemovesBranchesThatReachNoOutput) {
  Builder b;
  int x = b.input("x", {4});
  int a = b.node("Relu", "a", {x});
  int s = b.node("Sigmoid", "dead1", {x});
  b.node("Tanh", "dead2", {s});
  b.output(a);
  OptimizeReport rep;
  EXPECT_EQ(eliminate_dead(b.g, rep), 2);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  EXPECT_EQ(b.g.nodes[0].name, "a");
  EXPECT_EQ(b.g.find_value("dead1"), -1);  // values compacted too
  EXPECT_TRUE(logged(rep, "dead2"));
}

// ---------------------------------------------------------------- fold_batchnorm
struct BnParams {
  std::vector<float> scale, bias, mean, var;
  float eps = 1e-3f;
  float s(int c) const { return scale[c] / std::sqrt(var[c] + eps); }
  float t(int c) const { return bias[c] - mean[c] * s(c); }
};

int add_bn(Builder& b, int x, const BnParams& p, const std::string& name) {
  const int64_t C = int64_t(p.scale.size());
  return b.node("BatchNormalization", name,
                {x, b.floats(name + "_s", {C}, p.scale), b.floats(name + "_b", {C}, p.bias),
                 b.floats(name + "_m", {C}, p.mean), b.floats(name + "_v", {C}, p.var)},
                attrs({{"epsilon", p.eps}}));
}

TEST(FoldBatchNorm, ConvWithAndWithoutBiasMatchesHandComputation) {
  Builder b;
  BnParams p{{1.5f, -0.5f}, {0.1f, 0.2f}, {0.3f, -0.4f}, {0.9f, 2.0f}};
  int x = b.input("x", {1, 3, 5, 5});
  std::vector<float> w(2 * 3 * 2 * 2);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * float(i) - 1.f;
  int wv = b.floats("w", {2, 3, 2, 2}, w);
  int c1 = b.node("Conv", "conv1", {x, wv});  // no bias
  int y1 = add_bn(b, c1, p, "bn1");
  int c2 = b.node("Conv", "conv2", {x, wv, b.floats("b2", {2}, {0.5f, -1.f})});  // shares w
  int y2 = add_bn(b, c2, p, "bn2");
  b.output(y1);
  b.output(y2);
  infer_shapes(b.g);
  const Tensor w_before = b.g.values[wv].data;  // shares storage
  OptimizeReport rep;
  EXPECT_EQ(fold_batchnorm(b.g, rep), 2);
  EXPECT_EQ(b.count("BatchNormalization"), 0);
  const Node* k1 = b.find("conv1");
  const Node* k2 = b.find("conv2");
  ASSERT_TRUE(k1 && k2);
  EXPECT_EQ(out_name(b.g, *k1), "bn1");
  EXPECT_EQ(out_name(b.g, *k2), "bn2");
  ASSERT_EQ(k1->inputs.size(), 3u);
  const float* w1 = fdata(b.g, k1->inputs[1]);
  const float* b1 = fdata(b.g, k1->inputs[2]);
  const float* b2 = fdata(b.g, k2->inputs[2]);
  for (int o = 0; o < 2; ++o) {
    for (int k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(w1[o * 12 + k], w[o * 12 + k] * p.s(o));
    EXPECT_FLOAT_EQ(b1[o], p.bias[o] - p.mean[o] * p.s(o));
    EXPECT_FLOAT_EQ(b2[o], (o == 0 ? 0.5f : -1.f) * p.s(o) + p.t(o));
  }
  // The original (shared) weights are untouched.
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w_before.data_as<float>()[i], w[i]);
}

TEST(FoldBatchNorm, GroupedConvTransposeScalesOutputChannels) {
  Builder b;
  // IOHW [Cin=4, Cout/group=3, 1, 1], group 2 -> Cout 6.
  BnParams p{{1, 2, 3, 4, 5, 6}, {0, 0, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, 0.f};
  int x = b.input("x", {1, 4, 3, 3});
  std::vector<float> w(4 * 3, 1.f);
  int c = b.node("ConvTranspose", "deconv", {x, b.floats("w", {4, 3, 1, 1}, w)}, attrs({{"group", int64_t(2)}}));
  b.output(add_bn(b, c, p, "bn"));
  infer_shapes(b.g);
  OptimizeReport rep;
  ASSERT_EQ(fold_batchnorm(b.g, rep), 1);
  const Node* k = b.find("deconv");
  const float* nw = fdata(b.g, k->inputs[1]);
  // input channels 0,1 are group 0 -> outputs 0..2; channels 2,3 -> outputs 3..5.
  const float want[12] = {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6};
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(nw[i], want[i]) << i;
  EXPECT_FLOAT_EQ(fdata(b.g, k->inputs[2])[5], 1.f);
}

TEST(FoldBatchNorm, GemmTransBAndBeta) {
  for (int transB : {0, 1}) {
    Builder b;
    BnParams p{{2, 3}, {1, -1}, {0.5f, 0.25f}, {3, 8}, 1.f};  // s = {1, 1}... recomputed below
    p.var = {3.f, 8.f};
    int x = b.input("x", {2, 3});
    std::vector<float> w = {1, 2, 3, 4, 5, 6};  // [3,2] or [2,3]
    int g = b.node("Gemm", "fc", {x, b.floats("w", transB ? Shape{2, 3} : Shape{3, 2}, w), b.floats("c", {2}, {10, 20})},
                   attrs({{"transB", int64_t(transB)}, {"beta", 0.5f}}));
    b.output(add_bn(b, g, p, "bn"));
    infer_shapes(b.g);
    OptimizeReport rep;
    ASSERT_EQ(fold_batchnorm(b.g, rep), 1) << transB;
    const Node* k = b.find("fc");
    const float* nw = fdata(b.g, k->inputs[1]);
    for (int kk = 0; kk < 3; ++kk)
      for (int n = 0; n < 2; ++n) {
        const int i = transB ? n * 3 + kk : kk * 2 + n;
        EXPECT_FLOAT_EQ(nw[i], w[i] * p.s(n));
      }
    // beta * C' = beta * C * s + t
    const float beta = k->attrs.f("beta", 1.f);
    const float* nc = fdata(b.g, k->inputs[2]);
    for (int n = 0; n < 2; ++n) EXPECT_NEAR(beta * nc[n], 0.5f * (n ? 20.f : 10.f) * p.s(n) + p.t(n), 1e-5f);
  }
}

TEST(FoldBatchNorm, SkipsWhenTheConvOutputHasAnotherReader) {
  Builder b;
  BnParams p{{1, 1}, {0, 0}, {0, 0}, {1, 1}};
  int x = b.input("x", {1, 2, 3, 3});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {2, 2, 1, 1})});
  b.output(add_bn(b, c, p, "bn"));
  b.output(b.node("Relu", "relu", {c}));
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(fold_batchnorm(b.g, rep), 0);
  EXPECT_EQ(b.count("BatchNormalization"), 1);
}

// ---------------------------------------------------------------- fuse_hardswish
TEST(FuseHardSwish, MulOfHardSigmoidBecomesHardSwishOnlyWithItsConstants) {
  Builder b;
  int x = b.input("x", {1, 4, 3, 3});
  int hs = b.node("HardSigmoid", "hs", {x}, attrs({{"alpha", 1.f / 6.f}, {"beta", 0.5f}}));
  int y = b.node("Mul", "swish", {hs, x});  // either operand order
  int h2 = b.node("HardSigmoid", "hs_default", {y});  // alpha 0.2: a plain HardSigmoid
  int z = b.node("Mul", "not_swish", {y, h2});
  b.output(z);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(fuse_hardswish(b.g, rep), 1);
  ASSERT_EQ(b.g.nodes.size(), 3u);
  EXPECT_EQ(b.g.nodes[0].op, "HardSwish");
  EXPECT_EQ(b.g.nodes[0].name, "swish");
  EXPECT_EQ(in_name(b.g, b.g.nodes[0], 0), "x");
  EXPECT_EQ(b.g.nodes[0].inputs.size(), 1u);
  EXPECT_EQ(b.g.nodes[1].op, "HardSigmoid");
  EXPECT_EQ(b.g.nodes[2].op, "Mul");
  EXPECT_TRUE(logged(rep, "fuse_hardswish"));
}

// ---------------------------------------------------------------- fuse_activation
TEST(FuseActivation, FusesSupportedActivationsWithTheirParameters) {
  Builder b;
  int x = b.input("x", {1, 2, 4, 4});
  int c1 = b.node("Conv", "c1", {x, b.rnd("w1", {2, 2, 1, 1})});
  int r1 = b.node("Relu", "r1", {c1});
  int c2 = b.node("Conv", "c2", {r1, b.rnd("w2", {2, 2, 1, 1})});
  int r2 = b.node("Clip", "r2", {c2, b.floats("lo", {}, {0.f}), b.floats("hi", {}, {6.f})});
  int a = b.node("Add", "add", {r2, x});
  int r3 = b.node("Clip", "r3", {a, b.floats("lo2", {}, {-1.f}), b.floats("hi2", {}, {2.f})});
  int m = b.node("MaxPool", "pool", {r3}, attrs({{"kernel_shape", I{2, 2}}}));
  int r4 = b.node("LeakyRelu", "r4", {m}, attrs({{"alpha", 0.2f}}));
  int s = b.node("Sigmoid", "r5", {r4});  // r4 is no producer: stays
  b.output(s);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(fuse_activation(b.g, rep), 4);
  EXPECT_EQ(b.g.nodes.size(), 5u);
  EXPECT_EQ(b.find("c1")->attrs.s("activation"), "relu");
  EXPECT_EQ(b.find("c2")->attrs.s("activation"), "relu6");
  EXPECT_EQ(b.find("add")->attrs.s("activation"), "clip");
  EXPECT_FLOAT_EQ(b.find("add")->attrs.f("act_min", 0), -1.f);
  EXPECT_FLOAT_EQ(b.find("add")->attrs.f("act_max", 0), 2.f);
  EXPECT_EQ(b.find("pool")->attrs.s("activation"), "leaky_relu");
  EXPECT_FLOAT_EQ(b.find("pool")->attrs.f("act_alpha", 0), 0.2f);
  EXPECT_EQ(out_name(b.g, *b.find("pool")), "r4");
  EXPECT_EQ(b.count("Sigmoid"), 1);
  EXPECT_TRUE(logged(rep, "fused node 'r2' (Clip) into node 'c2' (Conv) as relu6"));
}

TEST(FuseActivation, DoesNotFuseAcrossSharedOrVisibleValues) {
  Builder b;
  int x = b.input("x", {1, 2, 4, 4});
  int c1 = b.node("Conv", "c1", {x, b.rnd("w1", {2, 2, 1, 1})});
  int r1 = b.node("Relu", "r1", {c1});
  int c2 = b.node("Conv", "c2", {x, b.rnd("w2", {2, 2, 1, 1})});
  int r2 = b.node("Relu", "r2", {c2});
  int c3 = b.node("Conv", "c3", {x, b.rnd("w3", {2, 2, 1, 1})}, attrs({{"activation", std::string("tanh")}}));
  int r3 = b.node("Relu", "r3", {c3});
  b.output(r1);
  b.output(c1);  // c1 is visible: keep it
  b.output(r2);
  b.output(b.node("Sigmoid", "other", {c2}));  // c2 has two readers
  b.output(r3);  // c3 already has an activation
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(fuse_activation(b.g, rep), 0);
}

// ---------------------------------------------------------------- to_nhwc
int transposes(const Graph& g) {
  int c = 0;
  for (auto& n : g.nodes) c += n.op == "Transpose";
  return c;
}

TEST(ToNhwc, ClassifierNeedsOneTransposeAndAReshape) {
  Builder b;
  int x = b.input("x", {1, 3, 8, 8});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {4, 3, 3, 3})}, attrs({{"pads", I{1, 1, 1, 1}}}));
  int r = b.node("Relu", "relu", {c});
  int a = b.node("Add", "add", {r, b.rnd("bias", {1, 4, 1, 1})});
  int m = b.node("Mul", "mul", {a, b.rnd("scale", {4, 1, 1})});
  int p = b.node("GlobalAveragePool", "gap", {m});
  int f = b.node("Flatten", "flat", {p});
  int y = b.node("Gemm", "fc", {f, b.rnd("fw", {5, 4}), b.rnd("fb", {5})}, attrs({{"transB", int64_t(1)}}));
  b.output(y);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(to_nhwc(b.g, rep), 1);
  EXPECT_EQ(rep.layout_converted, 2);
  infer_shapes(b.g);  // the result is a valid graph
  EXPECT_EQ(transposes(b.g), 1);
  EXPECT_EQ(b.find("conv")->attrs.s("layout"), "NHWC");
  EXPECT_EQ(b.find("gap")->attrs.s("layout"), "NHWC");
  EXPECT_EQ(b.g.in(*b.find("add"), 1).shape, (Shape{1, 1, 1, 4}));
  EXPECT_EQ(b.g.in(*b.find("mul"), 1).shape, (Shape{1, 1, 1, 4}));
  EXPECT_EQ(b.g.values[b.find("conv")->outputs[0]].shape, (Shape{1, 8, 8, 4}));
  // GAP [1,1,1,4] -> Flatten goes through a Reshape, not a Transpose.
  const Node* flat = b.find("flat");
  const Node& before = b.g.nodes[b.g.values[flat->inputs[0]].producer];
  EXPECT_EQ(before.op, "Reshape");
  EXPECT_EQ(b.g.in(*flat, 0).shape, (Shape{1, 4, 1, 1}));
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, "fc");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].shape, (Shape{1, 5}));
}

TEST(ToNhwc, RemapsAxesAndConstants) {
  Builder b;
  int x = b.input("x", {1, 4, 6, 6});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {4, 4, 1, 1})});
  int s = b.node("Slice", "slice", {c, b.ints("st", {1}), b.ints("en", {3}), b.ints("ax", {1})});
  int cat = b.node("Concat", "cat", {s, c}, attrs({{"axis", int64_t(1)}}));
  int sm = b.node("Softmax", "sm", {cat}, attrs({{"axis", int64_t(1)}}));
  int pd = b.node("Pad", "pad", {sm, b.ints("pads", {0, 1, 2, 3, 0, 4, 5, 6})});
  int rs = b.node("Resize", "resize", {pd, -1, b.floats("scales", {4}, {1, 1, 2, 3})});
  int rm = b.node("ReduceMean", "mean", {rs}, attrs({{"axes", I{2, 3}}}));
  b.output(rm);
  infer_shapes(b.g);
  const Shape want = b.g.values[rm].shape;
  OptimizeReport rep;
  EXPECT_EQ(to_nhwc(b.g, rep), 1);  // the input; the output [1,4,1,1] only needs a Reshape
  infer_shapes(b.g);
  EXPECT_EQ(b.g.nodes.back().op, "Reshape");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].shape, want);
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, "mean");
  auto axes = b.g.in(*b.find("slice"), 3).data;
  EXPECT_EQ(axes.data_as<int64_t>()[0], 3);
  EXPECT_EQ(b.find("cat")->attrs.i("axis"), 3);
  EXPECT_EQ(b.find("sm")->attrs.i("axis"), 3);
  const int64_t* pads = b.g.in(*b.find("pad"), 1).data.data_as<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(pads, pads + 8), (std::vector<int64_t>{0, 2, 3, 1, 0, 5, 6, 4}));
  const float* sc = b.g.in(*b.find("resize"), 2).data.data_as<float>();
  EXPECT_EQ(std::vector<float>(sc, sc + 4), (std::vector<float>{1, 2, 3, 1}));
  EXPECT_EQ(b.find("resize")->attrs.s("layout"), "NHWC");
  EXPECT_EQ(b.find("mean")->attrs.ints("axes"), (I{1, 2}));
}

TEST(ToNhwc, TransposeBackToNhwcCancelsOut) {
  // A detection head: Conv -> Transpose(0,2,3,1) -> Reshape [1,-1,2].
  Builder b;
  int x = b.input("x", {1, 3, 4, 4});
  int c = b.node("Conv", "conv", {x, b.rnd("w", {4, 3, 1, 1})});
  int t = b.node("Transpose", "tr", {c}, attrs({{"perm", I{0, 2, 3, 1}}}));
  int r = b.node("Reshape", "rs", {t, b.ints("shape", {1, -1, 2})});
  b.output(r);
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(to_nhwc(b.g, rep), 1);
  infer_shapes(b.g);
  EXPECT_EQ(transposes(b.g), 1);  // only the input's
  EXPECT_EQ(b.find("tr"), nullptr);
  EXPECT_EQ(b.g.in(*b.find("rs"), 0).name, "conv");
}

TEST(ToNhwc, GraphOutputsKeepTheirLayoutAndValuesAreTransposedOnce) {
  Builder b;
  int x = b.input("x", {1, 2, 5, 5});
  int c1 = b.node("Conv", "c1", {x, b.rnd("w1", {3, 2, 3, 3})});
  int c2 = b.node("MaxPool", "p2", {x}, attrs({{"kernel_shape", I{3, 3}}}));
  int s = b.node("Sigmoid", "sig", {c1});
  b.output(s);
  b.output(c2);
  b.output(b.node("Flatten", "flat", {c1}));
  infer_shapes(b.g);
  OptimizeReport rep;
  // x -> NHWC once (shared by c1 and p2); c1 back once (Flatten and, reused, nothing else);
  // sig and p2 back for the outputs.
  EXPECT_EQ(to_nhwc(b.g, rep), 4);
  infer_shapes(b.g);
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, "sig");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].shape, (Shape{1, 3, 3, 3}));
  EXPECT_EQ(b.g.values[b.g.outputs[1]].name, "p2");
  EXPECT_EQ(b.g.values[b.g.outputs[1]].shape, (Shape{1, 2, 3, 3}));
  EXPECT_EQ(b.g.values[b.g.inputs[0]].shape, (Shape{1, 2, 5, 5}));
}

TEST(ToNhwc, LeavesGraphsThatAreAlreadyNhwcAlone) {
  Builder b;
  int x = b.input("x", {1, 5, 5, 2});
  int c = b.node("Conv", "c", {x, b.rnd("w", {3, 2, 3, 3})}, attrs({{"layout", std::string("NHWC")}}));
  int r = b.node("Relu", "r", {c});
  int m = b.node("MaxPool", "p", {r}, attrs({{"kernel_shape", I{2, 2}}, {"layout", std::string("NHWC")}}));
  b.output(b.node("Reshape", "rs", {m, b.ints("shape", {1, -1})}));
  infer_shapes(b.g);
  OptimizeReport rep;
  EXPECT_EQ(to_nhwc(b.g, rep), 0);
  EXPECT_EQ(rep.layout_converted, 0);
  EXPECT_EQ(b.g.nodes.size(), 4u);
}

}  // namespace
}  // namespace ef
