// Quantized kernels against naive references written here with the same
// rounding (int32 accumulation, multiplier x_scale * w_scale / y_scale in
// float, round half to even, saturate). Tolerances:
//   * QLinearConv (XNNPACK qc8/qs8 and own), QGemm, LUT activations: exact.
//     (XNNPACK's "fp32" requantization is the same float multiply + round to
//     nearest even; it could differ by 1 only for |acc| > 2^24, which these
//     sizes never reach.)
//   * QLinearAdd/Mul, QLinearGlobalAveragePool on XNNPACK: +-1 LSB: XNNPACK
//     requantizes them in fixed point (rounded integer multipliers), the
//     reference in float.
#include <cmath>

#include "graph/ops/quant_util.h"
#include "runtime/kernels/qgemm_vnni.h"
#include "runtime/kernels/qkernel.h"
#include "unit/ops_tensor/helpers.h"

namespace ef::test {
namespace {

Tensor i8(std::vector<int8_t> v, Shape s = {}) { return Tensor::from<int8_t>(s, std::span<const int8_t>(v)); }
Tensor i32(std::vector<int32_t> v, Shape s) { return Tensor::from<int32_t>(s, std::span<const int32_t>(v)); }

int max_diff_i8(const Tensor& a, const Tensor& b) {
  int d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(int(a.data_as<int8_t>()[i]) - int(b.data_as<int8_t>()[i])));
  return d;
}

struct ConvCase {
  int64_t n, h, w, cin, cout, k, stride, pad, group;
  bool per_channel;
  int64_t dil = 1, pad_end = -1;  // dilation; bottom/right padding (-1: pad)
  int64_t end() const { return pad_end < 0 ? pad : pad_end; }
  // Output height (or width) for an input extent of `in` (ONNX Conv's floor formula).
  int64_t out(int64_t in) const { return (in + pad + end() - ((k - 1) * dil + 1)) / stride + 1; }
};

// A residual operand (QLinearConv inputs 9-13): r, its scale and zero point,
// the sum's scale and zero point.
struct Residual {
  Tensor r;
  float scale = 0.f;
  int zp = 0;
  float sum_scale = 0.f;
  int sum_zp = 0;
  bool pooled = false;  // r is the input of a folded 2x2 stride-2 MaxPool (attribute residual_pool = 2)
  bool after_act = false;  // residual_after_activation: the activation clamps the conv output, not the sum
};

// The 2x2 stride-2 max pool of an NHWC int8 tensor (floor: an odd last row or column is dropped).
Tensor max_pool_2x2(const Tensor& r) {
  Tensor y(DType::i8, {r.dim(0), r.dim(1) / 2, r.dim(2) / 2, r.dim(3)});
  for (int64_t n = 0; n < y.dim(0); ++n)
    for (int64_t oy = 0; oy < y.dim(1); ++oy)
      for (int64_t ox = 0; ox < y.dim(2); ++ox)
        for (int64_t c = 0; c < y.dim(3); ++c) {
          int8_t m = -128;
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx)
              m = std::max(m, r.data_as<int8_t>()[((n * r.dim(1) + 2 * oy + dy) * r.dim(2) + 2 * ox + dx) * r.dim(3) + c]);
          y.data_as<int8_t>()[((n * y.dim(1) + oy) * y.dim(2) + ox) * y.dim(3) + c] = m;
        }
  return y;
}

// Naive NHWC int32 accumulators of a QLinearConv: bias + sum (x - x_zp) * w.
std::vector<int32_t> ref_acc(const ConvCase& c, const Tensor& x, int xz, const Tensor& w, const std::vector<int32_t>& bias,
                             int64_t oh, int64_t ow) {
  std::vector<int32_t> acc(size_t(c.n * oh * ow * c.cout));
  const int64_t ig = c.cin / c.group, og = c.cout / c.group;
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t o = 0; o < c.cout; ++o) {
          int32_t a = bias[size_t(o)];
          const int64_t gi = o / og;
          for (int64_t ky = 0; ky < c.k; ++ky)
            for (int64_t kx = 0; kx < c.k; ++kx) {
              const int64_t iy = oy * c.stride - c.pad + ky * c.dil, ix = ox * c.stride - c.pad + kx * c.dil;
              if (iy < 0 || ix < 0 || iy >= c.h || ix >= c.w) continue;
              for (int64_t i = 0; i < ig; ++i) {
                const int32_t xv = x.data_as<int8_t>()[((n * c.h + iy) * c.w + ix) * c.cin + gi * ig + i];
                const int32_t wv = w.data_as<int8_t>()[((o * ig + i) * c.k + ky) * c.k + kx];
                a += (xv - xz) * wv;
              }
            }
          acc[size_t(((n * oh + oy) * ow + ox) * c.cout + o)] = a;
        }
  return acc;
}

// Naive NHWC QLinearConv; with a residual, the int8 conv output c (full
// range) plus r as QLinearAdd's float definition, both terms scaled to the
// sum: round_half_even(fma(r - r_zp, r_scale / s, (c - y_zp) * (y_scale / s))),
// clamped to [lo, hi] (the activation then applies to the sum; after_act:
// to c, and the sum spans the int8 range).
Tensor ref_conv(const ConvCase& c, const Tensor& x, float xs, int xz, const Tensor& w, const std::vector<float>& ws,
                const std::vector<int32_t>& bias, float ys, int yz, int64_t oh, int64_t ow, int lo = -128, int hi = 127,
                const Residual* res = nullptr) {
  Tensor y(DType::i8, {c.n, oh, ow, c.cout});
  const std::vector<int32_t> acc = ref_acc(c, x, xz, w, bias, oh, ow);
  for (int64_t at = 0; at < y.numel(); ++at) {
    const int64_t o = at % c.cout;
    const float m = xs * ws[ws.size() > 1 ? size_t(o) : 0] / ys;
    float v = std::nearbyint(float(acc[size_t(at)]) * m) + float(yz), out_lo = float(lo), out_hi = float(hi);
    if (res) {  // a residual with fewer channels reads the rest as its zero point
      const int64_t rc = res->r.dim(3);
      const int32_t rv = o < rc ? res->r.data_as<int8_t>()[at / c.cout * rc + o] : res->zp;
      const bool after = res->after_act;
      const float cq = std::clamp(v, after ? float(lo) : -128.f, after ? float(hi) : 127.f) - float(yz);
      const float s = res->sum_scale;
      v = std::nearbyint(std::fma(float(rv - res->zp), res->scale / s, cq * (ys / s))) + float(res->sum_zp);
      if (after) out_lo = -128.f, out_hi = 127.f;
    }
    y.data_as<int8_t>()[at] = int8_t(std::clamp(v, out_lo, out_hi));
  }
  return y;
}

