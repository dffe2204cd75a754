// Where the tests find what set-up fetched or made, and what happens when it
// is missing. Run by hand (a single test binary on a half set-up tree) a
// missing model or sample is a skip; under `./x test` (EF_REQUIRE_ASSETS=1),
// right after set-up made them, it is a failure, so a wrong path can never
// turn a suite into silent skips. The MediaPipe reference tensors in
// ../shared/refs are outside the project and stay optional everywhere.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ef::test {

inline std::filesystem::path env_path(const char* var, const std::filesystem::path& fallback) {
  const char* v = std::getenv(var);
  return v && *v ? std::filesystem::path(v) : fallback;
}
inline std::filesystem::path source_dir() { return EF_SOURCE_DIR; }
// ONNX test models exported from PyTorch by tools/make_test_models.sh
// (+ .input.npy/.output.npy) and the trained DOA model.
inline std::filesystem::path onnx_models_dir() { return env_path("EF_MODELS_DIR", source_dir() / ".cache/models"); }
// The MediaPipe .tflite files tools/fetch_models.sh fetches.
inline std::filesystem::path mediapipe_dir() { return env_path("EF_MEDIAPIPE_DIR", source_dir() / "models/cache"); }
// Sample media from Debian's opencv-doc (Megamind.avi, vtest.avi, messi5.jpg).
inline std::filesystem::path data_dir() { return source_dir() / "data"; }
// TFLite interpreter reference tensors (optional).
inline std::filesystem::path refs_dir() {
  return env_path("EF_REFS_DIR", source_dir() / "../shared/refs") / "mediapipe";
}
inline bool assets_required() {
  const char* v = std::getenv("EF_REQUIRE_ASSETS");
  return v && std::string(v) == "1";
}
// node with the npm onnxruntime-node package (bench/compare_ort.sh --install-only).
inline bool ort_available() {
  return std::filesystem::exists(source_dir() / "bench/node_modules/onnxruntime-node") &&
         std::system("node --version >/dev/null 2>&1") == 0;
}

}  // namespace ef::test

// Something set-up provides (a fetched model, sample media, ONNX Runtime,
// torch): skip when run by hand, fail under ./x test.
#define EF_NEED(available, what)                                                              \
  if (!(available)) {                                                                         \
    if (ef::test::assets_required()) FAIL() << (what) << " missing although ./x setup ran";   \
    GTEST_SKIP() << (what) << " missing (./x setup provides it)";                             \
  }
#define EF_NEED_FILE(path) EF_NEED(std::filesystem::exists(path), (path).string())
// The optional reference tensors: always a skip.
#define EF_NEED_REFS(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "reference data not found: " << (path).string()
