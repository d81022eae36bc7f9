// Reference dequantization: fp16/bf16 conversions, one hand-built block per type with values worked
// out by hand, and bit-exact agreement with ggml's to_float on real tensors (golden/dequant/).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/types.h"
#include "test_util.h"

namespace minnow {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

uint16_t h(float f) { return f32_to_fp16(f); }

// Dequantizes one hand-built block.
template <typename Block>
std::vector<float> deq(DType t, const Block& b) {
  const int64_t n = type_info(t).block_size;
  EXPECT_EQ(sizeof(Block), static_cast<size_t>(type_info(t).type_size));
  std::vector<float> y(static_cast<size_t>(n), std::nanf(""));
  dequantize_row(t, &b, y.data(), n);
  return y;
}

// Every element equals `fill` except the listed (index, value) pairs; compared bit for bit.
void expect_values(const std::vector<float>& y, float fill, const std::vector<std::pair<int, float>>& special) {
  std::vector<float> want(y.size(), fill);
  for (auto [i, v] : special) want[static_cast<size_t>(i)] = v;
  int bad = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (bits(y[i]) != bits(want[i]) && bad++ < 8) ADD_FAILURE() << "element " << i << ": got " << y[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << "differing elements";
}

// ---------------------------------------------------------------- fp16 / bf16 conversions

TEST(Fp16, RoundTripAllHalfValues) {
  int nan_count = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto hv = static_cast<uint16_t>(i);
    const float f = fp16_to_f32(hv);
    const bool is_nan = (hv & 0x7c00) == 0x7c00 && (hv & 0x03ff) != 0;
    if (is_nan) {
      ++nan_count;
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      const uint16_t back = f32_to_fp16(f);
      ASSERT_TRUE((back & 0x7c00) == 0x7c00 && (back & 0x03ff) != 0) << std::hex << i << " -> " << back;
      ASSERT_EQ(back & 0x8000, hv & 0x8000) << std::hex << i;
    } else {
      ASSERT_FALSE(std::isnan(f)) << std::hex << i;
      ASSERT_EQ(f32_to_fp16(f), hv) << std::hex << "half 0x" << i << " -> " << f;
    }
  }
  EXPECT_EQ(nan_count, 2 * 1023);
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(fp16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(bits(fp16_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(fp16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(Fp16, RoundsToNearestEven) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -10);  // half ulp at 1.0 is 2^-10
  EXPECT_EQ(f32_to_fp16(one), 0x3c00);
  EXPECT_EQ(f32_to_fp16(one + ulp / 2), 0x3c00);                            // tie -> even (down)
  EXPECT_EQ(f32_to_fp16(one + 3 * ulp / 2), 0x3c02);                        // tie -> even (up)
  EXPECT_EQ(f32_to_fp16(one + ulp / 2 + std::ldexp(1.0f, -20)), 0x3c01);    // just above the tie
  EXPECT_EQ(f32_to_fp16(one + ulp / 2 - std::ldexp(1.0f, -20)), 0x3c00);    // just below the tie
  EXPECT_EQ(f32_to_fp16(-(one + 3 * ulp / 2)), 0xbc02);
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // tie between 65504 and 65536 -> even, which overflows
  EXPECT_EQ(f32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_fp16(-1e10f), 0xfc00);
  // subnormals: the half ulp there is 2^-24
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);                    // tie -> even (zero)
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25) * 1.0000001f), 0x0001);
  EXPECT_EQ(f32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);                    // 1.5 ulp -> 2
  EXPECT_EQ(f32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);                    // 2.5 ulp -> 2
  EXPECT_EQ(f32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);                 // tie at the normal boundary
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -40)), 0x0000);
  EXPECT_EQ(f32_to_fp16(-std::ldexp(1.0f, -40)), 0x8000);
  EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  const uint16_t nan = f32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // a NaN whose payload lies only in the low 13 bits must not become infinity
  const uint16_t nan2 = f32_to_fp16(bits_to_f32(0x7f800001u));
  EXPECT_NE(nan2 & 0x03ff, 0);
}

