// edgeflow quantize MODEL --calib DIR_OR_VIDEO [--frames N] [--eval-frames M]
//                  [--method minmax|percentile|mse] [--per-channel|--per-tensor]
//                  [--keep-float first,last,auto[:N],LAYER...] [--correct none|bias|weights]
//                  [--target iou=0.98|score=0.02|top1=0.99|snr=DB]
//                  [image options] [--save-frames DIR] --out model.int8.onnx
//        edgeflow quantize MODEL --calib DIR_OR_VIDEO ... --evaluate model.int8.onnx
//
// Post-training static INT8 quantization (see src/quant/quantize.h): prepare
// the float graph (BatchNorm folded, activations fused), calibrate on N real
// frames, write a QDQ ONNX file, then measure it on M further frames: per-layer
// SNR/cosine against float (QDQ simulated in float) and final-output
// agreement with the written file run by edgeflow. Nothing is written unless
// every step succeeds. --target / --keep-float auto keep the layers that harm
// the outputs most float, chosen on the calibration frames (quant/mixed.h),
// and time the result against float and every layer int8. --evaluate
// measures a given QDQ file (e.g. one fine-tuned by train/qat) on the same
// held-out frames, with the same metrics.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/frames.h"
#include "cli/util.h"
#include "edgeflow/analysis.h"
#include "edgeflow/npy.h"
#include "exporters/onnx/onnx_exporter.h"
#include "quant/mixed.h"
#include "quant/quantize.h"
#include "quant/report.h"

