// Inputs the fuzzer once found crashing or hanging the TFLite loader
// (tests/fuzz/regressions/tflite/): each must now be a clean ef::Error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "edgeflow/session.h"
#include "importers/tflite/tflite_importer.h"

namespace ef {

TEST(TFLiteFuzzRegressions, EveryReproducerIsACleanError) {
  const auto dir = std::filesystem::path(EF_SOURCE_DIR) / "tests/fuzz/regressions/tflite";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    EXPECT_THROW(
        {
          Graph g = import_tflite_bytes(bytes.data(), bytes.size(), e.path().filename().string());
          Session s(Model::from_graph(std::move(g)));
        },
        Error)
        << e.path();
    ++n;
  }
  EXPECT_GE(n, 2);
}

}  // namespace ef
