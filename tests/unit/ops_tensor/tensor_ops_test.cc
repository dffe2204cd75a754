// Transpose, Concat, Split, Slice, Pad, Gather, Tile, Expand against naive
// index-by-index references.
#include <numeric>

#include "helpers.h"

namespace ef::test {
namespace {

Tensor ref_transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  Shape o(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) o[i] = x.shape()[perm[i]];
  Tensor y(x.dtype(), o);
  const size_t es = dtype_size(x.dtype());
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto oi = unravel(i, o);
    std::vector<int64_t> ii(perm.size());
    for (size_t d = 0; d < perm.size(); ++d) ii[perm[d]] = oi[d];
    std::memcpy(y.data_as<uint8_t>() + i * es, x.data_as<uint8_t>() + ravel(ii, x.shape()) * es, es);
  }
  return y;
}

void expect_bytes_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what << " got " << shape_str(got.shape()) << " want " << shape_str(want.shape());
  ASSERT_EQ(std::memcmp(got.data(), want.data(), got.nbytes()), 0) << what;
}

Tensor rand_any(DType dt, Shape s) {
  switch (dt) {
    case DType::u8: return rand_int<uint8_t>(s, 0, 255);
    case DType::i64: return rand_int<int64_t>(s, -1000000, 1000000);
    case DType::i32: return rand_int<int32_t>(s, -1000, 1000);
    default: return rand_f32(s);
  }
}

TEST(TensorOps, TransposeAnyPermAndLayoutFastPaths) {
  struct C {
    Shape s;
    std::vector<int64_t> perm;
  };
  std::vector<C> cases = {{{2, 3, 37, 29}, {0, 2, 3, 1}},   // NCHW -> NHWC
                          {{2, 37, 29, 3}, {0, 3, 1, 2}},   // NHWC -> NCHW
                          {{1, 65, 33, 17}, {0, 2, 3, 1}},  // batch 1, odd
                          {{2, 2, 9, 13}, {0, 2, 3, 1}},    // 2 to 4 planes interleaved: 16 columns a permute, a tail
                          {{1, 4, 8, 8}, {0, 2, 3, 1}},
                          {{1, 3, 80, 81}, {0, 2, 3, 1}},   // 6480 columns: two column ranges of <= 5456 (3 rows)
                          {{7, 5}, {1, 0}},
                          {{3, 1, 4, 1, 2}, {4, 2, 0, 3, 1}},
                          {{5}, {0}},
                          {{2, 3, 4}, {0, 1, 2}},
                          {{}, {}}};
  for (int k = 0; k < 8; ++k) {
    int r = int(rand_between(1, 6));
    std::vector<int64_t> p(r);
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), rng());
    cases.push_back({rand_shape(r, 6), p});
  }
  for (const C& c : cases)
    for (DType dt : {DType::f32, DType::u8, DType::i64})
      for (int threads : {1, 2}) {
        Tensor x = rand_any(dt, c.s);
        Attrs a;
        a.set("perm", c.perm);
        auto y = run_op("Transpose", {In::rt(x)}, a, 1, threads);
        expect_bytes_equal(y[0], ref_transpose(x, c.perm),
                           "Transpose " + shape_str(c.s) + " perm " + shape_str(c.perm) + " " + dtype_name(dt));
      }
  // default perm reverses the axes
  Tensor x = rand_f32({2, 3, 4});
  auto y = run_op("Transpose", {In::rt(x)});
  expect_bytes_equal(y[0], ref_transpose(x, {2, 1, 0}), "default perm");
  Attrs bad;
  bad.set("perm", std::vector<int64_t>{0, 0, 1});
  std::string err = compile_error("Transpose", {In::rt(x)}, bad);
  EXPECT_NE(err.find("the_Transpose"), std::string::npos) << err;
}

