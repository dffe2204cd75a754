// The changed region of one activation in one frame: the pixels (H x W
// positions of an NHWC tensor, each holding C values) that may differ from
// the previous frame. A non-spatial value is a single "pixel".
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ef {

// f(first, count) for each maximal run of consecutive indices in a sorted
// list (consecutive pixels are contiguous in an NHWC tensor, across rows too).
template <class F> void for_each_run(const std::vector<int32_t>& list, F&& f) {
  for (size_t i = 0; i < list.size();) {
    size_t j = i + 1;
    while (j < list.size() && list[j] == list[j - 1] + 1) ++j;
    f(int64_t(list[i]), int64_t(j - i));
    i = j;
  }
}

class Region {
 public:
  void init(int64_t h, int64_t w) {
    h_ = h, w_ = w;
    mask_.assign(size_t(h * w), 0);
    list_.clear();
    list_.reserve(size_t(h * w));
    reset_box();
  }
  int64_t h() const { return h_; }
  int64_t w() const { return w_; }
  int64_t pixels() const { return h_ * w_; }
  // Sorted pixel indices (y * w + x); valid after finalize().
  const std::vector<int32_t>& list() const { return list_; }
  size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  bool all() const { return int64_t(list_.size()) == pixels(); }
  bool has(int64_t p) const { return mask_[size_t(p)] != 0; }
  double fraction() const { return double(list_.size()) / double(pixels()); }

  void clear() {
    if (lo_ <= hi_) std::memset(mask_.data() + lo_, 0, size_t(hi_ - lo_ + 1));
    list_.clear();
    reset_box();
  }
  // Mark the rectangle [y0, y1] x [x0, x1] (inclusive, clipped).
  void mark_rect(int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    y0 = std::max<int64_t>(y0, 0), x0 = std::max<int64_t>(x0, 0);
    y1 = std::min(y1, h_ - 1), x1 = std::min(x1, w_ - 1);
    if (y0 > y1 || x0 > x1) return;
    for (int64_t y = y0; y <= y1; ++y) std::memset(mask_.data() + y * w_ + x0, 1, size_t(x1 - x0 + 1));
    lo_ = std::min(lo_, y0 * w_ + x0), hi_ = std::max(hi_, y1 * w_ + x1);
  }
  void mark(int64_t p) {
    mask_[size_t(p)] = 1;
    lo_ = std::min(lo_, p), hi_ = std::max(hi_, p);
  }
  void mark_all() { mark_rect(0, h_ - 1, 0, w_ - 1); }
  // Rebuild the sorted list from the marks (call once after marking).
  void finalize() {
    list_.clear();
    int64_t p = lo_;
    const uint8_t* m = mask_.data();
    for (; p <= hi_ && (p & 7); ++p)
      if (m[p]) list_.push_back(int32_t(p));
    for (; p + 8 <= hi_ + 1; p += 8) {
      uint64_t word;
      std::memcpy(&word, m + p, 8);
      if (!word) continue;
      for (int64_t k = 0; k < 8; ++k)
        if (m[p + k]) list_.push_back(int32_t(p + k));
    }
    for (; p <= hi_; ++p)
      if (m[p]) list_.push_back(int32_t(p));
  }
  size_t bytes() const { return mask_.size() + list_.capacity() * sizeof(int32_t); }

 private:
  void reset_box() { lo_ = h_ * w_, hi_ = -1; }  // marked index range
  int64_t h_ = 1, w_ = 1;
  int64_t lo_ = 1, hi_ = -1;
  std::vector<uint8_t> mask_;
  std::vector<int32_t> list_;
};

}  // namespace ef
