// Scalar reference kernels: the oracle every SIMD kernel is tested against, and the fallback on CPUs
// without one. Each weight block is unpacked to small integers q[i] with, per 16 elements, a float scale
// and a float offset (x = scale * q + offset, exactly as dequantization defines it), and the dot product
// with an ActRow is then  sum over 16-groups of  d_act * (scale * sum(q * q_act) + offset * sum(q_act)).
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace minnow {

size_t act_row_bytes(int64_t n) { return static_cast<size_t>((n / 4 + n + 63) / 64 * 64); }

static void fill_bsums(const int8_t* q, int64_t n, int16_t* bsum) {
  for (int64_t g = 0; g < n / 16; ++g) {
    int s = 0;
    for (int i = 0; i < 16; ++i) s += q[g * 16 + i];
    bsum[g] = static_cast<int16_t>(s);
  }
}

void quantize_act_ref(const float* x, int64_t n, void* row, ActKind kind) {
  auto* p = static_cast<uint8_t*>(row);
  auto* d = reinterpret_cast<float*>(p);
  auto* bsum = reinterpret_cast<int16_t*>(p + n / 8);
  auto* q = reinterpret_cast<int8_t*>(p + n / 4);
  if (kind == ActKind::Q8_K && n % 256 == 0) {
    for (int64_t b = 0; b < n / 256; ++b) {
      const float* xb = x + b * 256;
      float amax = 0.0f, mx = 0.0f;
      for (int i = 0; i < 256; ++i)
        if (std::fabs(xb[i]) > amax) amax = std::fabs(xb[i]), mx = xb[i];
      if (amax == 0.0f) {
        for (int i = 0; i < 256; ++i) q[b * 256 + i] = 0;
        for (int k = 0; k < 8; ++k) d[b * 8 + k] = 0.0f;
        continue;
      }
      const float iscale = -127.0f / mx;
      for (int i = 0; i < 256; ++i)
        q[b * 256 + i] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * xb[i]))));
      for (int k = 0; k < 8; ++k) d[b * 8 + k] = 1.0f / iscale;
    }
  } else {
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0.0f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      const float db = amax / 127.0f;
      const float id = db != 0.0f ? 1.0f / db : 0.0f;
      d[b] = fp16_to_f32(f32_to_fp16(db));
      for (int i = 0; i < 32; ++i) q[b * 32 + i] = static_cast<int8_t>(std::nearbyint(x[b * 32 + i] * id));
    }
  }
  fill_bsums(q, n, bsum);
}

namespace {

// An unpacked block: up to 256 values in element order, scale/offset per 16.
struct Unpacked {
  int8_t q[256];
  float scale[16];
  float offset[16];
};

void set_groups(Unpacked& u, int g0, int n_groups, float scale, float offset) {
  for (int g = g0; g < g0 + n_groups; ++g) u.scale[g] = scale, u.offset[g] = offset;
}

void unpack(const BlockQ8_0& b, Unpacked& u) {
  std::memcpy(u.q, b.qs, 32);
  set_groups(u, 0, 2, fp16_to_f32(b.d), 0.0f);
}
void unpack(const BlockQ4_0& b, Unpacked& u) {
  for (int j = 0; j < 16; ++j) u.q[j] = static_cast<int8_t>((b.qs[j] & 15) - 8), u.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
  set_groups(u, 0, 2, fp16_to_f32(b.d), 0.0f);
}
void unpack(const BlockQ4_1& b, Unpacked& u) {
  for (int j = 0; j < 16; ++j) u.q[j] = static_cast<int8_t>(b.qs[j] & 15), u.q[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
  set_groups(u, 0, 2, fp16_to_f32(b.d), fp16_to_f32(b.m));
}
void unpack(const BlockQ5_0& b, Unpacked& u) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>(((b.qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16);
    u.q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
  }
  set_groups(u, 0, 2, fp16_to_f32(b.d), 0.0f);
}
void unpack(const BlockQ5_1& b, Unpacked& u) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>((b.qs[j] & 15) | (((qh >> j) & 1) << 4));
    u.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
  set_groups(u, 0, 2, fp16_to_f32(b.d), fp16_to_f32(b.m));
}
void unpack(const BlockIQ4_NL& b, Unpacked& u) {
  for (int j = 0; j < 16; ++j) u.q[j] = kvalues_iq4nl[b.qs[j] & 15], u.q[j + 16] = kvalues_iq4nl[b.qs[j] >> 4];
  set_groups(u, 0, 2, fp16_to_f32(b.d), 0.0f);
}
void unpack(const BlockQ2_K& b, Unpacked& u) {
  const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
  for (int e = 0; e < 256; ++e) u.q[e] = static_cast<int8_t>((b.qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3);
  for (int g = 0; g < 16; ++g) u.scale[g] = d * static_cast<float>(b.scales[g] & 15), u.offset[g] = -dmin * static_cast<float>(b.scales[g] >> 4);
}
void unpack(const BlockQ3_K& b, Unpacked& u) {
  const float d = fp16_to_f32(b.d);
  uint8_t sc[16];
  unpack_q3_k_scales(b.scales, sc);
  for (int e = 0; e < 256; ++e) {
    const int l = e % 32, k = (e % 128) / 32, half = e / 128;
    const int low = (b.qs[half * 32 + l] >> (2 * k)) & 3;
    u.q[e] = static_cast<int8_t>(low - (((b.hmask[l] >> (4 * half + k)) & 1) ? 0 : 4));
  }
  for (int g = 0; g < 16; ++g) u.scale[g] = d * static_cast<float>(sc[g] - 32), u.offset[g] = 0.0f;
}
template <typename B>
void unpack_q45k(const B& b, Unpacked& u, bool five) {
  const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      int lo = b.qs[32 * c + l] & 15, hi = b.qs[32 * c + l] >> 4;
      if (five) {
        const uint8_t* qh = reinterpret_cast<const uint8_t*>(&b) + offsetof(BlockQ5_K, qh);
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      u.q[64 * c + l] = static_cast<int8_t>(lo);
      u.q[64 * c + 32 + l] = static_cast<int8_t>(hi);
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, b.scales, sc, m);
    set_groups(u, 2 * j, 2, d * static_cast<float>(sc), -dmin * static_cast<float>(m));
  }
}
void unpack(const BlockQ4_K& b, Unpacked& u) { unpack_q45k(b, u, false); }
void unpack(const BlockQ5_K& b, Unpacked& u) { unpack_q45k(b, u, true); }
void unpack(const BlockQ6_K& b, Unpacked& u) {
  const float d = fp16_to_f32(b.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    int8_t* q = u.q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < 16; ++g) u.scale[g] = d * static_cast<float>(b.scales[g]), u.offset[g] = 0.0f;
}
void unpack(const BlockIQ4_XS& b, Unpacked& u) {
  const float d = fp16_to_f32(b.d);
  for (int s = 0; s < 8; ++s) {
    const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 15) | (((b.scales_h >> (2 * s)) & 3) << 4);
    for (int j = 0; j < 16; ++j) {
      u.q[32 * s + j] = kvalues_iq4nl[b.qs[16 * s + j] & 15];
      u.q[32 * s + j + 16] = kvalues_iq4nl[b.qs[16 * s + j] >> 4];
    }
    set_groups(u, 2 * s, 2, d * static_cast<float>(ls - 32), 0.0f);
  }
}

