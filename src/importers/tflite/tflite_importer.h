#pragma once
#include <string>

#include "edgeflow/graph.h"

namespace ef {
// Parse a .tflite FlatBuffer into the IR (NHWC end to end). Throws ef::Error
// naming the file (and op/tensor) on anything malformed or unsupported.
Graph import_tflite(const std::string& path);
Graph import_tflite_bytes(const void* data, size_t size, const std::string& name = "<memory>");
}  // namespace ef
