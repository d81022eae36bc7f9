// Reference (scalar) dequantization, bit-exact with ggml's to_float.
//
// Each function mirrors ggml's dequantize_row_* operation for operation, e.g. Q4_K computes
// (d * sc) * q - (dmin * m). Worth knowing for faster kernels: every float product made here is
// exact. The fp16 scale has 11 significant bits and the integers it is multiplied by are small
// (|sc * q| <= 4096 in Q6_K, the largest case), so no product needs more than float's 24 bits.
// Hence the products may be grouped in any order (d * (sc * q) equals (d * sc) * q) and a fused
// multiply-add gives the same result as a multiply then an add: the one rounding that matters is
// the final add or subtract of Q4_1, Q5_1, Q2_K, Q4_K and Q5_K (tests/test_dequant.cpp checks this).
#include <bit>
#include <cstring>

#include "common/error.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/types.h"

static_assert(std::endian::native == std::endian::little, "GGUF data is little-endian");

namespace minnow {
namespace {

void dequant_block(const BlockQ4_0& b, float* y) {
  const float d = fp16_to_f32(b.d);
  for (int j = 0; j < QK4_0 / 2; ++j) {
    const int x0 = (b.qs[j] & 0x0F) - 8;
    const int x1 = (b.qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + QK4_0 / 2] = static_cast<float>(x1) * d;
  }
}

void dequant_block(const BlockQ4_1& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const float m = fp16_to_f32(b.m);
  for (int j = 0; j < QK4_1 / 2; ++j) {
    const int x0 = b.qs[j] & 0x0F;
    const int x1 = b.qs[j] >> 4;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + QK4_1 / 2] = static_cast<float>(x1) * d + m;
  }
}

// Bit i of the little-endian 32-bit word qh is the 5th bit of element i.
uint32_t load_qh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

void dequant_block(const BlockQ5_0& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const uint32_t qh = load_qh(b.qh);
  for (int j = 0; j < QK5_0 / 2; ++j) {
    const int h0 = ((qh >> j) & 1) << 4;
    const int h1 = ((qh >> (j + QK5_0 / 2)) & 1) << 4;
    const int x0 = ((b.qs[j] & 0x0F) | h0) - 16;
    const int x1 = ((b.qs[j] >> 4) | h1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + QK5_0 / 2] = static_cast<float>(x1) * d;
  }
}

void dequant_block(const BlockQ5_1& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const float m = fp16_to_f32(b.m);
  const uint32_t qh = load_qh(b.qh);
  for (int j = 0; j < QK5_1 / 2; ++j) {
    const int h0 = ((qh >> j) & 1) << 4;
    const int h1 = ((qh >> (j + QK5_1 / 2)) & 1) << 4;
    const int x0 = (b.qs[j] & 0x0F) | h0;
    const int x1 = (b.qs[j] >> 4) | h1;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + QK5_1 / 2] = static_cast<float>(x1) * d + m;
  }
}

void dequant_block(const BlockQ8_0& b, float* y) {
  const float d = fp16_to_f32(b.d);
  for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

void dequant_block(const BlockQ2_K& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const float dmin = fp16_to_f32(b.dmin);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int k = 0; k < 4; ++k) {        // bit pair k of q[0..31] -> elements 32k .. 32k+31
      for (int sub = 0; sub < 2; ++sub) {  // two 16-element sub-blocks, each with its own scale
        const uint8_t sc = b.scales[8 * half + 2 * k + sub];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) {
          const int x = (q[16 * sub + l] >> (2 * k)) & 3;
          *y++ = dl * static_cast<float>(x) - ml;
        }
      }
    }
  }
}

void dequant_block(const BlockQ3_K& b, float* y) {
  const float d = fp16_to_f32(b.d);
  uint8_t scales[16];
  unpack_q3_k_scales(b.scales, scales);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int k = 0; k < 4; ++k) {
      const int hbit = 4 * half + k;  // which bit of hmask[l] is the high bit
      for (int sub = 0; sub < 2; ++sub) {
        const float dl = d * static_cast<float>(scales[8 * half + 2 * k + sub] - 32);
        for (int l = 16 * sub; l < 16 * sub + 16; ++l) {
          const int low = (q[l] >> (2 * k)) & 3;
          const int x = low - (((b.hmask[l] >> hbit) & 1) ? 0 : 4);
          *y++ = dl * static_cast<float>(x);
        }
      }
    }
  }
}

