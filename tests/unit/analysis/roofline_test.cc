// Bytes, operational intensity and roofline placement by hand; the machine
// file round trip and its errors; the SVG plot's structure.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "analysis/microkernels.h"
#include "edgeflow/analysis.h"

namespace ef {

namespace {
// A synthetic machine: fp32 100 GFLOP/s (1 thread) / 180 (2), int8 400 / 800,
// triad 10 / 16 GB/s; no fp16.
const char* kMachine = R"({
  "version": 1, "cpu": "Synthetic \"test\" CPU", "isa": "avx512f fma3", "threads": 2,
  "fp32_gflops_1t": 100, "fp32_gflops_all": 180,
  "int8_gops_1t": 400, "int8_gops_all": 800,
  "read_gbs_1t": 12, "read_gbs_all": 20, "copy_gbs_1t": 11, "copy_gbs_all": 18,
  "triad_gbs_1t": 10, "triad_gbs_all": 16, "measured": "2026-11-21T00:00:00Z", "load": 0.5
})";

Graph single(const std::string& op, Shape x_shape, Shape w_shape, Attrs a, DType wt = DType::f32) {
  Graph g;
  int x = g.add_value("x", DType::f32, x_shape, true);
  std::vector<int> in = {x};
  if (!w_shape.empty()) in.push_back(g.add_const("w", Tensor(wt, w_shape)));
  int y = g.add_value("y");
  g.add_node(op, "layer", in, {y}, a);
  g.inputs = {x};
  g.outputs = {y};
  infer_shapes(g);
  return g;
}
}  // namespace

TEST(Roofline, BytesAndIntensityByHand) {
  // 1x1 conv 64->128 on 28x28, no bias: in 64*784*4 = 200,704 B, out 128*784*4 = 401,408 B,
  // weights 128*64*4 = 32,768 B; FLOPs 2*784*128*64 = 12,845,056; 634,880 B moved -> 20.232 FLOP/B.
  Attrs a;
  a.set("kernel_shape", std::vector<int64_t>{1, 1});
  Graph g = single("Conv", {1, 64, 28, 28}, {128, 64, 1, 1}, a);
  NodeCost c = node_cost(g, g.nodes[0]);
  EXPECT_EQ(c.in_bytes, 200704);
  EXPECT_EQ(c.out_bytes, 401408);
  EXPECT_EQ(c.weight_bytes, 32768);
  EXPECT_EQ(c.bytes_moved(), 634880);
  EXPECT_EQ(c.flops, 12845056);
  EXPECT_NEAR(c.intensity(), 12845056.0 / 634880.0, 1e-12);

  // Depthwise 3x3 on 32x112x112 (pad 1): 9 MACs per output; in = out = 1,605,632 B, weights 1,152 B.
  Attrs d;
  d.set("kernel_shape", std::vector<int64_t>{3, 3});
  d.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  d.set("group", int64_t(32));
  Graph dw = single("Conv", {1, 32, 112, 112}, {32, 1, 3, 3}, d);
  NodeCost cd = node_cost(dw, dw.nodes[0]);
  EXPECT_EQ(cd.macs, 32LL * 112 * 112 * 9);
  EXPECT_EQ(cd.bytes_moved(), 2 * 1605632 + 1152);
  EXPECT_NEAR(cd.intensity(), 2.0 * 3612672 / 3212416, 1e-12);  // ~2.25 FLOP/B

  // The same 1x1 conv with fp16 weights: half the weight bytes; int8 weights: a quarter.
  Graph h = single("Conv", {1, 64, 28, 28}, {128, 64, 1, 1}, a, DType::f16);
  EXPECT_EQ(node_cost(h, h.nodes[0]).weight_bytes, 16384);
  EXPECT_EQ(compute_precision(h, h.nodes[0]), "fp16");
  Graph q = single("Conv", {1, 64, 28, 28}, {128, 64, 1, 1}, a, DType::i8);
  EXPECT_EQ(node_cost(q, q.nodes[0]).weight_bytes, 8192);
  EXPECT_EQ(compute_precision(q, q.nodes[0]), "int8");
  EXPECT_EQ(compute_precision(g, g.nodes[0]), "fp32");

  // ReLU on 1x64x56x56: one FLOP per element, 8 bytes per element -> 0.125 FLOP/B.
  Graph r = single("Relu", {1, 64, 56, 56}, {}, {});
  EXPECT_NEAR(node_cost(r, r.nodes[0]).intensity(), 0.125, 1e-12);
}