// ys = 0: no y_scale / y_zp (float output).
std::vector<Tensor> run_qconv(const ConvCase& c, const Tensor& x, float xs, int xz, const Tensor& w,
                              const std::vector<float>& ws, const std::vector<int32_t>& bias, float ys, int yz,
                              const std::string& act = "", const Residual* res = nullptr, int threads = 2) {
  Attrs a;
  a.set("layout", std::string("NHWC"));
  a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
  a.set("strides", std::vector<int64_t>{c.stride, c.stride});
  a.set("pads", std::vector<int64_t>{c.pad, c.pad, c.end(), c.end()});
  a.set("dilations", std::vector<int64_t>{c.dil, c.dil});
  a.set("group", c.group);
  if (!act.empty()) a.set("activation", act);
  if (res && res->pooled) a.set("residual_pool", int64_t(2));
  if (res && res->after_act) a.set("residual_after_activation", int64_t(1));
  Tensor wst = Tensor::from<float>({int64_t(ws.size())}, std::span<const float>(ws));
  Tensor wz(DType::i8, {int64_t(ws.size())});
  std::vector<In> ins = {In::rt(x), In::k(scalar_f32(xs)), In::k(i8({int8_t(xz)})), In::k(w),
                         In::k(ws.size() > 1 ? wst : scalar_f32(ws[0])), In::k(ws.size() > 1 ? wz : i8({0})),
                         ys ? In::k(scalar_f32(ys)) : In::none(), ys ? In::k(i8({int8_t(yz)})) : In::none(),
                         In::k(i32(bias, {c.cout}))};
  if (res) {
    ins.push_back(In::rt(res->r));
    ins.push_back(In::k(scalar_f32(res->scale)));
    ins.push_back(In::k(i8({int8_t(res->zp)})));
    ins.push_back(In::k(scalar_f32(res->sum_scale)));
    ins.push_back(In::k(i8({int8_t(res->sum_zp)})));
  }
  return run_op("QLinearConv", ins, a, 1, threads);
}

