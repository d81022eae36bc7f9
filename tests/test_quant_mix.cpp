// The per-tensor type choices of each mix equal what llama-quantize did to every golden fixture
// (goldens.json lists the type of every tensor).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "gguf/gguf.h"
#include "test_util.h"
#include "tools/quant_mix.h"

using namespace minnow;

TEST(QuantMix, MatchesLlamaQuantizeOnEveryFixture) {
  MINNOW_REQUIRE_SHARED();
  int files = 0;
  for (const std::string arch : {"llama", "qwen2", "phi3", "gemma2", "qwen3", "gemma3", "smollm3"}) {
    std::ifstream jf(test::golden("models/" + arch + "/goldens.json"));
    const auto j = nlohmann::json::parse(jf);
    auto base = gguf::File::open(test::golden("models/" + arch + "/" + arch + "-F32.gguf"));
    std::vector<tools::TensorDesc> descs;
    for (const auto& t : base->tensors()) descs.push_back({t.name, std::vector<int64_t>(t.ne, t.ne + t.n_dims)});
    const int n_gqa = static_cast<int>(base->get_uint(arch + ".attention.head_count", 1) /
                                       base->get_uint(arch + ".attention.head_count_kv", 1));
    for (const auto& [type, info] : j["files"].items()) {
      if (type == "F32") continue;
      const auto types = tools::choose_types(tools::parse_file_type(type), descs, n_gqa);
      std::map<std::string, std::string> want;
      for (const auto& [tname, names] : info["tensor_types"].items())
        for (const auto& n : names) want[n.get<std::string>()] = tname;
      for (size_t i = 0; i < descs.size(); ++i)
        EXPECT_EQ(type_name(types[i]), want[descs[i].name]) << arch << "-" << type << " " << descs[i].name;
      ++files;
    }
  }
  EXPECT_GT(files, 30);
}

TEST(QuantMix, UnknownTypeNamesTheSupportedOnes) {
  try {
    tools::parse_file_type("Q7_K");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K_M"), std::string::npos);
  }
}
