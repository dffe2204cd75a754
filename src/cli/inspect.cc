// edgeflow inspect MODEL: inputs/outputs, operator histogram, parameters,
// MACs, memory plan, bytes moved, and what the optimizer changed.
#include <cstdio>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/util.h"
#include "edgeflow/analysis.h"
#include "runtime/kernel.h"

namespace ef::cli {

namespace {
struct InspectArgs {
  std::string model;
  CommonOptions common;
  bool verbose = false;
  bool layers = false;
};

void print_values(const char* title, const Graph& g, const std::vector<int>& ids) {
  std::printf("%s:\n", title);
  for (int v : ids)
    std::printf("  %-28s %s%s\n", g.values[v].name.c_str(), dtype_name(g.values[v].dtype),
                shape_str(g.values[v].shape).c_str());
}

std::map<std::string, int> histogram(const Graph& g) {
  std::map<std::string, int> h;
  for (auto& n : g.nodes)
    if (!n.dead) ++h[n.op];
  return h;
}

int inspect(const InspectArgs& a) {
  Model model = Model::load(a.model, to_load_options(a.common));
  CompileOptions opts = to_compile_options(a.common);
  Session s(model, opts);
  const Graph& g = s.graph();

  // Cost of the model as written (parameters count BatchNorm scale/shift),
  // with shapes resolved: compile once more without optimization passes.
  CompileOptions plain = opts;
  plain.optimize = false;
  Session raw(model, plain);
  ModelCost src_cost = model_cost(raw.graph());
  ModelCost cost = model_cost(g);

  std::printf("model: %s (%s, opset %d)\n", a.model.c_str(), model.format().c_str(), model.graph().opset);
  print_values("inputs", g, g.inputs);
  print_values("outputs", g, g.outputs);
  auto before = histogram(model.graph()), after = histogram(g);
  std::printf("operators (%d in the file -> %d after optimization):\n", s.report().nodes_before,
              int(g.nodes.size()));
  std::map<std::string, std::pair<int, int>> ops;
  for (auto& [k, v] : before) ops[k].first = v;
  for (auto& [k, v] : after) ops[k].second = v;
  for (auto& [k, v] : ops) std::printf("  %-22s %5d -> %d\n", k.c_str(), v.first, v.second);
  std::printf("parameters:                %s (%lld)\n", human_count(double(src_cost.total.params)).c_str(),
              (long long)src_cost.total.params);
  std::printf("MACs per inference:        %s (%lld)\n", human_count(double(cost.total.macs)).c_str(),
              (long long)cost.total.macs);
  std::printf("FLOPs per inference:       %s\n", human_count(double(cost.total.flops)).c_str());
  std::printf("weight bytes:              %s (%lld)\n", human_bytes(double(cost.total.weight_bytes)).c_str(),
              (long long)cost.total.weight_bytes);
  std::printf("%s\n", precision_summary(s).c_str());
  std::printf("peak activation memory:    %s planned arena (%s without buffer reuse)\n",
              human_bytes(double(s.arena_bytes())).c_str(), human_bytes(double(s.naive_activation_bytes())).c_str());
  std::printf("bytes moved per inference: %s (weights + activations read and written)\n",
              human_bytes(double(cost.total.bytes_moved())).c_str());
  const auto& r = s.report();
  std::printf(
      "optimizer: %d folded to constants, %d BatchNorm folded, %d activations fused, %d identity/no-op removed, "
      "%d dead removed, %d ops to NHWC, %d transposes inserted, %d QDQ rewrites (int8)\n",
      r.folded, r.bn_folded, r.act_fused, r.removed, r.dead, r.layout_converted, r.transposes_inserted, r.quantized);
  if (a.verbose)
    for (auto& line : r.log) std::printf("  %s\n", line.c_str());
  if (a.layers) {
    std::printf("%-4s %-32s %-20s %-22s %12s %12s %10s\n", "#", "node", "op", "output", "MACs", "params",
                "weights");
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      const auto& c = cost.nodes[i];
      std::string out = n.outputs.empty() ? "" : shape_str(g.values[n.outputs[0]].shape);
      std::string op = n.op + (n.attrs.has("activation") ? "+" + n.attrs.s("activation") : "");
      std::printf("%-4zu %-32.32s %-20.20s %-22s %12s %12s %10s\n", i, n.name.c_str(), op.c_str(), out.c_str(),
                  human_count(double(c.macs)).c_str(), human_count(double(c.params)).c_str(),
                  human_bytes(double(c.weight_bytes)).c_str());
    }
  }
  return 0;
}
}  // namespace

void add_inspect(CLI::App& app, Action& action) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Describe a model: I/O, operators, parameters, MACs, memory");
  cmd->add_option("model", a->model, "Model file (.onnx or .tflite)")->required();
  add_common(cmd, a->common);
  cmd->add_flag("-v,--verbose", a->verbose, "List every optimizer change");
  cmd->add_flag("--layers", a->layers, "Per-layer table");
  cmd->callback([&action, a] { action = [a] { return inspect(*a); }; });
}

}  // namespace ef::cli
