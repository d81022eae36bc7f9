// Tokenizer tests for the byte-level BPE ("gpt2") and WordPiece ("bert") kinds: llama.cpp's test vectors for
// every vocab in golden/vocab (all kinds), plus unit tests on tiny hand-made vocabs and on the pre-tokenizers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "test_util.h"
#include "vocab_vectors.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wpm.h"

namespace {

using minnow::Tokenizer;
using Ids = std::vector<int32_t>;
using Words = std::vector<std::string>;

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  auto file = minnow::gguf::File::open(path);
  return Tokenizer::from_gguf(*file);
}

std::string printable(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c == '\n') {
      r += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      r += buf;
    } else {
      r += static_cast<char>(c);
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// golden: llama.cpp's test-tokenizer-0 vectors for every vocab GGUF in golden/vocab
// ---------------------------------------------------------------------------------------------

struct VectorSet {
  std::string gguf;  // file name of the vocab
  std::string inp;   // file name of the inputs (the .out sits next to it)
};

// Every .inp with a .out and a vocab GGUF whose file name it contains (the longest such name wins), so
// "ggml-vocab-x.gguf.inp" and extra sets like "ggml-vocab-x.gguf.more.inp" are both found.
std::vector<VectorSet> discover_vector_sets() {
  namespace fs = std::filesystem;
  const fs::path dir = minnow::test::golden("vocab");
  std::vector<VectorSet> sets;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {{"(golden fixtures missing)", ""}};
  std::vector<std::string> ggufs, inps;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) ggufs.push_back(name);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".inp") == 0) inps.push_back(name);
  }
  std::sort(inps.begin(), inps.end());
  for (const std::string& inp : inps) {
    const std::string out = inp.substr(0, inp.size() - 4) + ".out";
    if (!fs::exists(dir / out)) continue;
    std::string best;
    for (const std::string& g : ggufs)
      if (inp.find(g) != std::string::npos && g.size() > best.size()) best = g;
    if (!best.empty()) sets.push_back({best, inp});
  }
  if (sets.empty()) sets.push_back({"(no vocab vectors found)", ""});
  return sets;
}

class VocabVectors : public ::testing::TestWithParam<VectorSet> {};