TEST(Bf16, RoundTripAllValues) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto b = static_cast<uint16_t>(i);
    const float f = bf16_to_f32(b);
    ASSERT_EQ(bits(f), i << 16);
    if ((b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0) {
      ASSERT_TRUE(std::isnan(f));
      const uint16_t back = f32_to_bf16(f);
      ASSERT_TRUE((back & 0x7f80) == 0x7f80 && (back & 0x007f) != 0) << std::hex << i;
    } else {
      ASSERT_EQ(f32_to_bf16(f), b) << std::hex << i;
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000u)), 0x3f80);  // tie -> even (down)
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f807fffu)), 0x3f80);  // below the tie
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds up to infinity
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  const uint16_t nan = f32_to_bf16(bits_to_f32(0x7f800001u));  // payload only in the dropped bits
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x007f, 0);
}

// ---------------------------------------------------------------- hand-built blocks

TEST(DequantBlock, F32F16BF16) {
  const float f[3] = {1.5f, -0.0f, 3e38f};
  float y[3];
  dequantize_row(DType::F32, f, y, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bits(y[i]), bits(f[i]));

  const uint16_t hs[4] = {0x3c00, 0xc100, 0x0001, 0x7c00};
  float yh[4];
  dequantize_row(DType::F16, hs, yh, 4);
  EXPECT_EQ(yh[0], 1.0f);
  EXPECT_EQ(yh[1], -2.5f);
  EXPECT_EQ(yh[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(yh[3], std::numeric_limits<float>::infinity());

  const uint16_t bs[3] = {0x3f80, 0xc020, 0x0001};
  float yb[3];
  dequantize_row(DType::BF16, bs, yb, 3);
  EXPECT_EQ(yb[0], 1.0f);
  EXPECT_EQ(yb[1], -2.5f);
  EXPECT_EQ(bits(yb[2]), 0x00010000u);
}

TEST(DequantBlock, Q4_0) {
  BlockQ4_0 b{};
  b.d = h(0.5f);
  std::memset(b.qs, 0x88, sizeof b.qs);  // 8 - 8 = 0 everywhere
  b.qs[3] = 0x1F;                          // element 3: 15 - 8 = 7; element 19: 1 - 8 = -7
  expect_values(deq(DType::Q4_0, b), 0.0f, {{3, 3.5f}, {19, -3.5f}});
}

TEST(DequantBlock, Q4_1) {
  BlockQ4_1 b{};
  b.d = h(0.25f);
  b.m = h(-1.0f);
  b.qs[0] = 0xF4;  // element 0: 4 * 0.25 - 1; element 16: 15 * 0.25 - 1
  expect_values(deq(DType::Q4_1, b), -1.0f, {{0, 0.0f}, {16, 2.75f}});
}

TEST(DequantBlock, Q5_0) {
  BlockQ5_0 b{};
  b.d = h(2.0f);
  const uint8_t qh[4] = {0x01, 0x00, 0x02, 0x80};  // 5th bit of elements 0, 17, 31
  std::memcpy(b.qh, qh, 4);
  b.qs[1] = 0x53;  // element 1: 3 - 16 = -13; element 17: (5 | 16) - 16 = 5
  // elements 0 and 31: (0 | 16) - 16 = 0; everything else 0 - 16
  expect_values(deq(DType::Q5_0, b), -32.0f, {{0, 0.0f}, {1, -26.0f}, {17, 10.0f}, {31, 0.0f}});
}

TEST(DequantBlock, Q5_1) {
  BlockQ5_1 b{};
  b.d = h(0.5f);
  b.m = h(1.0f);
  const uint8_t qh[4] = {0x00, 0x00, 0x00, 0x80};  // 5th bit of element 31
  std::memcpy(b.qh, qh, 4);
  b.qs[15] = 0x21;  // element 15: 1; element 31: 2 | 16 = 18
  expect_values(deq(DType::Q5_1, b), 1.0f, {{15, 1.5f}, {31, 10.0f}});
}

TEST(DequantBlock, Q8_0) {
  BlockQ8_0 b{};
  b.d = h(0.5f);
  for (auto& q : b.qs) q = -3;
  b.qs[5] = 127;
  b.qs[6] = -128;
  expect_values(deq(DType::Q8_0, b), -1.5f, {{5, 63.5f}, {6, -64.0f}});
}

TEST(DequantBlock, Q2_K) {
  BlockQ2_K b{};
  b.d = h(1.0f);
  b.dmin = h(0.5f);
  std::memset(b.scales, 0x21, sizeof b.scales);  // scale 1, min 2: x = q - 1
  b.scales[15] = 0x3F;                           // sub-block 15 (elements 240..255): scale 15, min 3
  b.qs[0] = 0xE4;           // bit pairs 0,1,2,3 -> elements 0, 32, 64, 96 get q = 0, 1, 2, 3
  b.qs[32 + 16 + 5] = 0xC0;  // second half, byte 21, bits 6-7 -> element 128 + 96 + 21 = 245, q = 3
  std::vector<std::pair<int, float>> want = {{0, -1.0f}, {32, 0.0f}, {64, 1.0f}, {96, 2.0f}};
  for (int i = 240; i < 256; ++i) want.push_back({i, i == 245 ? 43.5f : -1.5f});
  expect_values(deq(DType::Q2_K, b), -1.0f, want);
}

TEST(DequantBlock, Q3_K) {
  BlockQ3_K b{};
  b.d = h(0.5f);
  // 16 6-bit scales: all 33 except scale 2 = 63 and scale 13 = 0 (they are biased by 32).
  const uint8_t packed[12] = {0x11, 0x11, 0x1F, 0x11, 0x11, 0x01, 0x11, 0x11, 0xAA, 0x2A, 0xAB, 0xAA};
  std::memcpy(b.scales, packed, 12);
  std::memset(b.hmask, 0xFF, sizeof b.hmask);  // high bit set: no -4
  std::memset(b.qs, 0x55, sizeof b.qs);        // every low part is 1
  b.hmask[0] = 0xFE;    // element 0: 1 - 4 = -3
  b.hmask[31] = 0x7F;   // element 255 (bit 7 of hmask[31]): -3
  b.qs[5] = 0x5D;       // bits 2-3 = 3 -> element 37 (sub-block 2): q = 3
  std::vector<std::pair<int, float>> want;
  for (int i = 32; i < 48; ++i) want.push_back({i, 15.5f});      // sub-block 2: 0.5 * 31
  for (int i = 208; i < 224; ++i) want.push_back({i, -16.0f});   // sub-block 13: 0.5 * -32
  want.push_back({37, 46.5f});
  want.push_back({0, -1.5f});
  want.push_back({255, -1.5f});
  expect_values(deq(DType::Q3_K, b), 0.5f, want);
}

TEST(DequantBlock, Q3_KScaleUnpacking) {
  const uint8_t packed[12] = {0x11, 0x11, 0x1F, 0x11, 0x11, 0x01, 0x11, 0x11, 0xAA, 0x2A, 0xAB, 0xAA};
  uint8_t s[16];
  unpack_q3_k_scales(packed, s);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(s[i], i == 2 ? 63 : i == 13 ? 0 : 33) << i;
}

// Q4_K / Q5_K scales: sc = {1,1,1,1,17,1,1,63}, m = {2,2,2,2,2,2,2,40}.
constexpr uint8_t kQ4KScales[12] = {0x41, 0x01, 0x01, 0xC1, 0x02, 0x02, 0x02, 0x82, 0x21, 0x21, 0x21, 0x8F};

TEST(DequantBlock, Q4_KScaleUnpacking) {
  const uint8_t want_sc[8] = {1, 1, 1, 1, 17, 1, 1, 63}, want_m[8] = {2, 2, 2, 2, 2, 2, 2, 40};
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, kQ4KScales, sc, m);
    EXPECT_EQ(sc, want_sc[j]) << j;
    EXPECT_EQ(m, want_m[j]) << j;
  }
}

