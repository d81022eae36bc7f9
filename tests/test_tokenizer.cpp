// Tokenizer tests: SentencePiece ("llama" kind) against llama.cpp's outputs, plus unit tests on tiny
// hand-made vocabs written as GGUF files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "test_util.h"
#include "vocab_vectors.h"
#include "tokenizer/tokenizer.h"

namespace {

using minnow::Tokenizer;
using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  auto file = minnow::gguf::File::open(path);
  return Tokenizer::from_gguf(*file);
}

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// Removes the GGUF files the tests wrote when the test binary exits.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const auto& p : paths) std::remove(p.c_str());
  }
};
TempFiles& temp_files() {
  static TempFiles t;
  return t;
}

// ---- a minimal GGUF v3 writer (metadata only) for hand-made vocabs ----
class GgufWriter {
 public:
  void str(const std::string& key, const std::string& v) {
    kv_header(key, 8);
    put_str(v);
  }
  void u32(const std::string& key, uint32_t v) {
    kv_header(key, 4);
    put(v);
  }
  void i32(const std::string& key, int32_t v) {
    kv_header(key, 5);
    put(v);
  }
  void boolean(const std::string& key, bool v) {
    kv_header(key, 7);
    put(static_cast<uint8_t>(v));
  }
  void str_array(const std::string& key, const std::vector<std::string>& v) {
    kv_header(key, 9);
    put(uint32_t{8});
    put(static_cast<uint64_t>(v.size()));
    for (const auto& s : v) put_str(s);
  }
  void f32_array(const std::string& key, const std::vector<float>& v) {
    kv_header(key, 9);
    put(uint32_t{6});
    put(static_cast<uint64_t>(v.size()));
    for (float x : v) put(x);
  }
  void i32_array(const std::string& key, const std::vector<int32_t>& v) {
    kv_header(key, 9);
    put(uint32_t{5});
    put(static_cast<uint64_t>(v.size()));
    for (int32_t x : v) put(x);
  }
  // Writes the file and returns its path (under the temp dir, unique per call).
  std::string write(const std::string& stem) const {
    static int counter = 0;
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("minnow_tok_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + stem + ".gguf"))
                                 .string();
    std::string out = "GGUF";
    auto app = [&](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    app(uint32_t{3});
    app(uint64_t{0});
    app(static_cast<uint64_t>(n_kv_));
    out += body_;
    std::ofstream f(path, std::ios::binary);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    temp_files().paths.push_back(path);
    return path;
  }

 private:
  template <typename T>
  void put(T v) {
    body_.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  void put_str(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    body_ += s;
  }
  void kv_header(const std::string& key, uint32_t type) {
    put_str(key);
    put(type);
    ++n_kv_;
  }
  std::string body_;
  size_t n_kv_ = 0;
};

struct TinyToken {
  std::string text;
  float score;
  int32_t type;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte
};

const std::string kSp = "\xE2\x96\x81";  // U+2581

// <unk> <s> </s>, optional <0x00>..<0xFF>, then `extra`.
std::vector<TinyToken> tiny_vocab(const std::vector<TinyToken>& extra, bool with_bytes = true) {
  std::vector<TinyToken> v = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
  if (with_bytes) {
    char buf[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      v.push_back({buf, 0, 6});
    }
  }
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

void put_vocab(GgufWriter& w, const std::vector<TinyToken>& v, const std::string& model = "llama") {
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& t : v) {
    texts.push_back(t.text);
    scores.push_back(t.score);
    types.push_back(t.type);
  }
  w.str("general.architecture", "llama");
  w.str("tokenizer.ggml.model", model);
  w.str_array("tokenizer.ggml.tokens", texts);
  w.f32_array("tokenizer.ggml.scores", scores);
  w.i32_array("tokenizer.ggml.token_type", types);
}

int32_t id_of(const std::vector<TinyToken>& v, const std::string& text) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].text == text) return static_cast<int32_t>(i);
  return -1;
}

std::string error_of(const std::string& path) {
  try {
    load_tokenizer(path);
  } catch (const minnow::Error& e) {
    return e.what();
  }
  return "";
}

// The usual merge vocab for the unit tests.
std::vector<TinyToken> merge_vocab() {
  return tiny_vocab({
      {kSp, -1, 1},
      {"a", -2, 1},
      {"b", -3, 1},
      {"c", -4, 1},
      {"ab", -5, 1},
      {"bc", -0.5f, 1},   // beats "ab": "abc" -> a + bc
      {kSp + "a", -6, 1},
      {kSp + "ab", -7, 1},
      {"aa", -8, 1},
      {"<|end|>", 0, 3},
      {"<us>", 0, 4},
  });
}