TEST_P(VocabVectors, MatchLlamaCpp) {
  MINNOW_REQUIRE_SHARED();
  const VectorSet& set = GetParam();
  ASSERT_FALSE(set.inp.empty()) << set.gguf;
  const std::string dir = minnow::test::golden("vocab/");
  auto tok = load_tokenizer(dir + set.gguf);
  const auto vv = minnow::test::read_vocab_vectors(dir + set.inp, dir + set.inp.substr(0, set.inp.size() - 4) + ".out");
  const auto& cases = vv.cases;
  ASSERT_FALSE(cases.empty());
  ASSERT_EQ(cases.size(), vv.lines.size()) << set.inp << ": .inp and .out disagree on the number of cases";
  const auto m = minnow::test::match_vocab_vectors(*tok, vv, printable);
  const size_t ok = m.ok;
  const std::string& report = m.report;
  std::printf("[ %s ] %zu/%zu cases match (%s)\n", set.inp.c_str(), ok, cases.size(), tok->kind().c_str());
  EXPECT_EQ(ok, cases.size()) << set.inp << ": first mismatches:" << report;

  // byte-level BPE is lossless: decoding gives the text back (these inputs are valid UTF-8)
  if (tok->kind() == "gpt2") {
    for (const auto& c : cases) EXPECT_EQ(tok->decode(tok->encode(c, false)), c) << set.gguf << " '" << printable(c) << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, VocabVectors, ::testing::ValuesIn(discover_vector_sets()),
                         [](const ::testing::TestParamInfo<VectorSet>& info) {
                           std::string name = info.param.inp.empty() ? info.param.gguf : info.param.inp;
                           for (const char* prefix : {"ggml-vocab-"})
                             if (name.rfind(prefix, 0) == 0) name = name.substr(std::strlen(prefix));
                           for (const char* suffix : {".gguf.inp", ".inp"})
                             if (name.size() > std::strlen(suffix) &&
                                 name.compare(name.size() - std::strlen(suffix), std::strlen(suffix), suffix) == 0) {
                               name.resize(name.size() - std::strlen(suffix));
                               break;
                             }
                           std::string r;
                           for (char c : name) r += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return r + "_" + std::to_string(info.index);
                         });

TEST(TokenizerBpeGolden, Llama3Fixture) {
  MINNOW_REQUIRE_SHARED();
  auto tok = load_tokenizer(minnow::test::golden("vocab/ggml-vocab-llama-bpe-fixture.gguf"));
  EXPECT_EQ(tok->kind(), "gpt2");
  EXPECT_EQ(tok->n_vocab(), 128256);
  EXPECT_EQ(tok->bos_id(), 128000);
  EXPECT_EQ(tok->eos_id(), 128001);
  EXPECT_TRUE(tok->add_bos());  // no add_bos_token key: llama.cpp adds BOS for llama-bpe
  EXPECT_FALSE(tok->add_eos());
  const Ids ids = tok->encode("Hello world", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(tok->decode(ids, false), "Hello world");
  EXPECT_EQ(tok->decode(ids, true), "<|begin_of_text|>Hello world");
  // control tokens: only with parse_special
  const Ids chat = tok->encode("<|start_header_id|>user<|end_header_id|>", false, true);
  EXPECT_EQ(chat.size(), 3u);
  EXPECT_EQ(tok->token_text(chat[0]), "<|start_header_id|>");
  EXPECT_GT(tok->encode("<|start_header_id|>", false, false).size(), 1u);
  EXPECT_TRUE(tok->is_eog(tok->eos_id()));
  const Ids eot = tok->encode("<|eot_id|>", false, true);
  ASSERT_EQ(eot.size(), 1u);
  EXPECT_TRUE(tok->is_eog(eot[0]));
  EXPECT_EQ(tok->token_to_piece(eot[0], false), "");
  EXPECT_EQ(tok->token_to_piece(eot[0], true), "<|eot_id|>");
}

TEST(TokenizerBpeGolden, Qwen3Fixture) {
  MINNOW_REQUIRE_SHARED();
  auto tok = load_tokenizer(minnow::test::golden("vocab/ggml-vocab-qwen3-fixture.gguf"));
  EXPECT_EQ(tok->kind(), "gpt2");
  EXPECT_EQ(tok->bos_id(), 151643);
  EXPECT_EQ(tok->eos_id(), 151645);
  EXPECT_FALSE(tok->add_bos());  // add_bos_token = false
  const Ids ids = tok->encode("Hello 123", true);
  EXPECT_EQ(tok->decode(ids), "Hello 123");
  EXPECT_TRUE(tok->is_eog(151645));  // <|im_end|>
  EXPECT_TRUE(tok->is_eog(151643));  // <|endoftext|>, by its text
  const Ids im = tok->encode("<|im_start|>user\nhi<|im_end|>", false, true);
  ASSERT_GE(im.size(), 3u);
  EXPECT_EQ(tok->token_text(im.front()), "<|im_start|>");
  EXPECT_EQ(im.back(), 151645);
}

TEST(TokenizerBpeGolden, BertBge) {
  MINNOW_REQUIRE_SHARED();
  auto tok = load_tokenizer(minnow::test::golden("vocab/ggml-vocab-bert-bge.gguf"));
  EXPECT_EQ(tok->kind(), "bert");
  EXPECT_EQ(tok->bos_id(), 101);
  const Ids ids = tok->encode("Hello, World!", true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);  // [CLS]
  EXPECT_EQ(ids.back(), 102);   // [SEP]
  EXPECT_EQ(tok->decode(ids, false), " hello , world !");
  EXPECT_EQ(tok->token_to_piece(101, true), "[CLS]");
}

// ---------------------------------------------------------------------------------------------
// pre-tokenizers (no vocab needed)
// ---------------------------------------------------------------------------------------------

Words split(const std::string& pre, const std::string& text) { return minnow::tok::PreTokenizer(pre).split_words(text); }

TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "Hello world's  123456\n\n  x"),
            (Words{"Hello", " world", "'s", " ", " ", "123", "456", "\n\n", " ", " x"}));
  EXPECT_EQ(split("llama-bpe", "I'M don'T"), (Words{"I", "'M", " don", "'T"}));  // contractions ignore case
  EXPECT_EQ(split("llama-bpe", "x=1+2;\r\n"), (Words{"x", "=", "1", "+", "2", ";\r\n"}));
  EXPECT_EQ(split("llama-bpe", "\xC3\xA9t\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD"), (Words{"\xC3\xA9t\xC3\xA9", " \xE4\xBD\xA0\xE5\xA5\xBD"}));
  EXPECT_TRUE(split("llama-bpe", "").empty());
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's  123456\n\n  x"), (Words{"Hello", " world", "'s", " ", " 123456", "\n\n ", " x"}));
  EXPECT_EQ(split("gpt-2", "I'M"), (Words{"I", "'", "M"}));  // case-sensitive contractions
  // starcoder: digits one by one first
  EXPECT_EQ(split("starcoder", "ab 123"), (Words{"ab", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, Qwen2DigitsAlone) {
  EXPECT_EQ(split("qwen2", "abc 2024!"), (Words{"abc", " ", "2", "0", "2", "4", "!"}));
}

TEST(PreTokenizer, CollapsedCategoriesLikeLlamaCpp) {
  // gpt-4o's [^a-z] / [^A-Z] see every non-ASCII letter as both cases (llama.cpp's collapsed text)
  // (a Unicode-aware regex would split "\xC3\x89" "cole\xC3\x89" "cole" in two)
  EXPECT_EQ(split("gpt-4o", "HelloWorld \xC3\x89" "cole\xC3\x89" "cole"), (Words{"Hello", "World", " \xC3\x89" "cole\xC3\x89" "cole"}));
  // deepseek-llm: the whitespace run at the end of a chunk ("\s+$") stays whole
  EXPECT_EQ(split("deepseek-llm", "Hi  "), (Words{"Hi", "  "}));
  // superbpe: the empty-match lookahead groups digits in threes from the right
  EXPECT_EQ(split("superbpe", "x 1234567"), (Words{"x ", "1", "234", "567"}));
}

TEST(PreTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(split("gpt-2", "a\xFF" "b"), (Words{"a", "\xEF\xBF\xBD", "b"}));
  EXPECT_EQ(split("llama-bpe", "\xC3"), (Words{"\xEF\xBF\xBD"}));
}

TEST(PreTokenizer, UnknownName) {
  try {
    minnow::tok::PreTokenizer p("no-such-pre");
    FAIL() << "accepted an unknown pre-tokenizer";
  } catch (const minnow::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos) << e.what();
  }
  EXPECT_EQ(minnow::tok::PreTokenizer("").name(), "default");
}

// ---------------------------------------------------------------------------------------------
// tiny hand-made BPE vocab
// ---------------------------------------------------------------------------------------------

// GPT-2's byte-to-unicode alphabet (written independently of the library's).
std::string alphabet_char(int b) {
  int cp = b;
  if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
    int n = 0;
    for (int c = 0; c < b; ++c)
      if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}
const std::string kG = alphabet_char(' ');  // "Ġ"

struct TinyBpe {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  int32_t id(const std::string& t) const {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == t) return static_cast<int32_t>(i);
    return -1;
  }
};

