// Matmul kernels, one table per (weight type, instruction set), chosen once at start from the CPU's
// features. Integer kernels take activations quantized per row into an ActRow (int8 values with a float
// scale per 32 and an int16 sum per 16): one format serves every weight type, and its per-32 scale is finer
// than llama.cpp's Q8_K, so it loses less. Float kernels (F32/F16/BF16 weights) take float activations.
// Every kernel is tested against the scalar reference (kernels_ref.cpp) on random inputs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/matmul.h"
#include "tensor/types.h"

namespace minnow {

// ---- quantized activations: one row of n values (n % 32 == 0), laid out as
//      float d[n/32] | int16 bsum[n/16] | int8 q[n]   (row size padded to 64 bytes)
struct ActRow {
  const float* d;       // scale of each 32-block: x ~= d * q
  const int16_t* bsum;  // sum of q over each 16-block (for weight offsets and mins)
  const int8_t* q;
};
size_t act_row_bytes(int64_t n);
inline ActRow act_view(const void* row, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(row);
  return {reinterpret_cast<const float*>(p), reinterpret_cast<const int16_t*>(p + n / 8),
          reinterpret_cast<const int8_t*>(p + n / 4)};
}
// How activations are rounded, copied from llama.cpp so that results track its goldens closely:
//   Q8_0 (for 32-element weight blocks): per 32, d = fp16(max|x| / 127), q = round(x * 127 / max|x|);
//   Q8_K (for 256-element K-quant and IQ4_XS blocks): per 256, iscale = -127 / x[argmax |x|],
//         q = min(127, round(iscale * x)), d = 1 / iscale (stored in all eight 32-slots).
// Rounding is to nearest even, as ggml's SIMD quantizers do.
enum class ActKind { Q8_0, Q8_K };
void quantize_act_ref(const float* x, int64_t n, void* row, ActKind kind);

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };
const char* isa_name(Isa isa);
Isa best_isa();  // of what this CPU and this build support

// y[t * ldy + r] = dot(W row r, activation row t) for r in [r0, r1), t in [0, n_tok).
// `act` is either n_tok ActRows of act_stride bytes, or n_tok float rows of act_stride bytes.
using GemmFn = void (*)(const MatView& w, const void* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                        int64_t r0, int64_t r1);
using QuantizeActFn = void (*)(const float* x, int64_t n, void* row, ActKind kind);

struct Kernel {
  GemmFn gemm = nullptr;
  bool int_act = false;  // activations as ActRow (true) or float (false)
  ActKind act_kind = ActKind::Q8_0;
  Isa isa = Isa::Scalar;
};

// The kernel for a weight type on an instruction set (falls back to the best available lower ISA;
// every type has a scalar kernel). Type must be one with can_dequantize.
Kernel kernel_for(DType t, Isa isa);
inline Kernel kernel_for(DType t) { return kernel_for(t, best_isa()); }
// The kernel for R16-packed weights of type t (tensor/repack.h); gemm is nullptr where this CPU and build have
// none, and then nothing is repacked.
Kernel packed_kernel_for(DType t);
QuantizeActFn quantize_act_for(Isa isa);

// Vector helpers for attention over an F16 KV cache (F16C where the CPU has it).
struct VecOps {
  float (*dot_f16)(const float* a, const uint16_t* b, int64_t n);          // sum a[i] * b[i]
  void (*axpy_f16)(float s, const uint16_t* x, float* y, int64_t n);       // y[i] += s * x[i]
  void (*to_f16)(const float* x, uint16_t* y, int64_t n);                  // round to nearest even
  void (*silu_mul)(float* gate, const float* up, int64_t n);               // gate = silu(gate) * up
  float (*exp_sum)(float* x, int64_t n, float sub);                        // x = exp(x - sub); returns sum
};
const VecOps& vec_ops();

// Per-ISA tables (nullptr where the ISA has no specialised kernel for that type).
namespace kernels {
GemmFn scalar_gemm(DType t);
GemmFn avx2_gemm(DType t);
GemmFn avx512_gemm(DType t);
GemmFn avx512_packed_gemm(DType t);
QuantizeActFn avx2_quantize_act();
QuantizeActFn avx512_quantize_act();
const VecOps* avx2_vec_ops();  // nullptr when not built
extern const VecOps scalar_vec_ops;
}  // namespace kernels

}  // namespace minnow
