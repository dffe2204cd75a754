#include "cli/frames.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "edgeflow/tensor.h"

namespace ef::cli {
namespace fs = std::filesystem;

namespace {

// k of n items evenly spread: index i * n / k.
std::vector<size_t> spread(size_t n, size_t k) {
  std::vector<size_t> r;
  for (size_t i = 0; i < k; ++i) r.push_back(i * n / k);
  return r;
}

cv::Mat fit(const cv::Mat& m, cv::Size size) {
  if (size.width <= 0 || size.height <= 0) return m.clone();
  cv::Mat r;
  cv::resize(m, r, size, 0, 0, cv::INTER_LINEAR);  // as mat_to_tensor: frames match `run --image`
  return r;
}

std::string too_few(const std::string& source, size_t found, const char* what, size_t count) {
  return source + ": " + std::to_string(found) + " " + what + ", but " + std::to_string(count) +
         " are needed (calibration + evaluation frames); lower --frames/--eval-frames or add more";
}

std::vector<cv::Mat> from_dir(const std::string& dir, size_t count, cv::Size size) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(it->path());
  if (ec) throw Error(dir + ": cannot read directory (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(dir + ": calibration directory is empty (expected images)");
  // Read all (images are few), then spread: unreadable files are skipped and counted.
  std::vector<cv::Mat> imgs;
  size_t bad = 0;
  for (const auto& f : files) {
    cv::Mat m = cv::imread(f.string(), cv::IMREAD_COLOR);
    if (m.empty()) ++bad;
    else imgs.push_back(fit(m, size));
  }
  if (imgs.empty())
    throw Error(dir + ": no readable image among its " + std::to_string(files.size()) + " file(s)");
  if (bad) std::fprintf(stderr, "warning: %s: skipped %zu unreadable file(s)\n", dir.c_str(), bad);
  if (imgs.size() < count) throw Error(too_few(dir, imgs.size(), "readable images", count));
  std::vector<cv::Mat> r;
  for (size_t i : spread(imgs.size(), count)) r.push_back(imgs[i]);
  return r;
}

std::vector<cv::Mat> from_video(const std::string& path, size_t count, cv::Size size) {
  cv::VideoCapture cap(path);
  if (!cap.isOpened()) throw Error(path + ": cannot open video (missing file or unsupported format)");
  const double declared = cap.get(cv::CAP_PROP_FRAME_COUNT);
  // Pass 1 counts the decodable frames (the declared count may be absent or
  // wrong); pass 2 keeps the ones at evenly spread indices.
  size_t n = 0;
  while (cap.grab()) ++n;
  if (n == 0) throw Error(path + ": no frame could be decoded (corrupt or truncated video)");
  // Containers round their frame count; more than a few frames short means a cut file.
  if (declared > 0 && double(n) + std::max(2.0, declared / 100) < declared)
    throw Error(path + ": video declares " + std::to_string(size_t(declared)) + " frames but only " +
                std::to_string(n) + " could be decoded (truncated or corrupt file)");
  if (n < count) throw Error(too_few(path, n, "frames", count));
  cap.release();
  cap.open(path);
  std::vector<size_t> want = spread(n, count);
  std::vector<cv::Mat> r;
  cv::Mat frame;
  for (size_t i = 0, w = 0; w < want.size() && cap.grab(); ++i)
    if (want[w] == i) {
      if (!cap.retrieve(frame) || frame.empty()) break;
      r.push_back(fit(frame, size));
      ++w;
    }
  if (r.size() < count)
    throw Error(path + ": decoding stopped after " + std::to_string(r.size()) + " of " + std::to_string(count) +
                " sampled frames (corrupt video)");
  return r;
}

}  // namespace

std::vector<cv::Mat> read_frames(const std::string& source, size_t count, cv::Size size) {
  std::error_code ec;
  if (!fs::exists(source, ec)) throw Error(source + ": calibration source not found (a directory of images or a video file)");
  if (fs::is_directory(source, ec)) return from_dir(source, count, size);
  return from_video(source, count, size);
}

}  // namespace ef::cli
