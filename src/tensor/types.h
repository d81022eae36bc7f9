// Tensor element types, numbered exactly as ggml/GGUF number them, with their block layouts.
// A "block" is the unit a quantized type is stored in: block_size elements in type_size bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace minnow {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeInfo {
  const char* name;
  int64_t block_size;  // elements per block
  int64_t type_size;   // bytes per block
  bool can_dequantize; // minnow has a reference dequantizer for it
};

// nullptr when `id` is not a ggml type we know the layout of.
const TypeInfo* type_info(uint32_t id);
inline const TypeInfo& type_info(DType t) { return *type_info(static_cast<uint32_t>(t)); }
inline const char* type_name(DType t) { return type_info(t).name; }

// Bytes of one row of n elements (n must be a multiple of the block size).
inline size_t row_bytes(DType t, int64_t n) {
  const TypeInfo& ti = type_info(t);
  return static_cast<size_t>(n / ti.block_size * ti.type_size);
}

// Byte offsets of the fp16 scale fields within one block of a quantized type (d, and dmin/m where the type
// has one); empty for float types. Used to fill random blocks with sane scales (synth, tests).
std::vector<int> fp16_scale_offsets(DType t);

// Reference (scalar) dequantization of n elements, n a multiple of the block size.
// Bit-exact with ggml's to_float. Implemented in tensor/dequant.cpp.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace minnow
