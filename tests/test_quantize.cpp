// Quantizers (tensor/quantize.h) and `minnow quantize` (tools/quantize_tool.h):
//  (a) every F32 golden tensor quantized here equals llama-quantize's bytes (golden models/*),
//      block for block, and never dequantizes with a larger error;
//  (b) round trips on random data stay within each type's expected error;
//  (c) importance weighting lowers the weighted error;
//  (d) the tool: a golden F32 model to Q4_K_M gets llama.cpp's per-tensor types and loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "common/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quantize.h"
#include "tensor/types.h"
#include "test_util.h"
#include "tools/quantize_tool.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;

std::vector<float> dequant_all(DType t, const void* data, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, data, y.data(), n);
  return y;
}

double rmse(const std::vector<float>& a, const float* ref, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - ref[i];
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(n));
}

// ------------------------------------------------------------------ (a) golden byte comparison

struct TypeStats {
  int64_t blocks = 0, same = 0, tensors = 0;
  double worst_ratio = 0;  // max over tensors of our RMSE / llama.cpp's
  std::string worst_tensor;
};

TEST(QuantizeGolden, MatchesLlamaQuantizeBlockForBlock) {
  MINNOW_REQUIRE_SHARED();
  const fs::path models = test::golden("models");
  std::map<std::string, TypeStats> stats;
  int files = 0;
  for (const auto& dir : fs::directory_iterator(models)) {
    if (!dir.is_directory()) continue;
    const std::string arch = dir.path().filename().string();
    const fs::path f32_path = dir.path() / (arch + "-F32.gguf");
    if (!fs::exists(f32_path)) continue;
    auto src = gguf::File::open(f32_path.string());
    for (const auto& qf : fs::directory_iterator(dir.path())) {
      const std::string name = qf.path().filename().string();
      if (qf.path().extension() != ".gguf" || name == arch + "-F32.gguf") continue;
      auto q = gguf::File::open(qf.path().string());
      ++files;
      for (const auto& t : q->tensors()) {
        const gguf::TensorInfo* s = src->find_tensor(t.name);
        ASSERT_NE(s, nullptr) << name << ": " << t.name;
        if (t.type == DType::F32 || s->type != DType::F32) continue;
        ASSERT_TRUE(can_quantize(t.type)) << name << ": " << t.name << " is " << type_name(t.type);
        ASSERT_EQ(s->n_elements(), t.n_elements());
        const int64_t n_per_row = t.ne[0], nrows = t.n_rows();
        const auto* x = reinterpret_cast<const float*>(s->data);
        std::vector<uint8_t> ours(t.n_bytes);
        ASSERT_EQ(quantize_rows(t.type, x, ours.data(), nrows, n_per_row, nullptr), t.n_bytes);

        const TypeInfo& ti = type_info(t.type);
        TypeStats& st = stats[ti.name];
        const int64_t nb = t.n_elements() / ti.block_size;
        int64_t same = 0;
        for (int64_t b = 0; b < nb; ++b)
          same += std::memcmp(ours.data() + b * ti.type_size, t.data + b * ti.type_size, static_cast<size_t>(ti.type_size)) == 0;
        st.blocks += nb;
        st.same += same;
        ++st.tensors;

        const size_t n = static_cast<size_t>(t.n_elements());
        const double e_ours = rmse(dequant_all(t.type, ours.data(), t.n_elements()), x, n);
        const double e_ref = rmse(dequant_all(t.type, t.data, t.n_elements()), x, n);
        const double ratio = e_ref > 0 ? e_ours / e_ref : (e_ours > 0 ? 1e9 : 1.0);
        if (ratio > st.worst_ratio) { st.worst_ratio = ratio; st.worst_tensor = name + ":" + t.name; }
        EXPECT_LE(e_ours, e_ref * 1.0001 + 1e-12) << name << ": " << t.name << " (" << ti.name << ")";
        if (same != nb)
          ADD_FAILURE() << name << ": " << t.name << " (" << ti.name << "): " << nb - same << " of " << nb
                        << " blocks differ from llama.cpp";
      }
    }
  }
  ASSERT_GT(files, 0);
  for (const auto& [type, st] : stats) {
    const double frac = static_cast<double>(st.same) / static_cast<double>(st.blocks);
    std::printf("  %-7s %3lld tensors %8lld blocks  identical %.6f  worst RMSE ratio %.6f (%s)\n", type.c_str(),
                static_cast<long long>(st.tensors), static_cast<long long>(st.blocks), frac, st.worst_ratio,
                st.worst_tensor.c_str());
    EXPECT_GE(frac, 0.99) << type;
  }
}

