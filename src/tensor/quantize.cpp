// Reference quantizers (see quantize.h): the scale-search helpers of ggml-quants.c, the legacy
// 32-element types, the K-quants, IQ4_NL / IQ4_XS, F16 / BF16, and the dispatch.
//
// Every function mirrors ggml-quants.c operation for operation, in the same float precision and
// evaluation order, because the chosen integer levels (and so the bytes) depend on exact rounding.
// Expressions keep C's promotions: an int times a float is a float product; a*b*c is (a*b)*c.
#include "tensor/quantize.h"

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include <algorithm>
#include <vector>

// ggml-base (ggml-quants.c) is compiled for baseline x86-64, so no multiply-add is ever fused
// there; a fused one here would round differently and flip levels. Keep contraction off even if
// this file is someday built with -mfma.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static_assert(std::endian::native == std::endian::little, "GGUF data is little-endian");

namespace minnow {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: a group below this is all zero

// Round to nearest, ties to even, for |fval| < 2^22 (ggml's magic-number nearest_int).
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

inline int clampi(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  if (rmse_type == 0) {
    for (int i = 0; i < n; ++i) {
      const int l = nearest_int(iscale * x[i]);
      L[i] = static_cast<int8_t>(nmax + clampi(l, -nmax, nmax - 1));
    }
    return 1 / iscale;
  }
  bool return_early = false;
  if (rmse_type < 0) {
    rmse_type = -rmse_type;
    return_early = true;
  }
  auto weight = [&](int i) -> float {
    if (qw) return qw[i];
    switch (rmse_type) {
      case 1: return x[i] * x[i];
      case 2: return 1;
      case 3: return std::fabs(x[i]);
      default: return std::sqrt(std::fabs(x[i]));
    }
  };
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = weight(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + clampi(l, -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights ? weights[0] : x[0] * x[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights ? weights[i] : x[i] * x[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max <= min) {
    std::memset(L, 0, static_cast<size_t>(n));
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(clampi(l, 0, nmax));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    const float w = weights ? weights[i] : x[i] * x[i];
    best_mad += w * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights ? weights[i] : x[i] * x[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        const float w = weights ? weights[i] : x[i] * x[i];
        mad += w * diff;
      }
      if (mad < best_mad) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    const float w = quant_weights[i];
    best_mse += w * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * l;
      const float w = quant_weights[i];
      mse += w * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    const float w = quant_weights[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  if (do_rmse) {
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      L[i] = static_cast<int8_t>(l);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
      int n_changed = 0;
      for (int i = 0; i < n; ++i) {
        const float w = x[i] * x[i];
        float slx = sumlx - w * x[i] * L[i];
        if (slx > 0) {
          float sl2 = suml2 - w * L[i] * L[i];
          const int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
          if (new_l != L[i]) {
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
              L[i] = static_cast<int8_t>(new_l);
              sumlx = slx;
              suml2 = sl2;
              ++n_changed;
            }
          }
        }
      }
      if (!n_changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
  }
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
  }
  return 1 / iscale;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(clampi(l, 0, nmax));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    const float w = weights[i];
    best_error += w * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        const float w = weights[i];
        cur_error += w * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ------------------------------------------------------------------ K-quant packing helpers

// Q2_K / Q3_K: 2-bit values of a 256-element super-block, four per byte (element 32k + l of each
// 128-element half in bits 2k of byte l).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// Q4_K / Q5_K: 8 6-bit scales and mins into 12 bytes.
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < QK_K / 32; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      scales[j - 0] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Q4_K / Q5_K: levels from the stored (fp16) super-block scales, as both ggml paths finish.
void requantize_k4(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* packed, int nmax, uint8_t* L) {
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, packed, sc, m);
    const float d = fp16_to_f32(d16) * sc;
    if (!d) continue;
    const float dm = fp16_to_f32(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) L[32 * j + ii] = static_cast<uint8_t>(clampi(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax));
  }
}

// Q3_K: packs the 16 biased 6-bit scales (0..63).
void pack_q3_scales(const int* l6, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < QK_K / 16; ++j) {
    int l = l6[j];
    if (j < 8) scales[j] = static_cast<uint8_t>(l & 0xF);
    else scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    l >>= 4;
    scales[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
  }
}

// Q3_K: levels from the stored scales, then hmask and the low bits.
void finish_q3_k(const float* x, BlockQ3_K& y, int8_t* L) {
  uint8_t sc6[16];
  unpack_q3_k_scales(y.scales, sc6);
  for (int j = 0; j < QK_K / 16; ++j) {
    const int sc = sc6[j] - 32;
    const float d = fp16_to_f32(y.d) * sc;
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
  }
  std::memset(y.hmask, 0, QK_K / 8);
  int m = 0;
  uint8_t hm = 1;
  uint8_t low[QK_K];
  for (int j = 0; j < QK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y.hmask[m] |= hm;
      l -= 4;
    }
    low[j] = static_cast<uint8_t>(l);
    if (++m == QK_K / 8) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  pack_2bit(low, y.qs);
}

// ------------------------------------------------------------------ Q2_K

void quantize_q2_k_ref(const float* x, BlockQ2_K& y) {
  uint8_t L[QK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  const float q4scale = 15.f;

  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    y.d = f32_to_fp16(max_scale / q4scale);
  } else {
    for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = 0;
    y.d = f32_to_fp16(0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < QK_K / 16; ++j) y.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    y.dmin = f32_to_fp16(max_min / q4scale);
  } else {
    y.dmin = f32_to_fp16(0.f);
  }
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = fp16_to_f32(y.d) * (y.scales[j] & 0xF);
    if (!d) continue;
    const float dm = fp16_to_f32(y.dmin) * (y.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(clampi(nearest_int((x[16 * j + ii] + dm) / d), 0, 3));
  }
  pack_2bit(L, y.qs);
}

void quantize_q2_k_imp(const float* x, BlockQ2_K& y, const float* qw_sb) {
  uint8_t L[QK_K];
  uint8_t Laux[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  float sw[QK_K / 16] = {};
  float weight[16];
  uint8_t Ls[QK_K / 16], Lm[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    const float* qw = qw_sb + 16 * j;
    for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  float dm = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
  float mm = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
  y.d = f32_to_fp16(dm);
  y.dmin = f32_to_fp16(mm);
  dm = fp16_to_f32(y.d);
  mm = fp16_to_f32(y.dmin);
  for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = dm * (y.scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * (y.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(clampi(nearest_int((x[16 * j + ii] + m) / d), 0, 3));
  }
  pack_2bit(L, y.qs);
}

// ------------------------------------------------------------------ Q3_K

void quantize_q3_k_ref(const float* x, BlockQ3_K& y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0;
  float amax = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) { amax = scale; max_scale = scales[j]; }
  }
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    int l6[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) {
      // ggml: int8_t l = nearest_int(...), clamped to [-32, 31], plus 32
      const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      l6[j] = clampi(l, -32, 31) + 32;
    }
    pack_q3_scales(l6, y.scales);
    y.d = f32_to_fp16(1 / iscale);
  } else {
    std::memset(y.scales, 0, 12);
    y.d = f32_to_fp16(0.f);
  }
  finish_q3_k(x, y, L);
}

void quantize_q3_k_imp(const float* x, BlockQ3_K& y, const float* qw_sb) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float weight[16];
  float sw[QK_K / 16];
  int8_t Ls[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = 2 * sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    const float* qw = qw_sb + 16 * j;
    for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  const float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
  int l6[QK_K / 16];
  for (int j = 0; j < QK_K / 16; ++j) l6[j] = Ls[j];
  pack_q3_scales(l6, y.scales);
  y.d = f32_to_fp16(d_block);
  finish_q3_k(x, y, L);
}

// ------------------------------------------------------------------ Q4_K / Q5_K

// The reference path: per sub-block make_qkx2_quants with weights av_x + |x|, then the 6-bit
// scales and mins relative to their maxima.
void k4_ref_scales(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L, uint16_t& d16,
                   uint16_t& dmin16, uint8_t* packed) {
  uint8_t Laux[32];
  float weights[32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[QK_K / 32], lm[QK_K / 32];
  for (int j = 0; j < QK_K / 32; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  pack_scale_min_k4(ls, lm, packed);
  d16 = f32_to_fp16(max_scale / 63.f);
  dmin16 = f32_to_fp16(max_min / 63.f);
}

// The importance path: make_qkx3_quants with weights qw * sqrt(sigma2 + x^2), then make_qp_quants
// for the scales and mins. Without qw (not reached from quantize_rows) ggml uses av_x + |x|.
// ggml's Q5_K clamps the 6-bit levels to 63 and its Q4_K does not (they never exceed 63 anyway).
void k4_imp_scales(const float* x, int nmax, const float* qw_sb, bool clamp63, uint8_t* L, uint16_t& d16,
                   uint16_t& dmin16, uint8_t* packed) {
  uint8_t Laux[32];
  uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
  float weights[32];
  float sw[QK_K / 32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float sum_x2 = 0;
  for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / QK_K;
  const float av_x = std::sqrt(sigma2);
  for (int j = 0; j < QK_K / 32; ++j) {
    if (qw_sb) {
      const float* qw = qw_sb + 32 * j;
      for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    } else {
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    }
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
  for (int j = 0; j < QK_K / 32 && clamp63; ++j) {
    Ls[j] = std::min<uint8_t>(63, Ls[j]);
    Lm[j] = std::min<uint8_t>(63, Lm[j]);
  }
  pack_scale_min_k4(Ls, Lm, packed);
  d16 = f32_to_fp16(d_block);
  dmin16 = f32_to_fp16(m_block);
}

void quantize_q4_k_block(const float* x, BlockQ4_K& y, const float* qw_sb) {
  uint8_t L[QK_K];
  if (qw_sb) k4_imp_scales(x, 15, qw_sb, false, L, y.d, y.dmin, y.scales);
  else k4_ref_scales(x, 15, -1.f, 0.1f, 20, L, y.d, y.dmin, y.scales);
  requantize_k4(x, y.d, y.dmin, y.scales, 15, L);
  uint8_t* q = y.qs;
  for (int j = 0; j < QK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

void quantize_q5_k_block(const float* x, BlockQ5_K& y, const float* qw_sb) {
  uint8_t L[QK_K];
  if (qw_sb) k4_imp_scales(x, 31, qw_sb, true, L, y.d, y.dmin, y.scales);
  else k4_ref_scales(x, 31, -0.5f, 0.1f, 15, L, y.d, y.dmin, y.scales);
  requantize_k4(x, y.d, y.dmin, y.scales, 31, L);
  uint8_t* qh = y.qh;
  uint8_t* ql = y.qs;
  std::memset(qh, 0, QK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK_K; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
      int l2 = L[n + j + 32];
      if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
  }
}

// ------------------------------------------------------------------ Q6_K (one function: the two
// ggml paths differ only in the weights make_qx_quants gets)

void quantize_q6_k_block(const float* x, BlockQ6_K& y, const float* qw_sb) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw_sb ? qw_sb + 16 * ib : nullptr);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scale; }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&y, 0, sizeof(y));
    y.d = f32_to_fp16(0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = f32_to_fp16(1 / iscale);
  for (int ib = 0; ib < QK_K / 16; ++ib) y.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = fp16_to_f32(y.d) * y.scales[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
  }
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l + 0] & 0xF;
      const int q2 = L[j + l + 32] & 0xF;
      const int q3 = L[j + l + 64] & 0xF;
      const int q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                   ((L[j + l + 96] >> 4) << 6));
    }
  }
}

// Rows of K-quant super-blocks; `imp` (null or one float per column) selects ggml's importance path.
void quantize_q2_k_row(const float* x, BlockQ2_K* y, int64_t n, const float* imp) {
  for (int64_t i = 0; i < n / QK_K; ++i) {
    if (imp) quantize_q2_k_imp(x + QK_K * i, y[i], imp + QK_K * i);
    else quantize_q2_k_ref(x + QK_K * i, y[i]);
  }
}
void quantize_q3_k_row(const float* x, BlockQ3_K* y, int64_t n, const float* imp) {
  for (int64_t i = 0; i < n / QK_K; ++i) {
    if (imp) quantize_q3_k_imp(x + QK_K * i, y[i], imp + QK_K * i);
    else quantize_q3_k_ref(x + QK_K * i, y[i]);
  }
}
void quantize_q4_k_row(const float* x, BlockQ4_K* y, int64_t n, const float* imp) {
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_q4_k_block(x + QK_K * i, y[i], imp ? imp + QK_K * i : nullptr);
}
void quantize_q5_k_row(const float* x, BlockQ5_K* y, int64_t n, const float* imp) {
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_q5_k_block(x + QK_K * i, y[i], imp ? imp + QK_K * i : nullptr);
}
void quantize_q6_k_row(const float* x, BlockQ6_K* y, int64_t n, const float* imp) {
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_q6_k_block(x + QK_K * i, y[i], imp ? imp + QK_K * i : nullptr);
}

// ------------------------------------------------------------------ legacy types, reference path

void quantize_q4_0_ref(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_0; ++j) {
      const float v = x[j];
      if (amax < std::fabs(v)) { amax = std::fabs(v); max = v; }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[QK4_0 / 2 + j] * id;
      const int xi0 = std::min(15, static_cast<int>(x0 + 8.5f));
      const int xi1 = std::min(15, static_cast<int>(x1 + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_q4_1_ref(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK4_1; ++j) {
      const float v = x[j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[QK4_1 / 2 + j] - min) * id;
      const int xi0 = std::min(15, static_cast<int>(x0 + 0.5f));
      const int xi1 = std::min(15, static_cast<int>(x1 + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void store_q5_bits(const int* q, uint8_t* qs, uint8_t qh_out[4]) {  // q: 32 values 0..31
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint32_t xi0 = static_cast<uint32_t>(q[j]);
    const uint32_t xi1 = static_cast<uint32_t>(q[j + 16]);
    qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << j;
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_out, &qh, 4);
}

void quantize_q5_0_ref(const float* x, BlockQ5_0* y, int64_t nb) {
  int q[QK5_0];
  for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK5_0; ++j) {
      const float v = x[j];
      if (amax < std::fabs(v)) { amax = std::fabs(v); max = v; }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK5_0; ++j) q[j] = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    store_q5_bits(q, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1_ref(const float* x, BlockQ5_1* y, int64_t nb) {
  int q[QK5_1];
  for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK5_1; ++j) {
      const float v = x[j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    // ggml stores (uint8_t)(x0 + 0.5f) without a clamp; the value never exceeds 31.5.
    for (int j = 0; j < QK5_1; ++j) q[j] = static_cast<uint8_t>(static_cast<int>((x[j] - min) * id + 0.5f));
    store_q5_bits(q, y[i].qs, y[i].qh);
  }
}

void quantize_q8_0_ref(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

// ------------------------------------------------------------------ legacy types, importance path

// sigma2 over the whole row, then per 32-element block weights qw * sqrt(sigma2 + x^2).
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

void quantize_q4_0_imp(const float* x, BlockQ4_0* y, int64_t n, const float* qw_row) {
  float weight[QK4_0];
  int8_t L[QK4_0];
  const float sigma2 = row_sigma2(x, n);
  for (int64_t ib = 0; ib < n / QK4_0; ++ib) {
    const float* xb = x + QK4_0 * ib;
    const float* qw = qw_row + QK4_0 * ib;
    for (int j = 0; j < QK4_0; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    const float d = make_qx_quants(QK4_0, 8, xb, L, 1, weight);
    y[ib].d = f32_to_fp16(d);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void quantize_q4_1_imp(const float* x, BlockQ4_1* y, int64_t n, const float* qw_row) {
  float weight[QK4_1];
  uint8_t L[QK4_1], Laux[QK4_1];
  const float sigma2 = row_sigma2(x, n);
  for (int64_t ib = 0; ib < n / QK4_1; ++ib) {
    const float* xb = x + QK4_1 * ib;
    const float* qw = qw_row + QK4_1 * ib;
    for (int j = 0; j < QK4_1; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min;
    const float d = make_qkx3_quants(QK4_1, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_fp16(d);
    y[ib].m = f32_to_fp16(-min);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void quantize_q5_0_imp(const float* x, BlockQ5_0* y, int64_t n, const float* qw_row) {
  float weight[QK5_0];
  int8_t L[QK5_0];
  int q[QK5_0];
  const float sigma2 = row_sigma2(x, n);
  for (int64_t ib = 0; ib < n / QK5_0; ++ib) {
    const float* xb = x + QK5_0 * ib;
    const float* qw = qw_row + QK5_0 * ib;
    for (int j = 0; j < QK5_0; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    const float d = make_qx_quants(QK5_0, 16, xb, L, 1, weight);
    y[ib].d = f32_to_fp16(d);
    for (int j = 0; j < QK5_0; ++j) q[j] = static_cast<uint8_t>(L[j]);
    store_q5_bits(q, y[ib].qs, y[ib].qh);
  }
}

void quantize_q5_1_imp(const float* x, BlockQ5_1* y, int64_t n, const float* qw_row) {
  float weight[QK5_1];
  uint8_t L[QK5_1], Laux[QK5_1];
  int q[QK5_1];
  const float sigma2 = row_sigma2(x, n);
  for (int64_t ib = 0; ib < n / QK5_1; ++ib) {
    const float* xb = x + QK5_1 * ib;
    const float* qw = qw_row + QK5_1 * ib;
    for (int j = 0; j < QK5_1; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min;
    const float d = make_qkx3_quants(QK5_1, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_fp16(d);
    y[ib].m = f32_to_fp16(-min);
    for (int j = 0; j < QK5_1; ++j) q[j] = L[j];
    store_q5_bits(q, y[ib].qs, y[ib].qh);
  }
}

// ------------------------------------------------------------------ IQ4_NL / IQ4_XS

// Index of the level nearest to x in the sorted table val[0..n) (ties toward the upper level, as ggml).
int best_index_int8(int n, const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int ml = 0, mu = n - 1;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) mu = mav; else ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl for one super-block of `sbs` elements in sub-blocks of 32.
// Writes the fp16 scale to *dh, the packed indices to q4 and, when there are several sub-blocks,
// the 6-bit sub-block scales to *scales_h / scales_l.
void iq4_superblock(const int sbs, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h, uint8_t* scales_l,
                    const float* quant_weights, const int ntry) {
  constexpr int bs = 32;
  const int8_t* values = kvalues_iq4nl;
  float scales[QK_K / 32];
  float weight[bs];
  uint8_t L[QK_K];

  float sigma2 = 0;
  for (int j = 0; j < sbs; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / sbs;

  std::memset(q4, 0, static_cast<size_t>(sbs / 2));
  *dh = f32_to_fp16(0.f);

  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < sbs / bs; ++ib) {
    const float* xb = x + ib * bs;
    uint8_t* Lb = L + ib * bs;
    if (quant_weights) {
      const float* qw = quant_weights + ib * bs;
      for (int j = 0; j < bs; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < bs; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < bs; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) { amax = ax; max = xb[j]; }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < bs; ++j) {
      const float al = id * xb[j];
      const int l = best_index_int8(16, values, al);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < bs; ++j) {
        const float al = id * xb[j];
        const int l = best_index_int8(16, values, al);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) { amax_scale = abs_d; max_scale = d; }
  }

  if (sbs / bs > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = f32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < sbs / bs; ++ib) {
      int l = clampi(nearest_int(id * scales[ib]), -32, 31);
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * bs;
      const float* xb = x + ib * bs;
      for (int j = 0; j < bs; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xf);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
      *scales_h |= static_cast<uint16_t>(l_h << 2 * (ib % 8));
    }
  } else {
    *dh = f32_to_fp16(scales[0]);
    if (ntry > 0) {
      const float id = scales[0] ? 1 / scales[0] : 0;
      for (int j = 0; j < sbs; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
    }
  }

  for (int i = 0; i < sbs / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void quantize_iq4_nl_row(const float* x, BlockIQ4_NL* y, int64_t n, const float* qw) {
  for (int64_t ib = 0; ib < n / QK4_NL; ++ib) {
    uint16_t unused_h = 0;
    iq4_superblock(QK4_NL, x + QK4_NL * ib, &y[ib].d, y[ib].qs, &unused_h, nullptr, qw ? qw + QK4_NL * ib : nullptr, 7);
  }
}

void quantize_iq4_xs_row(const float* x, BlockIQ4_XS* y, int64_t n, const float* qw) {
  for (int64_t ib = 0; ib < n / QK_K; ++ib) {
    uint16_t d, sh;
    iq4_superblock(QK_K, x + QK_K * ib, &d, y[ib].qs, &sh, y[ib].scales_l, qw ? qw + QK_K * ib : nullptr, 7);
    y[ib].d = d;
    y[ib].scales_h = sh;
  }
}

// Rows of blocks: blocks are built in an aligned local and copied out, so `out` needs no alignment.
template <typename Block, typename F>
void for_each_row(const float* x, void* out, int64_t nrows, int64_t n_per_row, int64_t block_size, F&& quantize_one_row) {
  const int64_t nb = n_per_row / block_size;
  std::vector<Block> tmp(static_cast<size_t>(nb));
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t r = 0; r < nrows; ++r) {
    quantize_one_row(x + r * n_per_row, tmp.data());
    std::memcpy(dst + r * nb * static_cast<int64_t>(sizeof(Block)), tmp.data(), tmp.size() * sizeof(Block));
  }
}

}  // namespace

bool can_quantize(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_1: case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K:
    case DType::Q6_K: case DType::IQ4_NL: case DType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

size_t quantize_rows(DType t, const float* x, void* out, int64_t nrows, int64_t n_per_row, const float* imp) {
  const TypeInfo* ti = type_info(static_cast<uint32_t>(t));
  if (ti == nullptr) fail("quantize: unknown ggml type id ", static_cast<uint32_t>(t));
  if (!can_quantize(t)) fail("quantize: no quantizer for type ", ti->name);
  if (n_per_row <= 0 || n_per_row % ti->block_size != 0 || nrows < 0)
    fail("quantize: rows of ", n_per_row, " elements are not a whole number of ", ti->name, " blocks (",
         ti->block_size, " elements each)");
  const size_t total = static_cast<size_t>(nrows) * row_bytes(t, n_per_row);
  if (nrows == 0) return 0;
  auto* dst = static_cast<uint8_t*>(out);
  const int64_t n = nrows * n_per_row;
  switch (t) {
    case DType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * 4);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_fp16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case DType::Q8_0:  // ggml ignores the importance for Q8_0
      for_each_row<BlockQ8_0>(x, out, nrows, n_per_row, QK8_0,
                              [&](const float* r, BlockQ8_0* y) { quantize_q8_0_ref(r, y, n_per_row / QK8_0); });
      break;
    case DType::Q4_0:
      for_each_row<BlockQ4_0>(x, out, nrows, n_per_row, QK4_0, [&](const float* r, BlockQ4_0* y) {
        if (imp) quantize_q4_0_imp(r, y, n_per_row, imp); else quantize_q4_0_ref(r, y, n_per_row / QK4_0);
      });
      break;
    case DType::Q4_1:
      for_each_row<BlockQ4_1>(x, out, nrows, n_per_row, QK4_1, [&](const float* r, BlockQ4_1* y) {
        if (imp) quantize_q4_1_imp(r, y, n_per_row, imp); else quantize_q4_1_ref(r, y, n_per_row / QK4_1);
      });
      break;
    case DType::Q5_0:
      for_each_row<BlockQ5_0>(x, out, nrows, n_per_row, QK5_0, [&](const float* r, BlockQ5_0* y) {
        if (imp) quantize_q5_0_imp(r, y, n_per_row, imp); else quantize_q5_0_ref(r, y, n_per_row / QK5_0);
      });
      break;
    case DType::Q5_1:
      for_each_row<BlockQ5_1>(x, out, nrows, n_per_row, QK5_1, [&](const float* r, BlockQ5_1* y) {
        if (imp) quantize_q5_1_imp(r, y, n_per_row, imp); else quantize_q5_1_ref(r, y, n_per_row / QK5_1);
      });
      break;
    case DType::IQ4_NL:
      for_each_row<BlockIQ4_NL>(x, out, nrows, n_per_row, QK4_NL,
                                [&](const float* r, BlockIQ4_NL* y) { quantize_iq4_nl_row(r, y, n_per_row, imp); });
      break;
    case DType::IQ4_XS:
      for_each_row<BlockIQ4_XS>(x, out, nrows, n_per_row, QK_K,
                                [&](const float* r, BlockIQ4_XS* y) { quantize_iq4_xs_row(r, y, n_per_row, imp); });
      break;
    case DType::Q2_K:
      for_each_row<BlockQ2_K>(x, out, nrows, n_per_row, QK_K,
                              [&](const float* r, BlockQ2_K* y) { quantize_q2_k_row(r, y, n_per_row, imp); });
      break;
    case DType::Q3_K:
      for_each_row<BlockQ3_K>(x, out, nrows, n_per_row, QK_K,
                              [&](const float* r, BlockQ3_K* y) { quantize_q3_k_row(r, y, n_per_row, imp); });
      break;
    case DType::Q4_K:
      for_each_row<BlockQ4_K>(x, out, nrows, n_per_row, QK_K,
                              [&](const float* r, BlockQ4_K* y) { quantize_q4_k_row(r, y, n_per_row, imp); });
      break;
    case DType::Q5_K:
      for_each_row<BlockQ5_K>(x, out, nrows, n_per_row, QK_K,
                              [&](const float* r, BlockQ5_K* y) { quantize_q5_k_row(r, y, n_per_row, imp); });
      break;
    case DType::Q6_K:
      for_each_row<BlockQ6_K>(x, out, nrows, n_per_row, QK_K,
                              [&](const float* r, BlockQ6_K* y) { quantize_q6_k_row(r, y, n_per_row, imp); });
      break;
    default:
      fail("quantize: no quantizer for type ", ti->name);
  }
  return total;
}

void quantize_row(DType t, const float* x, void* out, int64_t n, const float* importance) {
  quantize_rows(t, x, out, 1, n, importance);
}

}  // namespace minnow
