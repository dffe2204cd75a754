// libFuzzer target for the TFLite loader: parse arbitrary bytes as a .tflite
// model and, if that succeeds, run shape inference. Every failure must be an
// ef::Error; anything else (a crash, an ASan report, another exception) is a
// bug. Seeds: tests/fuzz/seeds/tflite/ (small crafted models).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "edgeflow/graph.h"
#include "importers/tflite/tflite_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // FlatBuffers expect the buffer start to be aligned like a file read into
  // memory: copy into 8-byte aligned storage.
  std::vector<uint64_t> buf(size / 8 + 1);
  if (size) std::memcpy(buf.data(), data, size);
  ef::Graph g;
  try {
    g = ef::import_tflite_bytes(buf.data(), size, "fuzz.tflite");
  } catch (const ef::Error&) {
    return 0;
  }
  try {
    ef::infer_shapes(g);
  } catch (const ef::Error&) {
  }
  return 0;
}
