#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "edgeflow/npy.h"
#include "support/assets.h"

namespace ef {

static std::string tmp(const char* n) { return std::string(::testing::TempDir()) + n; }

TEST(Npy, RoundTripsEveryDtype) {
  for (DType d : {DType::f32, DType::f16, DType::i8, DType::u8, DType::i32, DType::i64, DType::boolean}) {
    Tensor t(d, {2, 3, 5});
    for (size_t i = 0; i < t.nbytes(); ++i) t.data_as<uint8_t>()[i] = uint8_t(i * 7 % 2 == 0 ? i % 2 : 1);
    save_npy(tmp("rt.npy"), t);
    Tensor r = load_npy(tmp("rt.npy"));
    EXPECT_EQ(r.dtype(), d);
    EXPECT_EQ(r.shape(), t.shape());
    EXPECT_EQ(0, std::memcmp(r.data(), t.data(), t.nbytes()));
  }
}

TEST(Npy, ReadsWhatNumpyWrites) {
  EF_NEED(std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0, std::string("numpy"));
  std::string p = tmp("np.npy");
  std::string cmd = "/usr/bin/python3 -c \"import numpy as np; np.save('" + p +
                    "', np.arange(12, dtype=np.float32).reshape(3,4)*0.5)\"";
  ASSERT_EQ(0, std::system(cmd.c_str()));
  Tensor t = load_npy(p);
  ASSERT_EQ(t.shape(), (Shape{3, 4}));
  EXPECT_FLOAT_EQ(t.data_as<float>()[11], 5.5f);
}

TEST(Npy, TruncatedFileIsAClearError) {
  Tensor t(DType::f32, {100});
  save_npy(tmp("tr.npy"), t);
  std::ifstream in(tmp("tr.npy"), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(tmp("tr2.npy"), std::ios::binary).write(all.data(), 200);
  try {
    load_npy(tmp("tr2.npy"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated .npy data"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_npy(tmp("does_not_exist.npy")), Error);
}

}  // namespace ef
