// The auto-framing virtual camera on synthetic box tracks: containment with
// margin, inside the frame, bounded per-frame motion, no hunting on jitter.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "edgeflow/vision.h"

using namespace ef::vision;

namespace {

const cv::Size kFrame(1280, 720);

bool inside_frame(const cv::Rect2f& r) {
  return r.x >= -1e-3f && r.y >= -1e-3f && r.x + r.width <= kFrame.width + 1e-3f && r.y + r.height <= kFrame.height + 1e-3f;
}
// box grown by `m` x its size on every side is inside the crop
bool contains_with_margin(const cv::Rect2f& crop, const cv::Rect2f& b, float m) {
  cv::Rect2f g(b.x - m * b.width, b.y - m * b.height, b.width * (1 + 2 * m), b.height * (1 + 2 * m));
  return g.x >= crop.x - 1e-3f && g.y >= crop.y - 1e-3f && g.x + g.width <= crop.x + crop.width + 1e-3f &&
         g.y + g.height <= crop.y + crop.height + 1e-3f;
}

}  // namespace

TEST(AutoFramer, StaticFaceIsFramedWithHeadroomAtTheAspect) {
  AutoFramerOptions o;
  AutoFramer f(o);
  cv::Rect2f face(600, 250, 80, 100);
  cv::Rect2f c;
  for (int i = 0; i < 300; ++i) c = f.update({face}, kFrame);
  EXPECT_NEAR(c.width / c.height, 16.f / 9.f, 1e-3);
  EXPECT_TRUE(inside_frame(c));
  EXPECT_TRUE(contains_with_margin(c, face, 0.5f));
  // headroom above the face is at least margin_top x face height
  EXPECT_GE(face.y - c.y, o.margin_top * face.height - 1e-3f);
  // it zoomed in (the face is small)
  EXPECT_LT(c.width, kFrame.width * 0.8f);
  // settled: the crop equals its goal
  EXPECT_NEAR(c.x, f.goal().x, 1e-3);
  EXPECT_NEAR(c.width, f.goal().width, 1e-3);
}

TEST(AutoFramer, TracksMovingPeopleWithBoundedMotion) {
  AutoFramerOptions o;
  AutoFramer f(o);
  cv::Rect2f prev;
  const float max_dc = (o.max_pan_speed + o.max_zoom_speed / 2) * kFrame.width + 1e-3f;
  const float max_dw = o.max_zoom_speed * kFrame.width + 1e-3f;
  for (int i = 0; i < 600; ++i) {
    // two people: one walks right at 1.5 px/frame then back, one sits still
    float x = 300 + 1.5f * (i < 300 ? i : 600 - i);
    std::vector<cv::Rect2f> boxes = {{x, 200, 70, 90}, {800, 260, 70, 90}};
    cv::Rect2f c = f.update(boxes, kFrame);
    ASSERT_TRUE(inside_frame(c)) << "frame " << i;
    ASSERT_NEAR(c.width / c.height, 16.f / 9.f, 1e-3);
    if (i > 0) {
      float dcx = std::abs((c.x + c.width / 2) - (prev.x + prev.width / 2));
      float dcy = std::abs((c.y + c.height / 2) - (prev.y + prev.height / 2));
      EXPECT_LE(dcx, max_dc) << "frame " << i;
      EXPECT_LE(dcy, max_dc) << "frame " << i;
      EXPECT_LE(std::abs(c.width - prev.width), max_dw) << "frame " << i;
    }
    if (i >= 120)  // after the initial zoom-in
      for (auto& b : boxes) EXPECT_TRUE(contains_with_margin(c, b, 0.15f)) << "frame " << i;
    prev = c;
  }
}

TEST(AutoFramer, DoesNotHuntOnJitter) {
  AutoFramer f;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> j(-3.f, 3.f);
  cv::Rect2f base(560, 240, 90, 110);
  for (int i = 0; i < 200; ++i) f.update({base}, kFrame);
  cv::Rect2f settled = f.crop();
  int moves = 0;
  for (int i = 0; i < 500; ++i) {
    cv::Rect2f b(base.x + j(rng), base.y + j(rng), base.width + j(rng), base.height + j(rng));
    cv::Rect2f c = f.update({b}, kFrame);
    if (std::abs(c.x - settled.x) > 1e-3f || std::abs(c.width - settled.width) > 1e-3f) ++moves;
  }
  EXPECT_EQ(moves, 0);
}

TEST(AutoFramer, StaysInsideTheFrameAtTheEdges) {
  AutoFramer f;
  for (int i = 0; i < 300; ++i) {
    cv::Rect2f c = f.update({{5, 5, 60, 80}}, kFrame);
    ASSERT_TRUE(inside_frame(c)) << i;
  }
  for (int i = 0; i < 300; ++i) {
    cv::Rect2f c = f.update({{1200, 620, 70, 90}}, kFrame);
    ASSERT_TRUE(inside_frame(c)) << i;
  }
  // the face at the corner is still in the crop
  EXPECT_TRUE(f.crop().contains({1235, 665}));
}

TEST(AutoFramer, FramesTheActiveSpeaker) {
  std::vector<cv::Rect2f> boxes = {{150, 250, 70, 90}, {1000, 250, 70, 90}};
  AutoFramer all, one;
  for (int i = 0; i < 400; ++i) {
    all.update(boxes, kFrame);
    one.update(boxes, kFrame, 1);
  }
  EXPECT_TRUE(contains_with_margin(all.crop(), boxes[0], 0.25f));
  EXPECT_TRUE(contains_with_margin(all.crop(), boxes[1], 0.25f));
  EXPECT_TRUE(contains_with_margin(one.crop(), boxes[1], 0.25f));
  EXPECT_FALSE(one.crop().contains({185, 295}));  // the other person is out
  EXPECT_LT(one.crop().width, all.crop().width);
}

TEST(AutoFramer, ZoomsOutWhenNobodyIsThere) {
  AutoFramerOptions o;
  o.hold_frames = 10;
  AutoFramer f(o);
  for (int i = 0; i < 300; ++i) f.update({{600, 300, 60, 80}}, kFrame);
  EXPECT_LT(f.crop().width, 900);
  for (int i = 0; i < 5; ++i) f.update({}, kFrame);
  EXPECT_LT(f.crop().width, 900);  // held: brief misses do not zoom out
  for (int i = 0; i < 400; ++i) f.update({}, kFrame);
  EXPECT_NEAR(f.crop().width, 1280, 1);
}
