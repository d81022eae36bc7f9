// SentencePiece-style tokenizer (GGUF vocab kind "llama"), matching llama.cpp's llm_tokenizer_spm,
// plus the vocab-loading machinery every kind shares in llama.cpp (token attributes, special ids,
// end-of-generation detection, special-token partitioning). Internal to src/tokenizer/.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace minnow {
namespace gguf { class File; }

namespace tok {

// llama.cpp's llama_token_attr bits (a token's attribute can combine several).
enum Attr : uint32_t {
  ATTR_UNDEFINED = 0,
  ATTR_UNKNOWN = 1u << 0,
  ATTR_UNUSED = 1u << 1,
  ATTR_NORMAL = 1u << 2,
  ATTR_CONTROL = 1u << 3,
  ATTR_USER_DEFINED = 1u << 4,
  ATTR_BYTE = 1u << 5,
  ATTR_NORMALIZED = 1u << 6,
  ATTR_LSTRIP = 1u << 7,
  ATTR_RSTRIP = 1u << 8,
  ATTR_SINGLE_WORD = 1u << 9,
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Per-kind defaults llama.cpp applies before reading the file's keys.
struct VocabDefaults {
  int32_t bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
};

// A piece of the input after special-token partitioning: either raw text [offset, offset+length)
// of the input, or one token (token >= 0).
struct Fragment {
  int32_t token = -1;
  size_t offset = 0;
  size_t length = 0;
};

// Everything llama.cpp's llama_vocab::impl::load computes that does not depend on the algorithm.
struct Vocab {
  std::vector<std::string> text;   // raw vocab strings (empty ones replaced by "[EMPTY_<id>]")
  std::vector<float> score;
  std::vector<uint32_t> attr;      // Attr bits
  std::vector<std::string> piece;  // token_to_piece(id, special=true), filled by the kind's tokenizer
  std::vector<uint8_t> eog;        // 1 = end of generation
  std::vector<int32_t> special_cache;  // control / user-defined / unknown ids, longest text first
  TokenIndex index;

  int32_t bos = -1, eos = -1, unk = -1, eot = -1, eom = -1, sep = -1, pad = -1, mask = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  size_t max_token_len = 0;  // longest token text in bytes

  int32_t n() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = index.find(s);
    return it == index.end() ? -1 : it->second;
  }

  // Reads tokenizer.ggml.* (tokens, scores, token_type, special ids, add_* flags). Throws minnow::Error.
  void load(const gguf::File& file, const VocabDefaults& defaults);

  // llama.cpp's tokenizer_st_partition: split `text` at occurrences of special-token texts (control and
  // unknown tokens only when parse_special; user-defined ones always), longest token first.
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

};

// What every vocabulary-driven tokenizer shares: the Vocab and the accessors over it.
class VocabTokenizer : public Tokenizer {
 public:
  int32_t n_vocab() const override { return vocab_.n(); }
  int32_t bos_id() const override { return vocab_.bos; }
  int32_t eos_id() const override { return vocab_.eos; }
  bool add_bos() const override { return vocab_.add_bos; }
  bool add_eos() const override { return vocab_.add_eos; }
  bool is_eog(int32_t id) const override { return id >= 0 && id < vocab_.n() && vocab_.eog[id]; }
  const std::string& token_text(int32_t id) const override;
  const Vocab& vocab() const { return vocab_; }

 protected:
  Vocab vocab_;
};

class SpmTokenizer final : public VocabTokenizer {
 public:
  explicit SpmTokenizer(const gguf::File& file);

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool special = true) const override;
  std::string kind() const override { return "llama"; }

 private:
  struct Scratch;
  // SentencePiece BPE over one already-escaped text fragment; appends ids to `out`.
  void tokenize_fragment(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;
  // The merge loop itself (llama.cpp's llm_tokenizer_spm_session::tokenize) on one piece of a fragment.
  void bpe(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;

  int32_t byte_token_[256];  // byte-fallback id for each byte (-1: none)
  // True when every token's U+2581 characters form a leading run (true of real SPM vocabs). Then no token
  // can span the boundary in front of a U+2581 that follows another character, so a fragment can be cut
  // into words there and each word merged on its own (and memoised) with exactly the same result.
  bool word_split_safe_ = false;
};

// The printable piece of every token, cached in vocab.piece (shared by the SentencePiece and WordPiece kinds).
void build_piece_cache(Vocab& vocab, bool decode_byte_tokens);
// A token text for error messages: quoted, cut at 40 bytes.
std::string quoted(std::string_view s);

}  // namespace tok
}  // namespace minnow
