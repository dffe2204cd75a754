#include <iostream>

#include "cli/commands.h"
#include "edgeflow/tensor.h"

int main(int argc, char** argv) {
  CLI::App app{"edgeflow: run, inspect and compose edge perception models on CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgeflow 0.1.0");
  ef::cli::Action action;
  ef::cli::add_inspect(app, action);
  ef::cli::add_run(app, action);
  ef::cli::add_bench(app, action);
  ef::cli::add_convert(app, action);
  ef::cli::add_quantize(app, action);
  ef::cli::add_audio(app, action);
  ef::cli::add_analyze(app, action);
#ifdef HAVE_EDGEFLOW_VISION
  ef::cli::add_pipeline(app, action);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 0;
  } catch (const ef::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
