#include "tensor/matmul.h"

namespace minnow {

float dot_f32(const float* a, const float* b, int64_t n) {
  // 16 independent partial sums: lets the compiler vectorize without -ffast-math, and keeps the
  // rounding close to ggml's SIMD accumulation.
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  for (int k = 0; k < 8; ++k) acc[k] += acc[k + 8];
  for (int k = 0; k < 4; ++k) acc[k] += acc[k + 4];
  return (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail;
}

void matmul_rows(const MatView& w, const float* x, int64_t ldx, int64_t n_tok, float* y, int64_t ldy, int64_t r0,
                 int64_t r1, float* scratch) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    const float* wr;
    if (w.type == DType::F32) {
      wr = reinterpret_cast<const float*>(row);
    } else {
      dequantize_row(w.type, row, scratch, w.cols);
      wr = scratch;
    }
    for (int64_t t = 0; t < n_tok; ++t) y[t * ldy + r] = dot_f32(wr, x + t * ldx, w.cols);
  }
}

}  // namespace minnow