// Each case runs on every implementation this CPU has: the own VNNI GEMM
// (ungrouped convolutions), XNNPACK (EF_DISABLE_VNNI=1; depthwise/grouped
// always), and the own integer reference (uint8 weights force it).
TEST(QLinearConv, MatchesNaiveReferenceExactly) {
 for (const char* off : {"0", "1"}) {
  setenv("EF_DISABLE_VNNI", off, 1);
  const ConvCase cases[] = {
      {1, 9, 11, 16, 24, 1, 1, 0, 1, true},   // pointwise
      {1, 9, 11, 16, 32, 1, 1, 0, 1, true},   // pointwise, 32 outputs: rows stored 64 bytes at once, 99 rows
      {1, 7, 5, 8, 16, 1, 1, 0, 1, false},    // pointwise, 16 outputs, 35 rows (a 3-row tile)
      {1, 30, 41, 16, 16, 1, 1, 0, 1, true},  // pointwise, 1230 rows: tasks of 8 row tiles at 2 threads, a partial last
      {1, 9, 11, 16, 72, 1, 1, 0, 1, true},   // pointwise, 72 outputs: column blocks of 3 and 2 vectors (8 in the last)
      {1, 7, 9, 8, 42, 3, 1, 1, 1, false},    // 42 outputs: one block of 3 vectors (10 in the last)
      {2, 10, 9, 8, 12, 3, 2, 1, 1, true},    // 3x3 stride 2
      {2, 13, 12, 3, 16, 3, 2, 1, 1, true},   // 3-channel stem (selfie): 9-byte kernel rows in 12
      {1, 17, 15, 3, 24, 5, 2, 2, 1, false},  // 5x5 3-channel stem (BlazeFace): 15-byte kernel rows in 16
      {1, 9, 9, 20, 8, 3, 1, 1, 1, true},     // 60-byte kernel rows
      {1, 14, 11, 3, 8, 3, 2, 1, 1, true},    // 3 -> 8 channels, odd width
      {1, 16, 13, 3, 30, 5, 2, 1, 1, true, 1, 2},  // 3 -> 30 (a partial 16-block), SAME padding 1 / 2 as BlazeFace's stem
      {2, 9, 7, 5, 16, 3, 1, 0, 1, false},    // 5 channels, no padding: 15-byte kernel rows read 1 byte past the input
      {1, 9, 9, 42, 20, 1, 1, 0, 1, true},    // 1x1 with cin % 4 != 0 (BlazeFace's 42 channels): implicit GEMM
      {1, 9, 10, 8, 16, 1, 2, 0, 1, true},    // 1x1 stride 2
      {1, 12, 13, 6, 16, 3, 1, 2, 1, true, 2},  // dilation 2: one run per tap
      {1, 70, 9, 3, 16, 3, 2, 1, 1, true},    // 35 output rows: several rows a thread
      {1, 9, 8, 8, 20, 3, 1, 1, 1, true},     // 20 outputs, 24-byte kernel rows: 8 outputs x 2 groups a vector
      {2, 7, 9, 8, 17, 3, 2, 1, 1, false},    // 17 outputs, the same
      {1, 12, 12, 16, 16, 3, 1, 1, 16, true}, // depthwise (16 channels: one float lane each, 4 outputs at once)
      {1, 5, 150, 16, 16, 3, 1, 1, 16, true}, // depthwise 16 channels, 150 outputs a row: 2 column chunks, a partial group
      {2, 7, 9, 13, 13, 5, 1, 2, 13, false},  // depthwise 5x5, 13 channels, per-tensor weights
      {1, 11, 13, 16, 16, 3, 2, 1, 16, true}, // depthwise stride 2, 7 outputs a row (4 + 3)
      {2, 9, 10, 12, 12, 3, 1, 1, 12, true},  // depthwise, 12 channels (masked lanes), 10 outputs a row
      {2, 11, 9, 24, 24, 3, 2, 1, 24, true},  // depthwise stride 2, 24 channels (a partial 16-block)
      {1, 8, 10, 40, 40, 5, 1, 2, 40, false}, // depthwise 5x5, per-tensor weights
      {1, 9, 80, 100, 100, 3, 1, 1, 100, true}, // depthwise: a full and a partial 64-channel block, 80 columns (2 chunks)
      {1, 6, 7, 8, 8, 1, 1, 0, 8, true},      // depthwise 1x1
      {1, 20, 19, 16, 16, 7, 2, 3, 16, true}, // depthwise 7x7 stride 2 (two groups of 4 rows)
      {1, 9, 11, 72, 72, 3, 2, 0, 72, true, 1, 1},  // depthwise 64 + 8 channels: the last block two outputs a vector
      {1, 13, 12, 96, 96, 5, 2, 1, 96, true, 1, 2},  // depthwise 5x5 s2, 64 + 32 channels (selfie's), padding 1 / 2
      {2, 7, 10, 160, 160, 5, 1, 2, 160, false}, // depthwise 5x5, 2 x 64 + 32 channels
      {1, 8, 9, 88, 88, 3, 1, 1, 88, true},   // depthwise 64 + 24 channels
      {1, 7, 7, 6, 10, 3, 1, 1, 2, false},    // grouped, per-tensor weights (qs8)
  };
  for (const auto& c : cases) {
    Tensor x = rand_int<int8_t>({c.n, c.h, c.w, c.cin}, -128, 127);
    Tensor w = rand_int<int8_t>({c.cout, c.cin / c.group, c.k, c.k}, -127, 127);
    std::vector<float> ws;
    for (int64_t o = 0; o < (c.per_channel ? c.cout : 1); ++o) ws.push_back(0.002f + 0.001f * float(o % 7));
    std::vector<int32_t> bias;
    for (int64_t o = 0; o < c.cout; ++o) bias.push_back(int32_t(rand_between(-2000, 2000)));
    const float xs = 0.05f, ys = 0.4f;
    const int xz = 3, yz = -5;
    auto y = run_qconv(c, x, xs, xz, w, ws, bias, ys, yz)[0];
    const int64_t oh = c.out(c.h), ow = c.out(c.w);
    ASSERT_EQ(y.shape(), (Shape{c.n, oh, ow, c.cout})) << "k=" << c.k;
    Tensor r = ref_conv(c, x, xs, xz, w, ws, bias, ys, yz, oh, ow);
    EXPECT_EQ(max_diff_i8(y, r), 0) << "k=" << c.k << " group=" << c.group;
    EXPECT_EQ(max_diff_i8(run_qconv(c, x, xs, xz, w, ws, bias, ys, yz, "", nullptr, 1)[0], r), 0) << "1 thread";
    // Relu6 fused: clamp at Q(0) and Q(6).
    auto y6 = run_qconv(c, x, xs, xz, w, ws, bias, ys, yz, "relu6")[0];
    Tensor r6 = ref_conv(c, x, xs, xz, w, ws, bias, ys, yz, oh, ow, yz, int(std::nearbyint(6.f / ys)) + yz);
    EXPECT_EQ(max_diff_i8(y6, r6), 0);
  }
 }
  unsetenv("EF_DISABLE_VNNI");
}

// Random int8 input and weights, per-channel weight scales and biases.
struct ConvOperands {
  Tensor x, w;
  std::vector<float> ws;
  std::vector<int32_t> bias;
  int64_t oh, ow;
};
ConvOperands conv_operands(const ConvCase& c) {
  ConvOperands p{rand_int<int8_t>({c.n, c.h, c.w, c.cin}, -128, 127), rand_int<int8_t>({c.cout, c.cin / c.group, c.k, c.k}, -127, 127),
                 {}, {}, c.out(c.h), c.out(c.w)};
  for (int64_t o = 0; o < c.cout; ++o) p.ws.push_back(0.002f + 0.001f * float(o % 7)), p.bias.push_back(int32_t(o * 37 - 300));
  return p;
}

// A residual (an Add fused by fuse_qdq, then relu; all channels or fewer)
// on the VNNI GEMM (1x1 direct, 3x3 and a 5x5 stem as implicit GEMMs, a
// partial 16-output block), the depthwise kernel for <= 16 channels (16: 4
// outputs a store, 13: one at a time; 3x3 stride 1 and 2, 5x5) and the
// reference kernel (EF_DISABLE_VNNI=1: XNNPACK declines residuals). The relu
// clamps the sum, or (residual_after_activation) the conv output before the
// sum. Exact.
TEST(QLinearConv, ResidualMatchesNaiveReferenceExactly) {
  for (const char* off : {"0", "1"}) {
    setenv("EF_DISABLE_VNNI", off, 1);
    const ConvCase cases[] = {{1, 9, 11, 16, 40, 1, 1, 0, 1, true}, {2, 10, 9, 8, 12, 3, 2, 1, 1, true},
                              {1, 11, 10, 3, 24, 5, 2, 1, 1, true, 1, 2},
                              {1, 30, 41, 16, 24, 1, 1, 0, 1, true},  // 1230 rows: runs of 8-row tiles in one call
                              {1, 12, 19, 16, 16, 3, 1, 1, 16, true},  // depthwise: 4 x 4 + 3 outputs a row
                              {2, 9, 10, 13, 13, 3, 2, 1, 13, true},
                              {1, 8, 11, 16, 16, 5, 1, 2, 16, false}};
    for (const auto& c : cases) {
      const auto [x, w, ws, bias, oh, ow] = conv_operands(c);
      // The conv output (scale 0.4) saturates in places: its int8 clamp must stay.
      // And a residual of fewer channels (a channel Pad folded by fuse_qdq; 35 of 40: a partial 16-block).
      for (const int64_t rc : {c.cout, c.cout - 5})
        for (const bool after : {false, true}) {
          Residual res{rand_int<int8_t>({c.n, oh, ow, rc}, -128, 127), 0.3f, -7, 0.5f, 4};
          res.after_act = after;
          // relu: Q(0) of the sum, or of the conv output
          Tensor r = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, after ? -5 : 4, 127, &res);
          for (const int threads : {1, 2}) {
            auto y = run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu", &res, threads)[0];
            EXPECT_EQ(max_diff_i8(y, r), 0) << "k=" << c.k << " group " << c.group << " residual channels " << rc
                                            << " after activation " << after << " EF_DISABLE_VNNI=" << off
                                            << " threads " << threads;
          }
        }
    }
  }
  unsetenv("EF_DISABLE_VNNI");
}