TEST(DequantBlock, Q4_K) {
  BlockQ4_K b{};
  b.d = h(0.5f);
  b.dmin = h(0.25f);
  std::memcpy(b.scales, kQ4KScales, 12);
  b.qs[0] = 0x3F;    // element 0 (sub-block 0): q = 15; element 32 (sub-block 1): q = 3
  b.qs[66] = 0x04;   // element 130 (sub-block 4, scale 17): q = 4
  b.qs[127] = 0xF0;  // element 255 (sub-block 7): q = 15
  std::vector<std::pair<int, float>> want;
  for (int i = 224; i < 256; ++i) want.push_back({i, -10.0f});  // 0 - 0.25 * 40
  want.push_back({0, 7.0f});       // 0.5 * 1 * 15 - 0.5
  want.push_back({32, 1.0f});      // 0.5 * 1 * 3 - 0.5
  want.push_back({130, 33.5f});    // 0.5 * 17 * 4 - 0.5
  want.push_back({255, 462.5f});   // 0.5 * 63 * 15 - 10
  expect_values(deq(DType::Q4_K, b), -0.5f, want);
}

TEST(DequantBlock, Q5_K) {
  BlockQ5_K b{};
  b.d = h(0.5f);
  b.dmin = h(1.0f);
  // all scales 1, all mins 0 except min 0 = 3
  const uint8_t packed[12] = {0x01, 0x01, 0x01, 0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01};
  std::memcpy(b.scales, packed, 12);
  b.qh[3] = 0x81;   // 5th bit of element 3 (chunk 0, low) and element 227 (chunk 3, high)
  b.qh[10] = 0x10;  // 5th bit of element 138 (chunk 2, low)
  b.qs[3] = 0x52;   // element 3: 2 | 16 = 18; element 35: 5
  b.qs[99] = 0xA0;  // element 227: 10 | 16 = 26; element 195: 0
  std::vector<std::pair<int, float>> want;
  for (int i = 0; i < 32; ++i) want.push_back({i, -3.0f});  // sub-block 0: 0 - 3
  want.push_back({3, 6.0f});      // 0.5 * 18 - 3
  want.push_back({35, 2.5f});
  want.push_back({138, 8.0f});
  want.push_back({227, 13.0f});
  expect_values(deq(DType::Q5_K, b), 0.0f, want);
}

