// edgeflow IR -> ONNX (opset 13, IR version 7).
//
// Works for any IR graph: NCHW graphs (ONNX semantics) map one to one; spatial
// ops with layout=NHWC (TFLite imports, the layout pass) get Transposes around
// them (weights are OIHW/IOHW in every layout, so they are written unchanged).
// Fused activations become separate nodes; edgeflow-only attributes (layout,
// activation, act_*) never appear; constants become initializers. The result
// is validated with onnx::checker. Quantization parameters are not exported.
#pragma once
#include <string>

#include "edgeflow/graph.h"

namespace ef {
// Writes the model to `path`. Throws ef::Error naming the file or node on
// failure; no file is left behind on error.
void export_onnx(const Graph& g, const std::string& path);
// The serialized ModelProto.
std::string export_onnx_bytes(const Graph& g);
}  // namespace ef
