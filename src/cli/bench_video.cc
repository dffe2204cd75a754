#include "cli/bench_video.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <numeric>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "edgeflow/analysis.h"
#include "edgeflow/vision.h"

namespace ef::cli {

namespace {
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread (less sensitive to a busy machine than
// wall-clock; with --threads > 1 the pool's workers are not counted).
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

}  // namespace

bool is_mask_tensor(const Tensor& t) {
  if (t.dtype() != DType::f32 || t.rank() < 3) return false;
  if (t.shape().back() != 1 && t.shape()[1] != 1) return false;
  const float* d = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (d[i] < -1e-3f || d[i] > 1.001f) return false;
  return true;
}

int64_t model_cost_macs(const Session& s) { return model_cost(s.graph()).total.macs; }

namespace {

// frame | dense mask | delta mask | 4x |difference|, each scaled to the mask size.
void save_masks(const std::string& dir, int frame, const cv::Mat& bgr, const Tensor& dense, const Tensor& delta) {
  const int h = int(dense.shape()[dense.rank() - 3]), w = int(dense.shape()[dense.rank() - 2]);
  cv::Mat a(h, w, CV_32F, const_cast<float*>(dense.data_as<float>()));
  cv::Mat b(h, w, CV_32F, const_cast<float*>(delta.data_as<float>()));
  cv::Mat img, a8, b8, d8, diff;
  cv::resize(bgr, img, cv::Size(w, h));
  cv::absdiff(a, b, diff);
  a.convertTo(a8, CV_8U, 255), b.convertTo(b8, CV_8U, 255), diff.convertTo(d8, CV_8U, 4 * 255);
  cv::cvtColor(a8, a8, cv::COLOR_GRAY2BGR), cv::cvtColor(b8, b8, cv::COLOR_GRAY2BGR), cv::cvtColor(d8, d8, cv::COLOR_GRAY2BGR);
  cv::Mat row;
  cv::hconcat(std::vector<cv::Mat>{img, a8, b8, d8}, row);
  char name[64];
  std::snprintf(name, sizeof name, "/frame%04d.png", frame);
  if (!cv::imwrite(dir + name, row)) throw Error(dir + name + ": cannot write the image");
}

// A classifier's [1, N] or a detector's per-anchor scores [1, N, 1].
bool is_score_vector(const Tensor& t) {
  const Shape& s = t.shape();
  return s.size() >= 2 && s[0] == 1 && s[1] > 1 && (s.size() == 2 || (s.size() == 3 && s[2] == 1));
}

int64_t argmax(const Tensor& t) {
  const float* d = t.data_as<float>();
  return std::max_element(d, d + t.numel()) - d;
}
}  // namespace

int bench_video(const VideoBenchArgs& a) {
  if (a.calibrate) return calibrate_delta(a);
  cv::VideoCapture cap(a.video);
  if (!a.save_masks.empty()) std::filesystem::create_directories(a.save_masks);
  if (!cap.isOpened()) throw Error(a.video + ": cannot open video (missing file or unsupported format)");
  Model model = Model::load(a.model);
  CompileOptions dense_opts = to_compile_options(a.common);
  CompileOptions delta_opts = dense_opts;
  delta_opts.delta = a.delta;
  delta_opts.delta.enabled = true;
  Session dense(model, dense_opts);
  dense.set_profiling(true);  // the same per-step timing overhead as the delta session
  std::unique_ptr<Session> delta;
  if (a.use_delta) {
    delta = std::make_unique<Session>(model, delta_opts);
    delta->set_profiling(true);
  }
  int img_input = -1;
  for (size_t i = 0; i < dense.num_inputs() && img_input < 0; ++i)
    if (dense.input_info(i).dtype == DType::f32 && dense.input_info(i).shape.size() == 4) img_input = int(i);
  if (img_input < 0) throw Error(a.model + ": no 4-D float input to feed video frames to");
  const Value& info = dense.input_info(size_t(img_input));

  std::vector<double> t_dense, t_delta, c_dense, c_delta, diffs, ious, temporal;
  std::vector<Tensor> prev_mask(dense.num_outputs());
  int frames = 0, top1_agree = 0, top1_total = 0;
  int det_agree = 0, det_total = 0;  // detector scores on frames where dense detects something
  double worst_diff = 0, worst_iou = 1;
  vision::MaskOverlap pooled;  // over every frame: the IoU of the whole clip's mask pixels
  cv::Mat frame, ideal_frame;  // the frame read; --ideal-gate: the ideal frame delta last ran on
  cv::Size size0;
  Tensor in(DType::f32, info.shape), in_ideal(DType::f32, info.shape);
  // --ideal-gate: the whole clip first (its median is the background); delta runs on the ideal frames.
  std::unique_ptr<IdealGate> ideal;
  double ideal_moving = 0, ideal_changed = 0;  // summed over frames: pixels kept from the frame, pixels changed
  if (a.ideal_gate >= 0) {
    if (!delta) throw Error("--ideal-gate needs --delta");
    std::vector<cv::Mat> all;
    while ((a.frames <= 0 || int(all.size()) < a.frames) && cap.read(frame) && !frame.empty()) all.push_back(frame.clone());
    ideal = std::make_unique<IdealGate>(std::move(all), a.ideal_gate, a.ideal_dilate);
  }
  auto next = [&] {
    if (!ideal) return (a.frames <= 0 || frames < a.frames) && cap.read(frame) && !frame.empty();
    if (size_t(frames) >= ideal->size()) return false;
    frame = ideal->raw(size_t(frames));
    return true;
  };
  while (next()) {
    if (frames == 0) size0 = frame.size();
    if (frame.size() != size0) {  // a size change mid-stream is a new scene
      size0 = frame.size();
      if (delta) delta->reset_delta();
    }
    mat_to_tensor(frame, a.image, info, in);
    std::memcpy(dense.input(size_t(img_input)).data(), in.data(), in.nbytes());
    double t0 = now_ms(), c0 = thread_cpu_ms();
    dense.run();
    double t1 = now_ms();
    t_dense.push_back(t1 - t0);
    c_dense.push_back(thread_cpu_ms() - c0);
    if (delta) {
      if (ideal) {
        double moving = 0;
        cv::Mat f = ideal->frame(size_t(frames), &moving), changed;
        ideal_moving += moving;
        if (!ideal_frame.empty()) {
          cv::absdiff(f, ideal_frame, changed);
          cv::reduce(changed.reshape(1, int(changed.total())), changed, 1, cv::REDUCE_MAX);  // any channel
          ideal_changed += double(cv::countNonZero(changed)) / double(changed.total());
        }
        ideal_frame = f;
        mat_to_tensor(f, a.image, info, in_ideal);
      }
      const Tensor& din = ideal ? in_ideal : in;
      std::memcpy(delta->input(size_t(img_input)).data(), din.data(), din.nbytes());
      double t2 = now_ms(), c2 = thread_cpu_ms();
      delta->run();
      double t3 = now_ms();
      t_delta.push_back(t3 - t2);
      c_delta.push_back(thread_cpu_ms() - c2);
      double d = 0;
      for (size_t k = 0; k < dense.num_outputs(); ++k) {
        const Tensor& x = dense.output(k);
        const Tensor& y = delta->output(k);
        if (x.dtype() != DType::f32) continue;
        for (int64_t i = 0; i < x.numel(); ++i)
          d = std::max(d, double(std::fabs(x.data_as<float>()[i] - y.data_as<float>()[i])));
        if (is_mask_tensor(x)) {
          if (!a.save_masks.empty() && (frames % 25 == 0)) save_masks(a.save_masks, frames, ideal ? ideal_frame : frame, x, y);
          const vision::MaskOverlap o = vision::mask_overlap(x, y);
          pooled += o;
          const double iou = o.iou();
          ious.push_back(iou);
          worst_iou = std::min(worst_iou, iou);
          // dense against its own previous frame: how much the mask itself flickers
          if (prev_mask[k].numel() == x.numel()) temporal.push_back(vision::mask_iou(prev_mask[k], x));
          prev_mask[k] = x.clone();
        } else if (is_score_vector(x)) {
          const int64_t i = argmax(x), j = argmax(y);
          ++top1_total;
          top1_agree += i == j;
          if (x.rank() == 3 && x.data_as<float>()[i] > 0) ++det_total, det_agree += i == j;  // logit > 0: score > 0.5
        }
      }
      diffs.push_back(d);
      worst_diff = std::max(worst_diff, d);
    }
    ++frames;
  }
  if (frames == 0) throw Error(a.video + ": no frames could be read (truncated or empty video)");
  const double md = median(t_dense);
  ModelCost cost = model_cost(dense.graph());
  if (!delta) {
    std::printf("%s on %s: %d frames, dense median %.3f ms/frame, %s MACs/frame\n", a.model.c_str(), a.video.c_str(),
                frames, md, human_count(double(cost.total.macs)).c_str());
    return 0;
  }
  const DeltaStats s = delta->delta_stats();
  const double mdl = median(t_delta), mc = median(c_dense), mcl = median(c_delta);
  const double dense_macs = double(s.dense_macs_per_frame);
  const double delta_macs = double(s.executed_macs) / std::max(1, s.frames);
  size_t state = 0;
  for (auto& l : s.layers) state += l.state_bytes;
  const double mean_iou = ious.empty() ? 0 : std::accumulate(ious.begin(), ious.end(), 0.0) / double(ious.size());
  const double mean_temporal =
      temporal.empty() ? 0 : std::accumulate(temporal.begin(), temporal.end(), 0.0) / double(temporal.size());
  if (a.json) {
    std::printf(
        "{\"model\":\"%s\",\"video\":\"%s\",\"frames\":%d,\"threads\":%d,\"threshold\":%g,\"refresh\":%d,"
        "\"dense_ms\":%.4f,\"delta_ms\":%.4f,\"speedup\":%.3f,\"dense_cpu_ms\":%.4f,\"delta_cpu_ms\":%.4f,\"cpu_speedup\":%.3f,\"dense_macs\":%.0f,\"delta_macs\":%.0f,"
        "\"mac_reduction\":%.3f,\"frames_skipped\":%d,\"frames_dense_fallback\":%d,\"max_abs_diff\":%.6g,\"mean_iou\":%.5f,\"min_iou\":%.5f,\"pooled_iou\":%.5f,\"dense_frame_to_frame_iou\":%.5f,"
        "\"top1_agreement\":%.5f,\"detection_frames\":%d,\"top1_detection_agreement\":%.5f,\"state_bytes\":%zu,"
        "\"ideal_moving\":%.5f,\"ideal_changed\":%.5f}\n",
        a.model.c_str(), a.video.c_str(), frames, a.common.threads, a.delta.threshold, a.delta.refresh_every, md, mdl,
        mdl > 0 ? md / mdl : 0, mc, mcl, mcl > 0 ? mc / mcl : 0, dense_macs, delta_macs, delta_macs > 0 ? dense_macs / delta_macs : 0, s.frames_skipped,
        s.frames_dense_fallback,
        worst_diff, mean_iou, ious.empty() ? 0.0 : worst_iou, ious.empty() ? 0.0 : pooled.iou(), mean_temporal, top1_total ? double(top1_agree) / top1_total : 0.0, det_total, det_total ? double(det_agree) / det_total : 0.0, state,
        ideal_moving / frames, ideal_changed / std::max(1, frames - 1));
    return 0;
  }
  std::printf("model: %s  video: %s  frames: %d  threads: %d\n", a.model.c_str(), a.video.c_str(), frames,
              a.common.threads);
  std::printf("delta: threshold %g, refresh every %d, dense above %.2f changed, tile %d, frame skip %g\n",
              a.delta.threshold, a.delta.refresh_every, a.delta.dense_above, a.delta.tile, a.delta.frame_skip);
  std::printf("\n%-28s %14s %14s %9s\n", "", "dense", "delta", "ratio");
  std::printf("%-28s %14.3f %14.3f %8.2fx\n", "wall-clock ms/frame (median)", md, mdl, mdl > 0 ? md / mdl : 0.0);
  std::printf("%-28s %14.3f %14.3f %8.2fx\n", "thread CPU ms/frame (median)", mc, mcl, mcl > 0 ? mc / mcl : 0.0);
  std::printf("%-28s %14s %14s %8.2fx\n", "MACs/frame (mean)", human_count(dense_macs).c_str(),
              human_count(delta_macs).c_str(), delta_macs > 0 ? dense_macs / delta_macs : 0.0);
  std::printf("frames skipped whole: %d of %d; frames run densely by the auto fallback: %d (delta %.3f ms vs dense %.3f ms recently)\n",
              s.frames_skipped, s.frames, s.frames_dense_fallback, s.delta_ms, s.dense_ms);
  if (ideal)
    std::printf("ideal gate (K %d, dilated %d px): delta ran on the clip's median background where no channel differs "
                "from it by more than K; kept from the frame %.2f%% of the pixels, changed between frames %.2f%% (means)\n",
                a.ideal_gate, a.ideal_dilate, 100 * ideal_moving / frames, 100 * ideal_changed / std::max(1, frames - 1));
  std::printf("output agreement: max |dense - delta| %.4g (median per frame %.4g)", worst_diff, median(diffs));
  if (!ious.empty())
    std::printf("; mask IoU (> 0.5) per frame mean %.4f, min %.4f, pooled over the clip %.4f (dense against its own previous frame: %.4f)",
                mean_iou, worst_iou, pooled.iou(), mean_temporal);
  if (top1_total) std::printf("; top-1 agreement (argmax of the score vectors) %.1f%%", 100.0 * top1_agree / top1_total);
  if (det_total)
    std::printf(" (on the %d frames where dense's best anchor scores > 0.5 after a sigmoid: %.1f%%)", det_total,
                100.0 * det_agree / det_total);
  std::printf("\nextra state held for delta execution: %s\n", human_bytes(double(state)).c_str());
  for (auto& n : s.notes) std::printf("note: %s\n", n.c_str());

  std::vector<size_t> idx;
  for (size_t i = 0; i < s.layers.size(); ++i)
    if (s.layers[i].dense_macs > 0) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return s.layers[x].dense_macs > s.layers[y].dense_macs; });
  const int delta_frames = std::max(1, s.frames - s.frames_skipped - s.frames_dense_fallback);
  std::printf("\nper layer (top %d by dense MACs)\n%-34s %-6s %12s %12s %9s %7s %9s %10s\n", a.top, "layer", "mode",
              "dense MACs", "delta MACs", "changed", "dense#", "delta ms", "break-even");
  for (int k = 0; k < std::min<int>(a.top, int(idx.size())); ++k) {
    const auto& l = s.layers[idx[k]];
    char be[16] = "-";  // measured break-even (a convolution that ran both ways)
    if (l.breakeven <= 1) std::snprintf(be, sizeof be, "%.1f%%", 100.0 * l.breakeven);
    std::printf("%-34.34s %-6s %12s %12s %8.1f%% %7d %9.3f %10s\n", l.name.c_str(), l.delta ? "delta" : "dense",
                human_count(double(l.dense_macs)).c_str(),
                human_count(double(l.executed_macs) / std::max(1, s.frames)).c_str(),
                100.0 * l.changed_fraction / std::max(1, s.frames - s.frames_skipped), l.dense_runs,
                l.ms / delta_frames, be);
  }
  if (a.explain) print_delta_explain(delta->graph(), s);
  return 0;
}

}  // namespace ef::cli