// ---------------------------------------------------------------------------------------------
// golden: stories260K
// ---------------------------------------------------------------------------------------------

TEST(TokenizerStories, PromptsMatchLlamaCpp) {
  MINNOW_REQUIRE_SHARED();
  auto tok = load_tokenizer(minnow::test::golden("stories260K/stories260K.gguf"));
  EXPECT_EQ(tok->kind(), "llama");
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("prompt" + std::to_string(i));
    const auto j = nlohmann::json::parse(minnow::test::read_text_file(minnow::test::golden("stories260K/prompt" + std::to_string(i) + ".json")));
    const std::string prompt = j.at("prompt");
    const Ids expected = j.at("token_ids").get<Ids>();
    EXPECT_EQ(tok->encode(prompt, true), expected) << "prompt '" << prompt << "'";
    // decoding: each greedy token's piece is exactly llama.cpp's (special=true)
    const Ids greedy = j.at("greedy_ids").get<Ids>();
    const auto hex = j.at("greedy_pieces_hex").get<std::vector<std::string>>();
    ASSERT_EQ(greedy.size(), hex.size());
    std::string all;
    for (size_t k = 0; k < greedy.size(); ++k) {
      EXPECT_EQ(tok->token_to_piece(greedy[k]), hex_to_bytes(hex[k])) << "token " << greedy[k];
      all += hex_to_bytes(hex[k]);
    }
    EXPECT_EQ(tok->decode(greedy), all);
    if (j.contains("greedy_text")) {
      EXPECT_EQ(tok->decode(greedy), j.at("greedy_text").get<std::string>());
    }
  }
}

// Runs everywhere: the model shipped in the repository.
TEST(TokenizerStories, ShippedModelRoundTrip) {
  auto tok = load_tokenizer(minnow::test::source_dir() + "/models/stories260K.gguf");
  const Ids ids = tok->encode("Once upon a time", true);
  EXPECT_EQ(ids, (Ids{1, 403, 407, 261, 378}));  // llama.cpp's tokenization
  // decode drops BOS (control, special=false) and keeps the leading space the prefix added
  EXPECT_EQ(tok->decode(ids, false), " Once upon a time");
  EXPECT_EQ(tok->decode(ids, true), "<s> Once upon a time");
  EXPECT_EQ(tok->token_to_piece(1, false), "");
  EXPECT_EQ(tok->token_to_piece(1, true), "<s>");
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(1));
  // byte fallback round-trips anything, including non-ASCII text
  const std::string text = "Tom said: \"h\xC3\xA9llo \xF0\x9F\xA6\x99!\"\n\tand 42";
  EXPECT_EQ(tok->decode(tok->encode(text, false)), " " + text);
  EXPECT_TRUE(tok->encode("", false).empty());
  EXPECT_EQ(tok->encode("", true), Ids{1});
}

// ---------------------------------------------------------------------------------------------
// golden: llama.cpp's test-tokenizer-0 vectors for every SPM vocab in golden/vocab
// ---------------------------------------------------------------------------------------------

void check_vocab_vectors(const std::string& name) {
  const std::string base = minnow::test::golden("vocab/" + name);
  {
    auto f = minnow::gguf::File::open(base);
    ASSERT_EQ(f->get_string("tokenizer.ggml.model"), "llama") << name << " is not an SPM vocab";
  }
  auto tok = load_tokenizer(base);
  const auto vv = minnow::test::read_vocab_vectors(base + ".inp", base + ".out");
  const auto& cases = vv.cases;
  ASSERT_FALSE(cases.empty());
  ASSERT_EQ(cases.size(), vv.lines.size()) << name << ": .inp and .out disagree on the number of cases";
  const auto m = minnow::test::match_vocab_vectors(*tok, vv, [](const std::string& c) { return c; });
  const size_t ok = m.ok;
  const std::string& report = m.report;
  std::printf("[ %s ] %zu/%zu cases match\n", name.c_str(), ok, cases.size());
  EXPECT_EQ(ok, cases.size()) << name << ": first mismatches:" << report;
  // decoding those ids gives the text back (with the prefix space)
  for (const auto& c : cases) {
    if (c.empty()) continue;
    EXPECT_EQ(tok->decode(tok->encode(c, false)), " " + c) << name;
  }
}

