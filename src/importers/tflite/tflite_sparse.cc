#include "importers/tflite/tflite_sparse.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace ef::tfl {
namespace {

std::vector<int64_t> index_vector(TableRef dm, int type_id, int value_id) {
  std::vector<int64_t> out;
  TableRef v = dm.sub(value_id);
  if (!v) return out;
  switch (dm.get<uint8_t>(type_id, kIdxNone)) {
    case kIdxInt32:
      for (int32_t x : v.list<int32_t>(0)) out.push_back(x);
      break;
    case kIdxUint16:
      for (uint16_t x : v.list<uint16_t>(0)) out.push_back(x);
      break;
    case kIdxUint8:
      for (uint8_t x : v.list<uint8_t>(0)) out.push_back(x);
      break;
  }
  return out;
}

}  // namespace

Tensor densify(TableRef sp, DType dtype, const Shape& shape, const uint8_t* values, size_t n, const std::string& what) {
  auto fail = [&](const std::string& m) -> void { throw Error(what + ": invalid sparsity: " + m); };
  const auto order = sp.list<int32_t>(sparsity::traversal_order);
  const auto block_map = sp.list<int32_t>(sparsity::block_map);
  const size_t rank = shape.size(), nb = block_map.size(), L = order.size();
  if (sp.count(sparsity::dim_metadata) != L)
    fail(std::to_string(sp.count(sparsity::dim_metadata)) + " dim_metadata entries for " + std::to_string(L) +
         " traversal levels");
  if (L != rank + nb)
    fail("traversal_order has " + std::to_string(L) + " entries, expected rank " + std::to_string(rank) + " + " +
         std::to_string(nb) + " block dims");
  if (L == 0 || L > 16) fail("unsupported number of levels " + std::to_string(L));
  std::vector<bool> seen(L, false);
  for (size_t i = 0; i < L; ++i) {
    const int32_t d = order[i];
    const bool ok = i < rank ? (d >= 0 && size_t(d) < rank) : (size_t(d) >= rank && size_t(d) < L);
    if (!ok || seen[d]) fail("traversal_order is not a valid permutation");
    seen[d] = true;
  }
  std::vector<int64_t> block_size(nb);
  for (size_t i = 0; i < nb; ++i) {
    if (block_map[i] < 0 || size_t(block_map[i]) >= rank) fail("block_map entry out of range");
    block_size[i] = sp.at(sparsity::dim_metadata, rank + i).get<int32_t>(dimmeta::dense_size, 0);
    if (block_size[i] < 1) fail("block size must be >= 1");
  }
  struct Level {
    bool dense;
    int64_t size;
    std::vector<int64_t> seg, idx;
  };
  std::vector<Level> lv(L);
  for (size_t i = 0; i < L; ++i) {
    TableRef dm = sp.at(sparsity::dim_metadata, i);
    const int fmt = dm.get<int8_t>(dimmeta::format, kDimDense);
    if (fmt == kDimDense) {
      lv[i].dense = true;
      lv[i].size = dm.get<int32_t>(dimmeta::dense_size, 0);
      if (lv[i].size < 0) fail("negative dense_size");
    } else if (fmt == kDimSparseCSR) {
      lv[i].dense = false;
      lv[i].seg = index_vector(dm, dimmeta::array_segments_type, dimmeta::array_segments);
      lv[i].idx = index_vector(dm, dimmeta::array_indices_type, dimmeta::array_indices);
      if (lv[i].seg.empty()) fail("sparse level " + std::to_string(i) + " has no array_segments");
    } else {
      fail("unknown dimension format " + std::to_string(fmt));
    }
  }
  const size_t es = dtype_size(dtype);
  if (n % es != 0) fail(std::to_string(n) + " value bytes are not a multiple of the element size");
  const size_t count = n / es;
  // The dense tensor may be much larger than the stored values, but not
  // absurdly so (a corrupt shape must not allocate gigabytes).
  const uint64_t dense_count = uint64_t(numel(shape));
  if (dense_count > std::max<uint64_t>(uint64_t(count) * 1024, uint64_t(1) << 20) || dense_count > (uint64_t(1) << 28))
    fail("dense shape " + shape_str(shape) + " is implausibly large for " + std::to_string(count) + " stored values");
  Tensor out(dtype, shape);
  auto* dst = static_cast<uint8_t*>(out.data());
  std::vector<int64_t> stride(rank, 1);
  for (int k = int(rank) - 2; k >= 0; --k) stride[k] = stride[k + 1] * shape[k + 1];

  std::vector<int64_t> idx(L, 0), orig(rank);
  size_t src = 0;
  // Corrupt metadata (huge dense levels over an empty one) must not loop for ever.
  uint64_t visits = 0;
  const uint64_t max_visits = dense_count * 4 + 1024;
  std::function<void(size_t, int64_t)> populate = [&](size_t level, int64_t prev) {
    if (++visits > max_visits) fail("the sparsity metadata describes more positions than shape " + shape_str(shape) + " holds");
    if (level == L) {
      for (size_t i = 0; i < rank; ++i) orig[order[i]] = idx[i];
      for (size_t i = rank; i < L; ++i) {
        const size_t b = size_t(order[i]) - rank;
        const int d = block_map[b];
        orig[d] = orig[d] * block_size[b] + idx[i];
      }
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) {
        if (orig[d] < 0 || orig[d] >= shape[d]) fail("an index lies outside the dense shape " + shape_str(shape));
        off += orig[d] * stride[d];
      }
      if (src >= count) fail("more non-zero positions than the " + std::to_string(count) + " stored values");
      std::memcpy(dst + off * es, values + src * es, es);
      ++src;
      return;
    }
    const Level& l = lv[level];
    if (l.dense) {
      for (int64_t i = 0; i < l.size; ++i) {
        idx[level] = i;
        populate(level + 1, prev * l.size + i);
      }
    } else {
      if (prev < 0 || size_t(prev) + 1 >= l.seg.size()) fail("array_segments too short at level " + std::to_string(level));
      const int64_t b = l.seg[prev], e = l.seg[prev + 1];
      if (b < 0 || e < b || size_t(e) > l.idx.size()) fail("array_segments out of range at level " + std::to_string(level));
      for (int64_t i = b; i < e; ++i) {
        idx[level] = l.idx[i];
        populate(level + 1, i);
      }
    }
  };
  populate(0, 0);
  if (src != count)
    fail("only " + std::to_string(src) + " of the " + std::to_string(count) + " stored values were placed");
  return out;
}

