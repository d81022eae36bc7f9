// Every matmul kernel against the plain reference, on random weights and activations of odd shapes:
//  1. the scalar integer reference equals the dot product of dequantized weights and dequantized
//     activations (so the reference itself is tied to the bit-exact dequantizers);
//  2. every SIMD kernel this CPU runs equals the scalar reference up to float summation order;
//  3. the SIMD activation quantizers equal the reference quantizer bit for bit;
//  4. R16 repacking (tensor/repack.h) gives back the GGUF blocks bit for bit, and the packed kernels equal
//     the scalar reference (decode) and the unpacked panel kernels (prefill, bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/repack.h"
#include "tensor/types.h"

using namespace minnow;

namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                        DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};


std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  const TypeInfo& ti = type_info(t);
  std::vector<uint8_t> w(row_bytes(t, cols) * rows);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (t == DType::F32) {
    for (size_t i = 0; i < w.size() / 4; ++i) { float f = normal(rng); std::memcpy(&w[i * 4], &f, 4); }
    return w;
  }
  if (t == DType::F16 || t == DType::BF16) {
    for (size_t i = 0; i < w.size() / 2; ++i) {
      const uint16_t h = t == DType::F16 ? f32_to_fp16(normal(rng)) : f32_to_bf16(normal(rng));
      std::memcpy(&w[i * 2], &h, 2);
    }
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const int64_t n_blocks = static_cast<int64_t>(w.size()) / ti.type_size;
  for (int64_t b = 0; b < n_blocks; ++b)
    for (int off : fp16_scale_offsets(t)) {
      const uint16_t h = f32_to_fp16(normal(rng) * 0.05f);
      std::memcpy(&w[b * ti.type_size + off], &h, 2);
    }
  return w;
}

std::vector<float> random_acts(int64_t n_tok, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n_tok * cols);
  for (auto& v : x) v = normal(rng);
  if (!x.empty()) x[0] = 0.0f;  // exact zeros and an all-zero block occur in real activations
  for (int64_t i = 0; i < std::min<int64_t>(cols, 32) && n_tok > 1; ++i) x[cols + i] = 0.0f;
  return x;
}

struct Problem {
  DType type;
  int64_t rows, cols, n_tok;
  std::vector<uint8_t> w;
  std::vector<float> x;
  std::vector<uint8_t> act;  // quantized activations (integer kernels)
  size_t act_stride = 0;
  // what a kernel takes: the quantized rows (integer kernels) or the float rows
  const uint8_t* act_for(const Kernel& k) const { return k.int_act ? act.data() : reinterpret_cast<const uint8_t*>(x.data()); }
  size_t stride_for(const Kernel& k) const { return k.int_act ? act_stride : static_cast<size_t>(cols) * sizeof(float); }
  MatView view() const {
    MatView m;
    m.type = type;
    m.data = w.data();
    m.row_bytes = row_bytes(type, cols);
    m.cols = cols;
    m.rows = rows;
    return m;
  }
};

Problem make(DType t, int64_t rows, int64_t cols, int64_t n_tok, std::mt19937& rng, Isa quant_isa = Isa::Scalar) {
  Problem p{t, rows, cols, n_tok, random_weights(t, rows, cols, rng), random_acts(n_tok, cols, rng), {}, 0};
  const Kernel k = kernel_for(t, Isa::Scalar);
  if (k.int_act) {
    p.act_stride = act_row_bytes(cols);
    p.act.resize(p.act_stride * n_tok);
    for (int64_t i = 0; i < n_tok; ++i) quantize_act_for(quant_isa)(p.x.data() + i * cols, cols, p.act.data() + i * p.act_stride, k.act_kind);
  }
  return p;
}

std::vector<float> run(const Problem& p, Isa isa, Isa* used = nullptr) {
  const Kernel k = kernel_for(p.type, isa);
  if (used) *used = k.isa;
  std::vector<float> y(p.rows * p.n_tok, NAN);
  const void* act = k.int_act ? static_cast<const void*>(p.act.data()) : p.x.data();
  const size_t stride = k.int_act ? p.act_stride : p.cols * sizeof(float);
  // split rows in two ranges, as the thread pool would
  k.gemm(p.view(), act, stride, p.n_tok, y.data(), p.rows, 0, p.rows / 2);
  k.gemm(p.view(), act, stride, p.n_tok, y.data(), p.rows, p.rows / 2, p.rows);
  return y;
}