// Every byte's alphabet character except those in `skip`, then a few merged tokens and specials.
TinyBpe tiny_bpe(const std::string& skip = "z") {
  TinyBpe v;
  for (int b = 0; b < 256; ++b) {
    if (skip.find(static_cast<char>(b)) != std::string::npos) continue;
    v.tokens.push_back(alphabet_char(b));
    v.types.push_back(1);
  }
  for (const std::string& t : std::vector<std::string>{"he", "ll", "hell", "hello", kG + "w", "or", kG + "wor", "ld", kG + "world", "aa", "ab", "abc",
                              "\xE2\x82\xAC"})
    v.tokens.push_back(t), v.types.push_back(1);
  v.tokens.push_back("<|endoftext|>"), v.types.push_back(3);
  v.tokens.push_back("<|user|>"), v.types.push_back(4);
  v.merges = {"h e", "l l", "he ll", "hell o", kG + " w", "o r", kG + "w or", "l d", kG + "wor ld", "a a", "a b"};
  return v;
}

std::string write_bpe(const TinyBpe& v, const std::string& pre, const std::string& stem,
                      const std::function<void(minnow::gguf::Writer&)>& extra = {}) {
  minnow::gguf::Writer w;
  w.set_str("general.architecture", "llama");
  w.set_str("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) w.set_str("tokenizer.ggml.pre", pre);
  w.set_arr_str("tokenizer.ggml.tokens", v.tokens);
  w.set_arr_i32("tokenizer.ggml.token_type", v.types);
  w.set_arr_str("tokenizer.ggml.merges", v.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.id("<|endoftext|>")));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.id("<|endoftext|>")));
  if (extra) extra(w);
  static int counter = 0;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("minnow_bpe_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + stem + ".gguf"))
                               .string();
  w.write(path);
  return path;
}