// The depthwise kernel for <= 16 channels (float FMAs on integer values):
// 3, 5, 13 and 16 channels (masked lanes), 3x3 at stride 1 and 2 with the
// selfie models' stride-2 padding (0 before, 1 after), 5x5 at stride 2,
// 7x7 (sizes known only at run time), 2 images (at 2 threads bands of rows
// cross from one to the next), 300 outputs a row (3 column chunks); with
// relu, with a residual of all channels and of fewer (after the activation
// or not), 1 and 2 threads. Exact.
TEST(QLinearConv, DepthwiseUpTo16ChannelsMatchesNaiveReferenceExactly) {
  const ConvCase cases[] = {{2, 9, 11, 5, 5, 3, 1, 1, 5, true},         {2, 10, 13, 13, 13, 3, 2, 0, 13, true, 1, 1},
                            {1, 4, 300, 16, 16, 3, 1, 1, 16, true},     {1, 17, 9, 16, 16, 3, 2, 0, 16, true, 1, 1},
                            {2, 11, 12, 3, 3, 5, 2, 2, 3, false},       {1, 9, 10, 16, 16, 7, 1, 3, 16, true}};
  for (const auto& c : cases) {
    const auto [x, w, ws, bias, oh, ow] = conv_operands(c);
    for (const int threads : {1, 2}) {
      const std::string what = "k=" + std::to_string(c.k) + " c=" + std::to_string(c.cin) + " stride " +
                               std::to_string(c.stride) + " threads " + std::to_string(threads);
      const Tensor r = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, -5, 127);
      EXPECT_EQ(max_diff_i8(run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu", nullptr, threads)[0], r), 0) << what;
      for (const int64_t rc : {c.cout, c.cout - 2})
        for (const bool after : {false, true}) {
          Residual res{rand_int<int8_t>({c.n, oh, ow, rc}, -128, 127), 0.3f, -7, 0.5f, 4};
          res.after_act = after;
          const Tensor rr = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, after ? -5 : 4, 127, &res);
          EXPECT_EQ(max_diff_i8(run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu", &res, threads)[0], rr), 0)
              << what << " residual channels " << rc << " after activation " << after;
        }
    }
  }
}

// A bias past the integers float sums hold exactly: the <= 16-channel
// depthwise kernel must leave it to another kernel. Every interior output's
// accumulator is bias - x_zp * sum(w) (a multiple of 8 past 2^26, where
// floats step by 8) plus 8 products of 1: exactly 2^-20 * acc = 100.5 + c
// + 8 / 2^20, which rounds up; summed in float, each +1 is lost and 100.5
// + c rounds to even. With and without a residual; exact.
TEST(QLinearConv, DepthwiseBiasPastExactFloatSumsMatchesNaiveReference) {
  const ConvCase c{1, 6, 7, 16, 16, 3, 1, 1, 16, true};
  Tensor x(DType::i8, {1, 6, 7, 16}), w(DType::i8, {16, 1, 3, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<int8_t>()[i] = 4;  // x_zp + 1
  for (int64_t i = 0; i < w.numel(); ++i) w.data_as<int8_t>()[i] = i % 9 == 8 ? 0 : 1;
  std::vector<int32_t> bias;
  for (int32_t o = 0; o < 16; ++o) bias.push_back((100 << 20) + (1 << 19) + (o << 20) + 3 * 8);
  const std::vector<float> ws(16, 1.f / 1024.f);
  const Tensor r = ref_conv(c, x, 1.f, 3, w, ws, bias, 1024.f, 0, 6, 7);
  ASSERT_EQ(r.data_as<int8_t>()[(1 * 7 + 1) * 16], 101) << "the case no longer tells the two sums apart";
  EXPECT_EQ(max_diff_i8(run_qconv(c, x, 1.f, 3, w, ws, bias, 1024.f, 0)[0], r), 0);
  const Residual res{rand_int<int8_t>({1, 6, 7, 16}, -128, 127), 0.3f, -7, 1024.f, 0};  // the sum: the conv output + 0.0003 r
  EXPECT_EQ(max_diff_i8(run_qconv(c, x, 1.f, 3, w, ws, bias, 1024.f, 0, "", &res)[0],
                        ref_conv(c, x, 1.f, 3, w, ws, bias, 1024.f, 0, 6, 7, -128, 127, &res)),
            0);
}

// A residual read through a folded 2x2 stride-2 MaxPool (BlazeFace's
// stride-2 blocks: MaxPool, channel Pad, Add): the kernel maxes each window
// of input 9 (even and odd sizes; all channels or fewer) as the naive pool
// then the residual reference. On the VNNI GEMM (1x1 and a 3x3 stride-2
// conv) and the reference kernel (EF_DISABLE_VNNI=1). Exact.
TEST(QLinearConv, PooledResidualMatchesNaiveReferenceExactly) {
  for (const char* off : {"0", "1"}) {
    setenv("EF_DISABLE_VNNI", off, 1);
    const ConvCase cases[] = {{1, 6, 7, 28, 32, 1, 1, 0, 1, true}, {2, 9, 8, 8, 24, 3, 2, 1, 1, true}};
    for (const auto& c : cases) {
      const auto [x, w, ws, bias, oh, ow] = conv_operands(c);
      for (const int64_t rc : {c.cout, c.cout - 4})
        for (const int64_t odd : {0, 1}) {
          const Residual big{rand_int<int8_t>({c.n, 2 * oh + odd, 2 * ow + odd, rc}, -128, 127), 0.3f, -7, 0.5f, 4, true};
          const Residual pooled{max_pool_2x2(big.r), 0.3f, -7, 0.5f, 4};
          auto y = run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu", &big)[0];
          Tensor r = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, 4, 127, &pooled);
          EXPECT_EQ(max_diff_i8(y, r), 0) << "k=" << c.k << " residual channels " << rc << " odd " << odd
                                          << " EF_DISABLE_VNNI=" << off;
        }
    }
  }
  unsetenv("EF_DISABLE_VNNI");
}

// Without y_scale and y_zp the output is float: float(acc) * x_scale *
// w_scale[o] (fuse_qdq: a conv writing a graph output, BlazeFace's heads).
// On the VNNI GEMM (1x1 direct; 3x3 implicit GEMMs) and the reference
// kernel (EF_DISABLE_VNNI=1). Exact.
TEST(QLinearConv, FloatOutputMatchesNaiveReferenceExactly) {
  for (const char* off : {"0", "1"}) {
    setenv("EF_DISABLE_VNNI", off, 1);
    const ConvCase cases[] = {{1, 8, 8, 96, 6, 1, 1, 0, 1, true}, {1, 9, 7, 8, 20, 3, 2, 1, 1, true},
                              {1, 10, 9, 3, 16, 3, 2, 1, 1, true}};
    for (const auto& c : cases) {
      const auto [x, w, ws, bias, oh, ow] = conv_operands(c);
      auto y = run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.f, 0)[0];
      ASSERT_EQ(y.dtype(), DType::f32);
      const std::vector<int32_t> acc = ref_acc(c, x, 3, w, bias, oh, ow);
      for (int64_t at = 0; at < y.numel(); ++at)
        EXPECT_EQ(y.data_as<float>()[at], float(acc[size_t(at)]) * (0.05f * ws[size_t(at % c.cout)]))
            << "k=" << c.k << " EF_DISABLE_VNNI=" << off;
    }
  }
  unsetenv("EF_DISABLE_VNNI");
}

// K >= 64 runs on AMX tiles where the CPU has them and a GEMM call has at
// least 2M multiply-adds (TDPBSSD on the activations as they are, TDPBUSD on
// the implicit GEMM's flipped copy, one GEMM an output row): K in whole
// 64-byte chunks and a shorter last one, row tiles in groups of 4 and a
// partial group, rows left over for the VNNI tiles, 1-3 output vectors a
// block (a partial last one); requantized with relu6, with a residual, and
// float. Each also with EF_DISABLE_AMX=1 (the VNNI tiles alone); 1 and 2
// threads. Exact.
TEST(QLinearConv, AmxTilesMatchNaiveReferenceExactly) {
  const ConvCase cases[] = {{1, 24, 25, 96, 40, 1, 1, 0, 1, true},     // K 64 + 32, 600 rows, 40 outputs
                            {1, 40, 33, 128, 16, 1, 1, 0, 1, false},   // K 2 x 64, 1320 rows: 20 groups of 4 tiles, 2 + 8 rows
                            {1, 3, 512, 128, 64, 1, 2, 0, 1, true},    // 1x1 stride 2: the flipped copy, 256-pixel rows
                            {1, 2, 1030, 70, 30, 1, 1, 0, 1, true},    // 70 channels: the flipped copy, K 64 + 8
                            {1, 20, 20, 160, 72, 1, 1, 0, 1, true}};   // K 2 x 64 + 32, 400 rows, 72 outputs
  for (const char* off : {"0", "1"}) {
    setenv("EF_DISABLE_AMX", off, 1);
    const bool amx = amx_available();
    const int64_t rows_before = amx_rows_run();
    for (const auto& c : cases) {
      const auto [x, w, ws, bias, oh, ow] = conv_operands(c);
      const Residual res{rand_int<int8_t>({c.n, oh, ow, c.cout}, -128, 127), 0.3f, -7, 0.5f, 4};
      const Tensor r6 = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, -5, int(std::nearbyint(6.f / 0.4f)) - 5);
      const Tensor rr = ref_conv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, oh, ow, 4, 127, &res);
      const std::vector<int32_t> acc = ref_acc(c, x, 3, w, bias, oh, ow);
      for (const int threads : {1, 2}) {
        const std::string at = "cin " + std::to_string(c.cin) + " EF_DISABLE_AMX=" + off + " threads " + std::to_string(threads);
        EXPECT_EQ(max_diff_i8(run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu6", nullptr, threads)[0], r6), 0) << at;
        EXPECT_EQ(max_diff_i8(run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.4f, -5, "relu", &res, threads)[0], rr), 0) << at;
        const Tensor yf = run_qconv(c, x, 0.05f, 3, w, ws, bias, 0.f, 0, "", nullptr, threads)[0];
        int bad = 0;
        for (int64_t i = 0; i < yf.numel(); ++i)
          bad += yf.data_as<float>()[i] != float(acc[size_t(i)]) * (0.05f * ws[size_t(i % c.cout)]);
        EXPECT_EQ(bad, 0) << at << " (float output)";
      }
    }
    if (amx) EXPECT_GT(amx_rows_run(), rows_before) << "the AMX tiles never ran";
    else EXPECT_EQ(amx_rows_run(), rows_before) << "EF_DISABLE_AMX=" << off;
  }
  unsetenv("EF_DISABLE_AMX");
  if (!amx_available()) GTEST_SKIP() << "no AMX here: only the VNNI tiles were tested";
}

// A float input (fuse_quantize_conv: QuantizeLinear folded into the conv)
// is quantized as QuantizeLinear does (quantize_value: x / x_scale rounded
// half to even, + x_zp, saturated), then convolved: the naive reference on
// the quantized input. Inputs hit exact ties ((k + 0.5) * x_scale, x_scale a
// power of 2), saturate both ways and are random in between. On the VNNI
// GEMM (the stems' 3-channel 3x3 and 5x5, odd sizes, a 1x1 that is no
// longer direct, a residual) and the reference kernel (EF_DISABLE_VNNI=1:
// XNNPACK declines a float input), 1 and 2 threads. Exact.
TEST(QLinearConv, FloatInputQuantizedAsQuantizeLinear) {
  for (const char* off : {"0", "1"}) {
    setenv("EF_DISABLE_VNNI", off, 1);
    const ConvCase cases[] = {{2, 13, 12, 3, 16, 3, 2, 1, 1, true}, {1, 17, 15, 3, 24, 5, 2, 1, 1, false, 1, 2},
                              {1, 9, 11, 16, 24, 1, 1, 0, 1, true}, {1, 7, 9, 5, 20, 3, 1, 1, 1, true}};
    for (const auto& c : cases) {
      auto [xq, w, ws, bias, oh, ow] = conv_operands(c);
      const float xs = 0.0625f;
      const int xz = 3;
      Tensor x = rand_f32({c.n, c.h, c.w, c.cin}, -10.f, 10.f);
      for (int64_t i = 0; i < x.numel(); ++i) {
        float& v = x.data_as<float>()[i];
        if (i % 3 == 0) v = (float(rand_between(-140, 140)) + 0.5f) * xs;  // a tie, some out of range
        xq.data_as<int8_t>()[i] = int8_t(quantize_value(v, xs, xz, -128, 127));
      }
      const Residual res{rand_int<int8_t>({c.n, oh, ow, c.cout}, -128, 127), 0.3f, -7, 0.5f, 4};
      for (const Residual* r : {static_cast<const Residual*>(nullptr), &res}) {
        const Tensor want = ref_conv(c, xq, xs, xz, w, ws, bias, 0.4f, -5, oh, ow, -128, 127, r);
        for (const int threads : {1, 2})
          EXPECT_EQ(max_diff_i8(run_qconv(c, x, xs, xz, w, ws, bias, 0.4f, -5, "", r, threads)[0], want), 0)
              << "k=" << c.k << " cin=" << c.cin << " residual " << bool(r) << " EF_DISABLE_VNNI=" << off
              << " threads " << threads;
      }
    }
  }
  unsetenv("EF_DISABLE_VNNI");
}

// K = 52 takes the VNNI GEMM (where the CPU has it), K = 50 the own kernel;
// without y_scale/y_zp the output is float: float(acc) * a_scale * b_scale[n]
// (a classifier's logits; M = 1 as there). Exact.
TEST(QGemm, MatchesNaiveReferenceExactly) {
 for (const bool float_out : {false, true})
 for (const int64_t K : {50, 52}) {
  const int64_t M = float_out ? 1 : 3, N = float_out ? 37 : 17;
  Tensor a = rand_int<int8_t>({M, K}, -128, 127);
  Tensor b = rand_int<int8_t>({N, K}, -127, 127);
  std::vector<float> bs(N);
  std::vector<int32_t> bias(N);
  for (int64_t n = 0; n < N; ++n) bs[n] = 0.01f + 0.002f * float(n), bias[n] = int32_t(rand_between(-500, 500));
  Attrs at;
  at.set("transB", int64_t(1));
  Tensor bz(DType::i8, {N});
  std::vector<In> ins = {In::rt(a), In::k(scalar_f32(0.1f)), In::k(i8({-2})), In::k(b),
                         In::k(Tensor::from<float>({N}, std::span<const float>(bs))), In::k(bz), In::k(i32(bias, {N}))};
  if (!float_out) ins.push_back(In::k(scalar_f32(0.7f))), ins.push_back(In::k(i8({1})));
  auto y = run_op("QGemm", ins, at)[0];
  ASSERT_EQ(y.dtype(), float_out ? DType::f32 : DType::i8);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t acc = bias[n];
      for (int64_t k = 0; k < K; ++k) acc += (a.data_as<int8_t>()[m * K + k] + 2) * b.data_as<int8_t>()[n * K + k];
      if (float_out) {
        EXPECT_EQ(y.data_as<float>()[m * N + n], float(acc) * (0.1f * bs[n])) << "K=" << K << " " << m << "," << n;
        continue;
      }
      const float v = std::clamp(std::nearbyint(float(acc) * (0.1f * bs[n] / 0.7f)) + 1.f, -128.f, 127.f);
      EXPECT_EQ(y.data_as<int8_t>()[m * N + n], int8_t(v)) << m << "," << n;
    }
 }
}

