// The straightforward baseline for bench/pipeline/bench_meeting.sh: the
// meeting functions (selfie segmentation + background blur, BlazeFace +
// auto-framing, mp4 + JSON lines out) as one simple frame loop on one thread,
// with the models run by ONNX Runtime and pre/post-processing done with
// OpenCV. Prints the same kind of summary line as `edgeflow pipeline run`.
//
//   baseline_ort --lib libonnxruntime.so.1 --seg seg.onnx --face face.onnx --input clip.avi
//                [--resize 1280x720] [--frames N] [--threads T] [--output out.mp4] [--results out.jsonl]
//
// What is the same as meeting.yaml: the models (converted from the same
// .tflite files with `edgeflow convert`), the frame size, and the
// post-processing functions of src/vision (mask refinement, compositing,
// anchor decoding + weighted NMS, the auto-framer), so both programs do the
// same work per frame and their outputs match. What differs is what edgeflow
// brings: its inference engine (here: ONNX Runtime, intra-op threads = T) and
// its scheduler (here: one frame after the other, no overlap of stages).
//
// ONNX Runtime is loaded with dlopen; the few C API entries used are declared
// below by their index in the OrtApi table (append-only since ORT 1.0, see
// onnxruntime_c_api.h).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "edgeflow/vision.h"

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- ONNX Runtime C API (the subset used)
struct OrtStatus;
struct OrtEnv;
struct OrtSession;
struct OrtSessionOptions;
struct OrtValue;
struct OrtMemoryInfo;
struct OrtAllocator;
using St = OrtStatus*;
enum : int { kFloat = 1, kArenaAllocator = 1, kMemTypeDefault = 0, kLogWarning = 2, kOptAll = 99 };

struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

class Ort {
 public:
  explicit Ort(const std::string& lib) {
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw std::runtime_error(lib + ": cannot load (" + dlerror() + ")");
    auto base = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(h, "OrtGetApiBase"));
    if (!base) throw std::runtime_error(lib + ": no OrtGetApiBase");
    version = base()->GetVersionString();
    fn_ = static_cast<void* const*>(base()->GetApi(13));  // API version 13 = ORT 1.13, served by every later ORT
    if (!fn_) throw std::runtime_error(lib + ": does not serve C API version 13");
    check(f<St (*)(int, const char*, OrtEnv**)>(3)(kLogWarning, "baseline", &env));
    check(f<St (*)(int, int, OrtMemoryInfo**)>(69)(kArenaAllocator, kMemTypeDefault, &cpu));
  }
  // indices into OrtApi
  template <class F>
  F f(int i) const {
    return reinterpret_cast<F>(fn_[i]);
  }
  void check(St s) const {
    if (!s) return;
    std::string m = f<const char* (*)(const OrtStatus*)>(2)(s);
    f<void (*)(OrtStatus*)>(93)(s);
    throw std::runtime_error("onnxruntime: " + m);
  }
  std::string version;
  OrtEnv* env = nullptr;
  OrtMemoryInfo* cpu = nullptr;

 private:
  void* const* fn_ = nullptr;
};