struct Cleanup {
  std::string path;
  ~Cleanup() { std::remove(path.c_str()); }
};

std::string error_of(const std::string& path) {
  try {
    load_tokenizer(path);
  } catch (const minnow::Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerBpe, MergesByRank) {
  const TinyBpe v = tiny_bpe();
  Cleanup c{write_bpe(v, "gpt-2", "rank")};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->kind(), "gpt2");
  EXPECT_EQ(tok->encode("hello world", false), (Ids{v.id("hello"), v.id(kG + "world")}));
  EXPECT_EQ(tok->encode("hel", false), (Ids{v.id("he"), v.id("l")}));
  // "a a" (rank 9) comes before "a b" (rank 10), whatever the token ids
  EXPECT_EQ(tok->encode("aab", false), (Ids{v.id("aa"), v.id("b")}));
  EXPECT_EQ(tok->encode("aba", false), (Ids{v.id("ab"), v.id("a")}));
  // equal ranks: the leftmost pair first
  EXPECT_EQ(tok->encode("aaa", false), (Ids{v.id("aa"), v.id("a")}));
  EXPECT_EQ(tok->encode("aaaa", false), (Ids{v.id("aa"), v.id("aa")}));
  // no merge builds "abc": gpt-2 does not look whole words up
  EXPECT_EQ(tok->encode("abc", false), (Ids{v.id("ab"), v.id("c")}));
  // repeated words (memoised) give the same ids each time
  // (" hello" is Ġ + hello: there is no Ġh merge)
  EXPECT_EQ(tok->encode("hello hello hello", false),
            (Ids{v.id("hello"), v.id(kG), v.id("hello"), v.id(kG), v.id("hello")}));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWords) {
  const TinyBpe v = tiny_bpe();
  Cleanup c{write_bpe(v, "llama-bpe", "ignore")};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->encode("abc", false), (Ids{v.id("abc")}));  // in the vocab: taken as it is
  EXPECT_EQ(tok->encode("abcab", false), (Ids{v.id("ab"), v.id("c"), v.id("ab")}));
  // llama-bpe adds BOS by default
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->encode("abc", true), (Ids{v.id("<|endoftext|>"), v.id("abc")}));
}

