// edgeflow analyze: per-layer cost (parameters, MACs, bytes), measured
// latency and roofline placement against this machine's measured roofs;
// --measure-machine; --roofline FILE.svg; --compare-blocks.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/util.h"
#include "edgeflow/analysis.h"

namespace ef::cli {

namespace {
struct AnalyzeArgs {
  std::string model;
  CommonOptions common;
  int runs = 0, warmup = 5;  // runs: 30 for a model, 100 per block
  std::string roofline, machine = "auto";
  bool measure = false, compare = false, json = false;
  int64_t block_hw = 64;
};

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

void print_machine(const MachineRoofs& m, const std::string& path) {
  std::printf("machine: %s (%s), measured %s at load %.2f%s%s\n", m.cpu.c_str(), m.isa.c_str(), m.measured.c_str(),
              m.load, path.empty() ? "" : ", ", path.c_str());
  auto row = [&](const char* what, const Rate& r, const char* unit) {
    if (r.one > 0) std::printf("  %-6s %8.1f %s on 1 thread, %8.1f on %d threads\n", what, r.one, unit, r.all, m.threads);
  };
  row("fp32", m.fp32, "GFLOP/s");
  row("fp16", m.fp16, "GFLOP/s");
  row("bf16", m.bf16, "GFLOP/s");
  row("int8", m.int8, "GOP/s  ");
  row("read", m.read, "GB/s   ");
  row("copy", m.copy, "GB/s   ");
  row("triad", m.triad, "GB/s   ");
  row("L2 rd", m.cache_read, "GB/s   ");
}

std::string machine_path(const std::string& flag) { return flag.empty() || flag == "auto" ? default_machine_cache() : flag; }

// Fails before a long measurement rather than after it. The machine cache
// gets its directories (~/.cache/edgeflow); other outputs do not.
void check_writable(const std::string& path, const char* what, bool make_dirs) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (make_dirs && p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  const bool existed = std::filesystem::exists(p, ec);
  std::ofstream probe(path, std::ios::app);
  if (!probe) throw Error(path + ": cannot write the " + what);
  probe.close();
  if (!existed) std::filesystem::remove(p, ec);
}

MachineRoofs measure_and_save(const std::string& path) {
  check_writable(path, "machine file", true);
  std::fprintf(stderr, "measuring this machine (peak FLOP/s per precision, memory bandwidth; ~20 s)...\n");
  MachineRoofs m = measure_machine(0, [](const std::string& s) { std::fprintf(stderr, "  %s\n", s.c_str()); });
  save_machine(m, path);
  std::fprintf(stderr, "saved %s\n", path.c_str());
  return m;
}

// --machine auto: the cache, measured the first time; --machine FILE: that file.
MachineRoofs get_machine(const std::string& flag) {
  const std::string path = machine_path(flag);
  struct stat st;
  if (flag == "auto" && ::stat(path.c_str(), &st) != 0) return measure_and_save(path);
  return load_machine(path);
}

// "Conv", "DWConv+relu6": depthwise convolutions apart, fused activation shown.
std::string op_label(const Graph& g, const Node& n) {
  std::string op = n.op;
  if (op == "Conv" && n.attrs.i("group", 1) > 1 && n.attrs.i("group", 1) == g.in(n, 1).shape.at(0)) op = "DWConv";
  return op + (n.attrs.has("activation") ? "+" + n.attrs.s("activation") : "");
}

int compare_blocks(const AnalyzeArgs& a) {
  const int runs = a.runs > 0 ? a.runs : 100;
  std::printf("edge blocks: params (BatchNorm scale+shift counted), MACs, median of %d runs on %d thread(s): wall ms "
              "and process CPU ms per run; load %.2f\n",
              runs, a.common.threads, load_average());
  // At 1 thread the CPU time of a run is its latency without the time other
  // processes held the core: the speed-up uses it. With more threads it
  // also counts the workers' spinning, so the speed-up uses wall time.
  const bool by_cpu = a.common.threads == 1;
  std::string group;
  BlockMeasure base;
  for (const EdgeBlock& b : edge_blocks(a.block_hw)) {
    BlockMeasure m = measure_block(b, a.common.threads, runs);
    if (b.group != group) {
      group = b.group;
      base = m;
      std::printf("\n%s\n%-36s %-26s %8s %11s %9s %9s %8s %8s %8s\n", group.c_str(), "block", "input -> output",
                  "params", "MACs", "ms", "cpu ms", "params/", "MACs/", "speed-up");
    }
    std::string io = shape_str(m.in_shape) + "->" + shape_str(m.out_shape);
    auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
    char pr[16], mr[16];
    std::snprintf(pr, sizeof pr, m.params ? "%.2fx" : "-", ratio(double(base.params), double(m.params)));
    std::snprintf(mr, sizeof mr, m.macs ? "%.2fx" : "-", ratio(double(base.macs), double(m.macs)));
    std::printf("%-36s %-26s %8lld %11lld %9.4f %9.4f %8s %8s %7.2fx\n", b.name.c_str(), io.c_str(),
                (long long)m.params, (long long)m.macs, m.median_ms, m.median_cpu_ms, pr, mr,
                by_cpu ? ratio(base.median_cpu_ms, m.median_cpu_ms) : ratio(base.median_ms, m.median_ms));
  }
  std::printf("\nratios are against the first row of each group (> 1: fewer params/MACs, faster; speed-up from %s)\n",
              by_cpu ? "cpu ms" : "wall ms");
  return 0;
}

int analyze(const AnalyzeArgs& a) {
  if (a.measure) {
    MachineRoofs m = measure_and_save(machine_path(a.machine));
    print_machine(m, machine_path(a.machine));
    if (a.model.empty() && !a.compare) return 0;
  }
  if (a.compare) return compare_blocks(a);
  if (a.model.empty()) throw Error("analyze: give a model file, --measure-machine or --compare-blocks");
  const int runs = a.runs > 0 ? a.runs : 30;

  if (!a.roofline.empty()) check_writable(a.roofline, "roofline SVG", false);
  CompileOptions opts = to_compile_options(a.common);
  Model model = Model::load(a.model);
  Session s(model, opts);
  const MachineRoofs machine = get_machine(a.machine);
  CompileOptions plain = opts;
  plain.optimize = false;
  const int64_t src_params = model_cost(Session(model, plain).graph()).total.params;

  const Graph& g = s.graph();
  ModelCost cost = model_cost(g);
  s.run(random_inputs(s));
  for (int i = 0; i < a.warmup; ++i) s.run();
  std::vector<double> total_ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    s.run();
    total_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double median = median_of(total_ms);
  // Per layer: each step timed on its own, median over the runs (robust to
  // the preemptions of a shared machine, unlike a mean).
  const size_t steps = s.num_steps();
  std::vector<std::vector<double>> step_ms(steps);
  for (int r = 0; r < runs; ++r)
    for (size_t i = 0; i < steps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      s.run_range(i, i + 1);
      step_ms[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }

  const int th = opts.threads;
  const double bw = machine.bandwidth_gbs(th);
  std::vector<RooflinePoint> pts;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const std::string prec = compute_precision(g, n);
    const double ms = median_of(step_ms[i]);
    RooflinePoint p = place_on_roofline(cost.nodes[i], ms, machine.peak_gflops(prec, th), bw);
    p.name = n.name;
    p.op = op_label(g, n);
    p.precision = prec;
    pts.push_back(p);
  }
  double layer_ms = 0, mem_ms = 0;
  int mem_layers = 0, arith_layers = 0;
  for (auto& p : pts) {
    layer_ms += p.ms;
    if (p.cost.flops == 0) continue;
    ++arith_layers;
    if (p.memory_bound) ++mem_layers, mem_ms += p.ms;
  }
  const double load = load_average();

  if (a.json) {
    std::printf("{\"model\":\"%s\",\"threads\":%d,\"runs\":%d,\"load\":%.2f,\"median_ms\":%.4f,\"params\":%lld,"
                "\"macs\":%lld,\"flops\":%lld,\"weight_bytes\":%lld,\"bytes_moved\":%lld,"
                "\"peak_gflops\":%.2f,\"bandwidth_gbs\":%.2f,\"layers\":[",
                json_escape(a.model).c_str(), th, runs, load, median, (long long)src_params, (long long)cost.total.macs,
                (long long)cost.total.flops, (long long)cost.total.weight_bytes, (long long)cost.total.bytes_moved(),
                machine.peak_gflops("fp32", th), bw);
    for (size_t i = 0; i < pts.size(); ++i) {
      const auto& p = pts[i];
      const std::string name = json_escape(p.name);
      std::printf("%s{\"name\":\"%s\",\"op\":\"%s\",\"precision\":\"%s\",\"params\":%lld,\"macs\":%lld,"
                  "\"flops\":%lld,\"in_bytes\":%lld,\"out_bytes\":%lld,\"weight_bytes\":%lld,\"bytes_moved\":%lld,"
                  "\"intensity\":%.4f,\"ms\":%.5f,\"gflops\":%.3f,\"gbs\":%.3f,\"attainable_gflops\":%.3f,"
                  "\"bound\":\"%s\",\"pct_of_roof\":%.2f}",
                  i ? "," : "", name.c_str(), p.op.c_str(), p.precision.c_str(), (long long)p.cost.params,
                  (long long)p.cost.macs, (long long)p.cost.flops, (long long)p.cost.in_bytes,
                  (long long)p.cost.out_bytes, (long long)p.cost.weight_bytes, (long long)p.cost.bytes_moved(),
                  p.cost.intensity(), p.ms, p.gflops, p.gbs, p.attainable_gflops,
                  p.cost.flops == 0 ? "copy" : p.memory_bound ? "memory" : "compute", p.pct_of_roof);
    }
    std::printf("]}\n");
  } else {
    std::printf("model: %s  threads: %d  runs: %d (+%d timing each layer; medians)  load: %.2f\n", a.model.c_str(), th, runs, runs,
                load);
    std::printf("roofs at %d thread(s): fp32 %.1f GFLOP/s", th, machine.peak_gflops("fp32", th));
    if (machine.fp16.one > 0) std::printf(", fp16 %.1f", machine.peak_gflops("fp16", th));
    if (machine.int8.one > 0) std::printf(", int8 %.1f GOP/s", machine.peak_gflops("int8", th));
    std::printf("; memory %.1f GB/s (triad); fp32 ridge %.1f FLOP/byte  [%s, %s]\n", bw,
                machine.peak_gflops("fp32", th) / bw, machine.cpu.c_str(), machine.measured.c_str());
    std::printf("%-3s %-28s %-16s %-4s %8s %8s %8s %8s %8s %8s %7s %8s %7s %6s %-7s %5s\n", "#", "layer", "op", "prec",
                "params", "MACs", "in", "out", "weights", "moved", "FLOP/B", "ms", "GFLOP/s", "GB/s", "bound", "%roof");
    for (size_t i = 0; i < pts.size(); ++i) {
      const auto& p = pts[i];
      const bool arith = p.cost.flops > 0;
      // the end of a long name tells layers apart ("/features/features.3/conv/conv.0/conv.0.0/Conv")
      const std::string name = p.name.size() > 28 ? "..." + p.name.substr(p.name.size() - 25) : p.name;
      std::printf("%-3zu %-28s %-16.16s %-4s %8s %8s %8s %8s %8s %8s %7.2f %8.4f %7.2f %6.2f %-7s %5.0f\n", i,
                  name.c_str(), p.op.c_str(), p.precision.c_str(), human_count(double(p.cost.params)).c_str(),
                  human_count(double(p.cost.macs)).c_str(), human_bytes(double(p.cost.in_bytes)).c_str(),
                  human_bytes(double(p.cost.out_bytes)).c_str(), human_bytes(double(p.cost.weight_bytes)).c_str(),
                  human_bytes(double(p.cost.bytes_moved())).c_str(), p.cost.intensity(), p.ms, p.gflops, p.gbs,
                  !arith ? "copy" : p.memory_bound ? "memory" : "compute", arith ? p.pct_of_roof : 0.0);
    }
    std::printf("\ntotal: %s parameters as written (%s after folding), %s MACs, %s FLOPs per frame\n",
                human_count(double(src_params)).c_str(), human_count(double(cost.total.params)).c_str(),
                human_count(double(cost.total.macs)).c_str(), human_count(double(cost.total.flops)).c_str());
    std::printf("bytes per frame: weights %s, activations in %s / out %s, moved %s; intensity %.2f FLOP/byte\n",
                human_bytes(double(cost.total.weight_bytes)).c_str(), human_bytes(double(cost.total.in_bytes)).c_str(),
                human_bytes(double(cost.total.out_bytes)).c_str(), human_bytes(double(cost.total.bytes_moved())).c_str(),
                cost.total.intensity());
    std::printf("latency: median %.3f ms end to end, %.3f ms summed over the layers' medians; achieved %.1f GFLOP/s, "
                "%.1f GB/s at the end-to-end median (%.1f GFLOP/s at the summed medians)\n",
                median, layer_ms, double(cost.total.flops) / (median * 1e6),
                double(cost.total.bytes_moved()) / (median * 1e6), double(cost.total.flops) / (layer_ms * 1e6));
    std::printf("%d of %d arithmetic layers are memory-bound (%.0f%% of layer time)\n", mem_layers, arith_layers,
                layer_ms > 0 ? 100 * mem_ms / layer_ms : 0.0);
  }

  if (!a.roofline.empty()) {
    RooflinePlot plot;
    char t[256];
    std::snprintf(t, sizeof t, "%s: roofline, %d thread(s), %s", a.model.substr(a.model.find_last_of('/') + 1).c_str(),
                  th, machine.cpu.c_str());
    plot.title = t;
    plot.points = pts;
    plot.bandwidth_gbs = bw;
    std::snprintf(t, sizeof t, "memory (triad) %.1f GB/s", bw);
    plot.bandwidth_label = t;
    plot.cache_gbs = machine.cache_gbs(th);
    std::snprintf(t, sizeof t, "L2 read %.0f GB/s", plot.cache_gbs);
    plot.cache_label = t;
    auto roof = [&](const char* prec, const Rate& r, const char* unit) {
      if (r.one <= 0) return;
      std::snprintf(t, sizeof t, "%s peak %.0f %s", prec, machine.peak_gflops(prec, th), unit);
      plot.roofs.push_back({t, machine.peak_gflops(prec, th)});
    };
    roof("fp32", machine.fp32, "GFLOP/s");
    roof("fp16", machine.fp16, "GFLOP/s");
    roof("int8", machine.int8, "GOP/s");
    std::ofstream f(a.roofline, std::ios::binary | std::ios::trunc);
    f << roofline_svg(plot);
    f.close();
    if (!f) throw Error(a.roofline + ": cannot write the roofline SVG");
    if (!a.json) std::printf("roofline: %s\n", a.roofline.c_str());
  }
  return 0;
}
}  // namespace

void add_analyze(CLI::App& app, Action& action) {
  auto a = std::make_shared<AnalyzeArgs>();
  auto* cmd = app.add_subcommand("analyze", "Cost per layer, roofline vs this machine, edge block comparison");
  cmd->add_option("model", a->model, "Model file (.onnx or .tflite)");
  cmd->add_option("--threads", a->common.threads, "Worker threads")->check(CLI::Range(1, 256));
  cmd->add_option("--input-shape,--shape", a->common.shapes, "Input shape, NAME=1x3x224x224 (repeatable)");
  cmd->add_option("--precision", a->common.precision, "Compile precision (the layer dtypes decide each roof)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
  cmd->add_option("--runs", a->runs, "Timed runs, and as many profiled (default 30; blocks: 100 each)")->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", a->warmup, "Untimed warm-up runs")->check(CLI::Range(0, 100000));
  cmd->add_option("--roofline", a->roofline, "Write the roofline plot to this SVG file");
  cmd->add_option("--machine", a->machine,
                  "auto (measure once, then reuse " + default_machine_cache() + ") or a machine JSON file");
  cmd->add_flag("--measure-machine", a->measure, "Measure peak FLOP/s and memory bandwidth, save to --machine");
  cmd->add_flag("--compare-blocks", a->compare, "Params, MACs and latency of edge blocks (Ghost, PConv, ...)");
  cmd->add_option("--block-size", a->block_hw, "Input height/width of the conv blocks")->check(CLI::Range(4, 1024));
  cmd->add_flag("--json", a->json, "One JSON object with every layer");
  cmd->callback([&action, a] { action = [a] { return analyze(*a); }; });
}

}  // namespace ef::cli
