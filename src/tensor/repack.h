// Weights repacked at load into a 16-row interleaved layout ("R16") for the AVX-512 kernels.
//
// Why: a GGUF matrix stores each row's blocks one after another, so a matrix x vector kernel pays a block's
// scale unpacking and float scaling once per row, and reading several rows at once means several memory
// streams. R16 stores 16 rows together, one 256-column unit after another, with every field laid out
// [.. field ..][16 rows]: one 64-byte load gives the same 4 elements of 16 rows, ready for vpdpbusd with the
// activation broadcast, and one vector op scales 16 rows. Decode reads one sequential stream and spends
// about a third of the instructions per weight. The bytes are the same codes and scales as the GGUF blocks,
// rearranged (the 6-bit K-quant scales one per byte): unpack_row() gives back the original blocks bit for bit.
//
// Layouts of one unit (16 rows x 256 columns), all little-endian:
//   F16 (8192 bytes): [column][16 rows]
//   BF16 (8192 bytes): [column pair][16 rows][2], the operand order of AVX512-BF16's vdpbf16ps
//   Q8_0 (4352 bytes): 8 x (d[16] f16 of 32-block j | 8 x [16 rows x 4 codes] of j, each code stored + 128)
//   Q4_0 (2304 bytes): 8 x (d[16] f16 of 32-block j | codes of j (256))
//   Q4_K (2368 bytes): d[16] f16 | dmin[16] f16 | sc[8 sub][16] u8 | m[8 sub][16] u8 | codes (2048)
//   Q5_K (2880 bytes): as Q4_K's scales, then 8 x (5-bit codes of pair j, 320): five vectors [16 rows x 4] hold
//          the eight code vectors c[v] (elements 32j + 16(v/4) + 4(v%4) + i): c[0..4] in bits 0-4, c[5..7] in
//          the top 3 bits (19 vector ops give all eight; repack.cpp has the exact bits)
//   Q6_K (3360 bytes): d[16] f16 | sc[16 sub][16] i8 | 8 x (6-bit codes of pair j, 384): for each half (elements
//          32j+4v+i, then 32j+16+4v+i), three vectors [16 rows x 4]: v = 0, 1, 2 in bits 0-5, and v = 3's bits
//          0-1, 2-3, 4-5 in bits 6-7 of the first, second, third (nine vector ops give all four)
//   codes: for each 32-element sub-block pair j and v = 0..3, 64 bytes: byte 4r+i holds in its low nibble
//          element 32j+4v+i of row r and in its high nibble element 32j+16+4v+i.
//   Each unit is read front to back, one stream.
// Only matrices whose row count is a multiple of 16 and row length a multiple of 256 are repacked, and only
// on CPUs with AVX-512 VNNI (and AVX512-BF16 for BF16), the only kernels that read R16. Everything else keeps the
// GGUF layout.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace minnow {

inline constexpr int kPackRows = 16;
inline constexpr int kPackCols = 256;

// Whether this build and CPU run `t` repacked, for a rows x cols matrix. MINNOW_REPACK=0 turns it off.
bool repack_supported(DType t, int64_t rows, int64_t cols);
// Bytes of one 16-row x 256-column unit of type t (0 if t has no R16 layout).
size_t packed_unit_bytes(DType t);
inline size_t packed_bytes(DType t, int64_t rows, int64_t cols) {
  return packed_unit_bytes(t) * static_cast<size_t>(rows / kPackRows) * static_cast<size_t>(cols / kPackCols);
}
// Row groups [g0, g1) (16 rows each) of a GGUF matrix (rows of row_bytes) into dst (the whole packed matrix).
void repack_rows(DType t, const uint8_t* src, size_t row_bytes, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst);
// The GGUF blocks of row r, recovered from the packed matrix (row_bytes(t, cols) bytes into out).
void unpack_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, uint8_t* out);
// Row r dequantized to floats (bit-exact with dequantize_row on the original row).
void dequantize_packed_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, float* out);

}  // namespace minnow