int64_t block_of(DType t) { return type_info(t).block_size == 1 ? 1 : type_info(t).block_size; }

class Kernels : public ::testing::TestWithParam<DType> {};

// 1. reference integer dot == dequantized weights . dequantized activations
TEST_P(Kernels, ReferenceMatchesDequantizedProduct) {
  const DType t = GetParam();
  std::mt19937 rng(1234 + static_cast<int>(t));
  const int64_t qk = std::max<int64_t>(block_of(t), 32);
  for (int64_t cols : {qk, 3 * qk, 256 * ((qk + 255) / 256) * 2}) {
    Problem p = make(t, 7, cols, 3, rng);
    const auto y = run(p, Isa::Scalar);
    std::vector<float> wrow(cols), xrow(cols);
    const Kernel k = kernel_for(t, Isa::Scalar);
    for (int64_t r = 0; r < p.rows; ++r) {
      dequantize_row(t, p.w.data() + r * row_bytes(t, cols), wrow.data(), cols);
      for (int64_t i = 0; i < p.n_tok; ++i) {
        if (k.int_act) {
          const ActRow a = act_view(p.act.data() + i * p.act_stride, cols);
          for (int64_t c = 0; c < cols; ++c) xrow[c] = a.d[c / 32] * a.q[c];
        } else {
          std::copy(p.x.begin() + i * cols, p.x.begin() + (i + 1) * cols, xrow.begin());
        }
        double s = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(wrow[c]) * xrow[c], mag += std::fabs(static_cast<double>(wrow[c]) * xrow[c]);
        ASSERT_NEAR(y[i * p.rows + r], s, 1e-5 * mag + 1e-6) << type_name(t) << " cols " << cols << " row " << r;
      }
    }
  }
}

// 2. SIMD == scalar on odd shapes and token counts
TEST_P(Kernels, SimdMatchesReference) {
  const DType t = GetParam();
  std::mt19937 rng(99 + static_cast<int>(t));
  int checked = 0;
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (isa > best_isa()) continue;
    Isa used;
    for (int trial = 0; trial < 6; ++trial) {
      const int64_t qk = std::max<int64_t>(block_of(t), 32);
      std::uniform_int_distribution<int64_t> nb(1, 5), nr(1, 23), nt(1, 9);
      int64_t cols = qk * nb(rng);
      if (!kernel_for(t, Isa::Scalar).int_act && trial % 2) cols += 3;  // float kernels have scalar tails
      Problem p = make(t, nr(rng), cols, nt(rng), rng, isa);
      const auto ref = run(p, Isa::Scalar);
      const auto got = run(p, isa, &used);
      if (used != isa) break;  // no specialised kernel for this type on this ISA: nothing to compare
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(got[i], ref[i], 2e-4 * (std::fabs(ref[i]) + 1.0f))
            << type_name(t) << " " << isa_name(isa) << " rows " << p.rows << " cols " << cols << " tokens " << p.n_tok;
      ++checked;
    }
  }
  RecordProperty("simd_cases", checked);
}

// 3. Batches large enough for the AVX-512 panel GEMM (16-row panels, 8 or 12 tokens per tile, float
//    weights in 2048-column chunks): whole panels, row tails, token tails, and several chunks.
TEST_P(Kernels, BatchGemmMatchesReference) {
  const DType t = GetParam();
  std::mt19937 rng(7 + static_cast<int>(t));
  const bool is_float = !kernel_for(t, Isa::Scalar).int_act;
  const int64_t qk = std::max<int64_t>(block_of(t), 32);
  struct Shape { int64_t rows, cols, n_tok; };
  const Shape shapes[] = {{32, 2 * qk, 8}, {37, 3 * qk, 13}, {64, qk, 29}, {16, 9 * qk, 12},
                          {48, is_float ? 4096 + 8 + 3 : 2 * qk, 25}};
  int checked = 0;
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (isa > best_isa()) continue;
    for (const Shape& s : shapes) {
      Problem p = make(t, s.rows, s.cols, s.n_tok, rng, isa);
      const auto ref = run(p, Isa::Scalar);
      Isa used;
      const auto got = run(p, isa, &used);
      if (used != isa) break;
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(got[i], ref[i], 2e-4 * (std::fabs(ref[i]) + 1.0f))
            << type_name(t) << " " << isa_name(isa) << " rows " << p.rows << " cols " << s.cols << " tokens "
            << p.n_tok << " at row " << i % p.rows << " token " << i / p.rows;
      ++checked;
    }
  }
  RecordProperty("batch_cases", checked);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Kernels, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<DType>& p) { return std::string(type_name(p.param)); });