// Float reference of a quantized binary op (the ONNX definition).
// int8 MaxPool (fuse_qdq moves int8 through MaxPool) on the own fallback
// kernel: XNNPACK takes 2x2 but refuses a 1x1 window (stride 2: a
// subsampling), which the reference then runs; both against a naive max over
// the window's real pixels (padding never wins). Exact.
TEST(MaxPoolInt8, XnnpackAndFallbackMatchNaiveMax) {
  struct Case {
    int64_t k, stride, pad;
    const char* impl;
  };
  for (const Case& c : {Case{2, 2, 0, "xnnpack"}, Case{1, 2, 0, "ref"}, Case{3, 2, 1, "xnnpack"}}) {
    const int64_t H = 7, W = 9, C = 5;
    Tensor x = rand_int<int8_t>({1, H, W, C}, -128, 127);
    Attrs a;
    a.set("layout", std::string("NHWC"));
    a.set("kernel_shape", std::vector<int64_t>{c.k, c.k});
    a.set("strides", std::vector<int64_t>{c.stride, c.stride});
    a.set("pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
    std::vector<Tensor> feeds;
    Session s(Model::from_graph(one_node("MaxPool", {In::rt(x)}, 1, a, &feeds)), CompileOptions{.profile = true});
    const Tensor y = s.run(feeds)[0].clone();
    const int64_t oh = (H + 2 * c.pad - c.k) / c.stride + 1, ow = (W + 2 * c.pad - c.k) / c.stride + 1;
    ASSERT_EQ(y.shape(), (Shape{1, oh, ow, C}));
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ch = 0; ch < C; ++ch) {
          int m = -128;
          for (int64_t ky = 0; ky < c.k; ++ky)
            for (int64_t kx = 0; kx < c.k; ++kx) {
              const int64_t iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) m = std::max(m, int(x.data_as<int8_t>()[(iy * W + ix) * C + ch]));
            }
          EXPECT_EQ(int(y.data_as<int8_t>()[(oy * ow + ox) * C + ch]), m) << "k=" << c.k;
        }
    ASSERT_EQ(s.profile().size(), 1u);
    EXPECT_EQ(s.profile()[0].impl, c.impl) << "k=" << c.k;
  }
}

