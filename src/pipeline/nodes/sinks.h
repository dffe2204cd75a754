// Helpers shared by the sink nodes.
#pragma once
#include <filesystem>
#include <string>

#include "edgeflow/pipeline.h"

namespace ef::pipe {

inline void make_parent_dir(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
}

}  // namespace ef::pipe
