// Reference quantizers: float rows -> ggml blocks, bit-compatible with llama.cpp's llama-quantize.
//
// Each type follows the exact path ggml_quantize_chunk takes (ggml-quants.c of llama.cpp 2025-09):
// without an importance matrix, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K use
// ggml's quantize_row_*_ref algorithms and IQ4_NL / IQ4_XS use quantize_row_iq4_nl_impl with weights
// x^2; with one, the *_impl variants weighted by it (Q8_0 ignores it, as ggml does). Results are
// identical to ggml's bytes on an x86-64 build without FMA contraction (ggml-base is built that way);
// the output of every type dequantizes through dequantize_row (tensor/dequant.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace minnow {

// True for the types quantize_row can produce: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
bool can_quantize(DType t);

// Quantizes ONE row of n elements (n a multiple of the type's block size) into row_bytes(t, n)
// bytes at `out`. `importance` is null or n non-negative floats, one per column (llama.cpp's
// imatrix: mean squared activation of each input feature). With an importance vector the legacy
// types (Q4_0, Q4_1, Q5_0, Q5_1) use statistics of the whole row, so a row must not be split into
// several calls. Throws minnow::Error for an unsupported type or a bad n.
void quantize_row(DType t, const float* x, void* out, int64_t n, const float* importance);

// nrows consecutive rows of n_per_row elements; `importance` (null or n_per_row floats) applies to
// every row. Returns the bytes written (nrows * row_bytes(t, n_per_row)).
size_t quantize_rows(DType t, const float* x, void* out, int64_t nrows, int64_t n_per_row, const float* importance);

}  // namespace minnow
