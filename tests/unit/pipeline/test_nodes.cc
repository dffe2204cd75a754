#include "test_nodes.h"

#include <chrono>
#include <ctime>

namespace eftest {

using namespace ef::pipe;

Collected& collected() {
  static Collected c;
  return c;
}

namespace {

class Collect : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs&) override {
    std::lock_guard<std::mutex> lk(collected().m);
    collected().seqs.push_back(in.seq());
    collected().ts.push_back(in.ts());
  }
};

class Slow : public Node {
 public:
  explicit Slow(const Params& p)
      : ms_(int(p.i("ms", 10))), cpu_ms_(p.f("cpu_ms", 0)), fail_at_(p.i("fail_at", -1)), drop_every_(p.i("drop_every", 0)) {}
  void process(Context&, const Inputs& in, Outputs& out) override {
    if (in.seq() == fail_at_) throw ef::Error("synthetic failure at frame " + std::to_string(in.seq()));
    if (ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    if (cpu_ms_ > 0) {  // burn this much CPU time of this thread
      auto cpu = [] {
        timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
      };
      for (double end = cpu() + cpu_ms_; cpu() < end;) {
      }
    }
    if (drop_every_ > 0 && in.seq() % drop_every_ == 0) return;
    out.emit_any("image", in["image"].data);
  }

 private:
  int ms_;
  double cpu_ms_;
  int64_t fail_at_, drop_every_;
};

class Join : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs& out) override {
    if (in["a"].ts != in["b"].ts) throw ef::Error("join got different timestamps");
    out.emit_any("image", in["a"].data);
  }
};

// A source of 32x32 frames that throws at frame fail_at (a camera unplugged
// mid-stream, a truncated file).
class FailingSource : public Node {
 public:
  explicit FailingSource(const Params& p) : fail_at_(p.i("fail_at", 5)) {}
  bool generate(Context&, Outputs& out) override {
    if (n_ == fail_at_) throw ef::Error("synthetic source failure at frame " + std::to_string(n_));
    out.set_time(n_ * 1000, n_);
    out.emit("image", cv::Mat(32, 32, CV_8UC3, cv::Scalar::all(0)));
    ++n_;
    return true;
  }

 private:
  int64_t fail_at_, n_ = 0;
};

NodeType failing_source_type() {
  NodeType t;
  t.name = "test_failing_source";
  t.source = true;
  t.outputs = {{"image", types::image, false, ""}};
  t.params = {{"fail_at", "int", "5", ""}};
  t.create = [](const Params& p) { return std::make_unique<FailingSource>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(failing_source_type);

NodeType collect_type() {
  NodeType t;
  t.name = "test_collect";
  t.inputs = {{"in", types::any, false, ""}};
  t.create = [](const Params&) { return std::make_unique<Collect>(); };
  return t;
}
NodeType slow_type() {
  NodeType t;
  t.name = "test_slow";
  t.inputs = {{"image", types::image, false, ""}};
  t.outputs = {{"image", types::image, false, ""}};
  t.params = {{"ms", "int", "10", ""}, {"cpu_ms", "float", "0", ""}, {"fail_at", "int", "-1", ""}, {"drop_every", "int", "0", ""}};
  t.create = [](const Params& p) { return std::make_unique<Slow>(p); };
  return t;
}
NodeType join_type() {
  NodeType t;
  t.name = "test_join";
  t.inputs = {{"a", types::image, false, ""}, {"b", types::image, false, ""}};
  t.outputs = {{"image", types::image, false, ""}};
  t.create = [](const Params&) { return std::make_unique<Join>(); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(collect_type);
EF_REGISTER_PIPELINE_NODE(slow_type);
EF_REGISTER_PIPELINE_NODE(join_type);

}  // namespace
}  // namespace eftest