// ------------------------------------------------------------------ (b) round trips

const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q6_K,   DType::Q5_K,
                           DType::Q5_1, DType::Q5_0, DType::Q4_K, DType::Q4_1, DType::Q4_0,   DType::IQ4_NL,
                           DType::IQ4_XS, DType::Q3_K, DType::Q2_K};

std::vector<float> quant_dequant(DType t, const std::vector<float>& x, int64_t n_per_row, const float* imp = nullptr) {
  const int64_t nrows = static_cast<int64_t>(x.size()) / n_per_row;
  std::vector<uint8_t> q(row_bytes(t, n_per_row) * static_cast<size_t>(nrows));
  EXPECT_EQ(quantize_rows(t, x.data(), q.data(), nrows, n_per_row, imp), q.size());
  return dequant_all(t, q.data(), static_cast<int64_t>(x.size()));
}

// Relative RMSE (RMSE / RMS of x) on N(0, 1) data; each bound is 1.1x what ggml's algorithms give
// on this data (measured: F16 2.1e-4, BF16 1.65e-3, Q8_0 5.4e-3, Q6_K 1.78e-2, Q5_K 3.64e-2,
// Q5_1 3.80e-2, Q5_0 4.30e-2, Q4_K 7.17e-2, Q4_1 7.85e-2, Q4_0 8.68e-2, IQ4_NL 7.63e-2,
// IQ4_XS 7.69e-2, Q3_K 0.152, Q2_K 0.297), so a regression in any search shows up.
TEST(QuantizeRoundTrip, GaussianErrorWithinBounds) {
  const std::map<DType, double> bound = {
      {DType::F32, 0.0},       {DType::F16, 2.3e-4},   {DType::BF16, 1.8e-3},  {DType::Q8_0, 5.9e-3},
      {DType::Q6_K, 1.96e-2},  {DType::Q5_K, 4.0e-2},  {DType::Q5_1, 4.2e-2},  {DType::Q5_0, 4.7e-2},
      {DType::Q4_K, 7.9e-2},   {DType::Q4_1, 8.6e-2},  {DType::Q4_0, 9.6e-2},  {DType::IQ4_NL, 8.4e-2},
      {DType::IQ4_XS, 8.5e-2}, {DType::Q3_K, 1.67e-1}, {DType::Q2_K, 3.27e-1}};
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n_per_row = 1024;
  std::vector<float> x(64 * n_per_row);
  for (float& v : x) v = nd(rng);
  double rms = 0;
  for (float v : x) rms += static_cast<double>(v) * v;
  rms = std::sqrt(rms / static_cast<double>(x.size()));
  for (DType t : kAllTypes) {
    const double rel = rmse(quant_dequant(t, x, n_per_row), x.data(), x.size()) / rms;
    std::printf("  %-7s relative RMSE %.5f\n", type_name(t), rel);
    EXPECT_LE(rel, bound.at(t)) << type_name(t);
    if (t != DType::F32) {
      EXPECT_GT(rel, 0.0) << type_name(t);
    }
  }
}

