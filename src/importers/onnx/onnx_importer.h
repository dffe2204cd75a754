#pragma once
#include <string>

#include "edgeflow/graph.h"

namespace ef {
// Parse an ONNX file into the IR (NCHW semantics, as in the file). Throws
// ef::Error naming the file (and node) on anything malformed or unsupported.
Graph import_onnx(const std::string& path);
Graph import_onnx_bytes(const void* data, size_t size, const std::string& name = "<memory>");
}  // namespace ef