// int8 Resize (fuse_qdq moves int8 through Resize when its output is
// requantized with the input's parameters) against the float Resize kernel
// (tested against an independent reference in ops_spatial) on the same
// values, rounded: XNNPACK's s8 bilinear (exact 2x scales) within 1 LSB
// (fixed-point weights), the own int8 kernel (other scales, nearest) exact.
TEST(ResizeInt8, MatchesFloatKernelRounded) {
  struct Case {
    const char* mode;
    float scale;
    const char* impl;
    int tol;
    bool half_up = false;  // compare with floor(f + 1/2) exactly instead
  };
  // Weights in quarters (2x linear, nearest) take the own integer kernel on
  // AVX-512 CPUs: exactly the float interpolation rounded half up, as
  // XNNPACK's fixed-point kernel rounds it.
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl");
  const Case quarters_linear = avx512 ? Case{"linear", 2.f, "avx512-int8", 0, true} : Case{"linear", 2.f, "xnnpack", 1};
  const Case quarters_nearest = avx512 ? Case{"nearest", 2.f, "avx512-int8", 0} : Case{"nearest", 2.f, "ref-int8", 0};
  // Scale 1 (all weights 0): an odd output width, the last pixel alone in its vector.
  const Case quarters_identity = avx512 ? Case{"linear", 1.f, "avx512-int8", 0, true} : Case{"linear", 1.f, "xnnpack", 1};
  // channels: a partial 16-lane half, 16 (two pixels a vector), 32 + 8; the batch of 2 on 2 threads
  for (const Shape& shape : {Shape{1, 5, 7, 19}, Shape{1, 3, 5, 16}, Shape{2, 4, 7, 40}})
  for (const Case& c : {quarters_linear, Case{"linear", 1.5f, "ref-int8", 0}, quarters_nearest, quarters_identity}) {
    Tensor x = rand_int<int8_t>(shape, -128, 127);
    Tensor xf(DType::f32, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) xf.data_as<float>()[i] = float(x.data_as<int8_t>()[i]);
    Attrs a;
    a.set("layout", std::string("NHWC"));
    a.set("mode", std::string(c.mode));
    a.set("coordinate_transformation_mode", std::string("half_pixel"));
    std::vector<float> sc = {1.f, c.scale, c.scale, 1.f};
    const Tensor scales = Tensor::from<float>({4}, std::span<const float>(sc));
    std::vector<Tensor> feeds;
    Session s(Model::from_graph(one_node("Resize", {In::rt(x), In::none(), In::k(scales)}, 1, a, &feeds)),
              CompileOptions{.threads = shape[0], .profile = true});
    const Tensor y = s.run(feeds)[0].clone();
    const Tensor r = run_op("Resize", {In::rt(xf), In::none(), In::k(scales)}, a)[0];
    ASSERT_EQ(y.shape(), r.shape());
    int worst = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const float f = r.data_as<float>()[i];
      const float want = std::clamp(c.half_up ? std::floor(f + 0.5f) : std::nearbyint(f), -128.f, 127.f);
      worst = std::max(worst, std::abs(int(y.data_as<int8_t>()[i]) - int(want)));
    }
    EXPECT_LE(worst, c.tol) << c.mode << " x" << c.scale;
    EXPECT_EQ(s.profile().at(0).impl, c.impl) << c.mode << " x" << c.scale;
  }
}