TEST(TokenizerBpe, BytesWithoutTokensAreDropped) {
  // llama.cpp's last resort looks each byte of the symbol's text up alone and drops the misses
  const TinyBpe v = tiny_bpe("z");
  Cleanup c{write_bpe(v, "gpt-2", "drop")};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->encode("az", false), (Ids{v.id("a")}));
  EXPECT_TRUE(tok->encode("zz", false).empty());
}

TEST(TokenizerBpe, ByteLevelRoundTrip) {
  const TinyBpe v = tiny_bpe("");
  Cleanup c{write_bpe(v, "llama-bpe", "roundtrip")};
  auto tok = load_tokenizer(c.path);
  const std::string text = "Tom said: \"h\xC3\xA9llo \xF0\x9F\xA6\x99!\"\n\tand 42 \xE2\x82\xAC  \x01\x7F end";
  EXPECT_EQ(tok->decode(tok->encode(text, false)), text);
  EXPECT_EQ(tok->decode(tok->encode(text, true), false), text);  // BOS is control: dropped without special
  // invalid UTF-8 is read as U+FFFD, as llama.cpp does
  EXPECT_EQ(tok->encode("\xFF", false), tok->encode("\xEF\xBF\xBD", false));
  EXPECT_EQ(tok->decode(tok->encode("a\xC3", false)), "a\xEF\xBF\xBD");
  EXPECT_TRUE(tok->encode("", false).empty());
}

TEST(TokenizerBpe, TokenToPiece) {
  const TinyBpe v = tiny_bpe();
  Cleanup c{write_bpe(v, "gpt-2", "piece")};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->token_to_piece(v.id(kG + "world")), " world");
  EXPECT_EQ(tok->token_to_piece(v.id(alphabet_char('\n'))), "\n");
  EXPECT_EQ(tok->token_to_piece(v.id(alphabet_char(0xFF))), "\xFF");
  EXPECT_EQ(tok->token_to_piece(v.id("<|endoftext|>"), true), "<|endoftext|>");
  EXPECT_EQ(tok->token_to_piece(v.id("<|endoftext|>"), false), "");
  EXPECT_EQ(tok->token_to_piece(v.id("<|user|>"), false), "<|user|>");
  // a character outside the byte alphabet: llama.cpp's marker, with the whole token text inside
  EXPECT_EQ(tok->token_to_piece(v.id("\xE2\x82\xAC")), "[UNK_BYTE_0xe282ac\xE2\x82\xAC]");
  EXPECT_EQ(tok->token_text(v.id(kG + "world")), kG + "world");
  EXPECT_THROW(tok->token_to_piece(-1), minnow::Error);
  EXPECT_THROW(tok->token_to_piece(tok->n_vocab()), minnow::Error);
}

TEST(TokenizerBpe, SpecialTokensAndFlags) {
  const TinyBpe v = tiny_bpe();
  Cleanup c{write_bpe(v, "qwen2", "special", [](minnow::gguf::Writer& w) { w.set_bool("tokenizer.ggml.add_bos_token", false); })};
  auto tok = load_tokenizer(c.path);
  const int32_t eot = v.id("<|endoftext|>"), user = v.id("<|user|>");
  EXPECT_FALSE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_EQ(tok->encode("hello", true), (Ids{v.id("hello")}));
  // control tokens only with parse_special, user-defined ones always
  EXPECT_EQ(tok->encode("hello<|endoftext|>", false, true), (Ids{v.id("hello"), eot}));
  const Ids plain = tok->encode("hello<|endoftext|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_EQ(tok->decode(plain), "hello<|endoftext|>");
  EXPECT_EQ(tok->encode("<|user|>hello", false, false), (Ids{user, v.id("hello")}));
  EXPECT_TRUE(tok->is_eog(eot));  // "<|endoftext|>" by its text
  EXPECT_FALSE(tok->is_eog(user));
}

TEST(TokenizerBpe, DefaultsWithoutKeys) {
  TinyBpe v = tiny_bpe();
  minnow::gguf::Writer w;
  w.set_str("tokenizer.ggml.model", "gpt2");
  w.set_arr_str("tokenizer.ggml.tokens", v.tokens);
  w.set_arr_str("tokenizer.ggml.merges", v.merges);
  const std::string path = (std::filesystem::temp_directory_path() / ("minnow_bpe_" + std::to_string(getpid()) + "_nokeys.gguf")).string();
  w.write(path);
  Cleanup c{path};
  auto tok = load_tokenizer(path);
  // no pre key: llama.cpp's "default" pre-tokenizer; BOS/EOS default to id 11; no BOS added
  EXPECT_EQ(tok->bos_id(), 11);
  EXPECT_EQ(tok->eos_id(), 11);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->encode("hello world", false), (Ids{v.id("hello"), v.id(kG + "world")}));
}