namespace ef::cli {
namespace {

struct QuantizeArgs {
  std::string model, calib, out, method = "minmax", correct = "none", evaluate, save_frames, target;
  int frames = 100, eval_frames = 20, threads = 1, worst = 5;
  double percentile = 99.99;
  bool per_channel = false, per_tensor = false, no_equalize = false;
  std::vector<std::string> keep_float, shapes;
  ImageOptions image;
};

constexpr int kMinFrames = 8;

class Progress {
 public:
  explicit Progress(const char* what) : what_(what), tty_(isatty(2)) {}
  void operator()(size_t done, size_t total) {
    const int width = 30, fill = int(width * done / std::max<size_t>(total, 1));
    if (!tty_ && done != total) return;  // a log file gets the final line only
    std::fprintf(stderr, "\r%-12s [%s%s] %zu/%zu", what_, std::string(size_t(fill), '#').c_str(),
                 std::string(size_t(width - fill), '.').c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  const char* what_;
  bool tty_;
};

void print_outputs(const std::vector<quant::OutputAgreement>& outputs);

void print_report(const quant::Plan& p, const quant::Report& r, const Graph& g, const std::string& file, int worst) {
  std::map<std::string, int> by_op;
  for (int i : p.layers) ++by_op[g.nodes[i].op];
  std::printf("quantized %zu layer(s):", p.layers.size());
  for (auto& [op, n] : by_op) std::printf(" %s %d", op.c_str(), n);
  std::printf("; %zu activation tensor(s) int8\n", p.tensors.size());
  if (!p.kept_float.empty()) {
    std::printf("kept float (%zu):\n", p.kept_float.size());
    for (auto& k : p.kept_float) std::printf("  %-40s %-14s %s\n", k.name.c_str(), k.op.c_str(), k.reason.c_str());
  }
  if (!p.int8_moves.empty()) {
    std::printf("int8 data movement (input's parameters):");
    for (auto& [op, n] : p.int8_moves) std::printf(" %s %d", op.c_str(), n);
    std::printf("\n");
  }
  if (!p.float_ops.empty()) {
    std::printf("not quantized (float on dequantized values):");
    for (auto& [op, n] : p.float_ops) std::printf(" %s %d", op.c_str(), n);
    std::printf("\n");
  }
  if (r.frames == 0) return;
  // The `worst` layers by SNR are marked.
  std::vector<size_t> order(r.layers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return r.layers[a].err.snr_db() < r.layers[b].err.snr_db(); });
  std::vector<char> bad(r.layers.size(), 0);
  for (size_t i = 0; i < order.size() && int(i) < worst; ++i) bad[order[i]] = 1;
  std::printf("\nper-layer error on %d held-out frame(s) (float vs QDQ simulated in float; output after Q/DQ):\n",
              r.frames);
  std::printf("  %-44s %-14s %8s %9s\n", "layer", "op", "SNR dB", "cosine");
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const auto& l = r.layers[i];
    std::printf("  %-44s %-14s %8.1f %9.5f%s\n", l.name.c_str(), l.op.c_str(), l.err.snr_db(), l.err.cosine(),
                bad[i] ? "  <-- worst" : "");
  }
  std::printf("\nfinal outputs (%s run by edgeflow vs float, %d frame(s)):\n", file.c_str(), r.frames);
  print_outputs(r.outputs);
}

void print_outputs(const std::vector<quant::OutputAgreement>& outputs) {
  for (const auto& o : outputs) {
    std::printf("  %-30s %-17s SNR %6.1f dB  cosine %.5f  max|diff| %.4g", o.name.c_str(), o.kind.c_str(),
                o.err.snr_db(), o.err.cosine(), o.err.max_abs);
    if (o.kind == "classifier")
      std::printf("  top-1 agreement %d/%d (%.1f%%)", o.top1_agree, o.frames, 100.0 * o.top1_agree / std::max(o.frames, 1));
    if (o.kind == "segmentation")
      std::printf("  mask IoU mean %.4f min %.4f", o.iou_sum / std::max(o.frames, 1), o.iou_min);
    if (o.kind == "detection scores")
      std::printf("  score max|diff| %.4f (float score >= 0.5: %.4f); best detection: max|diff| %.4f mean %.4f (%d frame(s))",
                  o.score_diff, o.score_diff_conf, o.top_diff_max, o.top_diff_sum / std::max(o.top_frames, 1),
                  o.top_frames);
    std::printf("\n");
  }
}

// The frames as the model's input tensors, stacked along the batch axis:
// [N, ...input shape without its batch of 1].
Tensor stack_frames(const std::vector<cv::Mat>& set, const ImageOptions& image, const Value& in) {
  Shape shape = in.shape;
  shape[0] = int64_t(set.size());
  Tensor all(DType::f32, shape), one(DType::f32, in.shape);
  const int64_t n = one.numel();
  for (size_t f = 0; f < set.size(); ++f) {
    mat_to_tensor(set[f], image, in, one);
    std::copy_n(one.data_as<float>(), n, all.data_as<float>() + int64_t(f) * n);
  }
  return all;
}

// Float, every layer int8 and the written file, interleaved in one process:
// what keeping layers float for accuracy costs.
void print_latency(const Model& fp, const Graph& all_int8, const Graph& mixed, int threads, const quant::FillFn& fill) {
  CompileOptions co;
  co.threads = threads;
  Session f(fp, co), i(Model::from_graph(all_int8), co), m(Model::from_graph(mixed), co);
  Session* s[] = {&f, &i, &m};
  for (Session* x : s) fill(0, *x);
  const int rounds = 7, runs = 20;
  std::vector<double> ms[3];
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 3; ++k) {
      s[k]->run();  // warm
      const auto t0 = std::chrono::steady_clock::now();
      for (int j = 0; j < runs; ++j) s[k]->run();
      ms[k].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / runs);
    }
  const double tf = median_of(ms[0]), ti = median_of(ms[1]), tm = median_of(ms[2]);
  std::printf("latency (%d thread(s), median of %d interleaved rounds of %d runs, load %.2f): float %.3f ms; every "
              "layer int8 %.3f ms (%.2fx float); this file %.3f ms (%.2fx float)\n",
              threads, rounds, runs, load_average(), tf, ti, tf / ti, tm, tf / tm);
}

