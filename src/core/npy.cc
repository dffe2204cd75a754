#include "edgeflow/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ef {

namespace {
struct DescrMap {
  const char* descr;
  DType dtype;
};
constexpr DescrMap kDescr[] = {{"<f4", DType::f32}, {"<f2", DType::f16}, {"|i1", DType::i8}, {"|u1", DType::u8},
                               {"<i4", DType::i32}, {"<i8", DType::i64}, {"|b1", DType::boolean}};

std::string field(const std::string& header, const std::string& key, const std::string& path) {
  auto k = header.find("'" + key + "'");
  if (k == std::string::npos) throw Error(path + ": .npy header has no '" + key + "' field");
  auto colon = header.find(':', k);
  if (colon == std::string::npos) throw Error(path + ": malformed .npy header");
  size_t p = colon + 1;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) throw Error(path + ": malformed .npy header");
  if (header[p] == '\'') {
    auto e = header.find('\'', p + 1);
    if (e == std::string::npos) throw Error(path + ": malformed .npy header");
    return header.substr(p + 1, e - p - 1);
  }
  if (header[p] == '(') {
    auto e = header.find(')', p);
    if (e == std::string::npos) throw Error(path + ": malformed .npy header");
    return header.substr(p, e - p + 1);
  }
  auto e = header.find_first_of(",}", p);
  return header.substr(p, e - p);
}
}  // namespace

Tensor load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open .npy file (" + std::strerror(errno) + ")");
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    if (!f.read(reinterpret_cast<char*>(b), 2)) throw Error(path + ": truncated .npy header");
    hlen = b[0] | (b[1] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    uint8_t b[4];
    if (!f.read(reinterpret_cast<char*>(b), 4)) throw Error(path + ": truncated .npy header");
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(int(magic[6])));
  }
  if (hlen > (1u << 20)) throw Error(path + ": .npy header too large");
  std::string header(hlen, '\0');
  if (!f.read(header.data(), hlen)) throw Error(path + ": truncated .npy header");
  std::string descr = field(header, "descr", path);
  std::string fortran = field(header, "fortran_order", path);
  std::string shape_s = field(header, "shape", path);
  if (fortran.find("True") != std::string::npos) throw Error(path + ": Fortran-order .npy arrays are not supported");
  DType dtype{};
  bool found = false;
  for (auto& d : kDescr)
    if (descr == d.descr || (descr.size() == 3 && descr[0] == '|' && std::string("<") + descr.substr(1) == d.descr)) {
      dtype = d.dtype;
      found = true;
    }
  if (!found) throw Error(path + ": unsupported .npy dtype '" + descr + "'");
  Shape shape;
  std::string inner = shape_s.substr(1, shape_s.size() - 2);
  std::stringstream ss(inner);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t a = tok.find_first_not_of(' ');
    if (a == std::string::npos) continue;
    try {
      shape.push_back(std::stoll(tok.substr(a)));
    } catch (...) {
      throw Error(path + ": bad shape in .npy header: " + shape_s);
    }
    if (shape.back() < 0) throw Error(path + ": negative dimension in .npy header");
  }
  Tensor t(dtype, shape);
  if (!f.read(static_cast<char*>(t.data()), std::streamsize(t.nbytes())))
    throw Error(path + ": truncated .npy data (expected " + std::to_string(t.nbytes()) + " bytes for " +
                dtype_name(dtype) + shape_str(shape) + ")");
  return t;
}

void save_npy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  for (auto& d : kDescr)
    if (d.dtype == t.dtype()) descr = d.descr;
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + (t.rank() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    f.write("\x93NUMPY\x01\x00", 8);
    uint16_t hl = uint16_t(header.size());
    char b[2] = {char(hl & 0xff), char(hl >> 8)};
    f.write(b, 2);
    f.write(header.data(), std::streamsize(header.size()));
    f.write(static_cast<const char*>(t.data()), std::streamsize(t.nbytes()));
    if (!f) {
      f.close();
      std::remove(tmp.c_str());
      throw Error(path + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  }
}

}  // namespace ef