TEST(TokenizerVocab, LlamaSpmVectors) {
  MINNOW_REQUIRE_SHARED();
  check_vocab_vectors("ggml-vocab-llama-spm.gguf");
}

TEST(TokenizerVocab, Phi3Vectors) {
  MINNOW_REQUIRE_SHARED();
  check_vocab_vectors("ggml-vocab-phi-3.gguf");
}

TEST(TokenizerVocab, Phi3SpecialTokens) {
  MINNOW_REQUIRE_SHARED();
  auto tok = load_tokenizer(minnow::test::golden("vocab/ggml-vocab-phi-3.gguf"));
  EXPECT_EQ(tok->eos_id(), 32000);
  EXPECT_TRUE(tok->is_eog(32000));  // <|endoftext|>
  EXPECT_TRUE(tok->is_eog(32007));  // <|end|>, found by its text
  EXPECT_FALSE(tok->is_eog(32001));
  // control tokens are matched only with parse_special; phi-3 strips whitespace after them (rstrip)
  const Ids with = tok->encode("<|user|>\nHi<|end|>\n<|assistant|>", true, true);
  ASSERT_GE(with.size(), 5u);
  EXPECT_EQ(with[0], 1);
  EXPECT_EQ(with[1], 32010);
  EXPECT_EQ(with[with.size() - 1], 32001);
  EXPECT_EQ(with[with.size() - 2], 32007);
  const Ids without = tok->encode("<|user|>", false, false);
  EXPECT_GT(without.size(), 1u);
  EXPECT_EQ(tok->decode(without), " <|user|>");
  // </s> is user-defined in this vocab: matched even without parse_special
  const Ids eos_text = tok->encode("a</s>b", false, false);
  EXPECT_NE(std::find(eos_text.begin(), eos_text.end(), 2), eos_text.end());
}

// ---------------------------------------------------------------------------------------------
// unit tests on hand-made vocabs
// ---------------------------------------------------------------------------------------------

TEST(TokenizerSpm, MergesByScoreAndFallsBackToBytes) {
  const auto v = merge_vocab();
  GgufWriter w;
  put_vocab(w, v);
  auto tok = load_tokenizer(w.write("merge"));
  EXPECT_EQ(tok->n_vocab(), static_cast<int32_t>(v.size()));
  // "ab": ▁ + a + b -> pairs ▁a (-6), ab (-5): ab wins; then ▁ + ab -> ▁ab (-7)
  EXPECT_EQ(tok->encode("ab", false), (Ids{id_of(v, kSp + "ab")}));
  // "abc": bc (-0.5) beats ab (-5); then ▁ + a -> ▁a; ▁a + bc not in vocab
  EXPECT_EQ(tok->encode("abc", false), (Ids{id_of(v, kSp + "a"), id_of(v, "bc")}));
  // "aaa": ▁a(-6) vs aa(-8) vs aa: ▁a first, then a+a -> aa
  EXPECT_EQ(tok->encode("aaa", false), (Ids{id_of(v, kSp + "a"), id_of(v, "aa")}));
  // "é" is not in the vocab: its two UTF-8 bytes become <0xC3> <0xA9>
  EXPECT_EQ(tok->encode("\xC3\xA9", false), (Ids{id_of(v, kSp), id_of(v, "<0xC3>"), id_of(v, "<0xA9>")}));
  // spaces become ▁ and only the start of the text gets the prefix
  EXPECT_EQ(tok->encode("a b", false), (Ids{id_of(v, kSp + "a"), id_of(v, kSp), id_of(v, "b")}));
  // add_special: BOS by default for the llama kind, no EOS
  EXPECT_EQ(tok->encode("a", true), (Ids{1, id_of(v, kSp + "a")}));
  EXPECT_TRUE(tok->encode("", false).empty());
  EXPECT_EQ(tok->encode("", true), Ids{1});
}

TEST(TokenizerSpm, TiesGoToTheLeftmostPair) {
  // "aaa" with only "aa": the leftmost pair merges first -> aa + a
  const auto v = tiny_vocab({{"a", -1, 1}, {"aa", -2, 1}, {kSp, -1, 1}});
  GgufWriter w;
  put_vocab(w, v);
  w.boolean("tokenizer.ggml.add_space_prefix", false);
  auto tok = load_tokenizer(w.write("ties"));
  EXPECT_EQ(tok->encode("aaa", false), (Ids{id_of(v, "aa"), id_of(v, "a")}));
  EXPECT_EQ(tok->encode("aaaa", false), (Ids{id_of(v, "aa"), id_of(v, "aa")}));
  EXPECT_EQ(tok->encode(" a", false), (Ids{id_of(v, kSp), id_of(v, "a")}));  // no prefix added
}

