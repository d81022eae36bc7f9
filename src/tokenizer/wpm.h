// WordPiece tokenizer (GGUF vocab kind "bert"), matching llama.cpp's llm_tokenizer_wpm. Internal to src/tokenizer/.
//
// The converted vocab marks word starts with U+2581 ("▁word") and keeps continuations bare ("##ing" becomes
// "ing"). Text is "normalised" the way llama.cpp does it: each code point is replaced by the first code point
// of its canonical decomposition (so accents drop off), lowercased, controls dropped; words split at
// whitespace, and punctuation, ASCII symbols and CJK ideographs stand alone. Each word (with "▁" prefixed) is
// then cut greedily into the longest vocab tokens; a word that cannot be cut becomes the unknown token.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace gguf { class File; }

namespace tok {

class WpmTokenizer final : public VocabTokenizer {
 public:
  explicit WpmTokenizer(const gguf::File& file);

  // add_special puts BOS ([CLS]) first and SEP ([SEP]) last, whatever add_bos_token says (as llama.cpp does).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool special = true) const override;
  std::string kind() const override { return "bert"; }
  int32_t sep_id() const { return vocab_.sep; }
  bool add_bos() const override { return true; }
  bool add_eos() const override { return false; }

  // llama.cpp's llm_tokenizer_wpm_session::preprocess: the normalised words of `text`.
  static std::vector<std::string> preprocess(std::string_view text);

 private:
  void tokenize_fragment(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace tok
}  // namespace minnow