TEST(Roofline, ClassificationOnASyntheticMachine) {
  MachineRoofs m = machine_from_json(kMachine, "synthetic");
  EXPECT_DOUBLE_EQ(m.peak_gflops("fp32", 1), 100);
  EXPECT_DOUBLE_EQ(m.peak_gflops("fp32", 2), 180);
  EXPECT_DOUBLE_EQ(m.peak_gflops("int8", 1), 400);
  EXPECT_DOUBLE_EQ(m.peak_gflops("fp16", 1), 100);  // not measured -> fp32 roof
  EXPECT_DOUBLE_EQ(m.bandwidth_gbs(1), 10);
  EXPECT_DOUBLE_EQ(m.bandwidth_gbs(8), 16);  // capped at the all-threads value

  // Ridge at 1 thread: 100 / 10 = 10 FLOP/B.
  NodeCost c;
  c.flops = 2'000'000;
  c.in_bytes = 400'000;  // 5 FLOP/B: memory-bound, attainable 5 * 10 = 50 GFLOP/s
  RooflinePoint p = place_on_roofline(c, 0.1, m.peak_gflops("fp32", 1), m.bandwidth_gbs(1));
  EXPECT_DOUBLE_EQ(p.ridge, 10);
  EXPECT_TRUE(p.memory_bound);
  EXPECT_DOUBLE_EQ(p.attainable_gflops, 50);
  EXPECT_DOUBLE_EQ(p.gflops, 20);  // 2e6 FLOP in 0.1 ms
  EXPECT_DOUBLE_EQ(p.gbs, 4);      // 4e5 B in 0.1 ms
  EXPECT_DOUBLE_EQ(p.pct_of_roof, 40);

  c.in_bytes = 40'000;  // 50 FLOP/B: compute-bound at 1 thread, roof 100
  p = place_on_roofline(c, 0.1, m.peak_gflops("fp32", 1), m.bandwidth_gbs(1));
  EXPECT_FALSE(p.memory_bound);
  EXPECT_DOUBLE_EQ(p.attainable_gflops, 100);
  EXPECT_DOUBLE_EQ(p.pct_of_roof, 20);

  // 11 FLOP/B: compute-bound at 1 thread (ridge 100/10 = 10), memory-bound at 2 threads (ridge 180/16 =
  // 11.25) and for int8 at 1 thread (ridge 400/10 = 40).
  c.in_bytes = 2'000'000 / 11;
  EXPECT_FALSE(place_on_roofline(c, 1, m.peak_gflops("fp32", 1), m.bandwidth_gbs(1)).memory_bound);
  EXPECT_TRUE(place_on_roofline(c, 1, m.peak_gflops("fp32", 2), m.bandwidth_gbs(2)).memory_bound);
  EXPECT_NEAR(place_on_roofline(c, 1, m.peak_gflops("fp32", 2), m.bandwidth_gbs(2)).attainable_gflops, 176, 0.01);
  EXPECT_TRUE(place_on_roofline(c, 1, m.peak_gflops("int8", 1), m.bandwidth_gbs(1)).memory_bound);
}