TEST(DequantBlock, Q6_K) {
  BlockQ6_K b{};
  b.d = h(0.5f);
  for (auto& s : b.scales) s = 1;
  b.scales[0] = -2;
  b.scales[15] = 127;
  std::memset(b.qh, 0xAA, sizeof b.qh);  // high bits 2 and low bits 0: q = 32 - 32 = 0
  b.ql[0] = 0x0F;
  b.qh[0] = 0xAB;   // element 0: 15 | 48 = 63 -> 31, scale -2
  b.qh[63] = 0x2A;  // element 255: 0 | 0 = 0 -> -32, scale 127
  b.ql[40] = 0x05;
  b.qh[8] = 0xAE;   // element 40: 5 | 48 = 53 -> 21, scale 1
  std::vector<std::pair<int, float>> want;
  for (int i = 1; i < 16; ++i) want.push_back({i, -0.0f});  // (0.5 * -2) * 0 is -0 (sub-block 0)
  want.push_back({0, -31.0f});
  want.push_back({255, -2032.0f});
  want.push_back({40, 10.5f});
  expect_values(deq(DType::Q6_K, b), 0.0f, want);
}

TEST(DequantBlock, IQ4_NL) {
  BlockIQ4_NL b{};
  b.d = h(2.0f);
  std::memset(b.qs, 0x88, sizeof b.qs);  // kvalues[8] = 1
  b.qs[0] = 0xF0;                          // element 0: kvalues[0] = -127; element 16: kvalues[15] = 113
  expect_values(deq(DType::IQ4_NL, b), 2.0f, {{0, -254.0f}, {16, 226.0f}});
}

