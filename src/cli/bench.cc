// edgeflow bench MODEL: latency (median/min/max) and a per-layer profile.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>

#include "cli/commands.h"
#include "cli/bench_video.h"
#include "cli/util.h"
#include "edgeflow/analysis.h"

namespace ef::cli {

namespace {
struct BenchArgs {
  std::string model;
  CommonOptions common;
  int runs = 50, warmup = 10, top = 15;
  bool json = false;
  VideoBenchArgs video;
};

int bench(BenchArgs& a) {
  if (!a.video.video.empty()) {
    a.video.model = a.model;
    a.video.common = a.common;
    a.video.json = a.json;
    a.video.top = a.top;
    if (!a.video.layer_thresholds.empty())
      a.video.delta.layer_thresholds = load_delta_layer_thresholds(a.video.layer_thresholds);
    return bench_video(a.video);
  }
  if (a.video.use_delta) throw Error("--delta needs --video FILE (delta execution reuses work across frames)");
  Model model = Model::load(a.model, to_load_options(a.common));
  Session s(model, to_compile_options(a.common));
  auto inputs = random_inputs(s);
  s.run(inputs);  // copies the inputs into the session's arena
  for (int i = 0; i < a.warmup; ++i) s.run();
  std::vector<double> ms;
  for (int i = 0; i < a.runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    s.run();
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted.empty() ? 0 : (sorted.size() % 2 ? sorted[sorted.size() / 2]
                                                          : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]));
  double mn = sorted.empty() ? 0 : sorted.front(), mx = sorted.empty() ? 0 : sorted.back();
  if (a.json) {
    std::printf("{\"model\":\"%s\",\"threads\":%d,\"runs\":%d,\"warmup\":%d,\"median_ms\":%.4f,\"min_ms\":%.4f,"
                "\"max_ms\":%.4f}\n",
                a.model.c_str(), a.common.threads, a.runs, a.warmup, median, mn, mx);
    return 0;
  }
  ModelCost cost = model_cost(s.graph());
  std::printf("model: %s  threads: %d  runs: %d (after %d warm-up)\n", a.model.c_str(), a.common.threads, a.runs,
              a.warmup);
  std::printf("latency: median %.3f ms  min %.3f ms  max %.3f ms  (%.1f GFLOP/s at the median)\n", median, mn, mx,
              median > 0 ? double(cost.total.flops) / (median * 1e6) : 0.0);
  std::printf("weights: %s; %s\n", human_bytes(double(cost.total.weight_bytes)).c_str(), precision_summary(s).c_str());

  // Per-layer profile: separate profiled runs (timing every step perturbs the totals slightly).
  s.set_profiling(true);
  int prof_runs = std::max(5, a.runs / 2);
  for (int i = 0; i < prof_runs; ++i) s.run();
  s.set_profiling(false);
  auto prof = s.profile();
  double total = 0;
  for (auto& l : prof) total += l.total_ms;
  std::vector<size_t> idx(prof.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return prof[x].total_ms > prof[y].total_ms; });
  std::printf("\nper-layer profile (mean of %d runs; top %d of %zu steps)\n", prof_runs, a.top, prof.size());
  std::printf("%-34s %-18s %-8s %9s %7s %10s %9s\n", "layer", "op", "impl", "ms", "share", "MACs", "GFLOP/s");
  for (int k = 0; k < std::min<int>(a.top, int(idx.size())); ++k) {
    const auto& l = prof[idx[k]];
    double lm = l.runs ? l.total_ms / l.runs : 0;
    const auto& c = cost.nodes[idx[k]];
    std::printf("%-34.34s %-18.18s %-8s %9.4f %6.1f%% %10s %9.2f\n", l.name.c_str(), l.op.c_str(), l.impl.c_str(), lm,
                total > 0 ? 100.0 * l.total_ms / total : 0.0, human_count(double(c.macs)).c_str(),
                lm > 0 ? double(c.flops) / (lm * 1e6) : 0.0);
  }
  std::map<std::string, double> by_op;
  for (auto& l : prof) by_op[l.op] += l.total_ms;
  std::printf("\nby operator:");
  std::vector<std::pair<double, std::string>> ops;
  for (auto& [k, v] : by_op) ops.push_back({v, k});
  std::sort(ops.rbegin(), ops.rend());
  for (auto& [v, k] : ops) std::printf("  %s %.1f%%", k.c_str(), total > 0 ? 100 * v / total : 0.0);
  std::printf("\n");
  return 0;
}
}  // namespace

