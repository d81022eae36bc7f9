// Block layouts of the ggml quantized types, byte-for-byte as ggml's ggml-common.h lays them out
// (and hence as they are stored in GGUF files). Half-precision scales are kept as raw uint16_t
// bits; convert them with fp16_to_f32 (tensor/fp16.h).
//
// Every struct holds only uint8_t / int8_t / uint16_t members in an order that leaves no padding,
// so sizeof equals the on-disk block size (checked below) and alignof is at most 2. Tensor data
// in a GGUF file is 32-byte aligned and every block size is even, so blocks in a mapped file are
// suitably aligned; code that cannot be sure of that should memcpy a block out first.
//
// Shared by the reference dequantizer (tensor/dequant.cpp), the SIMD kernels and the quantizer.
#pragma once
#include <cstdint>

namespace minnow {

// Elements per block.
inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK4_NL = 32;
inline constexpr int QK_K = 256;         // elements per "super-block" of the K-quants and IQ4_XS
inline constexpr int K_SCALE_SIZE = 12;  // bytes of packed 6-bit scales/mins in Q4_K and Q5_K

// Q4_0: x = d * (q - 8), q a 4-bit unsigned. qs[j] holds element j in its low nibble and
// element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;               // scale (fp16)
  uint8_t qs[QK4_0 / 2];    // 4-bit quants, two per byte
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: x = d * q + m, q a 4-bit unsigned; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;               // scale (fp16)
  uint16_t m;               // minimum (fp16)
  uint8_t qs[QK4_1 / 2];    // 4-bit quants, two per byte
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: x = d * (q - 16), q a 5-bit unsigned: low 4 bits in qs (nibble order as Q4_0),
// bit 4 of element j is bit j of the little-endian 32-bit word qh.
struct BlockQ5_0 {
  uint16_t d;               // scale (fp16)
  uint8_t qh[4];            // 5th bits, little-endian uint32
  uint8_t qs[QK5_0 / 2];    // low 4 bits, two per byte
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: x = d * q + m, q a 5-bit unsigned laid out as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;               // scale (fp16)
  uint16_t m;               // minimum (fp16)
  uint8_t qh[4];            // 5th bits, little-endian uint32
  uint8_t qs[QK5_1 / 2];    // low 4 bits, two per byte
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q8_0: x = d * q, q a signed byte.
struct BlockQ8_0 {
  uint16_t d;               // scale (fp16)
  int8_t qs[QK8_0];         // quants
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q2_K: 16 sub-blocks of 16. x = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4), q 2 bits.
// Each 128-element half uses 32 bytes of qs: bits 2k..2k+1 of byte l hold its element 32k + l.
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];  // low nibble: 4-bit scale, high nibble: 4-bit min, per sub-block
  uint8_t qs[QK_K / 4];       // 2-bit quants, four per byte
  uint16_t d;                 // super-block scale of the scales (fp16)
  uint16_t dmin;              // super-block scale of the mins (fp16)
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16. x = d * (scale[s] - 32) * (q - (hmask bit ? 0 : 4)), q the 2 low bits
// laid out as in Q2_K; the high bit of element 32k + l (k = 0..7) is bit k of hmask[l].
// The 16 6-bit scales are packed into 12 bytes; see unpack_q3_k_scales.
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];  // high bit of the quants
  uint8_t qs[QK_K / 4];     // low 2 bits of the quants, four per byte
  uint8_t scales[12];       // 16 6-bit scales, packed
  uint16_t d;               // super-block scale (fp16)
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32. x = d * sc[s] * q - dmin * m[s], q 4 bits; each 64-element chunk
// uses 32 bytes of qs, low nibbles for its first 32 elements, high nibbles for the next 32.
// sc and m are 6-bit, packed into `scales`; see unpack_scale_min_k4.
struct BlockQ4_K {
  uint16_t d;                     // super-block scale of the scales (fp16)
  uint16_t dmin;                  // super-block scale of the mins (fp16)
  uint8_t scales[K_SCALE_SIZE];   // 8 6-bit scales and 8 6-bit mins, packed
  uint8_t qs[QK_K / 2];           // 4-bit quants, two per byte
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: as Q4_K with a 5th bit per quant: for the 64-element chunk c, the 5th bit of element l of
// its low-nibble half is bit 2c of qh[l], of its high-nibble half bit 2c + 1.
struct BlockQ5_K {
  uint16_t d;                     // super-block scale of the scales (fp16)
  uint16_t dmin;                  // super-block scale of the mins (fp16)
  uint8_t scales[K_SCALE_SIZE];   // 8 6-bit scales and 8 6-bit mins, packed
  uint8_t qh[QK_K / 8];           // 5th bits
  uint8_t qs[QK_K / 2];           // low 4 bits, two per byte
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16. x = d * scales[s] * (q - 32), q 6 bits: low 4 in ql, high 2 in qh.
// Each 128-element half uses 64 bytes of ql and 32 of qh (see dequant.cpp for the exact order).
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];     // low 4 bits of the quants
  uint8_t qh[QK_K / 4];     // high 2 bits of the quants
  int8_t scales[QK_K / 16]; // 8-bit signed sub-block scales
  uint16_t d;               // super-block scale (fp16)
};
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_NL: x = d * kvalues_iq4nl[q], q a 4-bit index; nibble order as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;               // scale (fp16)
  uint8_t qs[QK4_NL / 2];   // 4-bit indices, two per byte
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// IQ4_XS: 8 sub-blocks of 32. x = d * (ls[s] - 32) * kvalues_iq4nl[q]; the 6-bit ls[s] has its
// low 4 bits in nibble s%2 of scales_l[s/2] and its high 2 bits at bit 2s of scales_h.
// Each sub-block uses 16 bytes of qs in the Q4_0 nibble order.
struct BlockIQ4_XS {
  uint16_t d;                   // super-block scale (fp16)
  uint16_t scales_h;            // high 2 bits of the 8 sub-block scales
  uint8_t scales_l[QK_K / 64];  // low 4 bits of the 8 sub-block scales
  uint8_t qs[QK_K / 2];         // 4-bit indices, two per byte
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// The 16 non-uniform levels of IQ4_NL and IQ4_XS.
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

// Q4_K / Q5_K: the 6-bit scale `sc` and min `m` of sub-block j (0..7) from the packed 12 bytes.
// Bytes 0-3: scales 0-3 in the low 6 bits; bytes 4-7: mins 0-3 in the low 6 bits; bytes 8-11:
// low nibble = low 4 bits of scale j, high nibble = low 4 bits of min j (j = 4..7), whose high
// 2 bits are the top bits of bytes j-4 (scale) and j (min).
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K: the 16 6-bit scales (still biased by 32) from the packed 12 bytes. Bytes 0-7 hold the
// low 4 bits (scale s < 8 in the low nibble of byte s, scale s >= 8 in the high nibble of byte
// s - 8); bytes 8-11 hold the high 2 bits: bit pair 2k of byte 8 + i belongs to scale 4k + i.
inline void unpack_q3_k_scales(const uint8_t* packed, uint8_t out[16]) {
  for (int s = 0; s < 16; ++s) {
    const int low = (s < 8 ? packed[s] : packed[s - 8] >> 4) & 0xF;
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    out[s] = static_cast<uint8_t>(low | (high << 4));
  }
}

}  // namespace minnow
