#include "importers/onnx/onnx_importer.h"

namespace ef {
// TODO(onnx helper): implement.
Graph import_onnx_bytes(const void*, size_t, const std::string& name) { throw Error(name + ": ONNX import not implemented"); }
Graph import_onnx(const std::string& path) { throw Error(path + ": ONNX import not implemented"); }
}  // namespace ef