Tensor dequantize(const Tensor& t, const std::string& what) {
  if (t.dtype() == DType::f32) return t;
  if (t.dtype() == DType::f16) return half_to_float(t);
  Tensor out(DType::f32, t.shape());
  float* o = out.data_as<float>();
  const int64_t n = t.numel();
  if (t.dtype() != DType::i8 && t.dtype() != DType::u8 && t.dtype() != DType::i32)
    throw Error(what + ": cannot dequantize a " + std::string(dtype_name(t.dtype())) + " constant");
  if (t.quant.empty()) throw Error(what + ": quantized constant has no scale/zero point");
  // per-channel: channel of element i = (i / inner) % channels
  int64_t inner = 1, channels = 1;
  if (t.quant.axis >= 0) {
    channels = t.shape()[t.quant.axis];
    for (int k = t.quant.axis + 1; k < t.rank(); ++k) inner *= t.shape()[k];
  }
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = t.quant.axis >= 0 ? size_t((i / inner) % channels) : 0;
    float q = t.dtype() == DType::i8 ? float(t.data_as<int8_t>()[i])
              : t.dtype() == DType::u8 ? float(t.data_as<uint8_t>()[i])
                                      : float(t.data_as<int32_t>()[i]);
    o[i] = t.quant.scale[c] * (q - float(t.quant.zero_point[c]));
  }
  return out;
}

}  // namespace ef::tfl
