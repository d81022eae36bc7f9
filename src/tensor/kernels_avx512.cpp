// AVX-512 (VL/BW/VNNI) kernels: the AVX2 source with vpdpbusd for the u8 x s8 dot products, plus the
// 512-bit panel GEMM for batches (gemm_panel.inc) and the kernels over R16-packed weights (gemm_packed.inc)
// (this file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; see CMakeLists.txt).
#if defined(__x86_64__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define MINNOW_VNNI 1
#include <cstdlib>
#include <vector>
#include "tensor/kernels_x86.inc"
#include "tensor/fp16.h"
#include "tensor/repack.h"
namespace minnow {
namespace {
#include "tensor/gemm_panel.inc"
#include "tensor/gemm_packed.inc"
}  // namespace
}  // namespace minnow
namespace minnow::kernels {
GemmFn avx512_gemm(DType t) { return panel_table(t); }
GemmFn avx512_packed_gemm(DType t) { return packed_table(t); }
QuantizeActFn avx512_quantize_act() { return quantize_act_simd; }
}  // namespace minnow::kernels
#else
#include "tensor/kernels.h"
namespace minnow::kernels {
GemmFn avx512_gemm(DType) { return nullptr; }
GemmFn avx512_packed_gemm(DType) { return nullptr; }
QuantizeActFn avx512_quantize_act() { return nullptr; }
}  // namespace minnow::kernels
#endif