TEST(TokenizerBpe, Errors) {
  const TinyBpe v = tiny_bpe();
  {
    Cleanup c{write_bpe(v, "no-such-pre", "badpre")};
    const std::string msg = error_of(c.path);
    EXPECT_NE(msg.find("unknown pre-tokenizer \"no-such-pre\""), std::string::npos) << msg;
  }
  {
    TinyBpe nomerge = v;
    minnow::gguf::Writer w;
    w.set_str("tokenizer.ggml.model", "gpt2");
    w.set_arr_str("tokenizer.ggml.tokens", nomerge.tokens);
    const std::string path = (std::filesystem::temp_directory_path() / ("minnow_bpe_" + std::to_string(getpid()) + "_nomerges.gguf")).string();
    w.write(path);
    Cleanup c{path};
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find("tokenizer.ggml.merges is missing"), std::string::npos) << msg;
  }
}

TEST(TokenizerBpe, WordCacheIsPerTokenizerAndThreadSafe) {
  // The per-thread word cache must never hand one tokenizer's ids to another: "abc" is one token for
  // llama-bpe (whole-word lookup) but ab + c for gpt-2, with the same vocab.
  const TinyBpe v = tiny_bpe();
  Cleanup c1{write_bpe(v, "gpt-2", "cache1")};
  Cleanup c2{write_bpe(v, "llama-bpe", "cache2")};
  auto gpt2 = load_tokenizer(c1.path);
  auto llama3 = load_tokenizer(c2.path);
  const Ids split = {v.id("ab"), v.id("c")}, whole = {v.id("abc")};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gpt2->encode("abc", false), split);
    EXPECT_EQ(llama3->encode("abc", false), whole);
  }
  for (int i = 0; i < 3; ++i) {  // a new tokenizer (perhaps at the same address) starts with a clean cache
    gpt2 = load_tokenizer(c1.path);
    EXPECT_EQ(gpt2->encode("abc", false), split);
    gpt2 = load_tokenizer(c2.path);
    EXPECT_EQ(gpt2->encode("abc", false), whole);
  }
  // concurrent encodes on one tokenizer agree with a single-threaded run
  std::string text;
  for (int i = 0; i < 200; ++i) text += "hello world abc aab " + std::to_string(i) + "\n";
  const Ids expected = llama3->encode(text, false);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) ok[t] += llama3->encode(text, false) == expected;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 20) << "thread " << t;
}

// ---------------------------------------------------------------------------------------------
// tiny hand-made WordPiece vocab
// ---------------------------------------------------------------------------------------------

const std::string kSp = "\xE2\x96\x81";  // U+2581

struct TinyWpm {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", kSp + "hello", kSp + "world", kSp + "play", "ing",
                                     kSp + ",", kSp + "!", kSp + "cafe", kSp + "a", kSp + "ab", "c", kSp + "\xE4\xBD\xA0",
                                     kSp + "\xE5\xA5\xBD", kSp + "x", kSp + "$"};
  std::vector<int32_t> types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  int32_t id(const std::string& t) const {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == t) return static_cast<int32_t>(i);
    return -1;
  }
};