template <typename B, int QK>
float dot_int(const uint8_t* wrow, const ActRow& a, int64_t n) {
  double acc = 0.0;
  Unpacked u;
  for (int64_t b = 0; b < n / QK; ++b) {
    unpack(reinterpret_cast<const B*>(wrow)[b], u);
    for (int g = 0; g < QK / 16; ++g) {
      const int64_t e0 = b * QK + g * 16;
      int32_t isum = 0;
      for (int i = 0; i < 16; ++i) isum += static_cast<int32_t>(u.q[g * 16 + i]) * a.q[e0 + i];
      const double da = a.d[e0 / 32];
      acc += da * (static_cast<double>(u.scale[g]) * isum + static_cast<double>(u.offset[g]) * a.bsum[e0 / 16]);
    }
  }
  return static_cast<float>(acc);
}

template <typename B, int QK>
void gemm_int(const MatView& w, const void* act, size_t stride, int64_t n_tok, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * ldy + r] = dot_int<B, QK>(row, act_view(static_cast<const uint8_t*>(act) + t * stride, w.cols), w.cols);
  }
}

// Float weights: exact products summed in double.
void gemm_float(const MatView& w, const void* act, size_t stride, int64_t n_tok, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  thread_local std::vector<float> buf;
  buf.resize(static_cast<size_t>(w.cols));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    const float* wr = reinterpret_cast<const float*>(row);
    if (w.type != DType::F32) {
      dequantize_row(w.type, row, buf.data(), w.cols);
      wr = buf.data();
    }
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + t * stride);
      double s = 0.0;
      for (int64_t i = 0; i < w.cols; ++i) s += static_cast<double>(wr[i]) * x[i];
      y[t * ldy + r] = static_cast<float>(s);
    }
  }
}

}  // namespace

namespace kernels {
const VecOps scalar_vec_ops = {
    [](const float* a, const uint16_t* b, int64_t n) {
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += a[i] * fp16_to_f32(b[i]);
      return s;
    },
    [](float sc, const uint16_t* x, float* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) y[i] += sc * fp16_to_f32(x[i]);
    },
    [](const float* x, uint16_t* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
    },
    [](float* g, const float* u, int64_t n) {
      for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    },
    [](float* x, int64_t n, float sub) {
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - sub));
      return static_cast<float>(sum);
    },
};

GemmFn scalar_gemm(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: return gemm_float;
    case DType::Q8_0: return gemm_int<BlockQ8_0, 32>;
    case DType::Q4_0: return gemm_int<BlockQ4_0, 32>;
    case DType::Q4_1: return gemm_int<BlockQ4_1, 32>;
    case DType::Q5_0: return gemm_int<BlockQ5_0, 32>;
    case DType::Q5_1: return gemm_int<BlockQ5_1, 32>;
    case DType::IQ4_NL: return gemm_int<BlockIQ4_NL, 32>;
    case DType::Q2_K: return gemm_int<BlockQ2_K, 256>;
    case DType::Q3_K: return gemm_int<BlockQ3_K, 256>;
    case DType::Q4_K: return gemm_int<BlockQ4_K, 256>;
    case DType::Q5_K: return gemm_int<BlockQ5_K, 256>;
    case DType::Q6_K: return gemm_int<BlockQ6_K, 256>;
    case DType::IQ4_XS: return gemm_int<BlockIQ4_XS, 256>;
    default: return nullptr;
  }
}
}  // namespace kernels

}  // namespace minnow