// 3. activation quantizers: SIMD bit-identical to the reference, for both kinds
TEST(ActQuant, SimdIsBitIdenticalToReference) {
  std::mt19937 rng(7);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (isa > best_isa()) continue;
    for (ActKind kind : {ActKind::Q8_0, ActKind::Q8_K}) {
      for (int64_t n : {256, 512, 2048}) {
        auto x = random_acts(2, n, rng);
        x[5] = 1e-30f;
        std::vector<uint8_t> a(act_row_bytes(n)), b(act_row_bytes(n));
        for (int row = 0; row < 2; ++row) {
          quantize_act_ref(x.data() + row * n, n, a.data(), kind);
          quantize_act_for(isa)(x.data() + row * n, n, b.data(), kind);
          ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << isa_name(isa) << " n " << n << " row " << row;
        }
      }
    }
  }
}

TEST(ActQuant, Q8KMatchesLlamaCppRule) {
  // iscale = -127 / (the first element of largest magnitude); q = min(127, round(iscale * x))
  std::vector<float> x(256, 0.0f);
  x[3] = 2.0f;
  x[9] = -2.0f;
  x[10] = 1.0f;
  std::vector<uint8_t> a(act_row_bytes(256));
  quantize_act_ref(x.data(), 256, a.data(), ActKind::Q8_K);
  const ActRow r = act_view(a.data(), 256);
  EXPECT_EQ(r.q[3], -127);
  EXPECT_EQ(r.q[9], 127);
  EXPECT_EQ(r.q[10], -64);  // -63.5 rounds to even
  EXPECT_FLOAT_EQ(r.d[0] * r.q[3], 2.0f);
  EXPECT_EQ(r.bsum[0], -127 + 127 - 64);
}

// 4. R16-packed weights
class Packed : public ::testing::TestWithParam<DType> {};

std::vector<uint8_t> pack(const Problem& p) {
  std::vector<uint8_t> out(packed_bytes(p.type, p.rows, p.cols));
  repack_rows(p.type, p.w.data(), row_bytes(p.type, p.cols), p.cols, 0, p.rows / kPackRows, out.data());
  return out;
}

TEST_P(Packed, RoundTripIsBitExact) {
  const DType t = GetParam();
  std::mt19937 rng(11);
  Problem p = make(t, 48, 768, 1, rng);
  const auto packed = pack(p);
  const size_t rb = row_bytes(t, p.cols);
  std::vector<uint8_t> row(rb);
  std::vector<float> a(p.cols), b(p.cols);
  for (int64_t r = 0; r < p.rows; ++r) {
    unpack_row(t, packed.data(), p.cols, r, row.data());
    ASSERT_EQ(0, std::memcmp(row.data(), p.w.data() + r * rb, rb)) << type_name(t) << " row " << r;
    dequantize_packed_row(t, packed.data(), p.cols, r, a.data());
    dequantize_row(t, p.w.data() + r * rb, b.data(), p.cols);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << type_name(t) << " row " << r;
  }
}

// BF16 weights take their activations rounded to bf16 (as llama.cpp does): the reference then gets the same.
void round_acts_for(DType t, Problem& p) {
  if (t != DType::BF16) return;
  for (float& v : p.x) v = bf16_to_f32(f32_to_bf16(v));
}

