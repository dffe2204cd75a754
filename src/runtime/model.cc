#include <cstring>
#include <fstream>

#include "edgeflow/session.h"
#include "importers/onnx/onnx_importer.h"
#include "importers/tflite/tflite_importer.h"

namespace ef {

Model Model::load(const std::string& path, const LoadOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open model file (" + std::strerror(errno) + ")");
  char head[8] = {};
  f.read(head, 8);
  auto got = f.gcount();
  f.close();
  Model m;
  // TFLite: FlatBuffer with file identifier "TFL3" at bytes 4..7.
  if (got >= 8 && std::memcmp(head + 4, "TFL3", 4) == 0) {
    m.g_ = std::make_shared<Graph>(import_tflite(path, options.keep_float16));
    m.format_ = "tflite";
  } else if (path.size() > 7 && path.substr(path.size() - 7) == ".tflite") {
    throw Error(path + ": not a TFLite file (missing the 'TFL3' identifier)");
  } else {
    m.g_ = std::make_shared<Graph>(import_onnx(path));
    m.format_ = "onnx";
  }
  return m;
}

Model Model::from_graph(Graph g) {
  Model m;
  m.g_ = std::make_shared<Graph>(std::move(g));
  return m;
}

}  // namespace ef