// Same shapes, a per-channel operand (the squeeze-excitation Mul; 37
// channels: a partial 16-lane tail), a scalar; 2 threads split the 44,400
// outputs. Within 1 LSB of the float definition (mostly equal). On AVX-512
// CPUs the own kernel computes with one multiplier per operand, exactly as
// qkernel.h's requantize_sum (Add) and requantize (Mul of the integer
// differences) define it; XNNPACK elsewhere.
TEST(QLinearAdd, MatchesFloatReferenceWithBroadcast) {
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl");
  const Shape as_ = {1, 40, 30, 37};
  for (const Shape& bshape : {as_, Shape{1, 1, 1, 37}, Shape{1}})
    for (const char* op : {"QLinearAdd", "QLinearMul"})
      for (int threads : {1, 2}) {
        const bool add = std::string(op) == "QLinearAdd";
        Tensor a = rand_int<int8_t>(as_, -128, 127), b = rand_int<int8_t>(bshape, -128, 127);
        const float as = 0.03f, bs = 0.05f, ys = add ? 0.07f : 0.2f;
        const int az = 4, bz = -9, yz = 2;
        auto y = run_op(op, {In::rt(a), In::k(scalar_f32(as)), In::k(i8({int8_t(az)})), In::rt(b), In::k(scalar_f32(bs)),
                             In::k(i8({int8_t(bz)})), In::k(scalar_f32(ys)), In::k(i8({int8_t(yz)}))},
                        {}, 1, threads)[0];
        int worst = 0, exact = 0, own_diff = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
          const int64_t j = b.numel() == a.numel() ? i : b.numel() == 1 ? 0 : i % 37;
          const int32_t da = a.data_as<int8_t>()[i] - az, db = b.data_as<int8_t>()[j] - bz;
          const float fa = float(da) * as, fb = float(db) * bs;
          const int want = int(std::clamp(std::nearbyint((add ? fa + fb : fa * fb) / ys) + float(yz), -128.f, 127.f));
          const int got = y.data_as<int8_t>()[i];
          const int own = add ? requantize_sum(db, bs / ys, da, as / ys, yz, -128, 127)
                              : requantize(da * db, as * bs / ys, yz, -128, 127);
          worst = std::max(worst, std::abs(got - want));
          exact += got == want;
          own_diff = std::max(own_diff, std::abs(got - own));
        }
        EXPECT_LE(worst, 1) << op << " b " << b.numel() << " threads " << threads;
        EXPECT_GT(exact, a.numel() * 9 / 10) << op;  // rounding ties aside, the same values
        if (avx512) {
          EXPECT_EQ(own_diff, 0) << op << " b " << b.numel() << " threads " << threads;
        }
      }
}

