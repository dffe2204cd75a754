// Load-time constant transforms of the TFLite importer: densifying sparse
// tensors (TFLite's sparsity format) and dequantizing constants.
#pragma once
#include <string>

#include "edgeflow/tensor.h"
#include "importers/tflite/tflite_schema.h"

namespace ef::tfl {

// Dense tensor of `dense_shape` from TFLite sparsity parameters
// (traversal_order, block_map, dim_metadata with DENSE / SPARSE_CSR levels)
// and the stored values (`n` bytes at `values`). Throws ef::Error naming
// `what` on any inconsistency.
Tensor densify(TableRef sparsity, DType dtype, const Shape& dense_shape, const uint8_t* values, size_t n,
               const std::string& what);

// float16 -> float32; int8/uint8/int32 with (per-tensor or per-channel)
// quantization -> float32; float32 unchanged.
Tensor dequantize(const Tensor& t, const std::string& what);

}  // namespace ef::tfl
