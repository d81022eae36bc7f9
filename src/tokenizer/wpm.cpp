// WordPiece tokenizer (vocab kind "bert"); behaviour follows llama.cpp's llm_tokenizer_wpm (September 2025).
#include "tokenizer/wpm.h"

#include <algorithm>

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/bpe.h"  // uni:: helpers

namespace minnow::tok {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, the word-start marker of converted vocabs

// The CJK ranges BERT treats as stand-alone characters (as llama.cpp lists them, including its 0x2B920 start).
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

WpmTokenizer::WpmTokenizer(const gguf::File& file) {
  VocabDefaults d;  // llama.cpp's defaults for LLAMA_VOCAB_TYPE_WPM
  d.bos = 101;      // [CLS]
  d.eos = -1;
  d.unk = 100;      // [UNK]
  d.sep = 102;      // [SEP]
  d.pad = 0;
  d.mask = 103;
  d.add_bos = true;
  d.add_sep = true;
  vocab_.load(file, d);

  build_piece_cache(vocab_, /*decode_byte_tokens=*/false);  // llama.cpp aborts on byte tokens in WordPiece
}

std::string WpmTokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_.n()) fail("token id ", id, " is out of range (the vocab has ", vocab_.n(), " tokens)");
  if (!special && (vocab_.attr[id] & (ATTR_UNKNOWN | ATTR_CONTROL))) return std::string();
  return vocab_.piece[id];
}

std::vector<std::string> WpmTokenizer::preprocess(std::string_view text) {
  std::vector<uint32_t> cps;
  uni::decode_utf8(text, cps);
  std::vector<std::string> words(1);
  for (uint32_t cp : cps) {
    cp = uni::nfd_first(cp);
    const uint16_t f = uni::flags(cp);
    if (f & uni::WHITESPACE) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || (f & uni::CONTROL)) continue;
    const uint32_t lower = uni::to_lower(cp);
    if (lower > uni::kMaxCodepoint) fail("cannot tokenize: the text holds a code point beyond U+10FFFF");
    if ((f & uni::PUNCTUATION) || (cp < 0x7F && (f & uni::SYMBOL)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      uni::append_utf8(lower, words.back());  // a word of its own
      words.emplace_back();
    } else {
      uni::append_utf8(lower, words.back());
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

void WpmTokenizer::tokenize_fragment(std::string_view text, std::vector<int32_t>& out) const {
  const std::vector<std::string> words = preprocess(text);
  std::string w;
  for (const std::string& word : words) {
    if (word.empty()) continue;
    w.assign(kSpace);
    w += word;
    const size_t n = w.size();
    const size_t before = out.size();
    // greedy longest match, byte by byte; one position without a match discards the whole word
    for (size_t i = 0; i < n;) {
      bool matched = false;
      for (size_t j = std::min(n, i + vocab_.max_token_len + 1); j > i; --j) {
        const int32_t id = vocab_.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          matched = true;
          i = j;
          break;
        }
      }
      if (!matched) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before) {
      if (vocab_.unk < 0) fail("cannot encode the word '", word.substr(0, 40), "': no vocab token fits and the vocab has no unknown token");
      out.push_back(vocab_.unk);
    }
  }
}

std::vector<int32_t> WpmTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  std::vector<Fragment> frags;
  vocab_.partition(text, parse_special, frags);
  if (add_special) {
    if (vocab_.bos < 0) fail("cannot add the BOS ([CLS]) token: the vocab has none");
    out.push_back(vocab_.bos);
  }
  for (const Fragment& f : frags) {
    if (f.token >= 0)
      out.push_back(f.token);
    else
      tokenize_fragment(text.substr(f.offset, f.length), out);
  }
  if (add_special) {
    if (vocab_.sep < 0) fail("cannot add the SEP token: the vocab has none");
    out.push_back(vocab_.sep);
  }
  return out;
}

}  // namespace minnow::tok