TEST(QuantizeRoundTrip, ZerosConstantsAndScaledData) {
  const int64_t n = 512;
  for (DType t : kAllTypes) {
    std::vector<float> zeros(n, 0.0f);
    for (float v : quant_dequant(t, zeros, n)) ASSERT_EQ(v, 0.0f) << type_name(t);
    // One all-zero super-block next to ordinary data stays zero.
    std::vector<float> mixed(n);
    for (int64_t i = 0; i < n; ++i) mixed[static_cast<size_t>(i)] = i < 256 ? 0.0f : std::sin(0.37f * static_cast<float>(i));
    const std::vector<float> y = quant_dequant(t, mixed, n);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], 0.0f) << type_name(t) << " element " << i;
    // Block types: error scales with the data, 1000x the values giving 1000x the RMSE (within a
    // little: the fp16 scales round differently).
    if (t == DType::F32 || t == DType::F16 || t == DType::BF16) continue;
    std::vector<float> big(mixed);
    for (float& v : big) v *= 1000.0f;
    const double e1 = rmse(y, mixed.data(), mixed.size());
    const double e2 = rmse(quant_dequant(t, big, n), big.data(), big.size());
    EXPECT_NEAR(e2, 1000.0 * e1, 0.02 * 1000.0 * e1 + 1e-9) << type_name(t);
  }
  // A constant positive row: the types with a minimum represent it (almost) exactly.
  std::vector<float> c(256, 0.75f);
  for (DType t : {DType::Q4_1, DType::Q5_1, DType::Q8_0, DType::Q4_0, DType::Q6_K})
    for (float v : quant_dequant(t, c, 256)) EXPECT_NEAR(v, 0.75f, 1e-3) << type_name(t);
}

TEST(QuantizeRoundTrip, F16AndBF16RoundToNearestEven) {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65520.0f, 1e-8f, -3.14159f, 1e30f};
  std::vector<uint8_t> h(x.size() * 2), b(x.size() * 2);
  quantize_rows(DType::F16, x.data(), h.data(), 1, static_cast<int64_t>(x.size()), nullptr);
  quantize_rows(DType::BF16, x.data(), b.data(), 1, static_cast<int64_t>(x.size()), nullptr);
  for (size_t i = 0; i < x.size(); ++i) {
    uint16_t hv, bv;
    std::memcpy(&hv, h.data() + 2 * i, 2);
    std::memcpy(&bv, b.data() + 2 * i, 2);
    EXPECT_EQ(hv, f32_to_fp16(x[i])) << i;
    EXPECT_EQ(bv, f32_to_bf16(x[i])) << i;
  }
  EXPECT_EQ(f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);            // rounds to inf
}

TEST(QuantizeRoundTrip, RejectsBadArguments) {
  std::vector<float> x(100, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(quantize_row(DType::Q4_0, x.data(), out.data(), 48, nullptr), Error);   // not whole blocks
  EXPECT_THROW(quantize_row(DType::Q4_K, x.data(), out.data(), 64, nullptr), Error);   // < one super-block
  EXPECT_THROW(quantize_row(DType::IQ2_XXS, x.data(), out.data(), 256, nullptr), Error);
  EXPECT_FALSE(can_quantize(DType::Q8_K));
  EXPECT_TRUE(can_quantize(DType::IQ4_XS));
}

// ------------------------------------------------------------------ (c) importance weighting

// Half the columns matter 1000x more than the rest (as an imatrix says of real activations); the
// importance-aware paths must trade error on the unimportant columns for the important ones.
TEST(QuantizeImportance, LowersWeightedError) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  const int64_t n_per_row = 512, nrows = 64;
  std::vector<float> x(static_cast<size_t>(n_per_row * nrows));
  for (float& v : x) v = nd(rng) * (ud(rng) < 0.05f ? 4.0f : 1.0f);  // some outliers
  std::vector<float> imp(static_cast<size_t>(n_per_row));
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = (ud(rng) < 0.5f ? 1000.0f : 1.0f) * (0.5f + ud(rng));
  auto weighted = [&](const std::vector<float>& y) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double d = static_cast<double>(y[i]) - x[i];
      s += imp[i % imp.size()] * d * d;
    }
    return s;
  };
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                  DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS}) {
    const double plain = weighted(quant_dequant(t, x, n_per_row));
    const double with = weighted(quant_dequant(t, x, n_per_row, imp.data()));
    std::printf("  %-7s weighted error %.4g -> %.4g with importance (x%.3f)\n", type_name(t), plain, with, with / plain);
    EXPECT_LT(with, 0.95 * plain) << type_name(t);
  }
  // Q8_0 ignores importance, as ggml does.
  EXPECT_EQ(quant_dequant(DType::Q8_0, x, n_per_row), quant_dequant(DType::Q8_0, x, n_per_row, imp.data()));
}

