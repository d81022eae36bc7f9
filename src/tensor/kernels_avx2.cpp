// AVX2 + FMA + F16C kernels (this file is compiled with -mavx2 -mfma -mf16c; see CMakeLists.txt).
#if defined(__x86_64__) && defined(__AVX2__)
#define MINNOW_VNNI 0
#include "tensor/kernels_x86.inc"
namespace minnow::kernels {
GemmFn avx2_gemm(DType t) { return table(t); }
QuantizeActFn avx2_quantize_act() { return quantize_act_simd; }
const VecOps* avx2_vec_ops() { return &kVecOps; }
}  // namespace minnow::kernels
#else
#include "tensor/kernels.h"
namespace minnow::kernels {
GemmFn avx2_gemm(DType) { return nullptr; }
QuantizeActFn avx2_quantize_act() { return nullptr; }
const VecOps* avx2_vec_ops() { return nullptr; }
}  // namespace minnow::kernels
#endif