void add_bench(CLI::App& app, Action& action) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure latency and a per-layer profile on random inputs");
  cmd->add_option("model", a->model, "Model file (.onnx or .tflite)")->required();
  add_common(cmd, a->common);
  cmd->add_option("--runs", a->runs, "Timed runs")->check(CLI::Range(1, 1000000));
  cmd->add_option("--warmup", a->warmup, "Untimed warm-up runs")->check(CLI::Range(0, 1000000));
  cmd->add_option("--top", a->top, "Layers to list in the profile");
  cmd->add_flag("--json", a->json, "Print one JSON object (latency only)");
  auto& v = a->video;
  cmd->add_option("--video", v.video, "Run on the frames of this video (dense vs --delta, same frames)");
  cmd->add_flag("--delta", v.use_delta, "Compare delta execution against dense execution (needs --video)");
  cmd->add_option("--threshold", v.delta.threshold, "Delta gate threshold (output units; 0 = exact)");
  cmd->add_option("--input-threshold", v.delta.input_threshold,
                  "Delta gate threshold on the model input (camera noise); default: --threshold");
  cmd->add_option("--global-threshold", v.delta.global_threshold,
                  "Delta gate on global values (pooled channel scales): largest |change| to ignore");
  cmd->add_option("--refresh", v.delta.refresh_every, "Dense refresh every N frames (0 = never)");
  cmd->add_option("--dense-above", v.delta.dense_above, "Changed fraction above which a layer runs densely");
  cmd->add_option("--tile", v.delta.tile, "Gate tile size in pixels")->check(CLI::Range(1, 256));
  cmd->add_option("--frame-skip", v.delta.frame_skip, "Skip the whole frame below this mean |input change|");
  cmd->add_option("--frames", v.frames, "Use at most N frames of the video");
  cmd->add_flag("--explain", v.explain,
                "With --delta: per layer in graph order, the input rewritten / published by its gate, the output recomputed and why");
  cmd->add_option("--layer-thresholds", v.layer_thresholds,
                  "Per-layer gate thresholds file ('conv_name threshold' a line; from --calibrate --per-layer)");
  cmd->add_flag("--per-layer", v.per_layer, "Calibration: then raise single convolutions' thresholds while the target holds");
  cmd->add_option("--save-thresholds", v.save_thresholds, "Calibration with --per-layer: write the thresholds file here");
  cmd->add_flag("--calibrate", v.calibrate, "With --delta: pick the thresholds for --target-error/--target-iou on the clip");
  cmd->add_option("--target-error", v.target_error, "Calibration: mean |dense - delta| of the outputs to stay under");
  cmd->add_option("--target-iou", v.target_iou, "Calibration: mean mask IoU against dense to stay above");
  cmd->add_option("--save-masks", v.save_masks, "Write frame | dense | delta | difference PNGs of mask outputs here");
  cmd->add_option("--ideal-gate", v.ideal_gate,
                  "With --delta: run delta on the clip's median background except where a pixel differs by > K (0-255)")
      ->check(CLI::Range(0, 255));
  cmd->add_option("--ideal-dilate", v.ideal_dilate, "With --ideal-gate: dilate the moving pixels by this many")
      ->check(CLI::Range(0, 64));
  cmd->add_flag("!--no-fallback", v.delta.auto_fallback, "Never fall back to dense when delta is slower");
  cmd->add_option("--mean", v.image.mean, "Frame preprocessing: per-channel mean after scaling");
  cmd->add_option("--std", v.image.std, "Frame preprocessing: per-channel std");
  cmd->add_option("--scale", v.image.scale, "Frame preprocessing: divide pixels by this first (default 255)");
  cmd->add_flag("--bgr", v.image.bgr, "Feed BGR (default RGB)");
  cmd->callback([&action, a] { action = [a] { return bench(*a); }; });
}

}  // namespace ef::cli
