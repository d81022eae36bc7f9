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
// codes: the first sub-block pair's codes; stride: bytes from one pair's codes to the next; high: the first
// pair's top bits (Q6_K; they follow that pair's codes, so a unit is read front to back in one pass).
struct Q4KUnit {
  static constexpr size_t d = 0, dmin = 32, sc = 64, m = 192, codes = 320, stride = 256, high = 0, bytes = 2368;
};
struct Q6KUnit {
  static constexpr size_t d = 0, sc = 32, codes = 288, stride = 384, high = 544, bytes = 3360;
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

// ---- codes of one row into / out of the unit's shared nibble (and Q6_K high-bit) fields ----
template <class U>
void put_codes(uint8_t* unit, int r, const uint8_t q[256]) {
  for (int j = 0; j < 8; ++j)
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 4; ++i) {
        const uint8_t lo = q[32 * j + 4 * v + i], hi = q[32 * j + 16 + 4 * v + i];
        unit[U::codes + U::stride * j + 64 * v + 4 * r + i] = static_cast<uint8_t>((lo & 0xF) | (hi & 0xF) << 4);
        if (U::high) {
          uint8_t& h = unit[U::high + U::stride * j + 64 * (v / 2) + 4 * r + i];
          const int shift = 4 * (v % 2);
          h = static_cast<uint8_t>((h & ~(0xF << shift)) | ((lo >> 4) | (hi >> 4) << 2) << shift);
        }
      }
}
template <class U>
void get_codes(const uint8_t* unit, int r, uint8_t q[256]) {
  for (int j = 0; j < 8; ++j)
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 4; ++i) {
        const uint8_t b = unit[U::codes + U::stride * j + 64 * v + 4 * r + i];
        uint8_t lo = b & 0xF, hi = b >> 4;
        if (U::high) {
          const uint8_t h = static_cast<uint8_t>(unit[U::high + U::stride * j + 64 * (v / 2) + 4 * r + i] >> (4 * (v % 2)));
          lo = static_cast<uint8_t>(lo | (h & 3) << 4);
          hi = static_cast<uint8_t>(hi | ((h >> 2) & 3) << 4);
        }
        q[32 * j + 4 * v + i] = lo;
        q[32 * j + 16 + 4 * v + i] = hi;
      }
}

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

}  // namespace

size_t packed_unit_bytes(DType t) {
  switch (t) {
    case DType::Q4_K: return Q4KUnit::bytes;
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
  const int64_t units = cols / kPackCols;
  uint8_t q[256];
  for (int64_t g = g0; g < g1; ++g)
    for (int64_t u = 0; u < units; ++u) {
      uint8_t* unit = dst + (static_cast<size_t>(g * units + u)) * ub;
      std::memset(unit, 0, ub);
      for (int r = 0; r < kPackRows; ++r) {
        const uint8_t* row = src + static_cast<size_t>(g * kPackRows + r) * row_bytes;
        if (t == DType::Q4_K) {
          BlockQ4_K b;
          std::memcpy(&b, row + u * sizeof(BlockQ4_K), sizeof b);
          store_u16(unit + Q4KUnit::d + 2 * r, b.d);
          store_u16(unit + Q4KUnit::dmin + 2 * r, b.dmin);
          for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, b.scales, unit[Q4KUnit::sc + 16 * j + r], unit[Q4KUnit::m + 16 * j + r]);
          q4k_codes(b, q);
          put_codes<Q4KUnit>(unit, r, q);
        } else {  // Q6_K
          BlockQ6_K b;
          std::memcpy(&b, row + u * sizeof(BlockQ6_K), sizeof b);
          store_u16(unit + Q6KUnit::d + 2 * r, b.d);
          for (int s = 0; s < 16; ++s) unit[Q6KUnit::sc + 16 * s + r] = static_cast<uint8_t>(b.scales[s]);
          q6k_codes(b, q);
          put_codes<Q6KUnit>(unit, r, q);
        }
      }
    }
}

void unpack_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, uint8_t* out) {
  const size_t ub = packed_unit_bytes(t);
  const int64_t units = cols / kPackCols;
  const int64_t g = r / kPackRows;
  const int rr = static_cast<int>(r % kPackRows);
  uint8_t q[256];
  for (int64_t u = 0; u < units; ++u) {
    const uint8_t* unit = packed + static_cast<size_t>(g * units + u) * ub;
    if (t == DType::Q4_K) {
      BlockQ4_K b;
      b.d = load_u16(unit + Q4KUnit::d + 2 * rr);
      b.dmin = load_u16(unit + Q4KUnit::dmin + 2 * rr);
      uint8_t sc[8], m[8];
      for (int j = 0; j < 8; ++j) sc[j] = unit[Q4KUnit::sc + 16 * j + rr], m[j] = unit[Q4KUnit::m + 16 * j + rr];
      pack_scale_min_k4(sc, m, b.scales);
      get_codes<Q4KUnit>(unit, rr, q);
      q4k_set_codes(b, q);
      std::memcpy(out + u * sizeof b, &b, sizeof b);
    } else {
      BlockQ6_K b;
      b.d = load_u16(unit + Q6KUnit::d + 2 * rr);
      for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(unit[Q6KUnit::sc + 16 * s + rr]);
      get_codes<Q6KUnit>(unit, rr, q);
      q6k_set_codes(b, q);
      std::memcpy(out + u * sizeof b, &b, sizeof b);
    }
  }
}

void dequantize_packed_row(DType t, const uint8_t* packed, int64_t cols, int64_t r, float* out) {
  thread_local std::vector<uint8_t> row;  // reused: embedding lookups run once per token
  row.resize(row_bytes(t, cols));
  unpack_row(t, packed, cols, r, row.data());
  dequantize_row(t, row.data(), out, cols);
}

}  // namespace minnow