void dequant_block(const BlockQ4_K& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const float dmin = fp16_to_f32(b.dmin);
  for (int chunk = 0; chunk < 4; ++chunk) {  // 64 elements: sub-blocks 2*chunk and 2*chunk+1
    const uint8_t* q = b.qs + 32 * chunk;
    uint8_t sc, m;
    unpack_scale_min_k4(2 * chunk, b.scales, sc, m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    unpack_scale_min_k4(2 * chunk + 1, b.scales, sc, m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

void dequant_block(const BlockQ5_K& b, float* y) {
  const float d = fp16_to_f32(b.d);
  const float dmin = fp16_to_f32(b.dmin);
  for (int chunk = 0; chunk < 4; ++chunk) {
    const uint8_t* q = b.qs + 32 * chunk;
    uint8_t sc, m;
    unpack_scale_min_k4(2 * chunk, b.scales, sc, m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    unpack_scale_min_k4(2 * chunk + 1, b.scales, sc, m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int x = (q[l] & 0xF) | (((b.qh[l] >> (2 * chunk)) & 1) << 4);
      *y++ = d1 * static_cast<float>(x) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int x = (q[l] >> 4) | (((b.qh[l] >> (2 * chunk + 1)) & 1) << 4);
      *y++ = d2 * static_cast<float>(x) - m2;
    }
  }
}

void dequant_block(const BlockQ6_K& b, float* y) {
  const float d = fp16_to_f32(b.d);
  for (int half = 0; half < 2; ++half) {  // 128 elements from 64 bytes of ql and 32 of qh
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* sc = b.scales + 8 * half;
    float* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      // ggml evaluates d * sc * q left to right: (d * sc) * q.
      out[l] = (d * static_cast<float>(sc[s + 0])) * static_cast<float>(q1);
      out[l + 32] = (d * static_cast<float>(sc[s + 2])) * static_cast<float>(q2);
      out[l + 64] = (d * static_cast<float>(sc[s + 4])) * static_cast<float>(q3);
      out[l + 96] = (d * static_cast<float>(sc[s + 6])) * static_cast<float>(q4);
    }
  }
}

void dequant_block(const BlockIQ4_NL& b, float* y) {
  const float d = fp16_to_f32(b.d);
  for (int j = 0; j < QK4_NL / 2; ++j) {
    y[j] = d * static_cast<float>(kvalues_iq4nl[b.qs[j] & 0xF]);
    y[j + QK4_NL / 2] = d * static_cast<float>(kvalues_iq4nl[b.qs[j] >> 4]);
  }
}

void dequant_block(const BlockIQ4_XS& b, float* y) {
  const float d = fp16_to_f32(b.d);
  for (int s = 0; s < QK_K / 32; ++s) {
    const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | (((b.scales_h >> (2 * s)) & 3) << 4);
    const float dl = d * static_cast<float>(ls - 32);
    const uint8_t* qs = b.qs + 16 * s;
    for (int j = 0; j < 16; ++j) {
      y[32 * s + j] = dl * static_cast<float>(kvalues_iq4nl[qs[j] & 0xF]);
      y[32 * s + j + 16] = dl * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
    }
  }
}

// Blocks are copied out with memcpy, so src needs no particular alignment.
template <typename Block>
void dequant_blocks(const void* src, float* dst, int64_t n, int64_t block_size) {
  const auto* p = static_cast<const uint8_t*>(src);
  const int64_t nb = n / block_size;
  for (int64_t i = 0; i < nb; ++i) {
    Block b;
    std::memcpy(&b, p + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
    dequant_block(b, dst + i * block_size);
  }
}

template <float (*convert)(uint16_t)>
void dequant_16bit(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = convert(h);
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const TypeInfo* ti = type_info(static_cast<uint32_t>(t));
  if (ti == nullptr) fail("dequantize_row: unknown ggml type id ", static_cast<uint32_t>(t));
  if (n < 0 || n % ti->block_size != 0)
    fail("dequantize_row: ", n, " elements is not a whole number of ", ti->name, " blocks (",
         ti->block_size, " elements each)");
  switch (t) {
    case DType::F32: if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::F16: return dequant_16bit<fp16_to_f32>(src, dst, n);
    case DType::BF16: return dequant_16bit<bf16_to_f32>(src, dst, n);
    case DType::Q4_0: return dequant_blocks<BlockQ4_0>(src, dst, n, QK4_0);
    case DType::Q4_1: return dequant_blocks<BlockQ4_1>(src, dst, n, QK4_1);
    case DType::Q5_0: return dequant_blocks<BlockQ5_0>(src, dst, n, QK5_0);
    case DType::Q5_1: return dequant_blocks<BlockQ5_1>(src, dst, n, QK5_1);
    case DType::Q8_0: return dequant_blocks<BlockQ8_0>(src, dst, n, QK8_0);
    case DType::Q2_K: return dequant_blocks<BlockQ2_K>(src, dst, n, QK_K);
    case DType::Q3_K: return dequant_blocks<BlockQ3_K>(src, dst, n, QK_K);
    case DType::Q4_K: return dequant_blocks<BlockQ4_K>(src, dst, n, QK_K);
    case DType::Q5_K: return dequant_blocks<BlockQ5_K>(src, dst, n, QK_K);
    case DType::Q6_K: return dequant_blocks<BlockQ6_K>(src, dst, n, QK_K);
    case DType::IQ4_NL: return dequant_blocks<BlockIQ4_NL>(src, dst, n, QK4_NL);
    case DType::IQ4_XS: return dequant_blocks<BlockIQ4_XS>(src, dst, n, QK_K);
    default: break;
  }
  fail("dequantize_row: no dequantizer for tensor type ", ti->name);
}

}  // namespace minnow