// ------------------------------------------------------------------ (d) the tool

class QuantizeTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("minnow_quantize_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static tools::QuantizeOptions opts(const std::string& in, const std::string& out, const std::string& type) {
    tools::QuantizeOptions o;
    o.input = in;
    o.output = out;
    o.type = type;
    o.threads = 2;
    o.progress = false;
    return o;
  }
  fs::path dir_;
};

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The brief's check: F32 -> Q4_K_M loads and every tensor has llama.cpp's type. In fact the whole
// file is byte-identical to llama-quantize's, so that is checked for every golden file.
TEST_F(QuantizeTool, Q4KMTypesMatchLlamaAndModelLoads) {
  MINNOW_REQUIRE_SHARED();
  const std::string out = path("llama-Q4_K_M.gguf");
  auto o = opts(test::golden("models/llama/llama-F32.gguf"), out, "Q4_K_M");
  o.progress = true;  // exercise the progress printing once
  const tools::QuantizeSummary s = tools::quantize_model(o);
  EXPECT_EQ(s.n_tensors, 22);
  EXPECT_EQ(s.n_converted, 16);
  EXPECT_LT(s.bytes_out, s.bytes_in / 5);
  EXPECT_FALSE(fs::exists(out + ".tmp"));

  auto model = Model::load(out);
  ASSERT_NE(model, nullptr);
  auto mine = gguf::File::open(out);
  auto ref = gguf::File::open(test::golden("models/llama/llama-Q4_K_M.gguf"));
  ASSERT_EQ(mine->tensors().size(), ref->tensors().size());
  for (const auto& t : ref->tensors()) {
    const gguf::TensorInfo* m = mine->find_tensor(t.name);
    ASSERT_NE(m, nullptr) << t.name;
    EXPECT_EQ(m->type, t.type) << t.name;
  }
  EXPECT_EQ(mine->get_uint("general.file_type", 0), 15u);
  EXPECT_EQ(mine->get_uint("general.quantization_version", 0), 2u);
}

TEST_F(QuantizeTool, ReproducesEveryGoldenFileByteForByte) {
  MINNOW_REQUIRE_SHARED();
  int n = 0;
  for (const auto& dir : fs::directory_iterator(test::golden("models"))) {
    const std::string arch = dir.path().filename().string();
    const fs::path f32 = dir.path() / (arch + "-F32.gguf");
    if (!dir.is_directory() || !fs::exists(f32)) continue;
    for (const auto& qf : fs::directory_iterator(dir.path())) {
      const std::string name = qf.path().filename().string();
      if (qf.path().extension() != ".gguf" || name == arch + "-F32.gguf") continue;
      const std::string type = name.substr(arch.size() + 1, name.size() - arch.size() - 6);
      const std::string out = path(name);
      tools::quantize_model(opts(f32.string(), out, type));
      EXPECT_TRUE(read_bytes(out) == read_bytes(qf.path().string())) << name << " differs from llama-quantize's";
      fs::remove(out);
      ++n;
    }
  }
  EXPECT_GT(n, 10);
}

