// R16 repacking (see repack.h): plain code, run once at load; the kernels that read R16 are in
// gemm_packed.inc.
#include "tensor/repack.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace minnow {

namespace {

// Field offsets within one unit.
// codes: the first sub-block pair's codes; stride: bytes from one pair's codes to the next (each unit is read
// front to back, one stream).
struct Q4_0Unit {  // per 32-block j: d[16] f16 at 288j, then its codes
  static constexpr size_t codes = 32, stride = 288, bytes = 2304;
};
struct Q4KUnit {
  static constexpr size_t d = 0, dmin = 32, sc = 64, m = 192, codes = 320, stride = 256, bytes = 2368;
};
struct Q5KUnit {  // codes: see put_q5_codes
  static constexpr size_t d = 0, dmin = 32, sc = 64, m = 192, codes = 320, stride = 320, bytes = 2880;
};
struct Q6KUnit {  // codes: see put_q6_codes
  static constexpr size_t d = 0, sc = 32, codes = 288, stride = 384, bytes = 3360;
};

// ---- one super-block's codes (element order, unsigned) to and from the GGUF blocks ----
void q4k_codes(const BlockQ4_K& b, uint8_t q[256]) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = b.qs[32 * c + l] & 0xF;
      q[64 * c + 32 + l] = b.qs[32 * c + l] >> 4;
    }
}
void q4k_set_codes(BlockQ4_K& b, const uint8_t q[256]) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}
void q5k_codes(const BlockQ5_K& b, uint8_t q[256]) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = static_cast<uint8_t>((b.qs[32 * c + l] & 0xF) | ((b.qh[l] >> (2 * c)) & 1) << 4);
      q[64 * c + 32 + l] = static_cast<uint8_t>((b.qs[32 * c + l] >> 4) | ((b.qh[l] >> (2 * c + 1)) & 1) << 4);
    }
}
void q5k_set_codes(BlockQ5_K& b, const uint8_t q[256]) {
  std::memset(b.qh, 0, sizeof b.qh);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      b.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | (hi & 0xF) << 4);
      b.qh[l] = static_cast<uint8_t>(b.qh[l] | (lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
    }
}
void q6k_codes(const BlockQ6_K& b, uint8_t q[256]) {
  for (int n = 0; n < 2; ++n) {
    const uint8_t* ql = b.ql + 64 * n;
    const uint8_t* qh = b.qh + 32 * n;
    for (int l = 0; l < 32; ++l) {
      q[128 * n + l] = static_cast<uint8_t>((ql[l] & 0xF) | ((qh[l] & 3) << 4));
      q[128 * n + l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
      q[128 * n + l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      q[128 * n + l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}
void q6k_set_codes(BlockQ6_K& b, const uint8_t q[256]) {
  for (int n = 0; n < 2; ++n) {
    uint8_t* ql = b.ql + 64 * n;
    uint8_t* qh = b.qh + 32 * n;
    for (int l = 0; l < 32; ++l) {
      const uint8_t* e = q + 128 * n + l;
      ql[l] = static_cast<uint8_t>((e[0] & 0xF) | (e[64] & 0xF) << 4);
      ql[l + 32] = static_cast<uint8_t>((e[32] & 0xF) | (e[96] & 0xF) << 4);
      qh[l] = static_cast<uint8_t>((e[0] >> 4) | (e[32] >> 4) << 2 | (e[64] >> 4) << 4 | (e[96] >> 4) << 6);
    }
  }
}
// Inverse of unpack_scale_min_k4 (quant_blocks.h): every bit of the 12 bytes belongs to one of the 16 values.
void pack_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 4; ++j) {
    out[j] = sc[j] & 63;
    out[j + 4] = m[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    out[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | (m[j] & 0xF) << 4);
    out[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    out[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
  }
}

// ---- 4-bit codes of one row into / out of a unit's nibble-pair vectors (Q4_0, Q4_K) ----
// Four elements at a time as one 32-bit word (this runs over every weight at load).
template <class U>
void put_codes(uint8_t* unit, int r, const uint8_t q[256]) {
  auto ld = [](const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; };
  auto st = [](uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); };
  for (int j = 0; j < 8; ++j) {
    for (int v = 0; v < 4; ++v) {
      const uint32_t lo = ld(q + 32 * j + 4 * v), hi = ld(q + 32 * j + 16 + 4 * v);
      st(unit + U::codes + U::stride * j + 64 * v + 4 * r, (lo & 0x0F0F0F0Fu) | (hi & 0x0F0F0F0Fu) << 4);
    }
  }
}
template <class U>
void get_codes(const uint8_t* unit, int r, uint8_t q[256]) {
  for (int j = 0; j < 8; ++j)
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 4; ++i) {
        const uint8_t b = unit[U::codes + U::stride * j + 64 * v + 4 * r + i];
        q[32 * j + 4 * v + i] = b & 0xF;
        q[32 * j + 16 + 4 * v + i] = b >> 4;
      }
}

// Q5_K: per pair j, five 64-byte vectors S0..S4 hold the eight code vectors c[v] (elements 32j + 16 (v / 4) +
// 4 (v % 4) + i): c[0..4] in bits 0-4, c[5] in S0 bits 5-7 and S1 bits 5-6, c[6] likewise in S2 and S3, c[7] in
// S4 bits 5-7, S1 bit 7 and S3 bit 7.
void put_q5_codes(uint8_t* unit, int r, const uint8_t q[256]) {
  for (int j = 0; j < 8; ++j) {
    uint8_t* out = unit + Q5KUnit::codes + Q5KUnit::stride * j + 4 * r;
    for (int i = 0; i < 4; ++i) {
      uint8_t c[8];
      for (int v = 0; v < 8; ++v) c[v] = q[32 * j + 16 * (v / 4) + 4 * (v % 4) + i];
      const uint8_t s[5] = {
          static_cast<uint8_t>(c[0] | (c[5] & 7) << 5),
          static_cast<uint8_t>(c[1] | ((c[5] >> 3) & 3) << 5 | ((c[7] >> 3) & 1) << 7),
          static_cast<uint8_t>(c[2] | (c[6] & 7) << 5),
          static_cast<uint8_t>(c[3] | ((c[6] >> 3) & 3) << 5 | ((c[7] >> 4) & 1) << 7),
          static_cast<uint8_t>(c[4] | (c[7] & 7) << 5)};
      for (int k = 0; k < 5; ++k) out[64 * k + i] = s[k];
    }
  }
}
void get_q5_codes(const uint8_t* unit, int r, uint8_t q[256]) {
  for (int j = 0; j < 8; ++j) {
    const uint8_t* in = unit + Q5KUnit::codes + Q5KUnit::stride * j + 4 * r;
    for (int i = 0; i < 4; ++i) {
      uint8_t s[5], c[8];
      for (int k = 0; k < 5; ++k) s[k] = in[64 * k + i], c[k] = s[k] & 0x1F;
      c[5] = static_cast<uint8_t>(s[0] >> 5 | ((s[1] >> 5) & 3) << 3);
      c[6] = static_cast<uint8_t>(s[2] >> 5 | ((s[3] >> 5) & 3) << 3);
      c[7] = static_cast<uint8_t>(s[4] >> 5 | (s[1] >> 7) << 3 | (s[3] >> 7) << 4);
      for (int v = 0; v < 8; ++v) q[32 * j + 16 * (v / 4) + 4 * (v % 4) + i] = c[v];
    }
  }
}

// Q6_K: per pair j, the low-nibble-position codes (vectors v = 0..3, elements 32j+4v+i) and then the
// high-nibble-position ones (32j+16+4v+i), each as three 64-byte vectors: v = 0, 1, 2 in bits 0-5 and v = 3's
// bits 0-1, 2-3, 4-5 in bits 6-7 of the three.
void put_q6_codes(uint8_t* unit, int r, const uint8_t q[256]) {
  for (int j = 0; j < 8; ++j)
    for (int half = 0; half < 2; ++half) {
      uint8_t* out = unit + Q6KUnit::codes + Q6KUnit::stride * j + 192 * half + 4 * r;
      for (int i = 0; i < 4; ++i) {
        const uint8_t* e = q + 32 * j + 16 * half + i;  // element of vector v: e[4 * v]
        for (int s = 0; s < 3; ++s) out[64 * s + i] = static_cast<uint8_t>(e[4 * s] | ((e[12] >> (2 * s)) & 3) << 6);
      }
    }
}
void get_q6_codes(const uint8_t* unit, int r, uint8_t q[256]) {
  for (int j = 0; j < 8; ++j)
    for (int half = 0; half < 2; ++half) {
      const uint8_t* in = unit + Q6KUnit::codes + Q6KUnit::stride * j + 192 * half + 4 * r;
      for (int i = 0; i < 4; ++i) {
        uint8_t* e = q + 32 * j + 16 * half + i;
        e[12] = 0;
        for (int s = 0; s < 3; ++s) {
          e[4 * s] = in[64 * s + i] & 0x3F;
          e[12] = static_cast<uint8_t>(e[12] | (in[64 * s + i] >> 6) << (2 * s));
        }
      }
    }
}

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Q4_K and Q5_K share their scale fields.
template <class U, class B>
void put_k4_scales(uint8_t* unit, int r, const B& b) {
  store_u16(unit + U::d + 2 * r, b.d);
  store_u16(unit + U::dmin + 2 * r, b.dmin);
  for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, b.scales, unit[U::sc + 16 * j + r], unit[U::m + 16 * j + r]);
}
template <class U, class B>
void get_k4_scales(const uint8_t* unit, int r, B& b) {
  b.d = load_u16(unit + U::d + 2 * r);
  b.dmin = load_u16(unit + U::dmin + 2 * r);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) sc[j] = unit[U::sc + 16 * j + r], m[j] = unit[U::m + 16 * j + r];
  pack_scale_min_k4(sc, m, b.scales);
}

// One row's 256 columns (src: its GGUF blocks) into / out of a unit.
void put_row(DType t, const uint8_t* src, uint8_t* unit, int r) {
  uint8_t q[256];
  switch (t) {
    case DType::F16:  // [column][16 rows]
      for (int k = 0; k < 256; ++k) std::memcpy(unit + 32 * k + 2 * r, src + 2 * k, 2);
      return;
    case DType::BF16:  // [column pair][16 rows][2]
      for (int k = 0; k < 256; k += 2) std::memcpy(unit + 32 * k + 4 * r, src + 2 * k, 4);
      return;
    case DType::Q8_0:  // per 32-block j at 544j: d[16] f16, then 8 x [16 rows x 4 codes], stored as q + 128
      for (int j = 0; j < 8; ++j) {
        const uint8_t* b = src + j * sizeof(BlockQ8_0);
        std::memcpy(unit + 544 * j + 2 * r, b, 2);
        for (int g = 0; g < 8; ++g) {
          uint32_t v;
          std::memcpy(&v, b + 2 + 4 * g, 4);
          v ^= 0x80808080u;
          std::memcpy(unit + 544 * j + 32 + 64 * g + 4 * r, &v, 4);
        }
      }
      return;
    case DType::Q4_0:
      for (int j = 0; j < 8; ++j) {
        BlockQ4_0 b;
        std::memcpy(&b, src + j * sizeof b, sizeof b);
        store_u16(unit + Q4_0Unit::stride * j + 2 * r, b.d);
        for (int l = 0; l < 16; ++l) q[32 * j + l] = b.qs[l] & 0xF, q[32 * j + 16 + l] = b.qs[l] >> 4;
      }
      return put_codes<Q4_0Unit>(unit, r, q);
    case DType::Q4_K: {
      BlockQ4_K b;
      std::memcpy(&b, src, sizeof b);
      put_k4_scales<Q4KUnit>(unit, r, b);
      q4k_codes(b, q);
      return put_codes<Q4KUnit>(unit, r, q);
    }
    case DType::Q5_K: {
      BlockQ5_K b;
      std::memcpy(&b, src, sizeof b);
      put_k4_scales<Q5KUnit>(unit, r, b);
      q5k_codes(b, q);
      return put_q5_codes(unit, r, q);
    }
    default: {  // Q6_K
      BlockQ6_K b;
      std::memcpy(&b, src, sizeof b);
      store_u16(unit + Q6KUnit::d + 2 * r, b.d);
      for (int s = 0; s < 16; ++s) unit[Q6KUnit::sc + 16 * s + r] = static_cast<uint8_t>(b.scales[s]);
      q6k_codes(b, q);
      return put_q6_codes(unit, r, q);
    }
  }
}
void get_row(DType t, const uint8_t* unit, int r, uint8_t* out) {
  uint8_t q[256];
  switch (t) {
    case DType::F16:
      for (int k = 0; k < 256; ++k) std::memcpy(out + 2 * k, unit + 32 * k + 2 * r, 2);
      return;
    case DType::BF16:
      for (int k = 0; k < 256; k += 2) std::memcpy(out + 2 * k, unit + 32 * k + 4 * r, 4);
      return;
    case DType::Q8_0:
      for (int j = 0; j < 8; ++j) {
        uint8_t* b = out + j * sizeof(BlockQ8_0);
        std::memcpy(b, unit + 544 * j + 2 * r, 2);
        for (int g = 0; g < 8; ++g) {
          uint32_t v;
          std::memcpy(&v, unit + 544 * j + 32 + 64 * g + 4 * r, 4);
          v ^= 0x80808080u;
          std::memcpy(b + 2 + 4 * g, &v, 4);
        }
      }
      return;
    case DType::Q4_0:
      get_codes<Q4_0Unit>(unit, r, q);
      for (int j = 0; j < 8; ++j) {
        BlockQ4_0 b;
        b.d = load_u16(unit + Q4_0Unit::stride * j + 2 * r);
        for (int l = 0; l < 16; ++l) b.qs[l] = static_cast<uint8_t>(q[32 * j + l] | q[32 * j + 16 + l] << 4);
        std::memcpy(out + j * sizeof b, &b, sizeof b);
      }
      return;
    case DType::Q4_K: {
      BlockQ4_K b;
      get_k4_scales<Q4KUnit>(unit, r, b);
      get_codes<Q4KUnit>(unit, r, q);
      q4k_set_codes(b, q);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case DType::Q5_K: {
      BlockQ5_K b;
      get_k4_scales<Q5KUnit>(unit, r, b);
      get_q5_codes(unit, r, q);
      q5k_set_codes(b, q);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    default: {
      BlockQ6_K b;
      b.d = load_u16(unit + Q6KUnit::d + 2 * r);
      for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(unit[Q6KUnit::sc + 16 * s + r]);
      get_q6_codes(unit, r, q);
      q6k_set_codes(b, q);
      std::memcpy(out, &b, sizeof b);
    }
  }
}

}  // namespace

size_t packed_unit_bytes(DType t) {
  switch (t) {
    case DType::F16:
    case DType::BF16: return 8192;
    case DType::Q8_0: return 4352;
    case DType::Q4_0: return Q4_0Unit::bytes;
    case DType::Q4_K: return Q4KUnit::bytes;
    case DType::Q5_K: return Q5KUnit::bytes;
    case DType::Q6_K: return Q6KUnit::bytes;
    default: return 0;
  }
}

bool repack_supported(DType t, int64_t rows, int64_t cols) {
  static const bool enabled = [] {
    const char* e = std::getenv("MINNOW_REPACK");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return enabled && packed_unit_bytes(t) != 0 && rows > 0 && rows % kPackRows == 0 && cols > 0 &&
         cols % kPackCols == 0 && packed_kernel_for(t).gemm != nullptr;
}

void repack_rows(DType t, const uint8_t* src, size_t row_bytes, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
  const size_t ub = packed_unit_bytes(t);
  const size_t src_unit = minnow::row_bytes(t, kPackCols);  // GGUF bytes of 256 columns of one row
  const int64_t units = cols / kPackCols;
  for (int64_t g = g0; g < g1; ++g)
    for (int64_t u = 0; u < units; ++u) {
      uint8_t* unit = dst + static_cast<size_t>(g * units + u) * ub;
      std::memset(unit, 0, ub);
      for (int r = 0; r < kPackRows; ++r)
        put_row(t, src + static_cast<size_t>(g * kPackRows + r) * row_bytes + u * src_unit, unit, r);
    }
}

void unpack_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, uint8_t* out) {
  const size_t ub = packed_unit_bytes(t);
  const size_t src_unit = row_bytes(t, kPackCols);
  const int64_t units = cols / kPackCols;
  const int64_t g = r / kPackRows;
  for (int64_t u = 0; u < units; ++u)
    get_row(t, packed + static_cast<size_t>(g * units + u) * ub, static_cast<int>(r % kPackRows), out + u * src_unit);
}

void dequantize_packed_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, float* out) {
  thread_local std::vector<uint8_t> row;  // reused: embedding lookups run once per token
  row.resize(row_bytes(t, cols));
  unpack_row(t, packed, cols, r, row.data());
  dequantize_row(t, row.data(), out, cols);
}

}  // namespace minnow
