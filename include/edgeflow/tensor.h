// Tensors, dtypes and errors: the vocabulary every edgeflow layer shares.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ef {

// Every failure a user can cause is reported as an ef::Error whose message
// names the file, node or field at fault.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DType : uint8_t { f32, f16, i8, u8, i32, i64, boolean };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

using Shape = std::vector<int64_t>;
int64_t numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[1,3,224,224]"

// Affine quantization: real = scale * (q - zero_point). axis >= 0 means
// per-channel along that axis (scale/zero_point have one entry per channel).
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int axis = -1;
  bool empty() const { return scale.empty(); }
};

// A dense, row-major tensor. Copies share storage (like a smart pointer);
// use clone() for a deep copy. Storage is 64-byte aligned and padded so that
// SIMD kernels may read a little past the end.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);                       // allocates, zero-filled
  static Tensor wrap(DType dtype, Shape shape, void* data);  // non-owning view

  template <class T>
  static Tensor from(Shape shape, std::span<const T> values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + shape_.size() : i); }
  int rank() const { return int(shape_.size()); }
  int64_t numel() const { return ef::numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool empty() const { return data_ == nullptr; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <class T> T* data_as() { return static_cast<T*>(data_); }
  template <class T> const T* data_as() const { return static_cast<const T*>(data_); }

  Tensor clone() const;
  // No other Tensor shares this storage (a non-owning view never does).
  bool unshared() const { return storage_ && storage_.use_count() == 1; }
  // Same storage, new shape (numel must match).
  Tensor reshaped(Shape shape) const;

  QuantParams quant;  // set for quantized tensors

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  std::shared_ptr<uint8_t> storage_;
  void* data_ = nullptr;
};

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }

template <class T>
Tensor Tensor::from(Shape shape, std::span<const T> values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  if (size_t(t.numel()) != values.size()) throw Error("Tensor::from: " + std::to_string(values.size()) +
                                                      " values for shape " + shape_str(t.shape()));
  std::copy(values.begin(), values.end(), t.data_as<T>());
  return t;
}

// IEEE half <-> float (round to nearest even), and whole tensors: f32 <-> f16.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
Tensor float_to_half(const Tensor& f32);
Tensor half_to_float(const Tensor& f16);

}  // namespace ef
