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

}  // namespace minnow