TEST(TensorOps, ConcatAndSplitRoundTrip) {
  for (int64_t axis : {0, 1, 2, -1, -3})
    for (DType dt : {DType::f32, DType::i64, DType::u8}) {
      Shape base = {3, 4, 5};
      int64_t a = axis < 0 ? axis + 3 : axis;
      std::vector<Tensor> parts;
      std::vector<In> ins;
      std::vector<int64_t> sizes = {2, 1, 3};
      for (int64_t n : sizes) {
        Shape s = base;
        s[a] = n;
        parts.push_back(rand_any(dt, s));
        ins.push_back(In::rt(parts.back()));
      }
      Attrs at;
      at.set("axis", axis);
      auto cat = run_op("Concat", ins, at, 1, 2);
      Shape o = base;
      o[a] = 6;
      ASSERT_EQ(cat[0].shape(), o);
      const size_t es = dtype_size(dt);
      for (int64_t i = 0; i < cat[0].numel(); ++i) {
        auto idx = unravel(i, o);
        size_t p = 0;
        while (idx[a] >= sizes[p]) idx[a] -= sizes[p++];
        ASSERT_EQ(std::memcmp(cat[0].data_as<uint8_t>() + i * es,
                              parts[p].data_as<uint8_t>() + ravel(idx, parts[p].shape()) * es, es),
                  0);
      }
      // Split with sizes as a constant input returns the parts
      auto sp = run_op("Split", {In::rt(cat[0]), In::k(i64s(sizes))}, at, 3);
      for (size_t p = 0; p < 3; ++p) expect_bytes_equal(sp[p], parts[p], "Split part " + std::to_string(p));
    }
  // equal split by the number of outputs
  Tensor x = rand_f32({2, 9});
  Attrs at;
  at.set("axis", int64_t(1));
  auto sp = run_op("Split", {In::rt(x)}, at, 3);
  for (int p = 0; p < 3; ++p)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(sp[p].data_as<float>()[r * 3 + c], x.data_as<float>()[r * 9 + p * 3 + c]);
  std::string err = compile_error("Split", {In::rt(x), In::k(i64s({4, 4}))}, at, 2);
  EXPECT_NE(err.find("the_Split"), std::string::npos) << err;
}

// Reference Slice with ONNX clamping written out per element.
Tensor ref_slice(const Tensor& x, std::vector<int64_t> st, std::vector<int64_t> en, std::vector<int64_t> ax,
                 std::vector<int64_t> sp) {
  const Shape& s = x.shape();
  int64_t r = int64_t(s.size());
  std::vector<int64_t> start(r, 0), step(r, 1), count(s.begin(), s.end());
  for (size_t i = 0; i < st.size(); ++i) {
    int64_t a = ax[i] < 0 ? ax[i] + r : ax[i], d = s[a];
    int64_t b = st[i] < 0 ? st[i] + d : st[i], e = en[i] < 0 ? en[i] + d : en[i];
    std::vector<int64_t> picked;
    if (sp[i] > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      for (int64_t k = b; k < e; k += sp[i]) picked.push_back(k);
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      for (int64_t k = b; k > e; k += sp[i]) picked.push_back(k);
    }
    start[a] = picked.empty() ? 0 : picked[0];
    step[a] = sp[i];
    count[a] = int64_t(picked.size());
  }
  Tensor y(x.dtype(), Shape(count.begin(), count.end()));
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto idx = unravel(i, y.shape());
    for (int64_t d = 0; d < r; ++d) idx[d] = start[d] + idx[d] * step[d];
    y.data_as<float>()[i] = x.data_as<float>()[ravel(idx, s)];
  }
  return y;
}

