// `minnow perplexity` against llama.cpp's llama-perplexity, the save-logits / KL-divergence round trip, and
// one-line errors on bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "common/error.h"
#include "tools/perplexity.h"
#include "test_util.h"

using namespace minnow;
namespace fs = std::filesystem;

namespace {

// From ../shared/golden/perplexity.json (README section 5b): llama.cpp's llama-perplexity (fork ye-NX/llama.cpp
// 1eeb523c) on stories260K.gguf over the first 100000 bytes of corpus/brown_plain.txt, `-c 128 -b 128 -t 2`:
// "Final estimate: PPL = 52.0229 +/- 0.91092" over 471 chunks.
constexpr double kLlamaPpl = 52.0229;
constexpr double kLlamaPplErr = 0.91092;
constexpr int kLlamaChunks = 471;

std::string model_path() { return test::golden("stories260K/stories260K.gguf"); }

fs::path temp_path() { return fs::temp_directory_path() / ("minnow_test_perplexity_" + std::to_string(::getpid())); }
fs::path temp_dir() {
  fs::create_directories(temp_path());
  return temp_path();
}
// Removes this process's scratch folder when the tests end.
struct RemoveTemp : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(temp_path(), ec);
  }
};
[[maybe_unused]] auto* const remove_temp = ::testing::AddGlobalTestEnvironment(new RemoveTemp);

void write_file(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

// The first 100000 bytes of the corpus (`head -c 100000`), as the golden was made.
fs::path corpus_head() {
  const fs::path out = temp_dir() / "brown_100k.txt";
  std::ifstream in(test::shared_dir() + "/corpus/brown_plain.txt", std::ios::binary);
  std::string s(100000, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  EXPECT_EQ(s.size(), 100000u);
  write_file(out, s);
  return out;
}

tools::PerplexityOptions base_opts(const fs::path& text) {
  tools::PerplexityOptions o;
  o.model = model_path();
  o.text_file = text.string();
  o.n_ctx = 128;
  o.threads = 2;
  o.progress = false;
  return o;
}

// Runs f, expects a minnow::Error whose message is one non-empty line containing `needle`.
template <typename F>
void expect_one_line_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_FALSE(msg.empty());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    std::printf("  error: %s\n", msg.c_str());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-minnow exception: " << e.what();
  }
}

}  // namespace

TEST(Perplexity, MatchesLlamaCppOnStories260K) {
  MINNOW_REQUIRE_SHARED();
  auto o = base_opts(corpus_head());
  o.progress = true;
  const auto r = tools::perplexity(o);
  std::printf("minnow: PPL = %.4f +/- %.5f over %d chunks (llama.cpp: %.4f +/- %.5f over %d)\n", r.ppl, r.ppl_err,
              r.n_chunks, kLlamaPpl, kLlamaPplErr, kLlamaChunks);
  std::printf("%s", tools::format_result(r).c_str());
  EXPECT_EQ(r.n_chunks, kLlamaChunks);
  EXPECT_EQ(r.n_ctx, 128);
  EXPECT_EQ(r.n_scored, int64_t{kLlamaChunks} * 63);
  EXPECT_NEAR(r.ppl, kLlamaPpl, 0.005 * kLlamaPpl);
  EXPECT_NEAR(r.ppl_err, kLlamaPplErr, 0.02 * kLlamaPplErr);
  EXPECT_FALSE(r.has_kl);
  EXPECT_NE(tools::format_result(r).find("Final estimate: PPL = "), std::string::npos);
}

TEST(Perplexity, ChunksLimitsTheEvaluation) {
  MINNOW_REQUIRE_SHARED();
  auto o = base_opts(corpus_head());
  o.n_chunks = 5;
  const auto r = tools::perplexity(o);
  EXPECT_EQ(r.n_chunks, 5);
  EXPECT_EQ(r.n_scored, 5 * 63);
  EXPECT_GT(r.ppl, 1.0);
  // The byte limit does what `head -c` did for the golden.
  auto o2 = base_opts(test::shared_dir() + "/corpus/brown_plain.txt");
  o2.max_bytes = 100000;
  o2.n_chunks = 5;
  const auto r2 = tools::perplexity(o2);
  EXPECT_EQ(r2.n_tokens, r.n_tokens);
  EXPECT_DOUBLE_EQ(r2.ppl, r.ppl);
}

