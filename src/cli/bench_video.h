// `edgeflow bench MODEL --video FILE [--delta ...]`: dense vs delta execution
// of the same model on the same real frames, in one run.
#pragma once
#include "cli/util.h"

namespace ef::cli {

struct VideoBenchArgs {
  std::string model, video;
  CommonOptions common;
  ImageOptions image;
  DeltaOptions delta;
  bool use_delta = false;
  int frames = 0;  // 0 = all
  int top = 15;
  bool json = false;
};
int bench_video(const VideoBenchArgs& a);

}  // namespace ef::cli
