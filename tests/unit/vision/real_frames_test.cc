// The MediaPipe models run by edgeflow on real frames (Megamind.avi and
// messi5.jpg from Debian's opencv-doc, fetched into data/ by ./x setup), with
// their outputs decoded: the person mask covers the person, face boxes sit on
// faces with the keypoints on eyes, nose and mouth, a palm is found on a hand.
// The expected positions were located by eye on the frames (720x528 for
// Megamind), independently of any model. No reference tensors needed: these
// stand alone (the hand photo is the one exception: it only exists in
// ../shared/refs, so that test skips without it).
//
// EF_DUMP_DIR=dir writes each frame with the decoded result drawn on it, to
// look at.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "edgeflow/session.h"
#include "edgeflow/vision.h"
#include "support/assets.h"

using namespace ef::vision;
namespace fs = std::filesystem;

namespace {

fs::path models_dir() { return ef::test::mediapipe_dir(); }
using ef::test::data_dir;
using ef::test::refs_dir;

cv::Mat megamind_frame(int index) {
  cv::VideoCapture cap((data_dir() / "Megamind.avi").string());
  cv::Mat f;
  for (int i = 0; i <= index; ++i)
    if (!cap.read(f)) return {};
  return f.clone();
}

void dump(const std::string& name, const cv::Mat& img) {
  const std::string dir = ef::test::env_path("EF_DUMP_DIR", "").string();
  if (!dir.empty()) cv::imwrite(dir + "/" + name + ".png", img);
}


// ---------------------------------------------------------------- detection
struct Detector {
  ef::Session session;
  SsdAnchorOptions anchor_opts;
  DecodeOptions decode;
  float nms = 0.3f;
  float lo = -1.f, hi = 1.f;

  Detector(const fs::path& model, const FaceDetectorConfig& c, float lo_, float hi_)
      : session(ef::Model::load(model.string())), anchor_opts(c.anchors), decode(c.decode), nms(c.nms_threshold),
        lo(lo_), hi(hi_) {}

