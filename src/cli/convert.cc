#include "cli/commands.h"

namespace ef::cli {
void add_convert(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("convert", "TODO");
  cmd->callback([&action] { action = [] { return 0; }; });
}
}  // namespace ef::cli
