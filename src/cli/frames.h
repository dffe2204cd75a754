// Frames for calibration: a directory of images or a video file, sampled
// evenly and resized once (to the model's input size) to keep memory small.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace ef::cli {

// `count` BGR frames spread evenly over `source` (a directory: its readable
// images in name order; a video: its frames). Throws ef::Error naming the
// source when it is missing, empty, unreadable, truncated, or holds fewer
// than `count` frames (the message gives the number found). `size` (w, h)
// > 0 resizes each frame.
std::vector<cv::Mat> read_frames(const std::string& source, size_t count, cv::Size size = {});

}  // namespace ef::cli
