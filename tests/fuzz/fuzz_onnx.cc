// libFuzzer target for the ONNX loader: parse arbitrary bytes as a model and,
// if that succeeds, run shape inference and export the graph back to ONNX. Every failure must be an ef::Error;
// anything else (a crash, an ASan report, another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "edgeflow/graph.h"
#include "exporters/onnx/onnx_exporter.h"
#include "importers/onnx/onnx_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ef::Graph g;
  try {
    g = ef::import_onnx_bytes(data, size, "fuzz.onnx");
  } catch (const ef::Error&) {
    return 0;
  }
  // Like Session does: unknown dimensions become 1.
  for (int v : g.inputs) {
    for (auto& d : g.values[v].shape)
      if (d < 0) d = 1;
    g.values[v].shape_known = true;
  }
  try {
    ef::infer_shapes(g);
  } catch (const ef::Error&) {
    return 0;
  }
  try {
    ef::export_onnx_bytes(g);
  } catch (const ef::Error&) {
  }
  return 0;
}