// --evaluate FILE: the final outputs of FILE run by edgeflow against the float model.
int evaluate_file(const QuantizeArgs& a, const Graph& g, const std::vector<cv::Mat>& eval,
                  const quant::FillFn& fill) {
  Model written = Model::load(a.evaluate);
  const Value& fin = g.values[g.inputs[0]];
  const Graph& w = written.graph();
  if (w.inputs.size() != 1 || w.values[w.inputs[0]].shape != fin.shape)
    throw Error(a.evaluate + ": its input does not match " + a.model + " (" + shape_str(fin.shape) + ")");
  Progress ep("evaluating");
  quant::Report r = quant::evaluate(g, g, written, quant::Plan{}, eval.size(), fill, a.threads, std::ref(ep));
  std::printf("final outputs (%s run by edgeflow vs float %s, %d held-out frame(s) of %s):\n", a.evaluate.c_str(),
              a.model.c_str(), r.frames, a.calib.c_str());
  print_outputs(r.outputs);
  return 0;
}

int quantize(const QuantizeArgs& a) {
  if (a.out.empty() == a.evaluate.empty()) throw Error("give either --out (quantize) or --evaluate FILE (report only)");
  if (!a.out.empty() && (a.out.size() < 5 || a.out.substr(a.out.size() - 5) != ".onnx"))
    throw Error(a.out + ": output file must end in .onnx");
  if (!a.evaluate.empty() && a.eval_frames == 0) throw Error("--evaluate needs --eval-frames > 0");
  if (a.per_channel && a.per_tensor) throw Error("--per-channel and --per-tensor exclude each other");
  if (a.frames < kMinFrames)
    throw Error("--frames " + std::to_string(a.frames) + ": calibration needs at least " +
                std::to_string(kMinFrames) + " frames");
  if (a.eval_frames < 0) throw Error("--eval-frames must be >= 0");
  quant::Options o;
  o.method = quant::parse_method(a.method);
  o.percentile = a.percentile;
  o.per_channel = !a.per_tensor;
  o.equalize = !a.no_equalize;
  o.correct = quant::parse_correct(a.correct);
  int auto_n = 0;  // --keep-float auto[:N]: N, or -1 for auto without N
  for (const auto& k : a.keep_float) {
    std::stringstream ss(k);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      if (tok == "auto") {
        auto_n = -1;
      } else if (tok.rfind("auto:", 0) == 0) {
        const std::string n = tok.substr(5);
        if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos || std::stoi(n) < 1)
          throw Error("--keep-float " + tok + ": expected auto or auto:N with N a count of layers >= 1");
        auto_n = std::stoi(n);
      } else if (!tok.empty()) {
        o.keep_float.push_back(tok);
      }
    }
  }
  std::optional<quant::Target> target;
  if (!a.target.empty()) target = quant::parse_target(a.target);
  // At most this many layers kept float for accuracy: auto:N, all for a
  // --target alone, 5 for auto alone.
  const size_t max_auto = auto_n > 0 ? size_t(auto_n) : target ? SIZE_MAX : auto_n ? 5 : 0;
  std::map<std::string, Shape> shapes;
  for (auto& [name, dims] : parse_pairs(a.shapes, "--shape")) shapes[name] = parse_shape(dims, "--shape " + name);

  Model model = Model::load(a.model);
  Graph g = quant::prepare(model, shapes);
  if (g.inputs.size() != 1)
    throw Error(a.model + ": quantize calibrates on images and needs a model with one input (this one has " +
                std::to_string(g.inputs.size()) + ")");
  if (target) quant::check_applies(*target, g);
  const Value& in = g.values[g.inputs[0]];
  const cv::Size size = image_size(a.image, in);
  quant::Plan plan = quant::plan(g, o);
  if (plan.layers.empty()) throw Error(a.model + ": no layer can be quantized (see --keep-float)");

  const size_t nc = size_t(a.frames), ne = size_t(a.eval_frames);
  std::vector<cv::Mat> frames = read_frames(a.calib, nc + ne, size);
  // Evaluation frames are spread among the calibration ones: every k-th frame.
  std::vector<cv::Mat> calib, eval;
  for (size_t i = 0; i < frames.size(); ++i) {
    const bool e = ne && (i + 1) * ne / (nc + ne) > i * ne / (nc + ne);
    (e ? eval : calib).push_back(frames[i]);
  }
  auto filler = [&](const std::vector<cv::Mat>& set) -> quant::FillFn {
    return [&a, &set](size_t f, Session& s) { mat_to_tensor(set[f], a.image, s.input_info(0), s.input(0)); };
  };
  if (!a.save_frames.empty()) {  // the model inputs, for train/qat
    std::filesystem::create_directories(a.save_frames);
    save_npy(a.save_frames + "/calib.npy", stack_frames(calib, a.image, in));
    if (!eval.empty()) save_npy(a.save_frames + "/eval.npy", stack_frames(eval, a.image, in));
  }
  if (!a.evaluate.empty()) return evaluate_file(a, g, eval, filler(eval));

  Progress cp("calibrating");
  quant::Calibration cal = quant::calibrate(g, plan, calib.size(), filler(calib), o, a.threads, std::ref(cp));
  // --correct refits the weights of a copy of g; g stays the float reference.
  quant::Corrected corrected;
  double correct_s = 0;
  auto build = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    Progress pp("correcting");
    corrected = quant::correct(g, plan, cal.stats, o, calib.size(), filler(calib), a.threads, std::ref(pp));
    correct_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return quant::build_qdq(corrected.graph, plan, cal.stats, o);
  };
  Graph q = build();

  // --keep-float auto / --target: rank the layers and choose on the calibration frames.
  std::optional<Graph> all_int8;  // the QDQ graph before layers were kept float for accuracy
  std::map<std::string, std::string> auto_kept;  // layer -> why
  std::string mixed_line;
  if (max_auto) {
    quant::Reference ref(g, calib.size(), filler(calib), a.threads);
    Progress rp("ranking");
    auto step = [&](const char* phase, size_t k, const quant::TargetCheck& c) {
      std::fprintf(stderr, "%-12s %3zu layer(s) float: %s\n", phase, k, quant::describe(*target, c.value).c_str());
    };
    const quant::Choice c = quant::choose_float_layers(g, corrected.graph, plan, cal.stats, o, ref, target, max_auto,
                                                        a.threads, std::ref(rp), step);
    for (size_t i = 0; i < c.keep.size(); ++i) {
      auto_kept[c.keep[i]] = c.reasons[i];
      o.keep_float.push_back(c.keep[i]);
    }
    if (target) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "--target %s: %zu layer(s) kept float, chosen on the %zu calibration frame(s) (%d tries; every layer int8: ",
                    a.target.c_str(), c.keep.size(), calib.size(), c.search.evaluations);
      mixed_line = buf + quant::describe(*target, c.search.all_int8) + ")";
    }
    if (!c.keep.empty()) {
      all_int8 = std::move(q);
      plan = quant::plan(g, o);
      q = build();  // corrected again for the layers that stay int8
    }
    if (target) {
      const auto t = quant::check_target(*target, quant::compare(q, ref, a.threads));
      mixed_line += "\n  as written: " + quant::describe(*target, t.value) + (t.met ? ": met" : ": NOT MET");
    }
  }

  // Written beside the target and renamed only when everything succeeded.
  const std::string tmp = a.out + ".partial";
  try {
    export_onnx(q, tmp);
    Model written = Model::load(tmp);
    quant::Report r;
    std::vector<quant::OutputAgreement> before;  // held-out outputs of every layer int8
    if (ne) {
      Progress ep("evaluating");
      r = quant::evaluate(g, q, written, plan, eval.size(), filler(eval), a.threads, std::ref(ep));
      if (all_int8)
        before = quant::compare(*all_int8, quant::Reference(g, eval.size(), filler(eval), a.threads), a.threads);
    }
    for (auto& k : plan.kept_float)
      if (auto it = auto_kept.find(k.name); it != auto_kept.end()) k.reason = it->second;
    std::filesystem::rename(tmp, a.out);
    std::printf("%s -> %s (%s calibration on %zu frame(s) of %s, %s weights)\n", a.model.c_str(), a.out.c_str(),
                quant::method_name(o.method), calib.size(), a.calib.c_str(),
                o.per_channel ? "per-channel" : "per-tensor");
    if (cal.equalized) std::printf("cross-layer equalization: %d Conv -> Conv pair(s)\n", cal.equalized);
    if (corrected.layers)
      std::printf("--correct %s: %d Conv layer(s) refitted in %d pass(es) over the calibration frames, %.1f s\n",
                  quant::correct_name(o.correct), corrected.layers, corrected.levels, correct_s);
    if (!mixed_line.empty()) std::printf("%s\n", mixed_line.c_str());
    print_report(plan, r, g, a.out, a.worst);
    if (!before.empty()) {
      std::printf("with every layer int8 (before %zu kept float for accuracy):\n", auto_kept.size());
      print_outputs(before);
    }
    if (all_int8) print_latency(model, *all_int8, q, a.threads, filler(calib));
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  return 0;
}

}  // namespace

