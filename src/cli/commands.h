// Each `edgeflow` subcommand lives in its own file and adds itself here.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace ef::cli {

// A subcommand registers its options on `app` and returns the action to run
// when it was chosen (exit code).
using Action = std::function<int()>;
void add_inspect(CLI::App& app, Action& action);
void add_run(CLI::App& app, Action& action);
void add_bench(CLI::App& app, Action& action);
void add_convert(CLI::App& app, Action& action);  // convert.cc
void add_quantize(CLI::App& app, Action& action);  // quantize.cc
void add_audio(CLI::App& app, Action& action);    // audio.cc (edgeflow audio doa|features)
void add_pipeline(CLI::App& app, Action& action);
void add_analyze(CLI::App& app, Action& action);  // analyze.cc (cost, roofline, machine, blocks)

}  // namespace ef::cli
