// Model-level bad input: files that are valid GGUF but not a valid model. Each must be refused with a
// one-line minnow::Error (never a crash, hang or huge allocation), and by the CLI with exit code 1.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cli_util.h"
#include "common/error.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace minnow;

namespace {

std::string shipped_model() { return test::source_dir() + "/models/stories260K.gguf"; }

struct Mutation {
  const char* name;
  std::function<void(gguf::Writer&, const gguf::File&)> apply;
  const char* expect;  // a fragment the error message must contain
};

std::vector<float> zeros(size_t n) { return std::vector<float>(n, 0.0f); }

const std::vector<Mutation>& mutations() {
  static const std::vector<Mutation> m = {
      {"unknown_architecture", [](gguf::Writer& w, const gguf::File&) { w.set_str("general.architecture", "mamba9"); },
       "unknown architecture 'mamba9'"},
      {"missing_architecture", [](gguf::Writer& w, const gguf::File&) { w.remove("general.architecture"); },
       "general.architecture"},
      {"zero_heads", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.attention.head_count", 0); },
       "head_count"},
      {"heads_not_dividing_embd", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.attention.head_count", 12); },
       "not a multiple of head_count 12"},
      {"kv_heads_not_dividing_heads",
       [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.attention.head_count_kv", 3); }, "head_count_kv"},
      {"huge_layer_count", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.block_count", 4000000000u); },
       "block_count"},
      {"more_layers_than_tensors", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.block_count", 6); },
       "blk.5.attn_norm.weight"},
      {"missing_tensor", [](gguf::Writer& w, const gguf::File&) { w.remove_tensor("blk.2.ffn_down.weight"); },
       "blk.2.ffn_down.weight"},
      {"embd_contradicts_tensors", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.embedding_length", 128); },
       "token_embd.weight"},
      {"ff_contradicts_tensors", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.feed_forward_length", 100); },
       "ffn_gate"},
      {"wrong_shape_tensor",
       [](gguf::Writer& w, const gguf::File&) {
         auto z = zeros(64 * 48);
         w.add_tensor("blk.1.attn_q.weight", DType::F32, {64, 48}, z.data(), z.size() * 4);
       },
       "blk.1.attn_q.weight"},
      {"odd_rope_dims", [](gguf::Writer& w, const gguf::File&) { w.set_u32("llama.rope.dimension_count", 7); },
       "rope.dimension_count"},
      {"negative_eps", [](gguf::Writer& w, const gguf::File&) { w.set_f32("llama.attention.layer_norm_rms_epsilon", -1); },
       "epsilon"},
      {"string_where_int_expected",
       [](gguf::Writer& w, const gguf::File&) { w.set_str("llama.embedding_length", "sixty-four"); },
       "embedding_length"},
      {"unsupported_compute_type",
       [](gguf::Writer& w, const gguf::File&) {
         std::vector<uint8_t> blocks(2 * 66, 0);  // IQ2_XXS: 256 per 66-byte block; a 512x1 tensor
         w.add_tensor("blk.0.attn_norm.weight", DType::IQ2_XXS, {512}, blocks.data(), blocks.size());
       },
       "attn_norm"},
      {"vocab_size_mismatch",
       [](gguf::Writer& w, const gguf::File& f) {
         const auto* toks = f.get_array("tokenizer.ggml.tokens");
         std::vector<std::string> t(toks->strings.begin(), toks->strings.end());
         t.resize(500);
         w.set_arr_str("tokenizer.ggml.tokens", t);
       },
       "token"},
      {"missing_vocab", [](gguf::Writer& w, const gguf::File&) { w.remove("tokenizer.ggml.tokens"); },
       "tokenizer.ggml.tokens"},
      {"bos_out_of_range", [](gguf::Writer& w, const gguf::File&) { w.set_u32("tokenizer.ggml.bos_token_id", 99999); },
       "bos"},
      {"unknown_tokenizer_kind", [](gguf::Writer& w, const gguf::File&) { w.set_str("tokenizer.ggml.model", "klingon"); },
       "klingon"},
  };
  return m;
}

class HostileModel : public ::testing::TestWithParam<size_t> {};

std::string write_variant(const Mutation& m) {
  auto base = gguf::File::open(shipped_model());
  gguf::Writer w;
  gguf::copy_all(*base, w);
  m.apply(w, *base);
  const std::string path = ::testing::TempDir() + "minnow_hostile_" + m.name + ".gguf";
  w.write(path);
  return path;
}

TEST(HostileModel, UnmodifiedCopyLoadsAndRuns) {
  auto base = gguf::File::open(shipped_model());
  gguf::Writer w;
  gguf::copy_all(*base, w);
  const std::string path = ::testing::TempDir() + "minnow_roundtrip.gguf";
  w.write(path);
  auto model = Model::load(path);
  runtime::ThreadPool pool(1);
  runtime::Session s(*model, pool, {8});
  const int32_t ids[] = {1, 403, 407};
  const float* logits = s.eval(ids, 3);
  EXPECT_TRUE(std::isfinite(logits[0]));
  std::remove(path.c_str());
}

TEST_P(HostileModel, RefusedWithOneLineError) {
  const Mutation& m = mutations()[GetParam()];
  const std::string path = write_variant(m);
  try {
    auto model = Model::load(path);
    FAIL() << m.name << ": loaded without error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(m.expect), std::string::npos) << m.name << ": message does not name the problem: " << msg;
  }
  const auto r = test::run_cli({"run", "-m", path, "-p", "Once", "-n", "4"});
  EXPECT_EQ(r.exit_code, 1) << m.name << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << m.name << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << m.name;
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Corpus, HostileModel, ::testing::Range<size_t>(0, mutations().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) { return mutations()[p.param].name; });

TEST(HostileModel, OversizedPromptIsRefused) {
  std::string prompt;
  for (int i = 0; i < 3000; ++i) prompt += "the dog ";
  const auto r = test::run_cli({"run", "-m", shipped_model(), "-p", prompt, "-n", "4"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

TEST(HostileModel, ContextOverflowInSessionIsAnError) {
  auto model = Model::load(shipped_model());
  runtime::ThreadPool pool(1);
  runtime::Session s(*model, pool, {4});
  const int32_t ids[] = {1, 2, 3, 4, 5};
  EXPECT_THROW(s.eval(ids, 5), Error);
  EXPECT_EQ(s.n_past(), 0);
  const float* l = s.eval(ids, 4);
  EXPECT_TRUE(std::isfinite(l[0]));
  EXPECT_THROW(s.eval(ids, 1), Error);
}

}  // namespace