std::string write_wpm(const TinyWpm& v) {
  minnow::gguf::Writer w;
  w.set_str("general.architecture", "bert");
  w.set_str("tokenizer.ggml.model", "bert");
  w.set_arr_str("tokenizer.ggml.tokens", v.tokens);
  w.set_arr_i32("tokenizer.ggml.token_type", v.types);
  w.set_u32("tokenizer.ggml.bos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 1);
  w.set_u32("tokenizer.ggml.seperator_token_id", 3);
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
  static int counter = 0;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("minnow_wpm_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".gguf"))
                               .string();
  w.write(path);
  return path;
}

TEST(TokenizerWpm, GreedyLongestMatch) {
  const TinyWpm v;
  Cleanup c{write_wpm(v)};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->kind(), "bert");
  EXPECT_EQ(tok->encode("Hello, World!", false), (Ids{v.id(kSp + "hello"), v.id(kSp + ","), v.id(kSp + "world"), v.id(kSp + "!")}));
  EXPECT_EQ(tok->encode("playing", false), (Ids{v.id(kSp + "play"), v.id("ing")}));
  EXPECT_EQ(tok->encode("abc", false), (Ids{v.id(kSp + "ab"), v.id("c")}));
  // a word that cannot be cut entirely is one unknown token
  EXPECT_EQ(tok->encode("playx xyz hello", false), (Ids{1, 1, v.id(kSp + "hello")}));
  EXPECT_TRUE(tok->encode("", false).empty());
  EXPECT_TRUE(tok->encode(" \t\n ", false).empty());
}

TEST(TokenizerWpm, Normalisation) {
  const TinyWpm v;
  Cleanup c{write_wpm(v)};
  auto tok = load_tokenizer(c.path);
  // accents drop (first code point of the decomposition), case folds
  EXPECT_EQ(tok->encode("Caf\xC3\xA9", false), (Ids{v.id(kSp + "cafe")}));
  EXPECT_EQ(tok->encode("CAF\xC3\x89", false), (Ids{v.id(kSp + "cafe")}));
  // control and format characters vanish; ideographic space separates words
  EXPECT_EQ(tok->encode("hel\x01lo\xE2\x80\x8B", false), (Ids{v.id(kSp + "hello")}));
  EXPECT_EQ(tok->encode("hello\xE3\x80\x80world", false), (Ids{v.id(kSp + "hello"), v.id(kSp + "world")}));
  // CJK ideographs and ASCII symbols stand alone
  EXPECT_EQ(tok->encode("\xE4\xBD\xA0\xE5\xA5\xBD", false), (Ids{v.id(kSp + "\xE4\xBD\xA0"), v.id(kSp + "\xE5\xA5\xBD")}));
  EXPECT_EQ(tok->encode("x$x", false), (Ids{v.id(kSp + "x"), v.id(kSp + "$"), v.id(kSp + "x")}));
  EXPECT_EQ(minnow::tok::WpmTokenizer::preprocess("A\xC3\xA9,b  c"), (Words{"ae", ",", "b", "c"}));
}

TEST(TokenizerWpm, SpecialTokensAndPieces) {
  const TinyWpm v;
  Cleanup c{write_wpm(v)};
  auto tok = load_tokenizer(c.path);
  EXPECT_EQ(tok->encode("hello", true), (Ids{2, v.id(kSp + "hello"), 3}));  // [CLS] ... [SEP]
  EXPECT_EQ(tok->encode("[CLS]hello", false, true), (Ids{2, v.id(kSp + "hello")}));
  EXPECT_EQ(tok->token_to_piece(v.id(kSp + "hello")), " hello");
  EXPECT_EQ(tok->token_to_piece(v.id("ing")), "ing");
  EXPECT_EQ(tok->token_to_piece(2, true), "[CLS]");
  EXPECT_EQ(tok->token_to_piece(2, false), "");
  EXPECT_EQ(tok->decode(tok->encode("Hello, playing", true), false), " hello , playing");
}

}  // namespace