TEST_P(Packed, KernelMatchesReference) {
  const DType t = GetParam();
  const Kernel pk = packed_kernel_for(t);
  if (!pk.gemm) GTEST_SKIP() << "no packed kernel for " << type_name(t) << " on this CPU";
  std::mt19937 rng(13);
  int checked = 0;
  for (int64_t n_tok : {1, 2, 3, 4, 5, 7, 8, 13, 24}) {
    Problem p = make(t, 64, 512, n_tok, rng, Isa::Avx512);
    const auto packed = pack(p);
    MatView mv = p.view();
    mv.data = packed.data();
    mv.packed = true;
    std::vector<float> got(p.rows * n_tok, NAN);
    // whole groups, and ranges that cut groups (as a caller other than the thread pool might)
    for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 16}, {16, 21}, {21, 48}, {48, 64}})
      pk.gemm(mv, p.act_for(pk), p.stride_for(pk), n_tok, got.data(), p.rows, r0, r1);
    round_acts_for(t, p);
    const auto ref = run(p, Isa::Scalar);
    const auto unpacked = run(p, Isa::Avx512);
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_NEAR(got[i], ref[i], 2e-4 * (std::fabs(ref[i]) + 1.0f))
          << type_name(t) << " tokens " << n_tok << " at row " << i % p.rows << " token " << i / p.rows;
      // prefill builds the same panels as on unpacked weights (BF16 has a kernel of its own)
      if (n_tok >= 8 && t != DType::BF16) ASSERT_EQ(got[i], unpacked[i]) << "prefill must equal the unpacked panel kernel";
    }
    ++checked;
  }
  RecordProperty("cases", checked);
}

// Decode (1-7 tokens) must round exactly as prefill (8+) for quantized weights: a last-bit difference can flip
// the int8 rounding of the next layer's activations, and then batched and token-by-token logits drift apart
// (seen: 0.04).
TEST_P(Packed, DecodeEqualsPrefillBitForBit) {
  const DType t = GetParam();
  const Kernel pk = packed_kernel_for(t);
  if (!pk.gemm) GTEST_SKIP() << "no packed kernel for " << type_name(t) << " on this CPU";
  std::mt19937 rng(17);
  Problem p = make(t, 32, 1024, 9, rng, Isa::Avx512);
  const auto packed = pack(p);
  MatView mv = p.view();
  mv.data = packed.data();
  mv.packed = true;
  std::vector<float> batch(p.rows * p.n_tok), one(p.rows * p.n_tok);
  const size_t st = p.stride_for(pk);
  pk.gemm(mv, p.act_for(pk), st, p.n_tok, batch.data(), p.rows, 0, p.rows);
  for (int64_t k = 0; k < p.n_tok; k += 3)  // 3 tokens at a time (the 2- and 1-token kernels)
    pk.gemm(mv, p.act_for(pk) + k * st, st, std::min<int64_t>(3, p.n_tok - k), one.data() + k * p.rows, p.rows, 0, p.rows);
  // Float activations are not rounded again, so a last-bit difference cannot grow: decode may sum in its own
  // order there (four chains per token), and agrees to float rounding.
  for (size_t i = 0; i < batch.size(); ++i)
    if (pk.int_act) ASSERT_EQ(batch[i], one[i]) << type_name(t) << " at " << i;
    else ASSERT_NEAR(batch[i], one[i], 2e-4 * (std::fabs(batch[i]) + 1.0f)) << type_name(t) << " at " << i;
}

TEST(Packed, OnlyWholeGroupsAreRepacked) {
  EXPECT_FALSE(repack_supported(DType::Q4_K, 40, 512));   // rows not a multiple of 16
  EXPECT_FALSE(repack_supported(DType::Q4_1, 48, 512));   // no R16 layout
  // and whole groups are, wherever this CPU has the kernel
  EXPECT_EQ(repack_supported(DType::Q4_K, 48, 512), packed_kernel_for(DType::Q4_K).gemm != nullptr);
}

INSTANTIATE_TEST_SUITE_P(R16, Packed, ::testing::Values(DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const ::testing::TestParamInfo<DType>& p) { return std::string(type_name(p.param)); });

}  // namespace