TEST(TensorOps, SliceStepsClampingAndNegativeAxes) {
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  struct C {
    Shape s;
    std::vector<int64_t> st, en, ax, sp;
  };
  std::vector<C> cases = {
      {{5, 7, 9}, {1}, {4}, {1}, {1}},
      {{5, 7, 9}, {0, 2}, {big, -1}, {0, 2}, {2, 3}},
      {{5, 7, 9}, {-1}, {small}, {-1}, {-1}},          // reverse the last axis
      {{5, 7, 9}, {6, 100}, {1, -100}, {1, 0}, {-2, -1}},
      {{5, 7, 9}, {3}, {3}, {2}, {1}},                  // empty
      {{4, 6}, {-100, 2}, {100, 1000}, {-2, -1}, {1, 1}},
      {{2, 3, 4, 5, 6, 7}, {1, 0, 5}, {2, 4, 0}, {0, 3, 5}, {1, 2, -2}},
  };
  for (const C& c : cases)
    for (int threads : {1, 2}) {
      Tensor x = rand_f32(c.s);
      auto y = run_op("Slice", {In::rt(x), In::k(i64s(c.st)), In::k(i64s(c.en)), In::k(i64s(c.ax)), In::k(i64s(c.sp))},
                      {}, 1, threads);
      expect_close(y[0], ref_slice(x, c.st, c.en, c.ax, c.sp), 0, "Slice " + shape_str(c.s));
    }
  // optional axes/steps omitted
  Tensor x = rand_f32({6, 5});
  auto y = run_op("Slice", {In::rt(x), In::k(i64s({1, 1})), In::k(i64s({5, 4}))});
  expect_close(y[0], ref_slice(x, {1, 1}, {5, 4}, {0, 1}, {1, 1}), 0, "Slice defaults");
}

Tensor ref_pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, float value) {
  const Shape& s = x.shape();
  size_t r = s.size();
  Shape o(r);
  for (size_t d = 0; d < r; ++d) o[d] = s[d] + pads[d] + pads[d + r];
  Tensor y(DType::f32, o);
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto idx = unravel(i, o);
    bool outside = false;
    for (size_t d = 0; d < r; ++d) {
      int64_t k = idx[d] - pads[d], n = s[d];
      if (k < 0 || k >= n) {
        if (mode == "constant") outside = true;
        else if (mode == "edge") k = std::clamp<int64_t>(k, 0, n - 1);
        else if (mode == "reflect") k = k < 0 ? -k : 2 * (n - 1) - k;
      }
      idx[d] = k;
    }
    y.data_as<float>()[i] = outside ? value : x.data_as<float>()[ravel(idx, s)];
  }
  return y;
}

TEST(TensorOps, PadConstantReflectEdgeAndNegativePads) {
  struct C {
    Shape s;
    std::vector<int64_t> pads;
  };
  for (C c : {C{{1, 3, 5, 7}, {0, 0, 1, 2, 0, 0, 3, 1}}, C{{2, 4, 6}, {1, 0, 2, 0, 3, 1}}, C{{9}, {2, 3}},
              C{{3, 5, 7}, {0, -1, 2, 1, 2, -3}}})
    for (const char* mode : {"constant", "reflect", "edge"})
      for (int threads : {1, 2}) {
        Tensor x = rand_f32(c.s);
        Attrs at;
        at.set("mode", std::string(mode));
        auto y = run_op("Pad", {In::rt(x), In::k(i64s(c.pads)), In::k(scalar_f32(1.5f))}, at, 1, threads);
        expect_close(y[0], ref_pad(x, c.pads, mode, 1.5f), 0,
                     std::string("Pad ") + mode + shape_str(c.s) + " pads " + shape_str(c.pads));
      }
  // a float constant_value on int data (as imported from opset < 11) is converted
  Tensor xc = rand_int<int32_t>({2, 2}, 1, 9);
  auto yc = run_op("Pad", {In::rt(xc), In::k(i64s({0, 1, 0, 0})), In::k(scalar_f32(-4.f))});
  EXPECT_EQ(yc[0].data_as<int32_t>()[0], -4);
  EXPECT_EQ(yc[0].data_as<int32_t>()[1], xc.data_as<int32_t>()[0]);
  // int64 data, default zero padding
  Tensor xi = rand_int<int64_t>({2, 3}, 1, 9);
  auto yi = run_op("Pad", {In::rt(xi), In::k(i64s({1, 0, 0, 2}))});
  ASSERT_EQ(yi[0].shape(), (Shape{3, 5}));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 5; ++c)
      EXPECT_EQ(yi[0].data_as<int64_t>()[r * 5 + c], (r >= 1 && c < 3) ? xi.data_as<int64_t>()[(r - 1) * 3 + c] : 0);
  Attrs at;
  at.set("mode", std::string("reflect"));
  std::string err = compile_error("Pad", {In::rt(rand_f32({2, 3})), In::k(i64s({0, 3, 0, 0}))}, at);
  EXPECT_NE(err.find("the_Pad"), std::string::npos) << err;
}