TEST(Machine, JsonRoundTrips) {
  MachineRoofs m = machine_from_json(kMachine, "synthetic");
  EXPECT_EQ(m.cpu, "Synthetic \"test\" CPU");
  EXPECT_EQ(m.threads, 2);
  m.cache_read = {150, 290};
  m.fp16 = {210.5, 420.25};
  MachineRoofs r = machine_from_json(machine_to_json(m), "round trip");
  EXPECT_EQ(r.cpu, m.cpu);
  EXPECT_EQ(r.isa, m.isa);
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.measured, m.measured);
  for (auto [a, b] : {std::pair{r.fp32, m.fp32}, {r.fp16, m.fp16}, {r.bf16, m.bf16}, {r.int8, m.int8},
                      {r.read, m.read}, {r.copy, m.copy}, {r.triad, m.triad}, {r.cache_read, m.cache_read}}) {
    EXPECT_DOUBLE_EQ(a.one, b.one);
    EXPECT_DOUBLE_EQ(a.all, b.all);
  }
  const std::string path = std::string(::testing::TempDir()) + "/ef_machine/sub/machine.json";
  save_machine(m, path);  // creates the directories
  EXPECT_DOUBLE_EQ(load_machine(path).triad.all, 16);
}

TEST(Machine, BadFilesGiveClearErrors) {
  auto msg = [](const std::string& text) {
    try {
      machine_from_json(text, "m.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("").find("m.json: not a machine file"), std::string::npos);
  EXPECT_NE(msg("garbage").find("expected '{'"), std::string::npos);
  EXPECT_NE(msg("{\"version\": 1, \"threads\": 2").find("expected ',' or '}'"), std::string::npos);
  EXPECT_NE(msg("{\"version\": 1, \"threads\": 2, \"fp32_gflops_1t\": 1}").find("lacks \"fp32_gflops_all\""),
            std::string::npos);
  EXPECT_NE(msg("{\"version\": 2}").find("version 2"), std::string::npos);
  std::string neg = kMachine;
  neg.replace(neg.find("\"triad_gbs_1t\": 10"), 18, "\"triad_gbs_1t\": -3");
  EXPECT_NE(msg(neg).find("\"triad_gbs_1t\" must be a non-negative number"), std::string::npos);
  std::string str = kMachine;
  str.replace(str.find("\"threads\": 2"), 12, "\"threads\": \"two\"");
  EXPECT_NE(msg(str).find("\"threads\""), std::string::npos);
  try {
    load_machine("/nonexistent/machine.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/machine.json: cannot read"), std::string::npos);
  }
}

TEST(Roofline, SvgIsWellFormedWithOnePointPerLayer) {
  RooflinePlot plot;
  plot.title = "test <model> & co";
  plot.bandwidth_gbs = 10;
  plot.bandwidth_label = "memory 10 GB/s";
  plot.cache_gbs = 100;
  plot.cache_label = "L2 100 GB/s";
  plot.roofs = {{"fp32 peak 100 GFLOP/s", 100}, {"int8 peak 400 GOP/s", 400}};
  const char* ops[] = {"Conv", "Conv+relu", "Add", "Gemm", "DWConv+relu6"};
  for (int i = 0; i < 9; ++i) {
    NodeCost c;
    c.flops = 1000000LL * (i + 1);
    c.in_bytes = 50000LL * (9 - i) * (9 - i);
    RooflinePoint p = place_on_roofline(c, 0.05 * (i + 1), 100, 10);
    p.name = "/block" + std::to_string(i) + "/\"x\"&<y>/Conv";
    p.op = ops[i % 5];
    plot.points.push_back(p);
  }
  RooflinePoint copy;  // no arithmetic: listed, not plotted
  copy.name = "reshape";
  copy.op = "Reshape";
  copy.ms = 0.01;
  copy.cost.in_bytes = copy.cost.out_bytes = 100;
  plot.points.push_back(copy);
  const std::string svg = roofline_svg(plot);

  // Well-formed: every tag closes in order, attributes quoted, no raw '&' or '<' in text.
  std::vector<std::string> stack;
  size_t i = svg.find("<svg");
  ASSERT_NE(i, std::string::npos);
  while ((i = svg.find('<', i)) != std::string::npos) {
    size_t e = svg.find('>', i);
    ASSERT_NE(e, std::string::npos);
    std::string tag = svg.substr(i + 1, e - i - 1);
    if (tag[0] == '/') {
      ASSERT_FALSE(stack.empty()) << tag;
      EXPECT_EQ(stack.back(), tag.substr(1)) << "at byte " << i;
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
    EXPECT_EQ(std::count(tag.begin(), tag.end(), '"') % 2, 0) << tag;
    size_t text_end = svg.find('<', e);
    std::string text = svg.substr(e + 1, text_end == std::string::npos ? std::string::npos : text_end - e - 1);
    for (size_t k = text.find('&'); k != std::string::npos; k = text.find('&', k + 1))
      EXPECT_TRUE(std::regex_search(text.substr(k), std::regex("^&(amp|lt|gt|quot);"))) << text;
    i = e;
  }
  EXPECT_TRUE(stack.empty());
  // One point per arithmetic layer, each with its label and colour; the legend lists the op types.
  size_t circles = 0;
  for (size_t k = svg.find("<circle class=\"layer\""); k != std::string::npos;
       k = svg.find("<circle class=\"layer\"", k + 1))
    ++circles;
  EXPECT_EQ(circles, 9u);
  EXPECT_NE(svg.find("#8 "), std::string::npos);
  for (const char* op : ops) EXPECT_NE(svg.find(std::string(">") + op + "</text>"), std::string::npos) << op;
  EXPECT_EQ(svg.find(">Reshape</text>"), std::string::npos);
  EXPECT_NE(svg.find("1 without arithmetic"), std::string::npos);
  EXPECT_NE(svg.find("operational intensity (FLOP/byte moved)"), std::string::npos);
  EXPECT_NE(svg.find("performance (GFLOP/s)"), std::string::npos);
  EXPECT_NE(svg.find("fp32 peak 100 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("memory 10 GB/s"), std::string::npos);
}

TEST(Roofline, MedianOf) {
  EXPECT_EQ(median_of({}), 0);
  EXPECT_EQ(median_of({3, 1, 2}), 2);
  EXPECT_EQ(median_of({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(median_of({1, 1, 100}), 1);  // one preempted run does not move it
}

TEST(Microkernels, CountAndComputeWhatTheyClaim) {
  const analysis::Isa isa = analysis::detect_isa();
  // fp32 always exists: 16 accumulators x vector width x 2 ops per FMA per iteration.
  const double width = isa.avx512f ? 16 : isa.fma3 ? 8 : 4;
  EXPECT_DOUBLE_EQ(analysis::peak_kernel("fp32", 100, isa), 100 * 16 * width * 2);
  if (isa.avx512vnni) EXPECT_DOUBLE_EQ(analysis::peak_kernel("int8", 10, isa), 10 * 16 * 64 * 2);
  else EXPECT_EQ(analysis::peak_kernel("int8", 10, isa), 0);
  EXPECT_EQ(analysis::peak_kernel("fp64", 10, isa), 0);
  // streaming kernels against plain loops
  const size_t n = 4096;
  std::vector<float, std::allocator<float>> a(n + 16), b(n + 16), c(n + 16);
  float* pa = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(a.data()) + 63) & ~uintptr_t(63));
  float* pb = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t(63));
  float* pc = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(c.data()) + 63) & ~uintptr_t(63));
  double want = 0;
  for (size_t i = 0; i < n; ++i) pb[i] = float(i % 7), pc[i] = float(i % 5), want += pb[i];
  EXPECT_FLOAT_EQ(analysis::read_kernel(pb, n, isa), float(want));
  analysis::triad_kernel(pa, pb, pc, 0.5f, n, isa);
  for (size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(pa[i], pb[i] + 0.5f * pc[i]) << i;
  analysis::copy_kernel(pa, pc, n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(pa[i], pc[i]) << i;
}

}  // namespace ef
