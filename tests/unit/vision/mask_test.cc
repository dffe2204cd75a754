// Mask refinement (letterbox crop, temporal smoothing, feathering, guided
// upsampling) and background compositing against hand-computed values.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "edgeflow/vision.h"

using namespace ef::vision;

TEST(GuidedFilter, ConstantStaysConstant) {
  cv::Mat I(64, 64, CV_32F), p(64, 64, CV_32F, cv::Scalar(0.7)), q;
  cv::randu(I, 0, 1);
  guided_filter(I, p, q, 4, 1e-3f, 2);
  double mn, mx;
  cv::minMaxLoc(q, &mn, &mx);
  EXPECT_NEAR(mn, 0.7, 1e-4);
  EXPECT_NEAR(mx, 0.7, 1e-4);
}

TEST(GuidedFilter, SnapsASoftMaskToTheImageEdge) {
  // image: dark left half, bright right half (edge at x = 64); mask: a soft
  // ramp over x 48..80 (what bilinear upsampling of a coarse mask gives)
  cv::Mat I(64, 128, CV_32F), p(64, 128, CV_32F), q;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 128; ++x) {
      I.at<float>(y, x) = x < 64 ? 0.1f : 0.9f;
      p.at<float>(y, x) = std::clamp((x - 48) / 32.f, 0.f, 1.f);
    }
  guided_filter(I, p, q, 8, 1e-4f, 1);
  // the ramp's values 4 px either side of the edge are 0.375 and 0.625;
  // guided by the image they move apart, and the step concentrates at the
  // image edge (the ramp rises 1/32 per pixel there)
  EXPECT_LT(q.at<float>(32, 60), 0.3f);
  EXPECT_GT(q.at<float>(32, 68), 0.65f);
  EXPECT_GT(q.at<float>(32, 64) - q.at<float>(32, 63), 0.2f);
}