TEST(TensorOps, GatherAnyAxisNegativeIndices) {
  for (int64_t axis : {0, 1, 2, -1})
    for (bool i32 : {false, true})
      for (Shape ishape : {Shape{}, Shape{4}, Shape{2, 3}}) {
        Shape ds = {4, 5, 6};
        int64_t a = axis < 0 ? axis + 3 : axis;
        Tensor d = rand_f32(ds);
        Tensor ind = i32 ? rand_int<int32_t>(ishape, -ds[a], ds[a] - 1) : rand_int<int64_t>(ishape, -ds[a], ds[a] - 1);
        Attrs at;
        at.set("axis", axis);
        for (bool konst : {false, true}) {
          auto y = run_op("Gather", {In::rt(d), konst ? In::k(ind) : In::rt(ind)}, at);
          Shape o(ds.begin(), ds.begin() + a);
          o.insert(o.end(), ishape.begin(), ishape.end());
          o.insert(o.end(), ds.begin() + a + 1, ds.end());
          ASSERT_EQ(y[0].shape(), o);
          for (int64_t i = 0; i < y[0].numel(); ++i) {
            auto idx = unravel(i, o);
            std::vector<int64_t> ii(idx.begin() + a, idx.begin() + a + ishape.size());
            int64_t v = i32 ? ind.data_as<int32_t>()[ravel(ii, ishape)] : ind.data_as<int64_t>()[ravel(ii, ishape)];
            if (v < 0) v += ds[a];
            std::vector<int64_t> di(idx.begin(), idx.begin() + a);
            di.push_back(v);
            di.insert(di.end(), idx.begin() + a + ishape.size(), idx.end());
            ASSERT_EQ(y[0].data_as<float>()[i], d.data_as<float>()[ravel(di, ds)]);
          }
        }
      }
  Attrs at;
  at.set("axis", int64_t(3));
  std::string err = compile_error("Gather", {In::rt(rand_f32({2, 3})), In::k(i64s({0}))}, at);
  EXPECT_NE(err.find("the_Gather"), std::string::npos) << err;
  EXPECT_NE(err.find("axis"), std::string::npos) << err;
  err = compile_error("Gather", {In::rt(rand_f32({2, 3})), In::k(i64s({2}))});
  EXPECT_NE(err.find("out of range"), std::string::npos) << err;
  // runtime indices out of range: run() throws naming the node, nothing is written out of bounds
  try {
    run_op("Gather", {In::rt(rand_f32({2, 3})), In::rt(i64s({0, -3}))});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the_Gather"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("-3"), std::string::npos) << e.what();
  }
}

TEST(TensorOps, ExpandAndTile) {
  Tensor x = rand_int<int64_t>({3, 1}, 0, 100);
  auto y = run_op("Expand", {In::rt(x), In::k(i64s({2, 1, 4}))}, {}, 1, 2);
  ASSERT_EQ(y[0].shape(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(y[0].data_as<int64_t>()[i], x.data_as<int64_t>()[(i / 4) % 3]);
  Tensor t = rand_f32({2, 3});
  auto z = run_op("Tile", {In::rt(t), In::k(i64s({2, 3}))});
  ASSERT_EQ(z[0].shape(), (Shape{4, 9}));
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 9; ++c) EXPECT_EQ(z[0].data_as<float>()[r * 9 + c], t.data_as<float>()[(r % 2) * 3 + c % 3]);
}

}  // namespace
}  // namespace ef::test