TEST(DequantBlock, IQ4_XS) {
  BlockIQ4_XS b{};
  b.d = h(0.5f);
  // 6-bit scales, biased by 32: all 33 except sub-block 1 = 63 and sub-block 7 = 0
  b.scales_l[0] = 0xF1;
  b.scales_l[1] = 0x11;
  b.scales_l[2] = 0x11;
  b.scales_l[3] = 0x01;
  b.scales_h = 0x2AAE;
  std::memset(b.qs, 0x88, sizeof b.qs);  // kvalues[8] = 1
  b.qs[16] = 0x0F;                         // element 32: kvalues[15] = 113; element 48: kvalues[0] = -127
  std::vector<std::pair<int, float>> want;
  for (int i = 32; i < 64; ++i) want.push_back({i, 15.5f});
  for (int i = 224; i < 256; ++i) want.push_back({i, -16.0f});
  want.push_back({32, 1751.5f});
  want.push_back({48, -1968.5f});
  expect_values(deq(DType::IQ4_XS, b), 0.5f, want);
}

// dequant.cpp relies on (and documents for faster kernels) that an fp16 scale times any integer
// with |k| <= 4096 (the largest |sc * q|, in Q6_K) is exact in float, so the grouping of the
// products and FMA contraction cannot change a result. Exactness depends only on the significand
// of d, so checking one binade plus the subnormals covers every finite half.
TEST(DequantBlock, ScaleProductsAreExact) {
  int64_t inexact = 0;
  for (uint32_t hv = 0x0001; hv < 0x0800; ++hv) {  // subnormals and the first normal binade
    const float d = fp16_to_f32(static_cast<uint16_t>(hv));
    for (int k = -4096; k <= 4096; ++k)
      if (static_cast<double>(d * static_cast<float>(k)) != static_cast<double>(d) * k) ++inexact;
  }
  EXPECT_EQ(inexact, 0);
  const float big = fp16_to_f32(0x7bff);  // 65504 * 4096 is still far from overflow
  EXPECT_EQ(static_cast<double>(big * 4096.0f), 65504.0 * 4096.0);
}

TEST(DequantBlock, SeveralBlocksAndUnalignedSource) {
  // Two Q8_0 blocks starting at an odd address.
  std::vector<uint8_t> buf(1 + 2 * sizeof(BlockQ8_0));
  BlockQ8_0 b[2]{};
  b[0].d = h(1.0f);
  b[1].d = h(-2.0f);
  for (int i = 0; i < 32; ++i) b[0].qs[i] = b[1].qs[i] = static_cast<int8_t>(i);
  std::memcpy(buf.data() + 1, b, sizeof b);
  std::vector<float> y(64);
  dequantize_row(DType::Q8_0, buf.data() + 1, y.data(), 64);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(y[i], static_cast<float>(i));
    EXPECT_EQ(y[32 + i], -2.0f * static_cast<float>(i));
  }
}

