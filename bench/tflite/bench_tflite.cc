// edgeflow vs native TFLite 2.9 (+ XNNPACK delegate) on the same .tflite
// models, same inputs, same thread count, in one run. Reports the median of
// N runs each and the ratio (TFLite time / edgeflow time: > 1 = edgeflow faster).
//
//   bench_tflite [--runs N] [--threads T] [--cpu] [--lib libtensorflowlite_c.so] MODEL.tflite...
//
// --cpu times each run by the process's CPU time (all threads, including
// spinning workers) instead of wall time: less sensitive to other load on a
// busy machine, meaningful mostly at 1 thread.
//
// The TFLite C library is loaded with dlopen (bench/tflite/fetch_tflite_c.sh
// puts it in models/cache/tflite_c/); its C API is declared here.
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeflow/session.h"

namespace {

struct XnnOptions {  // TfLiteXNNPackDelegateOptions (2.9)
  int32_t num_threads;
  uint32_t flags;
  void* weights_cache;
};

struct TfLite {
  void* (*ModelCreateFromFile)(const char*);
  void (*ModelDelete)(void*);
  void* (*OptionsCreate)();
  void (*OptionsDelete)(void*);
  void (*OptionsSetNumThreads)(void*, int32_t);
  void (*OptionsAddDelegate)(void*, void*);
  void* (*InterpreterCreate)(const void*, const void*);
  void (*InterpreterDelete)(void*);
  int (*AllocateTensors)(void*);
  int (*Invoke)(void*);
  void* (*GetInputTensor)(const void*, int32_t);
  const void* (*GetOutputTensor)(const void*, int32_t);
  int (*CopyFromBuffer)(void*, const void*, size_t);
  size_t (*ByteSize)(const void*);
  XnnOptions (*XnnDefault)();
  void* (*XnnCreate)(const XnnOptions*);
  void (*XnnDelete)(void*);

  explicit TfLite(const std::string& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw ef::Error(path + ": cannot load (" + dlerror() + "); run bench/tflite/fetch_tflite_c.sh");
    auto sym = [&](const char* n) {
      void* p = dlsym(h, n);
      if (!p) throw ef::Error(path + ": missing symbol " + n);
      return p;
    };
#define EF_SYM(field, name) field = reinterpret_cast<decltype(field)>(sym(name))
    EF_SYM(ModelCreateFromFile, "TfLiteModelCreateFromFile");
    EF_SYM(ModelDelete, "TfLiteModelDelete");
    EF_SYM(OptionsCreate, "TfLiteInterpreterOptionsCreate");
    EF_SYM(OptionsDelete, "TfLiteInterpreterOptionsDelete");
    EF_SYM(OptionsSetNumThreads, "TfLiteInterpreterOptionsSetNumThreads");
    EF_SYM(OptionsAddDelegate, "TfLiteInterpreterOptionsAddDelegate");
    EF_SYM(InterpreterCreate, "TfLiteInterpreterCreate");
    EF_SYM(InterpreterDelete, "TfLiteInterpreterDelete");
    EF_SYM(AllocateTensors, "TfLiteInterpreterAllocateTensors");
    EF_SYM(Invoke, "TfLiteInterpreterInvoke");
    EF_SYM(GetInputTensor, "TfLiteInterpreterGetInputTensor");
    EF_SYM(GetOutputTensor, "TfLiteInterpreterGetOutputTensor");
    EF_SYM(CopyFromBuffer, "TfLiteTensorCopyFromBuffer");
    EF_SYM(ByteSize, "TfLiteTensorByteSize");
    EF_SYM(XnnDefault, "TfLiteXNNPackDelegateOptionsDefault");
    EF_SYM(XnnCreate, "TfLiteXNNPackDelegateCreate");
    EF_SYM(XnnDelete, "TfLiteXNNPackDelegateDelete");
#undef EF_SYM
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool g_cpu_time = false;

double now_ms() {
  if (!g_cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

template <class F> std::vector<double> time_runs(int runs, F&& f) {
  for (int i = 0; i < 3; ++i) f();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const double t0 = now_ms();
    f();
    ms.push_back(now_ms() - t0);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 30, threads = 1;
  std::string lib = std::string(EF_SOURCE_DIR) + "/models/cache/tflite_c/libtensorflowlite_c.so";
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--lib" && i + 1 < argc) lib = argv[++i];
    else if (a == "--cpu") g_cpu_time = true;
    else models.push_back(a);
  }
  if (models.empty() || runs < 1 || threads < 1) {
    std::fprintf(stderr, "usage: bench_tflite [--runs N] [--threads T] [--cpu] [--lib PATH] MODEL.tflite...\n");
    return 2;
  }
  try {
    TfLite tfl(lib);
    std::printf("%-36s %7s %12s %12s %8s\n", "model", "threads", "tflite ms", "edgeflow ms", "ratio");
    for (const auto& path : models) {
      ef::Model model = ef::Model::load(path);
      ef::Session s(model, {.threads = threads});
      std::mt19937 rng(1);
      std::uniform_real_distribution<float> u(0.f, 1.f);
      for (size_t i = 0; i < s.num_inputs(); ++i) {
        ef::Tensor& t = s.input(i);
        if (t.dtype() == ef::DType::f32)
          for (int64_t k = 0; k < t.numel(); ++k) t.data_as<float>()[k] = u(rng);
      }
      // native TFLite with the XNNPACK delegate, same thread count
      void* m = tfl.ModelCreateFromFile(path.c_str());
      if (!m) throw ef::Error(path + ": TFLite cannot load the model");
      void* opts = tfl.OptionsCreate();
      tfl.OptionsSetNumThreads(opts, threads);
      XnnOptions xo = tfl.XnnDefault();
      xo.num_threads = threads;
      void* xnn = tfl.XnnCreate(&xo);
      tfl.OptionsAddDelegate(opts, xnn);
      void* it = tfl.InterpreterCreate(m, opts);
      std::string name = path.substr(path.find_last_of('/') + 1);
      if (!it || tfl.AllocateTensors(it) != 0) {  // e.g. MediaPipe custom ops TFLite does not have
        auto t_ef = time_runs(runs, [&] { s.run(); });
        std::printf("%-36s %7d %12s %12.3f %8s  (TFLite cannot run it: custom op)\n", name.c_str(), threads, "n/a",
                    median(t_ef), "-");
        if (it) tfl.InterpreterDelete(it);
        tfl.XnnDelete(xnn);
        tfl.OptionsDelete(opts);
        tfl.ModelDelete(m);
        continue;
      }
      for (size_t i = 0; i < s.num_inputs(); ++i) {
        void* ti = tfl.GetInputTensor(it, int32_t(i));
        if (tfl.ByteSize(ti) != s.input(i).nbytes()) throw ef::Error(path + ": input size differs from TFLite's");
        tfl.CopyFromBuffer(ti, s.input(i).data(), s.input(i).nbytes());
      }
      auto t_tfl = time_runs(runs, [&] {
        if (tfl.Invoke(it) != 0) throw ef::Error(path + ": TFLite Invoke failed");
      });
      auto t_ef = time_runs(runs, [&] { s.run(); });
      const double a = median(t_tfl), b = median(t_ef);
      std::printf("%-36s %7d %12.3f %12.3f %8.2f\n", name.c_str(), threads, a, b, a / b);
      std::fflush(stdout);
      tfl.InterpreterDelete(it);
      tfl.XnnDelete(xnn);
      tfl.OptionsDelete(opts);
      tfl.ModelDelete(m);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