// One model: float NHWC input buffer owned here, outputs allocated by ORT.
class Model {
 public:
  Model(const Ort& ort, const std::string& path, int threads) : ort_(ort) {
    OrtSessionOptions* so = nullptr;
    ort.check(ort.f<St (*)(OrtSessionOptions**)>(10)(&so));
    ort.check(ort.f<St (*)(OrtSessionOptions*, int)>(23)(so, kOptAll));
    ort.check(ort.f<St (*)(OrtSessionOptions*, int)>(24)(so, threads));
    ort.check(ort.f<St (*)(OrtSessionOptions*, int)>(25)(so, 1));
    ort.check(ort.f<St (*)(OrtEnv*, const char*, OrtSessionOptions*, OrtSession**)>(7)(ort.env, path.c_str(), so, &s_));
    ort.f<void (*)(OrtSessionOptions*)>(100)(so);
    OrtAllocator* alloc = nullptr;
    ort.check(ort.f<St (*)(OrtAllocator**)>(78)(&alloc));
    auto names = [&](int count_fn, int name_fn, std::vector<std::string>& out) {
      size_t n = 0;
      ort.check(ort.f<St (*)(OrtSession*, size_t*)>(count_fn)(s_, &n));
      for (size_t i = 0; i < n; ++i) {
        char* c = nullptr;
        ort.check(ort.f<St (*)(OrtSession*, size_t, OrtAllocator*, char**)>(name_fn)(s_, i, alloc, &c));
        out.push_back(c);
        ort.check(ort.f<St (*)(OrtAllocator*, void*)>(76)(alloc, c));
      }
    };
    names(30, 36, in_names_);
    names(31, 37, out_names_);
    outs_.assign(out_names_.size(), nullptr);
  }
  ~Model() {
    release_outputs();
    ort_.f<void (*)(OrtSession*)>(95)(s_);
  }
  // input: NHWC float [1, h, w, 3]
  float* input(int h, int w) {
    buf_.resize(size_t(h) * w * 3);
    shape_ = {1, h, w, 3};
    return buf_.data();
  }
  void run() {
    release_outputs();
    OrtValue* in = nullptr;
    ort_.check(ort_.f<St (*)(const OrtMemoryInfo*, void*, size_t, const int64_t*, size_t, int, OrtValue**)>(49)(
        ort_.cpu, buf_.data(), buf_.size() * sizeof(float), shape_.data(), shape_.size(), kFloat, &in));
    std::vector<const char*> in_n, out_n;
    for (auto& n : in_names_) in_n.push_back(n.c_str());
    for (auto& n : out_names_) out_n.push_back(n.c_str());
    St st = ort_.f<St (*)(OrtSession*, const void*, const char* const*, const OrtValue* const*, size_t,
                          const char* const*, size_t, OrtValue**)>(9)(s_, nullptr, in_n.data(), &in, 1, out_n.data(),
                                                                      out_n.size(), outs_.data());
    ort_.f<void (*)(OrtValue*)>(96)(in);
    ort_.check(st);
  }
  const float* output(size_t i) const {
    void* p = nullptr;
    ort_.check(ort_.f<St (*)(OrtValue*, void**)>(51)(outs_.at(i), &p));
    return static_cast<const float*>(p);
  }

 private:
  void release_outputs() {
    for (auto*& v : outs_) {
      if (v) ort_.f<void (*)(OrtValue*)>(96)(v);
      v = nullptr;
    }
  }
  const Ort& ort_;
  OrtSession* s_ = nullptr;
  std::vector<std::string> in_names_, out_names_;
  std::vector<OrtValue*> outs_;
  std::vector<float> buf_;
  std::vector<int64_t> shape_;
};

