// `edgeflow bench MODEL --video FILE --delta --calibrate --target-error E`:
// pick the delta thresholds for a target output error on a sample clip.
// The frames are decoded once; every candidate (threshold on convolution
// inputs x threshold on the frame x threshold on global values) runs them in
// delta mode (no fallback) against the dense outputs; the candidate with the
// fewest executed MACs whose mean |dense - delta| (and mask IoU, with
// --target-iou) meets the target wins.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/videoio.hpp>

#include "cli/bench_video.h"

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
  std::vector<Result> results;
  const double dense_macs_total = double(model_cost_macs(dense)) * double(frames.size());
  for (float t : {0.05f, 0.1f, 0.2f, 0.5f, 1.f, 2.f, 5.f})
    for (float im : {1.f, 4.f, 16.f})
      for (float g : {0.003f, 0.01f, 0.03f}) {
        CompileOptions co = base;
        co.delta = a.delta;
        co.delta.enabled = true;
        co.delta.auto_fallback = false;
        co.delta.frame_skip = -1;
        co.delta.threshold = t, co.delta.input_threshold = t * im, co.delta.global_threshold = g;
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
            if (is_mask_tensor(x)) iou_sum += mask_iou(x, y), ++iou_n;
          }
        }
        r.err = err_n ? err_sum / double(err_n) : 0;
        r.iou = iou_n ? iou_sum / double(iou_n) : 1;
        r.macs = double(s.delta_stats().executed_macs) / dense_macs_total;
        results.push_back(r);
      }
  auto ok = [&](const Result& r) {
    return (a.target_error <= 0 || r.err <= a.target_error) && (a.target_iou <= 0 || r.iou >= a.target_iou);
  };
  const Result* best = nullptr;
  for (const Result& r : results)
    if (ok(r) && (!best || r.macs < best->macs)) best = &r;
  std::printf("calibration on %zu frames of %s (%zu candidates)\n%10s %10s %10s %12s %10s %10s\n", frames.size(),
              a.video.c_str(), results.size(), "threshold", "input", "global", "mean|err|", "mask IoU", "MACs");
  for (const Result& r : results)
    std::printf("%10g %10g %10g %12.5f %10.4f %9.1f%%%s\n", r.o.threshold, r.o.input_threshold, r.o.global_threshold,
                r.err, r.iou, 100 * r.macs, &r == best ? "  <- chosen" : "");
  if (!best) {
    std::printf("no candidate meets the target; the exact setting is --threshold 0\n");
    return 1;
  }
  std::printf("\nchosen: --threshold %g --input-threshold %g --global-threshold %g  (mean |err| %.5f, mask IoU %.4f, "
              "%.1f%% of the dense MACs)\n",
              best->o.threshold, best->o.input_threshold, best->o.global_threshold, best->err, best->iou, 100 * best->macs);
  return 0;
}

}  // namespace ef::cli
