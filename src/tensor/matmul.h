// Weight x activation products, the hot loop of inference. Pure functions over row ranges: the caller
// (runtime) splits rows across threads. The reference kernel dequantizes one weight row at a time into
// float and takes exact float dot products against every token of the batch, so each weight row is read
// once per batch. Fast per-ISA kernels slot in behind matmul_rows() with the same contract.
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
};

// y[t * ldy + r] = dot(W[r, :], x[t * ldx : t * ldx + cols])  for r in [r0, r1), t in [0, n_tok).
// `scratch` holds at least `cols` floats (per thread).
void matmul_rows(const MatView& w, const float* x, int64_t ldx, int64_t n_tok, float* y, int64_t ldy, int64_t r0,
                 int64_t r1, float* scratch);

// Plain float dot product (the one the reference uses; also used by attention).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace minnow