TEST(DequantBlock, UnsupportedTypesThrowNamingTheType) {
  uint8_t buf[512] = {};
  float y[256];
  for (DType t : {DType::Q8_1, DType::Q8_K, DType::IQ2_XXS, DType::IQ3_S, DType::I32, DType::TQ1_0, DType::MXFP4}) {
    const TypeInfo& ti = type_info(t);
    EXPECT_FALSE(ti.can_dequantize) << ti.name;
    try {
      dequantize_row(t, buf, y, ti.block_size);
      ADD_FAILURE() << "no error for " << ti.name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(ti.name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(dequantize_row(static_cast<DType>(4), buf, y, 32), Error);  // a removed ggml type id
  EXPECT_THROW(dequantize_row(DType::Q4_0, buf, y, 31), Error);           // not a whole block
}

TEST(DequantBlock, CanDequantizeFlagMatches) {
  // type_info's can_dequantize must agree with what dequantize_row actually handles.
  uint8_t buf[512] = {};
  float y[256];
  for (uint32_t id = 0; id < 64; ++id) {
    const TypeInfo* ti = type_info(id);
    if (!ti) continue;
    bool ok = true;
    try {
      dequantize_row(static_cast<DType>(id), buf, y, ti->block_size);
    } catch (const Error&) {
      ok = false;
    }
    EXPECT_EQ(ok, ti->can_dequantize) << ti->name;
  }
}

// ---------------------------------------------------------------- goldens from ggml

const char* const kGoldenTypes[] = {"F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",   "Q8_0",
                                    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"};

nlohmann::json load_manifest() {
  std::ifstream f(test::golden("dequant/dequant.json"));
  if (!f) return nullptr;
  return nlohmann::json::parse(f);
}

class DequantGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(DequantGolden, BitExactWithGgml) {
  MINNOW_REQUIRE_SHARED();
  const std::string type = GetParam();
  const nlohmann::json manifest = load_manifest();
  ASSERT_TRUE(manifest.is_object()) << "cannot read " << test::golden("dequant/dequant.json");
  int files = 0;
  for (const auto& [file, entry] : manifest.items()) {
    if (entry.at("ggml_type").get<std::string>() != type) continue;
    ++files;
    SCOPED_TRACE(file);
    const std::string gguf_path = test::golden("models/llama/" + entry.at("source_gguf").get<std::string>());
    const auto gf = gguf::File::open(gguf_path);
    const gguf::TensorInfo* ti = gf->find_tensor(entry.at("tensor").get<std::string>());
    ASSERT_NE(ti, nullptr) << "tensor not in " << gguf_path;
    ASSERT_STREQ(type_name(ti->type), type.c_str());
    ASSERT_EQ(ti->n_elements(), entry.at("n_elements").get<int64_t>());
    ASSERT_EQ(ti->n_bytes, entry.at("raw_bytes_in_gguf").get<size_t>());
    const int64_t row = ti->ne[0];
    ASSERT_EQ(ti->n_bytes, row_bytes(ti->type, row) * static_cast<size_t>(ti->n_rows()));

    const std::vector<float> want = test::read_f32_file(test::golden("dequant/" + file));
    ASSERT_EQ(static_cast<int64_t>(want.size()), ti->n_elements()) << "golden file size";

    std::vector<float> got(want.size());
    const size_t rb = row_bytes(ti->type, row);
    for (int64_t r = 0; r < ti->n_rows(); ++r)
      dequantize_row(ti->type, ti->data + static_cast<size_t>(r) * rb, got.data() + r * row, row);

    int64_t n_diff = 0, first = -1;
    for (size_t i = 0; i < want.size(); ++i) {
      if (bits(got[i]) != bits(want[i])) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++n_diff;
      }
    }
    if (n_diff > 0) {
      const auto i = static_cast<size_t>(first);
      ADD_FAILURE() << n_diff << " of " << want.size() << " elements differ; first at " << first << " (row "
                    << first / row << ", col " << first % row << "): got " << got[i] << " (0x" << std::hex
                    << bits(got[i]) << "), ggml " << want[i] << " (0x" << bits(want[i]) << ")";
    }
    RecordProperty("elements_compared_" + type, static_cast<int>(want.size()));
  }
  EXPECT_GE(files, 1) << "no golden for " << type << " in dequant.json";
}

INSTANTIATE_TEST_SUITE_P(Ggml, DequantGolden, ::testing::ValuesIn(kGoldenTypes),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

// Every golden file is listed in dequant.json with a type that the suite above tests.
TEST(DequantGoldenManifest, CoversEveryFile) {
  MINNOW_REQUIRE_SHARED();
  const nlohmann::json manifest = load_manifest();
  ASSERT_TRUE(manifest.is_object());
  const std::set<std::string> tested(std::begin(kGoldenTypes), std::end(kGoldenTypes));
  for (const auto& [file, entry] : manifest.items())
    EXPECT_TRUE(tested.count(entry.at("ggml_type").get<std::string>())) << file << " has an untested type";
  for (const auto& de : std::filesystem::directory_iterator(test::golden("dequant"))) {
    const std::string name = de.path().filename().string();
    if (de.path().extension() == ".f32") {
      EXPECT_TRUE(manifest.contains(name)) << name << " not in dequant.json";
    }
  }
}

}  // namespace
}  // namespace minnow