TEST_F(QuantizeTool, RefusesToRequantizeUnlessAllowed) {
  MINNOW_REQUIRE_SHARED();
  const std::string src = test::golden("models/llama/llama-Q4_0.gguf");
  const std::string out = path("requant.gguf");
  try {
    tools::quantize_model(opts(src, out, "Q8_0"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("already quantized"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--allow-requantize"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(out));
  auto o = opts(src, out, "Q8_0");
  o.allow_requantize = true;
  tools::quantize_model(o);
  auto f = gguf::File::open(out);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, DType::Q8_0);
  EXPECT_NE(Model::load(out), nullptr);
}

TEST_F(QuantizeTool, F16SourceKeepOutputAndTensorTypeOverrides) {
  MINNOW_REQUIRE_SHARED();
  const std::string out = path("o.gguf");
  auto o = opts(test::golden("models/llama/llama-F16.gguf"), out, "Q4_K_M");
  o.keep_output = true;
  o.tensor_types = {"attn_q=Q8_0", "blk\\.1\\.ffn_(up|gate)=q5_k", "ffn_up=IQ4_XS"};
  tools::quantize_model(o);
  auto f = gguf::File::open(out);
  EXPECT_EQ(f->find_tensor("output.weight")->type, DType::F16);  // source type kept
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, DType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.1.attn_q.weight")->type, DType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate.weight")->type, DType::Q5_K);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_up.weight")->type, DType::IQ4_XS);  // last match wins
  EXPECT_EQ(f->find_tensor("blk.0.ffn_up.weight")->type, DType::IQ4_XS);
  EXPECT_EQ(f->find_tensor("blk.0.attn_k.weight")->type, DType::Q4_K);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, DType::F32);
  EXPECT_NE(Model::load(out), nullptr);

  // From F16 the tensor equals quantizing the F16 values (as floats) directly.
  auto src = gguf::File::open(test::golden("models/llama/llama-F16.gguf"));
  const gguf::TensorInfo* s = src->find_tensor("blk.0.attn_k.weight");
  std::vector<float> x = dequant_all(DType::F16, s->data, s->n_elements());
  std::vector<uint8_t> q(row_bytes(DType::Q4_K, s->ne[0]) * static_cast<size_t>(s->n_rows()));
  quantize_rows(DType::Q4_K, x.data(), q.data(), s->n_rows(), s->ne[0], nullptr);
  const gguf::TensorInfo* t = f->find_tensor("blk.0.attn_k.weight");
  ASSERT_EQ(t->n_bytes, q.size());
  EXPECT_EQ(std::memcmp(t->data, q.data(), q.size()), 0);

  EXPECT_THROW(tools::quantize_model([&] { auto b = o; b.tensor_types = {"attn_q"}; return b; }()), Error);
  EXPECT_THROW(tools::quantize_model([&] { auto b = o; b.tensor_types = {"attn_q=Q9_9"}; return b; }()), Error);
  EXPECT_THROW(tools::quantize_model([&] { auto b = o; b.tensor_types = {"attn_q(=Q8_0"}; return b; }()), Error);
  EXPECT_THROW(tools::quantize_model([&] { auto b = o; b.type = "Q7_K"; return b; }()), Error);
}

