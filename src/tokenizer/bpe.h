// Byte-level BPE tokenizer (GGUF vocab kind "gpt2"), matching llama.cpp's llm_tokenizer_bpe together with
// its pre-tokenizer (unicode_regex_split, chosen by tokenizer.ggml.pre), plus the Unicode helpers that the
// BPE and WordPiece tokenizers share. Internal to src/tokenizer/.
//
// What "matching llama.cpp" means here, in the places where llama.cpp is not a textbook implementation:
//  - Input is decoded leniently (an invalid UTF-8 byte becomes U+FFFD; overlong forms and surrogates are
//    accepted) and words are re-encoded from the decoded code points.
//  - Character classes come from Unicode 15.1 general categories (utf8proc plus the few 15.1 additions),
//    with llama.cpp's fixed whitespace set.
//  - The GPT-2 and Llama-3 split patterns use llama.cpp's hand-written matchers, not a regex engine (they
//    differ from the regexes in corner cases). Every other pattern runs the way llama.cpp runs it through
//    std::regex: patterns with \p{..} classes on a "collapsed" text of one byte per code point (non-ASCII
//    characters replaced by a byte per category), the rest on the code points with non-ASCII whitespace
//    replaced by U+000B. PCRE2 (JIT) executes them; ECMAScript and PCRE agree on these patterns.
//  - Merges are ranked by their line in tokenizer.ggml.merges (the first of duplicates wins); equal ranks go to
//    the leftmost pair. A final symbol that is not a token is looked up byte by byte, and misses are dropped.
//
// Speed: the merge loop works on integer symbol ids (merge operands that are not tokens get ids past the
// vocab), and each thread keeps a bounded word -> ids cache across calls, tied to one tokenizer instance.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"

namespace minnow {
namespace gguf { class File; }

namespace tok {

namespace uni {

// llama.cpp's unicode_cpt_flags bits: one general-category bit per code point (UNDEFINED for unassigned
// ones and anything past U+10FFFF), plus WHITESPACE for llama.cpp's fixed whitespace list.
enum Flag : uint16_t {
  UNDEFINED = 0x0001,
  NUMBER = 0x0002,       // \p{N}
  LETTER = 0x0004,       // \p{L}
  SEPARATOR = 0x0008,    // \p{Z}
  MARK = 0x0010,         // \p{M}
  PUNCTUATION = 0x0020,  // \p{P}
  SYMBOL = 0x0040,       // \p{S}
  CONTROL = 0x0080,      // \p{C} (Cc, Cf, Co, Cs)
  CATEGORY_MASK = 0x00FF,
  WHITESPACE = 0x0100,
};

uint16_t flags(uint32_t cp);
const uint16_t* flag_table();  // flags of U+0000..U+10FFFF, indexable by code point
inline size_t utf8_size(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
uint32_t to_lower(uint32_t cp);   // simple lowercase mapping
uint32_t nfd_first(uint32_t cp);  // first code point of the canonical decomposition (llama.cpp's "NFD")

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// llama.cpp's unicode_cpts_from_utf8: a lead byte with enough continuation bytes gives its value (no
// overlong or surrogate checks, so values up to 0x1FFFFF can come out); anything else gives U+FFFD and
// consumes one byte. Returns true when re-encoding the code points gives `s` back byte for byte (valid
// UTF-8 without overlong forms), the usual case.
bool decode_utf8(std::string_view s, std::vector<uint32_t>& out);
// Appends the UTF-8 form of cp (surrogates included); throws minnow::Error above U+10FFFF.
void append_utf8(uint32_t cp, std::string& out);

}  // namespace uni

// Splits text into words the way llama.cpp's unicode_regex_split does for one tokenizer.ggml.pre.
class PreTokenizer {
 public:
  // Throws minnow::Error for a pre-tokenizer name llama.cpp does not know (or one not supported here).
  explicit PreTokenizer(std::string_view pre);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Pre-tokenizer facts llama.cpp attaches to the name.
  const std::string& name() const { return name_; }
  bool ignore_merges() const { return ignore_merges_; }  // a word that is a token is taken whole (llama3)
  bool default_add_bos() const { return add_bos_; }
  bool default_has_bos() const { return has_bos_; }

  struct Scratch;  // per-call working memory (defined in bpe.cpp)
  // cps: the text's code points (all <= U+10FFFF); flags: uni::flags() of each. Appends the words'
  // lengths in code points to `words` (no empty words).
  void split(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags, Scratch& scratch,
             std::vector<uint32_t>& words) const;
  // Convenience for tests and tools: the words of `text` as UTF-8 (re-encoded, before the byte mapping).
  std::vector<std::string> split_words(std::string_view text) const;

  struct Pattern;

 private:
  std::string name_;
  bool ignore_merges_ = false, add_bos_ = false, has_bos_ = true;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

class BpeTokenizer final : public VocabTokenizer {
 public:
  explicit BpeTokenizer(const gguf::File& file);
  ~BpeTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool special = true) const override;
  std::string kind() const override { return "gpt2"; }
  const PreTokenizer& pre_tokenizer() const { return *pre_; }

  struct Scratch;

 private:
  // One raw-text fragment (no special tokens inside): pre-tokenize, then BPE each word.
  void tokenize_fragment(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;
  // The merge loop on one word (its re-encoded UTF-8 bytes, before the byte-to-unicode mapping).
  void bpe_word(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const;
  int32_t find_merge(int32_t left, int32_t right, int32_t& result) const;  // rank, or -1

  std::unique_ptr<PreTokenizer> pre_;
  uint64_t instance_;  // distinct for every BpeTokenizer ever made (keys the per-thread word cache)

  // Symbols are identified by integer ids: vocab ids, then "virtual" ids (>= n_vocab) for merge operands
  // and results that are not tokens themselves, so the merge loop never touches strings.
  int32_t byte_sym_[256];           // symbol id of each raw byte's GPT-2 alphabet character
  std::string byte_enc_[256];       // that character's UTF-8 text
  int32_t single_char_token_[256];  // token whose text is this one byte, or -1 (llama.cpp's last resort)
  struct MergeEntry {
    uint64_t key;  // (left << 32) | right, kEmptyKey when the slot is free
    int32_t rank;
    int32_t result;
  };
  std::vector<MergeEntry> merges_;  // open addressing, power-of-two size
  uint64_t merge_mask_ = 0;
};

}  // namespace tok
}  // namespace minnow
