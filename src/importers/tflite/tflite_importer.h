#pragma once
#include <string>

#include "edgeflow/graph.h"

namespace ef {
// Parse a .tflite FlatBuffer into the IR (NHWC end to end). Throws ef::Error
// naming the file (and op/tensor) on anything malformed or unsupported.
// keep_float16: float16 constants behind DEQUANTIZE stay float16 constants
// (their bits, no float32 copy) instead of being folded to float32; the
// session widens those its kernels need (graph/passes/widen_float16.cc).
Graph import_tflite(const std::string& path, bool keep_float16 = false);
Graph import_tflite_bytes(const void* data, size_t size, const std::string& name = "<memory>",
                          bool keep_float16 = false);
}  // namespace ef
