// The edge block table: parameters and MACs of every block against hand
// calculations (BatchNorm counts scale and shift, 2 per channel; conv
// without bias; MACs = output pixels x output channels x receptive field).
#include <gtest/gtest.h>

#include <map>

#include "edgeflow/analysis.h"

namespace ef {

namespace {
struct Hand {
  int64_t params, macs;
};

std::map<std::string, Hand> by_key(int64_t hw) {
  std::map<std::string, Hand> m;
  for (const EdgeBlock& b : edge_blocks(hw)) {
    ModelCost c = model_cost(b.graph);
    m[b.group + " | " + b.name] = {c.total.params, c.total.macs};
  }
  return m;
}
}  // namespace

TEST(Blocks, ConvBlocksAt64x64MatchHandCounts) {
  auto m = by_key(64);
  const int64_t P = 64 * 64, P2 = 32 * 32;  // output pixels at stride 1 and 2
  const std::string a = "32->64 ch, 64x64 input | ", b = "64->128 ch, 64x64 input | ";
  // 3x3 Conv+BN+ReLU: 3*3*32*64 + 2*64 = 18,560 ; 3*3*64*128 + 2*128 = 73,984 (the numbers).
  EXPECT_EQ(m.at(a + "Conv3x3+BN+ReLU").params, 18560);
  EXPECT_EQ(m.at(a + "Conv3x3+BN+ReLU").macs, P * 64 * 288);  // 75,497,472
  EXPECT_EQ(m.at(a + "Conv3x3+BN+ReLU").macs, 75497472);
  EXPECT_EQ(m.at(b + "Conv3x3+BN+ReLU").params, 73984);
  EXPECT_EQ(m.at(b + "Conv3x3+BN+ReLU").macs, 301989888);  // 4096*128*576
  // stride 2: same parameters, a quarter of the MACs
  EXPECT_EQ(m.at(a + "Conv3x3/2+BN+ReLU").params, 18560);
  EXPECT_EQ(m.at(a + "Conv3x3/2+BN+ReLU").macs, P2 * 64 * 288);
  EXPECT_EQ(m.at(b + "Conv3x3/2+BN+ReLU").macs, 75497472);
  // space-to-depth stem: 1x1 conv on 4*cin channels at half resolution
  EXPECT_EQ(m.at(a + "SpaceToDepth2+Conv1x1+BN+ReLU").params, 128 * 64 + 128);  // 8,320
  EXPECT_EQ(m.at(a + "SpaceToDepth2+Conv1x1+BN+ReLU").macs, 8388608);           // 1024*64*128
  EXPECT_EQ(m.at(b + "SpaceToDepth2+Conv1x1+BN+ReLU").params, 33024);           // 256*128 + 256
  EXPECT_EQ(m.at(b + "SpaceToDepth2+Conv1x1+BN+ReLU").macs, 33554432);          // 1024*128*256
  // Ghost, 1x1 primary: 32*32 + 2*32 (primary+BN) + 32*9 + 2*32 (depthwise+BN) = 1,440
  EXPECT_EQ(m.at(a + "Ghost (1x1 primary, dw3x3)").params, 1440);
  EXPECT_EQ(m.at(a + "Ghost (1x1 primary, dw3x3)").macs, P * (32 * 32 + 32 * 9));  // 5,373,952
  EXPECT_EQ(m.at(b + "Ghost (1x1 primary, dw3x3)").params, 4928);                   // 4096+128+576+128
  EXPECT_EQ(m.at(b + "Ghost (1x1 primary, dw3x3)").macs, 19136512);                 // 4096*(4096+576)
  // Ghost, 3x3 primary: 9*32*32 + 64 + 288 + 64 = 9,632
  EXPECT_EQ(m.at(a + "Ghost (3x3 primary, dw3x3)").params, 9632);
  EXPECT_EQ(m.at(a + "Ghost (3x3 primary, dw3x3)").macs, 38928384);   // 4096*(32*288 + 288)
  EXPECT_EQ(m.at(b + "Ghost (3x3 primary, dw3x3)").params, 37696);    // 36864+128+576+128
  EXPECT_EQ(m.at(b + "Ghost (3x3 primary, dw3x3)").macs, 153354240);  // 4096*(64*576 + 576)
  // PConv: 3x3 conv on a quarter of the channels (8->8: 576), then 1x1 32->64 + BN = 2,752
  EXPECT_EQ(m.at(a + "PConv3x3(1/4)+Conv1x1+BN+ReLU").params, 576 + 2048 + 128);
  EXPECT_EQ(m.at(a + "PConv3x3(1/4)+Conv1x1+BN+ReLU").macs, 10747904);  // 4096*(8*72 + 64*32)
  EXPECT_EQ(m.at(b + "PConv3x3(1/4)+Conv1x1+BN+ReLU").params, 10752);   // 2304 + 8192 + 256
  EXPECT_EQ(m.at(b + "PConv3x3(1/4)+Conv1x1+BN+ReLU").macs, 42991616);  // 4096*(16*144 + 128*64)
  // Dense block, 4 layers of growth g on 32, 40, 48, 56 input channels: 9*8*176 + 4*2*8 = 12,736
  EXPECT_EQ(m.at(a + "Dense block (4x Conv3x3, growth 8)").params, 12736);
  EXPECT_EQ(m.at(a + "Dense block (4x Conv3x3, growth 8)").macs, 51904512);   // 4096*9*8*176
  EXPECT_EQ(m.at(b + "Dense block (4x Conv3x3, growth 16)").params, 50816);   // 9*16*352 + 4*32
  EXPECT_EQ(m.at(b + "Dense block (4x Conv3x3, growth 16)").macs, 207618048); // 4096*9*16*352
}

TEST(Blocks, UpsamplingMatchesHandCounts) {
  auto m = by_key(64);
  for (int64_t s : {8, 16, 32}) {
    const std::string g = "128 ch, 2x upsampling of " + std::to_string(s) + "x" + std::to_string(s) + " | ";
    // transposed conv: every input pixel scatters into k*k*128 outputs from 128 inputs
    EXPECT_EQ(m.at(g + "ConvTranspose3x3/2 128->128").params, 147456) << s;
    EXPECT_EQ(m.at(g + "ConvTranspose3x3/2 128->128").macs, s * s * 128 * 128 * 9) << s;
    EXPECT_EQ(m.at(g + "ConvTranspose2x2/2 128->128").params, 65536) << s;
    EXPECT_EQ(m.at(g + "ConvTranspose2x2/2 128->128").macs, s * s * 128 * 128 * 4) << s;
    EXPECT_EQ(m.at(g + "Conv1x1 128->512+PixelShuffle2").params, 65536) << s;
    EXPECT_EQ(m.at(g + "Conv1x1 128->512+PixelShuffle2").macs, s * s * 512 * 128) << s;
    EXPECT_EQ(m.at(g + "PixelShuffle2 (128->32 ch)").params, 0) << s;
    EXPECT_EQ(m.at(g + "PixelShuffle2 (128->32 ch)").macs, 0) << s;
  }
  EXPECT_EQ(m.at("128 ch, 2x upsampling of 32x32 | ConvTranspose3x3/2 128->128").macs, 150994944);
}

TEST(Blocks, OutputShapesAreTheComparedOnes) {
  for (const EdgeBlock& b : edge_blocks(64)) {
    const Shape& y = b.graph.values[b.graph.outputs[0]].shape;
    const Shape& x = b.graph.values[b.graph.inputs[0]].shape;
    if (b.group.find("upsampling") != std::string::npos) {
      EXPECT_EQ(y[2], 2 * x[2]) << b.name;
      EXPECT_EQ(y[1], b.name.find("128->32") != std::string::npos ? 32 : 128) << b.name;
    } else {
      EXPECT_EQ(y[1], 2 * x[1]) << b.name;  // 32->64, 64->128
      const bool halves = b.name.find("/2") != std::string::npos || b.name.find("SpaceToDepth") != std::string::npos;
      EXPECT_EQ(y[2], halves ? x[2] / 2 : x[2]) << b.name;
    }
  }
}

TEST(Blocks, MeasuredBlockRunsAndKeepsItsCounts) {
  auto blocks = edge_blocks(16);
  BlockMeasure m = measure_block(blocks[0], 1, 3);
  EXPECT_EQ(m.params, 18560);
  EXPECT_EQ(m.macs, 16 * 16 * 64 * 288);
  EXPECT_GT(m.median_ms, 0);
  EXPECT_EQ(m.out_shape, (Shape{1, 64, 16, 16}));
}

}  // namespace ef