TEST(MaskRefiner, CropsLetterboxSmoothsAndFeathers) {
  MaskRefineOptions o;
  o.temporal = 0.6f;
  o.guided_radius = 0;
  o.edge_lo = 0.f;
  o.edge_hi = 1.f;
  MaskRefiner r(o);
  // 8x8 model mask, rows 0-1 and 6-7 are letterbox padding (marked 0.25)
  cv::Mat m(8, 8, CV_32F, cv::Scalar(0.25));
  m.rowRange(2, 6).setTo(1.f);
  Letterbox lb;
  lb.pad_top = lb.pad_bottom = 0.25f;
  cv::Mat frame(40, 80, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat out = r.refine(m, lb, frame).clone();
  ASSERT_EQ(out.size(), frame.size());
  // the padding is cut away: the whole frame is person (1.0, smoothstep(1) = 1)
  EXPECT_NEAR(cv::mean(out)[0], 1.0, 1e-6);
  // next frame all background: running average 0.6*0 + 0.4*1 = 0.4,
  // smoothstep(0.4) = 0.4^2 * (3 - 0.8) = 0.352
  m.rowRange(2, 6).setTo(0.f);
  out = r.refine(m, lb, frame).clone();
  EXPECT_NEAR(out.at<float>(20, 40), 0.352f, 1e-5);
}

TEST(MaskRefiner, AMaskStillHeldIsNeverOverwritten) {
  // refine() hands out its buffers without copying: one held by a consumer
  // must keep its values while later frames are refined; released ones are reused.
  MaskRefineOptions o;
  o.temporal = 1.f;
  MaskRefiner r(o);
  cv::Mat frame(36, 64, CV_8UC3, cv::Scalar(90, 90, 90)), m(9, 16, CV_32F, cv::Scalar(1.f));
  cv::Mat held = r.refine(m, {}, frame);
  const uchar* held_data = held.data;
  m.setTo(0.f);
  for (int i = 0; i < 20; ++i) {
    cv::Mat next = r.refine(m, {}, frame);
    EXPECT_NE(next.data, held_data);
    EXPECT_NEAR(cv::mean(next)[0], 0.0, 1e-6);
  }
  EXPECT_NEAR(cv::mean(held)[0], 1.0, 1e-6);
  held.release();
  bool reused = false;
  for (int i = 0; i < 3; ++i) reused |= r.refine(m, {}, frame).data == held_data;
  EXPECT_TRUE(reused);
}

TEST(Compositor, BlendsFrameAndBackground) {
  cv::Mat frame(4, 6, CV_8UC3, cv::Scalar(200, 100, 50)), mask(4, 6, CV_32F, cv::Scalar(1.f)), out;
  mask.col(0).setTo(0.f);
  mask.col(1).setTo(0.5f);
  BackgroundOptions o;
  o.mode = "color";
  o.color = cv::Scalar(0, 0, 250);
  BackgroundCompositor c(o);
  c.apply(frame, mask, out);
  EXPECT_EQ(out.at<cv::Vec3b>(2, 3), cv::Vec3b(200, 100, 50));  // person: untouched
  EXPECT_EQ(out.at<cv::Vec3b>(2, 0), cv::Vec3b(0, 0, 250));     // background: replaced
  EXPECT_EQ(out.at<cv::Vec3b>(2, 1), cv::Vec3b(100, 50, 150));  // half and half
}

TEST(Compositor, BlurKeepsThePersonSharp) {
  cv::Mat frame(64, 64, CV_8UC3), mask(64, 64, CV_32F, cv::Scalar(0.f)), out;
  cv::randu(frame, 0, 255);
  mask(cv::Rect(16, 16, 32, 32)).setTo(1.f);
  BackgroundCompositor c;
  c.apply(frame, mask, out);
  cv::Mat d;
  cv::absdiff(frame(cv::Rect(16, 16, 32, 32)), out(cv::Rect(16, 16, 32, 32)), d);
  EXPECT_EQ(cv::countNonZero(d.reshape(1)), 0);
  // background is smoothed: far less variance than the noise it came from
  cv::Scalar m1, s1, m2, s2;
  cv::meanStdDev(frame(cv::Rect(0, 0, 12, 64)), m1, s1);
  cv::meanStdDev(out(cv::Rect(0, 0, 12, 64)), m2, s2);
  EXPECT_LT(s2[0], s1[0] / 4);
}

// Hand-counted: pixels above 0.5 in a {0, 1, 3}, in b {0, 2}; 0.5 itself is not set.
TEST(MaskOverlap, CountsPixelsAboveHalfAndPoolsFrames) {
  ef::Tensor a(ef::DType::f32, {1, 2, 3, 1}), b(ef::DType::f32, {1, 2, 3, 1});
  const float av[] = {0.9f, 0.6f, 0.1f, 0.7f, 0.5f, 0.0f}, bv[] = {0.8f, 0.2f, 0.95f, 0.4f, 0.5f, 0.3f};
  std::copy(av, av + 6, a.data_as<float>());
  std::copy(bv, bv + 6, b.data_as<float>());
  const MaskOverlap o = mask_overlap(a, b);
  EXPECT_EQ(o.inter, 1);
  EXPECT_EQ(o.uni, 4);
  EXPECT_DOUBLE_EQ(mask_iou(a, b), 0.25);
  EXPECT_DOUBLE_EQ(mask_iou(a, a), 1.0);
  // pooled: (1 + 3) / (4 + 3), not the mean of 0.25 and 1
  MaskOverlap pooled = o;
  pooled += mask_overlap(a, a);
  EXPECT_DOUBLE_EQ(pooled.iou(), 4.0 / 7.0);
  ef::Tensor empty(ef::DType::f32, {1, 2, 3, 1});
  std::fill(empty.data_as<float>(), empty.data_as<float>() + 6, 0.f);
  EXPECT_DOUBLE_EQ(mask_iou(empty, empty), 1.0);  // two empty masks agree
}

TEST(MaskOverlap, DifferentSizesAreAnError) {
  ef::Tensor a(ef::DType::f32, {1, 2, 3, 1}), b(ef::DType::f32, {1, 2, 2, 1});
  try {
    mask_overlap(a, b);
    FAIL() << "no error";
  } catch (const ef::Error& e) {
    EXPECT_NE(std::string(e.what()).find("6 and 4"), std::string::npos) << e.what();
  }
}