// ---------------------------------------------------------------- OpenCV preprocessing
// BGR frame -> RGB float NHWC at (w, h), values mapped to [lo, hi]; with
// letterbox the frame keeps its aspect and is centred on `lo` padding.
ef::vision::Letterbox to_tensor(const cv::Mat& bgr, int w, int h, float lo, float hi, bool letterbox, float* dst) {
  ef::vision::Letterbox lb;
  cv::Mat resized, rgb, f;
  if (letterbox) {
    double s = std::min(double(w) / bgr.cols, double(h) / bgr.rows);
    int nw = int(std::lround(bgr.cols * s)), nh = int(std::lround(bgr.rows * s));
    int ox = (w - nw) / 2, oy = (h - nh) / 2;
    cv::resize(bgr, resized, cv::Size(nw, nh), 0, 0, cv::INTER_LINEAR);
    cv::copyMakeBorder(resized, resized, oy, h - nh - oy, ox, w - nw - ox, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    lb.pad_left = float(ox) / w, lb.pad_right = float(w - nw - ox) / w;
    lb.pad_top = float(oy) / h, lb.pad_bottom = float(h - nh - oy) / h;
  } else {
    cv::resize(bgr, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  }
  cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
  cv::Mat out(h, w, CV_32FC3, dst);
  rgb.convertTo(out, CV_32FC3, (hi - lo) / 255.0, lo);
  if (letterbox) {  // padding is `lo`, not the value of a black pixel
    int ox = int(std::lround(lb.pad_left * w)), oy = int(std::lround(lb.pad_top * h));
    int nw = w - ox - int(std::lround(lb.pad_right * w)), nh = h - oy - int(std::lround(lb.pad_bottom * h));
    cv::Mat pad = cv::Mat::ones(h, w, CV_8U);
    pad(cv::Rect(ox, oy, nw, nh)) = 0;
    out.setTo(cv::Scalar::all(lo), pad);
  }
  return lb;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

int run(int argc, char** argv) {
  std::string lib, seg_path, face_path, input, output = "out/bench/baseline.mp4", results = "out/bench/baseline.jsonl";
  int frames = 0, threads = 1;
  cv::Size size(0, 0);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--lib") lib = val();
    else if (a == "--seg") seg_path = val();
    else if (a == "--face") face_path = val();
    else if (a == "--input") input = val();
    else if (a == "--output") output = val();
    else if (a == "--results") results = val();
    else if (a == "--frames") frames = std::stoi(val());
    else if (a == "--threads") threads = std::stoi(val());
    else if (a == "--resize") {
      std::string s = val();
      if (std::sscanf(s.c_str(), "%dx%d", &size.width, &size.height) != 2) throw std::runtime_error("--resize WxH");
    } else throw std::runtime_error("unknown option " + a);
  }
  if (lib.empty() || seg_path.empty() || face_path.empty() || input.empty())
    throw std::runtime_error("usage: baseline_ort --lib LIB --seg SEG.onnx --face FACE.onnx --input VIDEO [...]");
  Ort ort(lib);
  Model seg(ort, seg_path, threads), face(ort, face_path, threads);
  cv::VideoCapture cap(input, cv::CAP_FFMPEG);
  if (!cap.isOpened()) throw std::runtime_error("cannot open " + input);

  // the settings of pipelines/meeting.yaml
  ef::vision::MaskRefineOptions mo;
  mo.temporal = 0.6f;
  mo.guided_radius = 8;
  ef::vision::MaskRefiner refiner(mo);
  ef::vision::BackgroundOptions bo;
  bo.blur = 31;
  ef::vision::BackgroundCompositor compositor(bo);
  auto fcfg = ef::vision::blazeface_config("short");
  auto anchors = ef::vision::ssd_anchors(fcfg.anchors);
  ef::vision::AutoFramer framer;
  cv::VideoWriter writer;
  std::ofstream jsonl(results);

  std::vector<double> lat;
  cv::Mat raw, frame, composited, view;
  auto t_start = Clock::now();
  int n = 0;
  for (; frames <= 0 || n < frames; ++n) {
    auto t0 = Clock::now();
    if (!cap.read(raw) || raw.empty()) break;
    if (size.width > 0) cv::resize(raw, frame, size, 0, 0, cv::INTER_LINEAR);
    else frame = raw;
    // segmentation -> refined mask -> blurred background
    auto seg_lb = to_tensor(frame, 256, 144, 0.f, 1.f, false, seg.input(144, 256));
    seg.run();
    cv::Mat small(144, 256, CV_32F, const_cast<float*>(seg.output(0)));
    const cv::Mat& mask = refiner.refine(small, seg_lb, frame);
    compositor.apply(frame, mask, composited);
    // faces -> crop
    auto face_lb = to_tensor(frame, 128, 128, -1.f, 1.f, true, face.input(128, 128));
    face.run();
    const float* reg = face.output(0);
    const float* cls = face.output(1);
    auto dets = ef::vision::decode_detections(reg, cls, anchors, fcfg.decode);
    dets = ef::vision::weighted_nms(std::move(dets), fcfg.nms_threshold);
    ef::vision::remove_letterbox(dets, face_lb);
    std::vector<cv::Rect2f> boxes;
    for (auto& d : dets)
      boxes.emplace_back(d.box.x * frame.cols, d.box.y * frame.rows, d.box.width * frame.cols, d.box.height * frame.rows);
    cv::Rect2f r = framer.update(boxes, frame.size());
    cv::Rect ri = cv::Rect(cv::Point(int(std::lround(r.x)), int(std::lround(r.y))),
                           cv::Size(int(std::lround(r.width)), int(std::lround(r.height)))) &
                  cv::Rect(0, 0, frame.cols, frame.rows);
    cv::Size os(frame.cols, (int(std::lround(frame.cols * 9.0 / 16)) + 1) & ~1);
    cv::resize(composited(ri), view, os, 0, 0, cv::INTER_LINEAR);
    if (!writer.isOpened() &&
        !writer.open(output, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 30, os, true))
      throw std::runtime_error("cannot write " + output);
    writer.write(view);
    double cover = cv::mean(mask)[0];
    jsonl << "{\"frame\":" << n << ",\"faces\":" << dets.size() << ",\"mask_mean\":" << cover << ",\"crop\":["
          << r.x << "," << r.y << "," << r.width << "," << r.height << "]}\n";
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  writer.release();
  double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("baseline (ONNX Runtime %s, %d intra-op threads, OpenCV, one loop): %d frames in %.2f s = %.1f FPS; "
              "latency p50 %.1f ms p95 %.1f ms; peak RSS %ld MiB\n",
              ort.version.c_str(), threads, n, secs, n / secs, percentile(lat, 0.5), percentile(lat, 0.95),
              ru.ru_maxrss / 1024);
  return n > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baseline_ort: %s\n", e.what());
    return 2;
  }
}