TEST(TokenizerSpm, TokensSpanningSpaces) {
  // a vocab with U+2581 inside a token: merges may cross word boundaries (no word-level shortcut)
  const auto v = tiny_vocab({{kSp, -1, 1}, {"a", -1, 1}, {"b", -1, 1}, {"a" + kSp, -1, 1}, {"a" + kSp + "b", -2, 1}});
  GgufWriter w;
  put_vocab(w, v);
  auto tok = load_tokenizer(w.write("span"));
  EXPECT_EQ(tok->encode("a b", false), (Ids{id_of(v, kSp), id_of(v, "a" + kSp + "b")}));
  EXPECT_EQ(tok->encode("a b a b", false),
            (Ids{id_of(v, kSp), id_of(v, "a" + kSp + "b"), id_of(v, kSp), id_of(v, "a" + kSp + "b")}));
}

TEST(TokenizerSpm, RepeatedWordsAndSpaceRuns) {
  // exercises the per-word memo and runs of spaces (which stay attached to the next word)
  const auto v = tiny_vocab({{kSp, -1, 1}, {"a", -2, 1}, {kSp + kSp, -3, 1}, {kSp + "a", -4, 1}});
  GgufWriter w;
  put_vocab(w, v);
  auto tok = load_tokenizer(w.write("runs"));
  const int32_t sp = id_of(v, kSp), sp2 = id_of(v, kSp + kSp), spa = id_of(v, kSp + "a");
  // ▁a ▁a ▁▁a ▁▁▁a: "▁▁" (-3) beats "▁a" (-4), leftmost first
  EXPECT_EQ(tok->encode("a a  a   a", false), (Ids{spa, spa, sp2, id_of(v, "a"), sp2, spa}));
  EXPECT_EQ(tok->encode("a a  a   a", false), tok->encode("a a  a   a", false));
  EXPECT_EQ(tok->encode("  ", false), (Ids{sp2, sp}));
}

TEST(TokenizerSpm, AddBosEosFlags) {
  const auto v = merge_vocab();
  GgufWriter w;
  put_vocab(w, v);
  w.boolean("tokenizer.ggml.add_bos_token", false);
  w.boolean("tokenizer.ggml.add_eos_token", true);
  auto tok = load_tokenizer(w.write("flags"));
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->add_eos());
  EXPECT_EQ(tok->encode("a", true), (Ids{id_of(v, kSp + "a"), 2}));
  EXPECT_EQ(tok->encode("a", false), (Ids{id_of(v, kSp + "a")}));
}

TEST(TokenizerSpm, ParseSpecial) {
  const auto v = merge_vocab();
  GgufWriter w;
  put_vocab(w, v);
  auto tok = load_tokenizer(w.write("special"));
  const int32_t end = id_of(v, "<|end|>"), us = id_of(v, "<us>");
  const int32_t sp_a = id_of(v, kSp + "a");
  // control tokens: only with parse_special; the text after a special token gets the space prefix again
  EXPECT_EQ(tok->encode("a<|end|>a", false, true), (Ids{sp_a, end, sp_a}));
  EXPECT_EQ(tok->encode("<s>a", true, true), (Ids{1, 1, sp_a}));
  const Ids plain = tok->encode("a<|end|>a", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), end), 0);
  EXPECT_EQ(tok->decode(plain), " a<|end|>a");
  // user-defined tokens are matched even without parse_special
  EXPECT_EQ(tok->encode("a<us>", false, false), (Ids{sp_a, us}));
  EXPECT_EQ(tok->encode("<us><us>", false, false), (Ids{us, us}));
}

