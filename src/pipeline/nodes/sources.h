// Small helpers shared by the source nodes.
#pragma once
#include <chrono>
#include <thread>

#include "edgeflow/pipeline.h"

namespace ef::pipe {

// Paces a source to `fps` frames per second of wall time (live simulation).
class Pacer {
 public:
  explicit Pacer(double fps) : period_(fps > 0 ? 1.0 / fps : 0) {}
  void wait() {
    if (period_ <= 0) return;
    auto now = Clock::now();
    if (next_ == Clock::time_point{}) next_ = now;
    if (next_ > now) std::this_thread::sleep_until(next_);
    next_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_));
    if (next_ < Clock::now() - std::chrono::seconds(1)) next_ = Clock::now();  // fell far behind: resync
  }

 private:
  double period_;
  Clock::time_point next_{};
};

}  // namespace ef::pipe
