#include "test_nodes.h"

#include <chrono>

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
  explicit Slow(const Params& p) : ms_(int(p.i("ms", 10))), fail_at_(p.i("fail_at", -1)), drop_every_(p.i("drop_every", 0)) {}
  void process(Context&, const Inputs& in, Outputs& out) override {
    if (in.seq() == fail_at_) throw ef::Error("synthetic failure at frame " + std::to_string(in.seq()));
    if (ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    if (drop_every_ > 0 && in.seq() % drop_every_ == 0) return;
    out.emit_any("image", in["image"].data);
  }

 private:
  int ms_;
  int64_t fail_at_, drop_every_;
};

class Join : public Node {
 public:
  void process(Context&, const Inputs& in, Outputs& out) override {
    if (in["a"].ts != in["b"].ts) throw ef::Error("join got different timestamps");
    out.emit_any("image", in["a"].data);
  }
};

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
  t.params = {{"ms", "int", "10", ""}, {"fail_at", "int", "-1", ""}, {"drop_every", "int", "0", ""}};
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
