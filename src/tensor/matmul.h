// A weight matrix as the kernels see it (see kernels.h for the matmul kernels themselves), and the plain
// float dot product attention uses.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace minnow {

struct MatView {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t cols = 0;  // elements per row (the dot-product length)
  int64_t rows = 0;
  bool packed = false;  // data is in the R16 layout of tensor/repack.h (row_bytes then does not apply)
};

// Plain float dot product (the one the reference uses; also used by attention).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace minnow
