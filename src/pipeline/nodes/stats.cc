// stats: prints the pipeline's live statistics line (FPS in/out, per-node
// latency p50/p95, drops) to stderr every few seconds.
#include <cstdio>

#include "edgeflow/pipeline.h"

namespace ef::pipe {
namespace {

class StatsNode : public Node {
 public:
  explicit StatsNode(const Params& p) : every_(p.f("every", 1.0)) {
    if (every_ <= 0) throw Error(p.where("every") + ": must be > 0");
  }
  void process(Context& ctx, const Inputs& in, Outputs&) override {
    auto now = Clock::now();
    if (last_ == Clock::time_point{}) last_ = start_ = now;
    ++frames_;
    if (std::chrono::duration<double>(now - last_).count() >= every_) {
      double fps = frames_ / std::chrono::duration<double>(now - start_).count();
      std::fprintf(stderr, "[stats] %.1f FPS | %s\n", fps, ctx.stats_line().c_str());
      last_ = now;
    }
  }

 private:
  double every_;
  Clock::time_point last_{}, start_{};
  int64_t frames_ = 0;
};

NodeType type() {
  NodeType t;
  t.name = "stats";
  t.help = "live statistics line on stderr (FPS, per-node p50/p95 ms, drops)";
  t.inputs = {{"in", types::any, false, "any stream (counts its frames)"}};
  t.params = {{"every", "float", "1", "seconds between lines"}};
  t.create = [](const Params& p) { return std::make_unique<StatsNode>(p); };
  return t;
}
EF_REGISTER_PIPELINE_NODE(type);

}  // namespace
}  // namespace ef::pipe