  std::vector<Detection> run(const cv::Mat& bgr) {
    ef::Tensor& x = session.input(0);
    ToTensorOptions o{.width = int(x.shape()[2]), .height = int(x.shape()[1]), .keep_aspect = true, .lo = lo, .hi = hi};
    Letterbox lb = image_to_tensor(bgr, x.data_as<float>(), o);
    session.run();
    auto dets = weighted_nms(decode_detections(session.output(0).data_as<float>(), session.output(1).data_as<float>(),
                                               ssd_anchors(anchor_opts), decode),
                             nms);
    remove_letterbox(dets, lb);
    for (auto& d : dets) {  // normalized -> pixels
      d.box = cv::Rect2f(d.box.x * bgr.cols, d.box.y * bgr.rows, d.box.width * bgr.cols, d.box.height * bgr.rows);
      for (auto& k : d.keypoints) k = {k.x * bgr.cols, k.y * bgr.rows};
    }
    return dets;
  }
};

// MediaPipe palm_detection_cpu.pbtxt: 192x192 letterbox 0..1, 2016 anchors
// (strides 8,16,16,16), 18 coords: box + 7 keypoints.
FaceDetectorConfig palm_config() {
  FaceDetectorConfig c;
  c.anchors.input_width = c.anchors.input_height = 192;
  c.decode.num_boxes = 2016;
  c.decode.num_coords = 18;
  c.decode.num_keypoints = 7;
  c.decode.x_scale = c.decode.y_scale = c.decode.w_scale = c.decode.h_scale = 192;
  return c;
}

void draw(cv::Mat& img, const std::vector<Detection>& dets) {
  for (const auto& d : dets) {
    cv::rectangle(img, d.box, {0, 255, 0}, 2);
    for (size_t i = 0; i < d.keypoints.size(); ++i)
      cv::circle(img, d.keypoints[i], 3, {0, 0, 255}, -1),
          cv::putText(img, std::to_string(i), d.keypoints[i], 0, 0.4, {255, 255, 255});
  }
}

cv::Point2f centre(const cv::Rect2f& r) { return (r.tl() + r.br()) * 0.5f; }

// BlazeFace keypoints: 0 right eye, 1 left eye (of the person), 2 nose tip,
// 3 mouth, 4 right ear, 5 left ear.
void expect_face_layout(const Detection& d) {
  ASSERT_EQ(d.keypoints.size(), 6u);
  const auto& k = d.keypoints;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(d.box.contains(k[i])) << "keypoint " << i << " outside the box";
  EXPECT_LT(std::max(k[0].y, k[1].y), k[3].y) << "eyes above the mouth";
  EXPECT_GT(k[2].x, std::min(k[0].x, k[1].x)) << "nose between the eyes";
  EXPECT_LT(k[2].x, std::max(k[0].x, k[1].x)) << "nose between the eyes";
}

TEST(RealFrames, ShortRangeFaceOnMegamind) {
  const fs::path model = models_dir() / "face_detection_short_range.tflite";
  EF_NEED_FILE(model);
  EF_NEED_FILE(data_dir() / "Megamind.avi");
  Detector det(model, blazeface_config("short"), -1.f, 1.f);
  // frame: face centre, face width, right-eye and mouth keypoints (x, y),
  // located by eye on the frames.
  struct Expect {
    int frame;
    cv::Point2f c;
    float w;
    cv::Point2f eye0, mouth;
  };
  for (const Expect& e : {Expect{60, {287, 292}, 135, {265, 280}, {320, 328}},
                          Expect{120, {487, 268}, 150, {435, 240}, {457, 298}}}) {
    SCOPED_TRACE("frame " + std::to_string(e.frame));
    cv::Mat f = megamind_frame(e.frame);
    ASSERT_FALSE(f.empty());
    auto dets = det.run(f);
    cv::Mat vis = f.clone();
    draw(vis, dets);
    dump("face_short_mm" + std::to_string(e.frame), vis);
    ASSERT_EQ(dets.size(), 1u) << "exactly one face (the one in focus)";
    const Detection& d = dets[0];
    EXPECT_GT(d.score, 0.8f);
    EXPECT_NEAR(centre(d.box).x, e.c.x, 25);
    EXPECT_NEAR(centre(d.box).y, e.c.y, 25);
    EXPECT_NEAR(d.box.width, e.w, 35);
    EXPECT_NEAR(d.keypoints[0].x, e.eye0.x, 20);
    EXPECT_NEAR(d.keypoints[0].y, e.eye0.y, 20);
    EXPECT_NEAR(d.keypoints[3].x, e.mouth.x, 20);
    EXPECT_NEAR(d.keypoints[3].y, e.mouth.y, 20);
    expect_face_layout(d);
  }
}

TEST(RealFrames, FullRangeFaceOnMessi) {
  const fs::path model = models_dir() / "face_detection_full_range.tflite";
  EF_NEED_FILE(model);
  EF_NEED_FILE(data_dir() / "messi5.jpg");
  Detector det(model, blazeface_config("full"), -1.f, 1.f);
  cv::Mat img = cv::imread((data_dir() / "messi5.jpg").string());
  ASSERT_FALSE(img.empty());
  auto dets = det.run(img);
  cv::Mat vis = img.clone();
  draw(vis, dets);
  dump("face_full_messi5", vis);
  ASSERT_EQ(dets.size(), 1u);
  // messi5.jpg (548x342): the face spans about x 222..258, y 90..128.
  EXPECT_NEAR(centre(dets[0].box).x, 240, 10);
  EXPECT_NEAR(centre(dets[0].box).y, 109, 10);
  EXPECT_NEAR(dets[0].box.width, 36, 10);
  expect_face_layout(dets[0]);
}

TEST(RealFrames, PalmOnTheHandPhoto) {
  const fs::path model = models_dir() / "palm_detection_lite.tflite", png = refs_dir() / "images/hand.png";
  EF_NEED_FILE(model);
  EF_NEED_REFS(png);
  Detector det(model, palm_config(), 0.f, 1.f);
  cv::Mat img = cv::imread(png.string());
  auto dets = det.run(img);
  cv::Mat vis = img.clone();
  draw(vis, dets);
  dump("palm_hand", vis);
  ASSERT_GE(dets.size(), 1u);
  EXPECT_GT(dets[0].score, 0.7f);
  // hand.png (640x480): the palm spans from the left edge to the finger
  // bases at x ~280, y ~95..395; the fingers reach x ~550 and are not palm.
  EXPECT_NEAR(centre(dets[0].box).x, 140, 30);
  EXPECT_NEAR(centre(dets[0].box).y, 245, 30);
  EXPECT_LT(dets[0].box.br().x, 330.f);
}

// ---------------------------------------------------------------- segmentation
// Selfie segmentation: 256x256 stretched RGB 0..1 -> person probability.
cv::Mat person_mask(ef::Session& s, const cv::Mat& bgr) {
  ef::Tensor& x = s.input(0);
  image_to_tensor(bgr, x.data_as<float>(), {.width = 256, .height = 256, .keep_aspect = false});
  s.run();
  cv::Mat small(256, 256, CV_32F, const_cast<float*>(s.output(0).data_as<float>())), m;
  cv::resize(small, m, bgr.size(), 0, 0, cv::INTER_LINEAR);
  return m;
}
float mean_in(const cv::Mat& m, const cv::Rect& r) { return float(cv::mean(m(r))[0]); }

TEST(RealFrames, PersonMaskCoversThePerson) {
  const fs::path model = models_dir() / "selfie_segmentation.tflite";
  EF_NEED_FILE(model);
  EF_NEED_FILE(data_dir() / "Megamind.avi");
  ef::Session s(ef::Model::load(model.string()));
  // frame: regions on the person (face, chest) and on the background (wall,
  // lamp, table), located by eye.
  struct Expect {
    int frame;
    std::vector<cv::Rect> person, background;
  };
  for (const Expect& e : {Expect{60, {{240, 240, 90, 90}, {260, 400, 80, 80}}, {{0, 0, 120, 100}, {600, 420, 60, 60}}},
                          Expect{200, {{300, 120, 200, 180}, {330, 420, 160, 90}}, {{0, 0, 90, 200}, {640, 0, 80, 150}}}}) {
    SCOPED_TRACE("frame " + std::to_string(e.frame));
    cv::Mat f = megamind_frame(e.frame);
    ASSERT_FALSE(f.empty());
    cv::Mat m = person_mask(s, f);
    cv::Mat vis = f.clone(), tint(f.size(), CV_8UC3, cv::Scalar(255, 0, 255)), m8;
    m.convertTo(m8, CV_8U, 255);
    cv::Mat tinted;
    cv::addWeighted(f, 0.5, tint, 0.5, 0, tinted);
    tinted.copyTo(vis, m8 > 127);
    for (const auto& r : e.person) cv::rectangle(vis, r, {0, 255, 0}, 2);
    for (const auto& r : e.background) cv::rectangle(vis, r, {0, 0, 255}, 2);
    dump("selfie_mm" + std::to_string(e.frame), vis);
    for (const auto& r : e.person) EXPECT_GT(mean_in(m, r), 0.8f) << "person region " << r;
    for (const auto& r : e.background) EXPECT_LT(mean_in(m, r), 0.2f) << "background region " << r;
    const double area = cv::mean(m)[0];
    EXPECT_GT(area, 0.15) << "the person fills a good part of the frame";
    EXPECT_LT(area, 0.75);
  }
}

}  // namespace