// An imatrix in llama-imatrix's GGUF layout: importance = in_sum2 / counts.
TEST_F(QuantizeTool, UsesGgufImatrix) {
  MINNOW_REQUIRE_SHARED();
  const std::string src = test::golden("models/llama/llama-F32.gguf");
  auto in = gguf::File::open(src);
  const gguf::TensorInfo* wq = in->find_tensor("blk.0.attn_q.weight");
  const int64_t ne0 = wq->ne[0];
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  std::vector<float> sums(static_cast<size_t>(ne0));
  for (float& v : sums) v = 50.0f * ud(rng) * ud(rng) * ud(rng);
  const float count = 10.0f;

  gguf::Writer iw;
  iw.set_str("general.type", "imatrix");
  iw.set_arr_str("imatrix.datasets", {"calib.txt"});
  iw.set_u32("imatrix.chunk_count", 3);
  iw.set_u32("imatrix.chunk_size", 512);
  iw.add_tensor("blk.0.attn_q.weight.in_sum2", DType::F32, {ne0, 1}, sums.data(), sums.size() * 4);
  iw.add_tensor("blk.0.attn_q.weight.counts", DType::F32, {1, 1}, &count, 4);
  const std::string imat = path("imatrix.gguf");
  iw.write(imat);

  const std::string out = path("imat.gguf");
  auto o = opts(src, out, "Q4_K_M");
  o.imatrix = imat;
  const tools::QuantizeSummary s = tools::quantize_model(o);
  EXPECT_EQ(s.n_imatrix_used, 1);
  auto f = gguf::File::open(out);
  EXPECT_EQ(f->get_string("quantize.imatrix.file"), imat);
  EXPECT_EQ(f->get_string("quantize.imatrix.dataset"), "calib.txt");
  EXPECT_EQ(f->get_uint("quantize.imatrix.entries_count", 0), 1u);
  EXPECT_EQ(f->get_uint("quantize.imatrix.chunks_count", 0), 3u);

  std::vector<float> imp(sums);
  for (float& v : imp) v /= count;
  std::vector<uint8_t> want(row_bytes(DType::Q4_K, ne0) * static_cast<size_t>(wq->n_rows()));
  quantize_rows(DType::Q4_K, reinterpret_cast<const float*>(wq->data), want.data(), wq->n_rows(), ne0, imp.data());
  const gguf::TensorInfo* t = f->find_tensor("blk.0.attn_q.weight");
  ASSERT_EQ(t->type, DType::Q4_K);
  EXPECT_EQ(std::memcmp(t->data, want.data(), want.size()), 0);
  // Other tensors are as without an imatrix.
  auto ref = gguf::File::open(test::golden("models/llama/llama-Q4_K_M.gguf"));
  const gguf::TensorInfo* k = f->find_tensor("blk.0.attn_k.weight");
  EXPECT_EQ(std::memcmp(k->data, ref->find_tensor("blk.0.attn_k.weight")->data, k->n_bytes), 0);
  EXPECT_NE(std::memcmp(t->data, ref->find_tensor("blk.0.attn_q.weight")->data, t->n_bytes), 0);

  // A wrong-sized entry is an error (llama.cpp's rule), and a file that is not an imatrix too.
  gguf::Writer bad;
  bad.add_tensor("blk.0.attn_q.weight.in_sum2", DType::F32, {ne0 / 2, 1}, sums.data(), sums.size() * 2);
  bad.add_tensor("blk.0.attn_q.weight.counts", DType::F32, {1, 1}, &count, 4);
  bad.write(path("bad.gguf"));
  o.imatrix = path("bad.gguf");
  EXPECT_THROW(tools::quantize_model(o), Error);
  o.imatrix = src;  // a model, no in_sum2 tensors
  EXPECT_THROW(tools::quantize_model(o), Error);
}

