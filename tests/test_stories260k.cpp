// The real trained model: stories260K. Logits against llama.cpp's, and the CLI's greedy continuation
// byte for byte. The shipped copy in models/ needs no fixtures.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "golden_compare.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace minnow;

namespace {

std::string shipped_model() { return test::source_dir() + "/models/stories260K.gguf"; }

nlohmann::json prompt_json(int i) {
  std::ifstream f(test::golden("stories260K/prompt" + std::to_string(i) + ".json"));
  return nlohmann::json::parse(f);
}

TEST(Stories260K, PromptLogitsAgreeWithLlamaCpp) {
  MINNOW_REQUIRE_SHARED();
  auto model = Model::load(test::golden("stories260K/stories260K.gguf"));
  runtime::ThreadPool pool(2);
  for (int i = 0; i < 3; ++i) {
    const auto j = prompt_json(i);
    const auto ids = j["token_ids"].get<std::vector<int32_t>>();
    const auto gold = test::read_f32_file(test::golden("stories260K/" + j["logits_file"].get<std::string>()));
    ASSERT_EQ(gold.size(), ids.size() * 512);
    runtime::Session s(*model, pool, {64, 512, DType::F32});
    const float* ours = s.eval(ids.data(), static_cast<int32_t>(ids.size()), true);
    const auto b = test::tolerance_for("F32", "llama");
    const auto a = test::compare_logits(gold.data(), ours, static_cast<int64_t>(ids.size()), 512, b);
    EXPECT_TRUE(a.ok(b)) << "prompt" << i << ": " << a.str();
  }
}

TEST(Stories260K, CliGreedyContinuationIsExact) {
  MINNOW_REQUIRE_SHARED();
  for (int i = 0; i < 3; ++i) {
    const auto j = prompt_json(i);
    const auto r = test::run_cli({"run", "-m", shipped_model(), "-p", j["prompt"].get<std::string>(), "-n", "64",
                                  "--temp", "0", "-t", "2", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, j["greedy_text"].get<std::string>()) << "prompt: " << j["prompt"];
  }
}

TEST(Stories260K, ShippedModelIsTheGoldenOne) {
  MINNOW_REQUIRE_SHARED();
  EXPECT_EQ(test::slurp(shipped_model()), test::slurp(test::golden("stories260K/stories260K.gguf")));
}

TEST(Stories260K, ShippedModelTellsAStory) {
  const auto r = test::run_cli({"run", "-m", shipped_model(), "-p", "Once upon a time", "-n", "32", "--seed", "7",
                                "-t", "2", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), 20u);
  const auto again = test::run_cli({"run", "-m", shipped_model(), "-p", "Once upon a time", "-n", "32", "--seed", "7",
                                    "-t", "2", "-q"});
  EXPECT_EQ(r.out, again.out) << "same seed must give the same story";
}

TEST(Cli, LogitsWritesRawFloats) {
  const std::string out = ::testing::TempDir() + "minnow_logits_test.f32";
  const auto r = test::run_cli({"logits", "-m", shipped_model(), "--tokens", "1,403,407", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = test::read_f32_file(out);
  EXPECT_EQ(v.size(), 3u * 512u);
  std::remove(out.c_str());
}

TEST(Cli, ErrorsAreOneLineAndExitOne) {
  const std::vector<std::vector<std::string>> bad = {
      {"run", "-m", "/nonexistent.gguf", "-p", "hi"},
      {"logits", "-m", shipped_model(), "--tokens", "1,x", "-o", "/tmp/never"},
      {"logits", "-m", shipped_model(), "--tokens", "1,999999", "-o", "/tmp/never"},
      {"info", "/etc/hostname"},
      {"tokenize", "-m", shipped_model()},
      {"run", "-m", shipped_model()},
      {"frobnicate"},
  };
  for (const auto& args : bad) {
    const auto r = test::run_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 1) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << joined << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << joined;
  }
}

TEST(Cli, InfoDescribesTheShippedModel) {
  const auto r = test::run_cli({"info", shipped_model()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:   llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n_layer 5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32: 48"), std::string::npos) << r.out;
}

TEST(Cli, TokenizePrintsJson) {
  const auto r = test::run_cli({"tokenize", "-m", shipped_model(), "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 403, 407, 261, 378]\n");
  const auto nb = test::run_cli({"tokenize", "-m", shipped_model(), "--no-bos", "Once upon a time"});
  EXPECT_EQ(nb.out, "[403, 407, 261, 378]\n");
}

}  // namespace
