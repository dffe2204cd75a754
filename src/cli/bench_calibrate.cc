// `edgeflow bench MODEL --video FILE --delta --calibrate --target-error E`:
// pick the delta thresholds for a target output error on a sample clip.
// The frames are decoded once; every candidate (threshold on convolution
// inputs x threshold on the frame x threshold on global values) runs them in
// delta mode (no fallback) against the dense outputs; the candidate with the
// fewest executed MACs whose mean |dense - delta| (and mask IoU, with
// --target-iou) meets the target wins.
#include <algorithm>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <opencv2/videoio.hpp>

#include "cli/bench_video.h"
#include "edgeflow/vision.h"

namespace ef::cli {

int calibrate_delta(const VideoBenchArgs& a) {
  if (a.target_error <= 0 && a.target_iou <= 0)
    throw Error("--calibrate needs --target-error E (mean |dense - delta| of the outputs) and/or --target-iou I");
  cv::VideoCapture cap(a.video);
  if (!cap.isOpened()) throw Error(a.video + ": cannot open video (missing file or unsupported format)");
  Model model = Model::load(a.model);
  const CompileOptions base = to_compile_options(a.common);
  Session dense(model, base);
  int img = -1;
  for (size_t i = 0; i < dense.num_inputs() && img < 0; ++i)
    if (dense.input_info(i).dtype == DType::f32 && dense.input_info(i).shape.size() == 4) img = int(i);
  if (img < 0) throw Error(a.model + ": no 4-D float input to feed video frames to");
  const int max_frames = a.frames > 0 ? a.frames : 100;
  std::vector<Tensor> frames;
  std::vector<std::vector<Tensor>> want;
  cv::Mat f;
  while (int(frames.size()) < max_frames && cap.read(f) && !f.empty()) {
    frames.emplace_back(DType::f32, dense.input_info(size_t(img)).shape);
    mat_to_tensor(f, a.image, dense.input_info(size_t(img)), frames.back());
    std::memcpy(dense.input(size_t(img)).data(), frames.back().data(), frames.back().nbytes());
    dense.run();
    want.emplace_back();
    for (size_t k = 0; k < dense.num_outputs(); ++k) want.back().push_back(dense.output(k).clone());
  }
  if (frames.size() < 2) throw Error(a.video + ": calibration needs at least 2 frames");

  struct Result {
    DeltaOptions o;
    double err = 0, iou = 1, macs = 0;
  };
  const double dense_macs_total = double(model_cost_macs(dense)) * double(frames.size());
  std::vector<DeltaLayerStats> layers;
  // Delta (no fallback, no frame skip) with options o on every frame, against dense.
  auto evaluate = [&](const DeltaOptions& o) {
    CompileOptions co = base;
    co.delta = o;
    co.delta.enabled = true;
    co.delta.auto_fallback = false;
    co.delta.frame_skip = -1;
    Session s(model, co);
    Result r;
    r.o = co.delta;
    double err_sum = 0, iou_sum = 0;
    int64_t err_n = 0, iou_n = 0;
    for (size_t i = 0; i < frames.size(); ++i) {
      std::memcpy(s.input(size_t(img)).data(), frames[i].data(), frames[i].nbytes());
      s.run();
      for (size_t k = 0; k < s.num_outputs(); ++k) {
        const Tensor& x = want[i][k];
        const Tensor& y = s.output(k);
        if (x.dtype() != DType::f32) continue;
        for (int64_t j = 0; j < x.numel(); ++j) err_sum += std::fabs(x.data_as<float>()[j] - y.data_as<float>()[j]);
        err_n += x.numel();
        if (is_mask_tensor(x)) iou_sum += vision::mask_iou(x, y), ++iou_n;
      }
    }
    r.err = err_n ? err_sum / double(err_n) : 0;
    r.iou = iou_n ? iou_sum / double(iou_n) : 1;
    r.macs = double(s.delta_stats().executed_macs) / dense_macs_total;
    if (layers.empty()) layers = s.delta_stats().layers;
    return r;
  };
  auto ok = [&](const Result& r) {
    return (a.target_error <= 0 || r.err <= a.target_error) && (a.target_iou <= 0 || r.iou >= a.target_iou);
  };
  std::vector<Result> results;
  for (float t : {0.05f, 0.1f, 0.2f, 0.5f, 1.f, 2.f, 5.f})
    for (float im : {1.f, 4.f, 16.f})
      for (float g : {0.003f, 0.01f, 0.03f}) {
        DeltaOptions o = a.delta;
        o.threshold = t, o.input_threshold = t * im, o.global_threshold = g;
        results.push_back(evaluate(o));
      }
  const Result* best = nullptr;
  for (const Result& r : results)
    if (ok(r) && (!best || r.macs < best->macs)) best = &r;
  std::printf("calibration on %zu frames of %s (%zu candidates)\n%10s %10s %10s %12s %10s %10s\n", frames.size(),
              a.video.c_str(), results.size(), "threshold", "input", "global", "mean|err|", "mask IoU", "MACs");
  for (const Result& r : results)
    std::printf("%10g %10g %10g %12.5f %10.4f %9.1f%%%s\n", r.o.threshold, r.o.input_threshold, r.o.global_threshold,
                r.err, r.iou, 100 * r.macs, &r == best ? "  <- chosen" : "");
  const std::string target = (a.target_error > 0 ? "mean |err| <= " + std::to_string(a.target_error) : std::string()) +
                             (a.target_error > 0 && a.target_iou > 0 ? " and " : "") +
                             (a.target_iou > 0 ? "mask IoU >= " + std::to_string(a.target_iou) : std::string());
  Result cur;
  if (best) {
    cur = *best;
    std::printf("\nchosen: --threshold %g --input-threshold %g --global-threshold %g  (mean |err| %.5f, mask IoU %.4f, "
                "%.1f%% of the dense MACs)\n",
                best->o.threshold, best->o.input_threshold, best->o.global_threshold, best->err, best->iou,
                100 * best->macs);
  } else {
    const Result* closest = &results[0];
    for (const Result& r : results)
      if ((a.target_iou > 0 ? r.iou > closest->iou : r.err < closest->err)) closest = &r;
    std::printf("\nNO THRESHOLD MEETS THE TARGET (%s) on this clip. The closest candidate (--threshold %g "
                "--input-threshold %g --global-threshold %g) reaches mean |err| %.5f, mask IoU %.4f at %.1f%% of the "
                "dense MACs. Only the exact setting (--threshold 0, all gates off) keeps the outputs equal to dense.\n",
                target.c_str(), closest->o.threshold, closest->o.input_threshold, closest->o.global_threshold,
                closest->err, closest->iou, 100 * closest->macs);
    if (!a.per_layer) return 1;
    DeltaOptions exact = a.delta;
    exact.threshold = 0, exact.input_threshold = 0, exact.global_threshold = 0;
    cur = evaluate(exact);
  }
  if (!a.per_layer) return 0;
  // Per layer, greedily: raise one convolution's gate threshold at a time
  // (largest layers first) while the target still holds and MACs drop.
  std::vector<const DeltaLayerStats*> convs;
  for (const auto& l : layers)
    if (l.op == "Conv" && l.delta && l.dense_macs > 0) convs.push_back(&l);
  std::sort(convs.begin(), convs.end(), [](auto* x, auto* y) { return x->dense_macs > y->dense_macs; });
  std::printf("\nper-layer thresholds (greedy over %zu convolutions, from %.1f%% of the dense MACs)\n", convs.size(),
              100 * cur.macs);
  const float t0 = std::max(cur.o.threshold, 0.05f);
  for (const DeltaLayerStats* l : convs) {
    for (float m : {16.f, 4.f}) {
      DeltaOptions o = cur.o;
      o.layer_thresholds[l->name] = t0 * m;
      Result r;
      try {
        r = evaluate(o);
      } catch (const Error&) {
        break;  // its input is not gated (a graph output)
      }
      if (ok(r) && r.macs < cur.macs - 1e-4) {
        cur = r;
        std::printf("  %-32s %8g  -> mean |err| %.5f, mask IoU %.4f, %.1f%% of the dense MACs\n", l->name.c_str(),
                    t0 * m, r.err, r.iou, 100 * r.macs);
        break;
      }
    }
  }
  if (cur.o.layer_thresholds.empty()) {
    std::printf("no single layer's threshold can be raised within the target (%s)\n", target.c_str());
    return best ? 0 : 1;
  }
  std::printf("per-layer result: %zu layer thresholds, mean |err| %.5f, mask IoU %.4f, %.1f%% of the dense MACs "
              "(--threshold %g --input-threshold %g --global-threshold %g)\n",
              cur.o.layer_thresholds.size(), cur.err, cur.iou, 100 * cur.macs, cur.o.threshold, cur.o.input_threshold,
              cur.o.global_threshold);
  if (!a.save_thresholds.empty()) {
    save_delta_layer_thresholds(a.save_thresholds, cur.o.layer_thresholds);
    std::printf("written to %s (use --layer-thresholds %s)\n", a.save_thresholds.c_str(), a.save_thresholds.c_str());
  }
  return 0;
}

}  // namespace ef::cli
