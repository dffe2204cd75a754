#include "importers/tflite/tflite_importer.h"

namespace ef {
// TODO(tflite helper): implement.
Graph import_tflite_bytes(const void*, size_t, const std::string& name) { throw Error(name + ": TFLite import not implemented"); }
Graph import_tflite(const std::string& path) { throw Error(path + ": TFLite import not implemented"); }
}  // namespace ef
