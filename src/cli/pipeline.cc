// edgeflow pipeline run FILE.yaml [--set key=value ...] | check FILE.yaml | nodes
#ifdef HAVE_EDGEFLOW_VISION
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/util.h"
#include "edgeflow/pipeline.h"

namespace ef::cli {

namespace {
struct PipelineArgs {
  std::string file;
  std::vector<std::string> sets;
  bool quiet = false;
};

std::atomic<ef::pipe::Pipeline*> g_running{nullptr};
void on_sigint(int) {
  if (auto* p = g_running.load()) p->stop();
}

int run_pipeline(const PipelineArgs& a) {
  auto p = ef::pipe::Pipeline::load(a.file, parse_pairs(a.sets, "--set"));
  g_running = &p;
  auto old = std::signal(SIGINT, on_sigint);
  ef::pipe::RunSummary s;
  try {
    s = p.run();
  } catch (...) {
    g_running = nullptr;
    std::signal(SIGINT, old);
    throw;
  }
  g_running = nullptr;
  std::signal(SIGINT, old);
  std::printf("%s\n", s.text().c_str());
  return 0;
}

int check_pipeline(const PipelineArgs& a) {
  auto p = ef::pipe::Pipeline::load(a.file, parse_pairs(a.sets, "--set"));
  std::printf("%s", p.describe().c_str());
  std::printf("%s: ok\n", a.file.c_str());
  return 0;
}

int list_nodes() {
  for (auto* t : ef::pipe::node_types()) {
    std::printf("%s%s: %s\n", t->name.c_str(), t->source ? " (source)" : "", t->help.c_str());
    for (auto& p : t->inputs)
      std::printf("  in  %-12s %-11s %s%s\n", p.name.c_str(), p.type.c_str(), p.optional ? "(optional) " : "", p.help.c_str());
    for (auto& p : t->outputs) std::printf("  out %-12s %-11s %s\n", p.name.c_str(), p.type.c_str(), p.help.c_str());
    for (auto& p : t->params)
      std::printf("  param %-14s %-8s %s (%s)\n", p.name.c_str(), p.type.c_str(), p.help.c_str(),
                  p.required ? "required" : ("default " + p.def).c_str());
  }
  return 0;
}
}  // namespace

void add_pipeline(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("pipeline", "run, check or list YAML camera pipelines");
  cmd->require_subcommand(1);
  static PipelineArgs a;
  auto* run = cmd->add_subcommand("run", "run a pipeline to the end of its sources (Ctrl-C stops cleanly)");
  run->add_option("file", a.file, "pipeline YAML")->required();
  run->add_option("--set", a.sets, "override a setting (key=value) or a node parameter (node.param=value)");
  run->callback([&action] { action = [] { return run_pipeline(a); }; });
  auto* check = cmd->add_subcommand("check", "validate a pipeline (links, types, parameters, models) and print its graph");
  check->add_option("file", a.file, "pipeline YAML")->required();
  check->add_option("--set", a.sets, "override a setting or node parameter");
  check->callback([&action] { action = [] { return check_pipeline(a); }; });
  auto* nodes = cmd->add_subcommand("nodes", "list node types with their ports and parameters");
  nodes->callback([&action] { action = [] { return list_nodes(); }; });
}

}  // namespace ef::cli
#endif