void add_quantize(CLI::App& app, Action& action) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "Post-training static INT8 quantization to a QDQ ONNX file");
  cmd->add_option("model", a->model, "Float model (.onnx or .tflite)")->required();
  cmd->add_option("--calib", a->calib, "Calibration frames: a directory of images or a video file")->required();
  cmd->add_option("--out", a->out, "Output .onnx file (QDQ)");
  cmd->add_option("--evaluate", a->evaluate,
                  "Report only: measure this QDQ file against the float model on the held-out frames");
  cmd->add_option("--save-frames", a->save_frames,
                  "Write the calibration and held-out model inputs to DIR/calib.npy and DIR/eval.npy");
  cmd->add_option("--frames", a->frames, "Calibration frames (default 100)");
  cmd->add_option("--eval-frames", a->eval_frames,
                  "Held-out frames for the error report (default 20; 0 = no report)");
  cmd->add_option("--method", a->method, "Activation range: minmax (default), percentile or mse");
  cmd->add_option("--percentile", a->percentile, "Percentile for --method percentile (default 99.99, both tails)")
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_flag("--per-channel", a->per_channel, "Per-output-channel weight scales (default)");
  cmd->add_flag("--per-tensor", a->per_tensor, "One weight scale per layer");
  cmd->add_option("--correct", a->correct,
                  "Sequential correction after calibration: none (default), bias, or weights (least squares)");
  cmd->add_flag("--no-equalize", a->no_equalize, "No cross-layer equalization of Conv -> Conv pairs");
  cmd->add_option("--keep-float", a->keep_float,
                  "Layers kept in float: first, last, auto[:N] (the N most harmful, default 5; with --target at most "
                  "N), or node names (comma-separated)");
  cmd->add_option("--target", a->target,
                  "Accuracy target, met by keeping the most harmful layers float (chosen on the calibration "
                  "frames): iou=0.98, score=0.02, top1=0.99 or snr=30 (dB)");
  cmd->add_option("--worst", a->worst, "How many worst layers the report marks (default 5)");
  cmd->add_option("--threads", a->threads, "Worker threads")->check(CLI::Range(1, 256));
  cmd->add_option("--shape", a->shapes, "Input shape for dynamic dimensions, NAME=1x3x224x224 (repeatable)");
  add_image_options(cmd, a->image);
  cmd->callback([&action, a] { action = [a] { return quantize(*a); }; });
}

}  // namespace ef::cli