TEST(TokenizerSpm, TokenToPiece) {
  const auto v = merge_vocab();
  GgufWriter w;
  put_vocab(w, v);
  w.u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(id_of(v, "c")));
  auto tok = load_tokenizer(w.write("piece"));
  EXPECT_EQ(tok->token_to_piece(id_of(v, kSp + "ab")), " ab");
  EXPECT_EQ(tok->token_to_piece(id_of(v, "<0x41>")), "A");
  EXPECT_EQ(tok->token_to_piece(id_of(v, "<0x00>")), std::string(1, '\0'));
  EXPECT_EQ(tok->token_to_piece(id_of(v, "<0xFF>")), "\xFF");
  EXPECT_EQ(tok->token_to_piece(0, true), "<unk>");  // unknown: its text when special, else nothing
  EXPECT_EQ(tok->token_to_piece(0, false), "");
  EXPECT_EQ(tok->token_to_piece(2, true), "</s>");
  EXPECT_EQ(tok->token_to_piece(2, false), "");
  EXPECT_EQ(tok->token_to_piece(id_of(v, "<us>"), false), "<us>");  // user-defined: always its text
  EXPECT_EQ(tok->token_text(id_of(v, kSp + "a")), kSp + "a");
  EXPECT_THROW(tok->token_to_piece(-1), minnow::Error);
  EXPECT_THROW(tok->token_to_piece(tok->n_vocab()), minnow::Error);
  // end of generation: eos, the eot key, and <|end|> by its text
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_TRUE(tok->is_eog(id_of(v, "c")));
  EXPECT_TRUE(tok->is_eog(id_of(v, "<|end|>")));
  EXPECT_FALSE(tok->is_eog(1));
  EXPECT_FALSE(tok->is_eog(-1));
  EXPECT_FALSE(tok->is_eog(tok->n_vocab()));
}

TEST(TokenizerSpm, UnknownWithoutByteTokens) {
  const auto v = tiny_vocab({{kSp, -1, 1}, {"a", -1, 1}}, /*with_bytes=*/false);
  GgufWriter w;
  put_vocab(w, v);
  auto tok = load_tokenizer(w.write("nobytes"));
  EXPECT_EQ(tok->encode("a\xC3\xA9" "a", false), (Ids{id_of(v, kSp), id_of(v, "a"), 0, id_of(v, "a")}));
}

TEST(TokenizerSpm, NoScoresOrTypes) {
  // scores and token_type are optional: every token is then normal with score 0
  GgufWriter w;
  w.str("tokenizer.ggml.model", "llama");
  w.str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", kSp, "x", kSp + "x"});
  auto tok = load_tokenizer(w.write("minimal"));
  EXPECT_EQ(tok->encode("x x", true), (Ids{1, 5, 5}));
  EXPECT_EQ(tok->token_to_piece(1), "<s>");  // normal (no types): printed as text
}

TEST(TokenizerErrors, UnsupportedKind) {
  GgufWriter w;
  put_vocab(w, merge_vocab(), "t5");  // T5's unigram tokenizer is not implemented
  const std::string msg = error_of(w.write("t5"));
  EXPECT_NE(msg.find("\"t5\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("unsupported tokenizer kind"), std::string::npos) << msg;

  GgufWriter w2;
  put_vocab(w2, merge_vocab(), "weird");
  EXPECT_NE(error_of(w2.write("weird")).find("\"weird\""), std::string::npos);
}

TEST(TokenizerErrors, BrokenMetadata) {
  {
    GgufWriter w;
    w.str("general.architecture", "llama");
    const std::string msg = error_of(w.write("nomodel"));
    EXPECT_NE(msg.find("tokenizer.ggml.model"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    const std::string msg = error_of(w.write("notokens"));
    EXPECT_NE(msg.find("missing tokenizer.ggml.tokens"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.f32_array("tokenizer.ggml.scores", {0, 0});
    const std::string msg = error_of(w.write("scores"));
    EXPECT_NE(msg.find("tokenizer.ggml.scores has 2 entries"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1});
    const std::string msg = error_of(w.write("types"));
    EXPECT_NE(msg.find("tokenizer.ggml.token_type has 4 entries"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    put_vocab(w, merge_vocab());
    w.u32("tokenizer.ggml.bos_token_id", 100000);
    const std::string msg = error_of(w.write("bos"));
    EXPECT_NE(msg.find("tokenizer.ggml.bos_token_id = 100000 is out of range"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<s>"});
    const std::string msg = error_of(w.write("dup"));
    EXPECT_NE(msg.find("twice"), std::string::npos) << msg;
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.str_array("tokenizer.ggml.tokens", {});
    EXPECT_NE(error_of(w.write("empty")).find("empty"), std::string::npos);
  }
  {
    // 0xFFFFFFFF means "none": llama.cpp keeps the kind's default (BOS 1)
    GgufWriter w;
    put_vocab(w, merge_vocab());
    w.u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    w.u32("tokenizer.ggml.seperator_token_id", 0xFFFFFFFFu);
    auto tok = load_tokenizer(w.write("sentinel"));
    EXPECT_EQ(tok->bos_id(), 1);
  }
}

}  // namespace