// The legacy binary imatrix (llama-imatrix before mid-2025): importance = values / ncall.
TEST_F(QuantizeTool, UsesLegacyImatrixAndRejectsNonFiniteWeights) {
  MINNOW_REQUIRE_SHARED();
  const std::string src = test::golden("models/llama/llama-F32.gguf");
  auto in = gguf::File::open(src);
  const gguf::TensorInfo* wk = in->find_tensor("blk.1.attn_k.weight");
  const int32_t ne0 = static_cast<int32_t>(wk->ne[0]);
  std::vector<float> vals(static_cast<size_t>(ne0));
  for (int32_t i = 0; i < ne0; ++i) vals[static_cast<size_t>(i)] = 1.0f + static_cast<float>((i * 37) % 101);
  const std::string imat = path("imatrix.dat");
  {
    std::ofstream f(imat, std::ios::binary);
    auto i32 = [&](int32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    const std::string name = "blk.1.attn_k.weight";
    i32(1);
    i32(static_cast<int32_t>(name.size()));
    f.write(name.data(), static_cast<std::streamsize>(name.size()));
    i32(4);  // ncall
    i32(ne0);
    f.write(reinterpret_cast<const char*>(vals.data()), static_cast<std::streamsize>(vals.size() * 4));
    i32(7);  // last call
    i32(5);
    f.write("calib", 5);
  }
  const std::string out = path("legacy.gguf");
  auto o = opts(src, out, "Q6_K");
  o.imatrix = imat;
  EXPECT_EQ(tools::quantize_model(o).n_imatrix_used, 1);
  std::vector<float> imp(vals);
  for (float& v : imp) v /= 4.0f;
  std::vector<uint8_t> want(row_bytes(DType::Q6_K, ne0) * static_cast<size_t>(wk->n_rows()));
  quantize_rows(DType::Q6_K, reinterpret_cast<const float*>(wk->data), want.data(), wk->n_rows(), ne0, imp.data());
  auto f = gguf::File::open(out);
  EXPECT_EQ(std::memcmp(f->find_tensor("blk.1.attn_k.weight")->data, want.data(), want.size()), 0);
  EXPECT_EQ(f->get_string("quantize.imatrix.dataset"), "calib");
  EXPECT_EQ(f->get_uint("quantize.imatrix.chunks_count", 0), 7u);

  // A source weight that is NaN is refused with the tensor's name.
  gguf::Writer w;
  gguf::copy_all(*in, w);
  std::vector<float> x(reinterpret_cast<const float*>(wk->data), reinterpret_cast<const float*>(wk->data) + wk->n_elements());
  x[1234] = std::nanf("");
  w.remove_tensor("blk.1.attn_k.weight");
  w.add_tensor("blk.1.attn_k.weight", DType::F32, {wk->ne[0], wk->ne[1]}, x.data(), x.size() * 4);
  w.write(path("nan.gguf"));
  try {
    tools::quantize_model(opts(path("nan.gguf"), path("nan-q.gguf"), "Q4_0"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.attn_k.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("nan-q.gguf")));
}

TEST_F(QuantizeTool, CliArguments) {
  MINNOW_REQUIRE_SHARED();
  const std::string out = path("cli.gguf");
  EXPECT_EQ(tools::run_quantize({"-h"}), 0);
  EXPECT_EQ(tools::run_quantize({"a.gguf", "b.gguf"}), 2);
  EXPECT_EQ(tools::run_quantize({"a.gguf", "b.gguf", "Q4_0", "--bogus"}), 2);
  EXPECT_EQ(tools::run_quantize({"a.gguf", "b.gguf", "Q4_0", "-t", "x"}), 2);
  EXPECT_EQ(tools::run_quantize({path("missing.gguf"), out, "Q4_0"}), 1);
  EXPECT_EQ(tools::run_quantize({test::golden("models/llama/llama-F32.gguf"), out, "Q4_0", "-t", "2",
                                 "--tensor-type", "output=Q8_0", "--keep-output"}),
            0);
  auto f = gguf::File::open(out);
  EXPECT_EQ(f->find_tensor("output.weight")->type, DType::F32);  // --keep-output: never quantized
  EXPECT_EQ(f->find_tensor("blk.0.ffn_up.weight")->type, DType::Q4_0);
  EXPECT_EQ(f->get_uint("general.file_type", 0), 2u);
}

// ^C while the file is being written: OUT.tmp is removed, OUT never appears, exit status 130.
TEST_F(QuantizeTool, InterruptLeavesNoFiles) {
  MINNOW_REQUIRE_SHARED();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string out = path("int.gguf");
  auto o = opts(test::golden("models/llama/llama-F32.gguf"), out, "Q4_0");
  o.threads = 1;
  o.on_tensor = [&](int k, const std::string&) {
    if (k == 5) {
      std::FILE* f = std::fopen((out + ".tmp").c_str(), "wb");  // as if the writer were midway
      std::fputs("partial", f);
      std::fclose(f);
      std::raise(SIGINT);
    }
  };
  EXPECT_EXIT(tools::quantize_model(o), ::testing::ExitedWithCode(130), "");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  // The handler is only installed while quantize_model runs.
  struct sigaction now {};
  sigaction(SIGINT, nullptr, &now);
  EXPECT_TRUE(now.sa_handler == SIG_DFL || now.sa_handler == SIG_IGN);
}

}  // namespace
}  // namespace minnow