TEST(Perplexity, SaveLogitsThenKlAgainstTheSameModel) {
  MINNOW_REQUIRE_SHARED();
  const fs::path text = corpus_head();
  const fs::path saved = temp_dir() / "base.logp";
  auto o = base_opts(text);
  o.n_chunks = 40;
  o.save_logits = saved.string();
  const auto base = tools::perplexity(o);
  ASSERT_TRUE(fs::exists(saved));
  // header 32 bytes + tokens + per scored position (8 + 2 * n_vocab) bytes; stories260K has 512 tokens.
  EXPECT_EQ(fs::file_size(saved), 32u + 40u * 128 * 4 + 40u * 63 * (8 + 2 * 512));

  auto k = base_opts(text);
  k.n_ctx = 0;  // taken from the base file
  k.kl_base = saved.string();
  const auto r = tools::perplexity(k);
  std::printf("%s", tools::format_result(r).c_str());
  ASSERT_TRUE(r.has_kl);
  EXPECT_EQ(r.n_ctx, 128);
  EXPECT_EQ(r.n_chunks, 40);
  EXPECT_NEAR(r.ppl, base.ppl, 1e-9 * base.ppl);
  EXPECT_NEAR(r.ppl_base, base.ppl, 1e-5 * base.ppl);
  EXPECT_LT(r.kld_mean, 1e-5);
  EXPECT_LT(r.kld_p99, 1e-5);
  EXPECT_GE(r.kld_min, -1e-7);  // rounding only: the renormalized base makes KLD >= 0 in exact arithmetic
  EXPECT_LT(r.dp_rms, 1e-5);
  EXPECT_DOUBLE_EQ(r.same_top, 1.0);
  EXPECT_NE(tools::format_result(r).find("Same top p: 100.000"), std::string::npos);

  // Without the text: the tokens come from the base file.
  k.text_file.clear();
  k.n_chunks = 3;
  const auto r3 = tools::perplexity(k);
  EXPECT_EQ(r3.n_chunks, 3);
  EXPECT_DOUBLE_EQ(r3.same_top, 1.0);

  // Another text does not match the recorded tokens; another context does not match the file.
  const fs::path other = temp_dir() / "other.txt";
  std::string s;
  for (int i = 0; i < 400; ++i) s += "Once upon a time there was a little girl. ";
  write_file(other, s);
  k.text_file = other.string();
  expect_one_line_error([&] { tools::perplexity(k); }, "does not tokenize");
  k.text_file.clear();
  k.n_ctx = 64;
  expect_one_line_error([&] { tools::perplexity(k); }, "context of 128");
}

TEST(Perplexity, BadInputGivesOneLineErrors) {
  MINNOW_REQUIRE_SHARED();
  const fs::path dir = temp_dir();
  const fs::path short_text = dir / "short.txt";
  write_file(short_text, "Once upon a time.\n");
  const fs::path text = corpus_head();

  auto o = base_opts(text);
  o.text_file = (dir / "missing.txt").string();
  expect_one_line_error([&] { tools::perplexity(o); }, "missing.txt");

  o = base_opts(text);
  o.model = (dir / "missing.gguf").string();
  expect_one_line_error([&] { tools::perplexity(o); }, "missing.gguf");

  o = base_opts(text);
  o.n_ctx = 1 << 20;
  expect_one_line_error([&] { tools::perplexity(o); }, "training context");

  o = base_opts(text);
  o.n_ctx = 1;
  expect_one_line_error([&] { tools::perplexity(o); }, "too small");
  o.n_ctx = -5;
  expect_one_line_error([&] { tools::perplexity(o); }, "too small");

  o = base_opts(short_text);
  expect_one_line_error([&] { tools::perplexity(o); }, "needs at least 256");

  o = base_opts(text);
  o.save_logits = (dir / "x.logp").string();
  o.kl_base = (dir / "y.logp").string();
  expect_one_line_error([&] { tools::perplexity(o); }, "cannot be used together");

  o = base_opts(text);
  o.kl_base = (dir / "nope.logp").string();
  expect_one_line_error([&] { tools::perplexity(o); }, "nope.logp");

  const fs::path junk = dir / "junk.logp";
  write_file(junk, std::string(100, 'x'));
  o.kl_base = junk.string();
  expect_one_line_error([&] { tools::perplexity(o); }, "not a minnow saved-logits file");

  // A valid file cut short.
  const fs::path saved = dir / "cut.logp";
  o = base_opts(text);
  o.n_chunks = 2;
  o.save_logits = saved.string();
  tools::perplexity(o);
  fs::resize_file(saved, fs::file_size(saved) - 10);
  o = base_opts(text);
  o.kl_base = saved.string();
  expect_one_line_error([&] { tools::perplexity(o); }, "wrong size");

  o = base_opts(text);
  o.text_file.clear();
  expect_one_line_error([&] { tools::perplexity(o); }, "text file");
}