TEST(QLinearGlobalAveragePool, WithinOneLsb) {
  Tensor x = rand_int<int8_t>({2, 7, 7, 16}, -128, 127);
  Attrs a;
  a.set("layout", std::string("NHWC"));
  auto y = run_op("QLinearGlobalAveragePool",
                  {In::rt(x), In::k(scalar_f32(0.1f)), In::k(i8({-3})), In::k(scalar_f32(0.05f)), In::k(i8({7}))}, a)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 1, 1, 16}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 16; ++c) {
      double s = 0;
      for (int64_t p = 0; p < 49; ++p) s += (x.data_as<int8_t>()[(n * 49 + p) * 16 + c] + 3) * 0.1;
      const int want = int(std::clamp(std::nearbyint(s / 49 / 0.05) + 7, -128.0, 127.0));
      EXPECT_LE(std::abs(y.data_as<int8_t>()[n * 16 + c] - want), 1);
    }
}

// Every code, in 64-byte blocks (VBMI permutes) and a scalar tail of 44.
TEST(QLinearLut, SigmoidAndHardSwishExact) {
  Tensor x(DType::i8, {300});
  for (int i = 0; i < 300; ++i) x.data_as<int8_t>()[i] = int8_t(i % 256 - 128);
  for (const char* op : {"QLinearSigmoid", "QLinearHardSwish"}) {
    auto y = run_op(op, {In::rt(x), In::k(scalar_f32(0.06f)), In::k(i8({10})), In::k(scalar_f32(1.f / 256)),
                         In::k(i8({-128}))})[0];
    for (int i = 0; i < 300; ++i) {
      const float v = float(i % 256 - 128 - 10) * 0.06f;
      const float f = std::string(op) == "QLinearSigmoid" ? 1.f / (1.f + std::exp(-v))
                                                           : v * std::clamp(v * (1.f / 6.f) + 0.5f, 0.f, 1.f);
      const int want = int(std::clamp(std::nearbyint(f / (1.f / 256)) - 128.f, -128.f, 127.f));
      EXPECT_EQ(y.data_as<int8_t>()[i], want) << op << " code " << i;
    }
  }
}

TEST(QLinearConv, BadInputsAreNamed) {
  Tensor x = rand_int<int8_t>({1, 4, 4, 3}, -5, 5);
  Attrs a;
  a.set("layout", std::string("NHWC"));
  Tensor w = rand_int<int8_t>({2, 3, 1, 1}, -5, 5);
  // weights as a runtime input
  std::string e = compile_error("QLinearConv", {In::rt(x), In::k(scalar_f32(1)), In::k(i8({0})), In::rt(w),
                                                In::k(scalar_f32(1)), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                                a);
  EXPECT_NE(e.find("must be a constant"), std::string::npos) << e;
  // per-channel scale of the wrong length
  e = compile_error("QLinearConv", {In::rt(x), In::k(scalar_f32(1)), In::k(i8({0})), In::k(w),
                                    In::k(f32s({3}, {1, 1, 1})), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                    a);
  EXPECT_NE(e.find("has 3 values but axis 0"), std::string::npos) << e;
  // an int32 activation; a float one (quantized by the conv) without its zero point, or with an int32 one
  e = compile_error("QLinearConv", {In::rt(Tensor(DType::i32, {1, 4, 4, 3})), In::k(scalar_f32(1)), In::k(i8({0})),
                                    In::k(w), In::k(scalar_f32(1)), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                    a);
  EXPECT_NE(e.find("must be int8 or uint8"), std::string::npos) << e;
  e = compile_error("QLinearConv", {In::rt(rand_f32({1, 4, 4, 3})), In::k(scalar_f32(1)), In::none(), In::k(w),
                                    In::k(scalar_f32(1)), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                    a);
  EXPECT_NE(e.find("a float input needs its int8 or uint8 zero point"), std::string::npos) << e;
  e = compile_error("QLinearConv", {In::rt(rand_f32({1, 4, 4, 3})), In::k(scalar_f32(1)), In::k(i32({0}, {})), In::k(w),
                                    In::k(scalar_f32(1)), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                    a);
  EXPECT_NE(e.find("input zero point must be int8 or uint8, not int32"), std::string::npos) << e;
  // a residual (inputs 9-13) whose shape does not fit, plain and pooled, and a pool other than 2
  const Tensor xs = rand_int<int8_t>({1, 4, 4, 3}, -128, 127), w1 = rand_int<int8_t>({5, 3, 1, 1}, -127, 127);
  Attrs one;
  one.set("layout", std::string("NHWC"));
  one.set("kernel_shape", std::vector<int64_t>{1, 1});
  auto with_residual = [&](const Tensor& r, int64_t pool) {
    Attrs b = one;
    if (pool) b.set("residual_pool", pool);
    return compile_error("QLinearConv", {In::rt(xs), In::k(scalar_f32(1)), In::k(i8({0})), In::k(w1), In::k(scalar_f32(1)),
                                         In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0})), In::none(), In::rt(r),
                                         In::k(scalar_f32(1)), In::k(i8({0})), In::k(scalar_f32(1)), In::k(i8({0}))},
                         b);
  };
  EXPECT_EQ(with_residual(rand_int<int8_t>({1, 4, 4, 5}, -128, 127), 0), "");
  EXPECT_EQ(with_residual(rand_int<int8_t>({1, 9, 8, 5}, -128, 127), 2), "");
  e = with_residual(rand_int<int8_t>({1, 4, 5, 5}, -128, 127), 0);
  EXPECT_NE(e.find("residual must have the output's shape"), std::string::npos) << e;
  e = with_residual(rand_int<int8_t>({1, 4, 4, 5}, -128, 127), 2);
  EXPECT_NE(e.find("twice the output's height and width"), std::string::npos) << e;
  e = with_residual(rand_int<int8_t>({1, 8, 8, 5}, -128, 127), 3);
  EXPECT_NE(e.find("residual_pool must be 2"), std::string::npos) << e;
}

}  // namespace
}  // namespace ef::test
