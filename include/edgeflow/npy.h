// NumPy .npy files (format 1.0/2.0, little-endian, C order).
#pragma once
#include <string>

#include "edgeflow/tensor.h"

namespace ef {

// Reads float16/32, int8/32/64, uint8 and bool arrays. Throws ef::Error
// naming the file on a missing, truncated or unsupported file.
Tensor load_npy(const std::string& path);
// Writes to a temporary file and renames it, so a failed write never leaves
// a partial file behind.
void save_npy(const std::string& path, const Tensor& t);

}  // namespace ef
