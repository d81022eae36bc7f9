// Tokenizer: text <-> token ids, built from a GGUF file's tokenizer.ggml.* metadata.
// The vocab kind (tokenizer.ggml.model) picks the algorithm: "llama" = SentencePiece-style BPE over
// scores with byte fallback (spm.cpp); "gpt2" = byte-level BPE with the pre-tokenizer named by
// tokenizer.ggml.pre (bpe.cpp); "bert" = WordPiece (wpm.cpp). Chat templates: chat_template.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace minnow {
namespace gguf { class File; }

enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

class Tokenizer {
 public:
  // Throws minnow::Error when the metadata is missing, inconsistent, or names an unsupported kind.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS / append EOS as the metadata says (tokenizer.ggml.add_bos_token / add_eos_token,
  // defaulting as llama.cpp does per kind). parse_special: match control/user-defined token text in `text`.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const = 0;

  // The bytes this token stands for when printed (byte-fallback tokens give their raw byte,
  // SentencePiece's U+2581 becomes a space). Control tokens give their text when `special` is true, else "".
  virtual std::string token_to_piece(int32_t id, bool special = true) const = 0;

  std::string decode(const std::vector<int32_t>& ids, bool special = true) const {
    std::string s;
    for (int32_t id : ids) s += token_to_piece(id, special);
    return s;
  }

  virtual std::string kind() const = 0;        // "llama", ...
  virtual int32_t n_vocab() const = 0;
  virtual int32_t bos_id() const = 0;           // -1 when none
  virtual int32_t eos_id() const = 0;           // -1 when none
  virtual bool add_bos() const = 0;
  virtual bool add_eos() const = 0;
  virtual bool is_eog(int32_t id) const = 0;    // end of generation (EOS, EOT, ...)
  virtual const std::string& token_text(int32_t id) const = 0;  // raw vocab string
};

}  // namespace minnow
