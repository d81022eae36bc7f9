// SentencePiece-style tokenizer (vocab kind "llama") and the shared vocab loader.
// Behaviour follows llama.cpp's llama-vocab.cpp (llm_tokenizer_spm, tokenizer_st_partition,
// llama_vocab::impl::load / token_to_piece) of September 2025; see the comments for the details.
#include "tokenizer/spm.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>

#include "common/error.h"
#include "gguf/gguf.h"

namespace minnow::tok {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space

bool is_c_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool in_list(std::string_view s, std::initializer_list<std::string_view> list) {
  for (std::string_view x : list)
    if (s == x) return true;
  return false;
}

}  // namespace

// A token text for error messages: quoted, cut at 40 bytes.
std::string quoted(std::string_view s) {
  std::string r = "'";
  r.append(s.substr(0, 40));
  if (s.size() > 40) r += "...";
  return r + "'";
}

// ---------------------------------------------------------------------------------------------
// Vocab loading (llama_vocab::impl::load)
// ---------------------------------------------------------------------------------------------

void Vocab::load(const gguf::File& file, const VocabDefaults& defaults) {
  const std::string& path = file.path();

  // --- tokens, scores, types ---
  const gguf::Value* toks = file.get_array("tokenizer.ggml.tokens");
  if (!toks) fail(path, ": missing tokenizer.ggml.tokens (the file has no vocabulary)");
  if (toks->elem_type != gguf::ValueType::STRING)
    fail(path, ": tokenizer.ggml.tokens should be an array of strings but holds ", gguf::value_type_name(toks->elem_type));
  if (toks->count == 0) fail(path, ": tokenizer.ggml.tokens is empty");
  if (toks->count > 0x7FFFFFFFull) fail(path, ": tokenizer.ggml.tokens has too many entries (", toks->count, ")");
  const auto n_tokens = static_cast<size_t>(toks->count);

  auto numeric = [](gguf::ValueType t) {
    return t != gguf::ValueType::STRING && t != gguf::ValueType::ARRAY;
  };
  const gguf::Value* scores = file.get_array("tokenizer.ggml.scores");
  if (scores) {
    if (!numeric(scores->elem_type))
      fail(path, ": tokenizer.ggml.scores should be an array of numbers but holds ", gguf::value_type_name(scores->elem_type));
    if (scores->count != toks->count)
      fail(path, ": tokenizer.ggml.scores has ", scores->count, " entries but tokenizer.ggml.tokens has ", toks->count);
  }
  const gguf::Value* types = file.get_array("tokenizer.ggml.token_type");
  if (types) {
    if (!numeric(types->elem_type) || types->elem_type == gguf::ValueType::FLOAT32 ||
        types->elem_type == gguf::ValueType::FLOAT64)
      fail(path, ": tokenizer.ggml.token_type should be an array of integers but holds ", gguf::value_type_name(types->elem_type));
    if (types->count != toks->count)
      fail(path, ": tokenizer.ggml.token_type has ", types->count, " entries but tokenizer.ggml.tokens has ", toks->count);
  }

  text.resize(n_tokens);
  score.assign(n_tokens, 0.0f);
  attr.assign(n_tokens, ATTR_NORMAL);
  index.clear();
  index.reserve(n_tokens);
  max_token_len = 0;
  for (size_t i = 0; i < n_tokens; ++i) {
    std::string_view w = toks->strings[i];
    // llama.cpp renames empty tokens so that every token has a distinct, non-empty text
    text[i] = w.empty() ? cat("[EMPTY_", i, "]") : std::string(w);
    max_token_len = std::max(max_token_len, text[i].size());
    auto [it, inserted] = index.emplace(text[i], static_cast<int32_t>(i));
    if (!inserted)
      fail(path, ": tokenizer.ggml.tokens has the token ", quoted(text[i]), " twice (ids ", it->second, " and ", i, ")");
    if (scores) score[i] = static_cast<float>(gguf::array_float(*scores, i));
    if (types) {
      switch (gguf::array_int(*types, i)) {
        case 1: attr[i] = ATTR_NORMAL; break;
        case 2: attr[i] = ATTR_UNKNOWN; break;
        case 3: attr[i] = ATTR_CONTROL; break;
        case 4: attr[i] = ATTR_USER_DEFINED; break;
        case 5: attr[i] = ATTR_UNUSED; break;
        case 6: attr[i] = ATTR_BYTE; break;
        default: attr[i] = ATTR_UNDEFINED; break;
      }
    }
  }
  const int64_t n_vocab = static_cast<int64_t>(n_tokens);

  // --- special ids: per-kind defaults, then the file's keys ---
  auto valid_or_none = [&](int32_t id) { return id >= 0 && id < n_vocab ? id : -1; };
  bos = valid_or_none(defaults.bos);
  eos = valid_or_none(defaults.eos);
  unk = valid_or_none(defaults.unk);
  sep = valid_or_none(defaults.sep);
  pad = valid_or_none(defaults.pad);
  mask = valid_or_none(defaults.mask);
  eot = eom = fim_pre = fim_suf = fim_mid = fim_pad = fim_rep = fim_sep = -1;
  add_bos = defaults.add_bos;
  add_eos = defaults.add_eos;
  add_sep = defaults.add_sep;
  add_space_prefix = defaults.add_space_prefix;

  // llama.cpp keeps the default when a key holds an id outside the vocab (it warns). 0xFFFFFFFF (-1) is the
  // usual "none" marker and is treated that way here too; any other out-of-range value for the ids that
  // matter (bos/eos/unk/eot/eom) is a broken file and fails.
  auto read_id = [&](const char* key, int32_t& id, bool strict) {
    const gguf::Value* v = file.find(key);
    if (!v) return;
    if (!v->is_integer()) fail(path, ": ", key, " should be an integer but is ", gguf::value_type_name(v->type));
    const bool is_signed = v->type == gguf::ValueType::INT8 || v->type == gguf::ValueType::INT16 ||
                           v->type == gguf::ValueType::INT32 || v->type == gguf::ValueType::INT64;
    if (is_signed && v->i < 0) return;
    const uint64_t val = is_signed ? static_cast<uint64_t>(v->i) : v->u;
    if (val == 0xFFFFFFFFull || val == ~0ull) return;
    if (val >= static_cast<uint64_t>(n_vocab)) {
      if (strict) fail(path, ": ", key, " = ", val, " is out of range (the vocab has ", n_vocab, " tokens)");
      return;
    }
    id = static_cast<int32_t>(val);
  };
  read_id("tokenizer.ggml.bos_token_id", bos, true);
  read_id("tokenizer.ggml.eos_token_id", eos, true);
  read_id("tokenizer.ggml.eot_token_id", eot, true);
  read_id("tokenizer.ggml.eom_token_id", eom, true);
  read_id("tokenizer.ggml.unknown_token_id", unk, true);
  read_id("tokenizer.ggml.seperator_token_id", sep, false);  // sic: llama.cpp's key name
  read_id("tokenizer.ggml.padding_token_id", pad, false);
  read_id("tokenizer.ggml.mask_token_id", mask, false);
  read_id("tokenizer.ggml.fim_pre_token_id", fim_pre, false);
  read_id("tokenizer.ggml.fim_suf_token_id", fim_suf, false);
  read_id("tokenizer.ggml.fim_mid_token_id", fim_mid, false);
  read_id("tokenizer.ggml.fim_pad_token_id", fim_pad, false);
  read_id("tokenizer.ggml.fim_rep_token_id", fim_rep, false);
  read_id("tokenizer.ggml.fim_sep_token_id", fim_sep, false);
  read_id("tokenizer.ggml.prefix_token_id", fim_pre, false);  // deprecated names
  read_id("tokenizer.ggml.suffix_token_id", fim_suf, false);
  read_id("tokenizer.ggml.middle_token_id", fim_mid, false);

  add_bos = file.get_bool("tokenizer.ggml.add_bos_token", add_bos);
  add_eos = file.get_bool("tokenizer.ggml.add_eos_token", add_eos);
  add_sep = file.get_bool("tokenizer.ggml.add_sep_token", add_sep);
  add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", add_space_prefix);
  if (add_bos && bos < 0) fail(path, ": add_bos_token is set but the vocab has no BOS token");
  if (add_eos && eos < 0) fail(path, ": add_eos_token is set but the vocab has no EOS token");

  // --- special tokens llama.cpp recognises by their text; a match is forced to be a control token ---
  // (llama.cpp walks its hash map, so when several texts match, which one it picks is unspecified;
  // here the lowest id wins.)
  auto force_control = [&](int32_t id) {
    if (!(attr[id] & ATTR_CONTROL)) attr[id] = ATTR_CONTROL;
  };
  for (int32_t id = 0; id < n_vocab; ++id) {
    const std::string_view t = text[id];
    if (t.size() < 3 || t.size() > 40) continue;
    auto detect = [&](int32_t& slot, std::initializer_list<std::string_view> names) {
      if (slot < 0 && in_list(t, names)) {
        slot = id;
        force_control(id);
      }
    };
    detect(eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                 "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "<end_of_utterance>"});
    detect(eom, {"<|eom_id|>"});
    detect(fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>",
                     "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>"});
    detect(fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
                     "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>"});
    detect(fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>",
                     "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>"});
    detect(fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"});
    detect(fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
    detect(fim_sep, {"<|file_sep|>"});
  }

  // --- end-of-generation set ---
  eog.assign(n_tokens, 0);
  for (int32_t id : {fim_pad, fim_rep, fim_sep})
    if (id >= 0) eog[id] = 1;
  for (int32_t id = 0; id < n_vocab; ++id) {
    if (in_list(text[id], {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
                           "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"})) {
      eog[id] = 1;
      force_control(id);
    }
  }
  // gpt-oss (o200k_harmony): these structural tokens are always rendered
  for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t id = find(t);
    if (id >= 0) attr[id] = ATTR_USER_DEFINED;
  }
  for (int32_t id : {eos, eot, eom})
    if (id >= 0) eog[id] = 1;
  {  // o200k_harmony: with <|return|> and <|call|> present, <|end|> is not an end of generation
    const int32_t r = find("<|return|>"), c = find("<|call|>"), e = find("<|end|>");
    if (r >= 0 && c >= 0 && e >= 0 && eog[r] && eog[c] && eog[e]) {
      eog[e] = 0;
      attr[e] = ATTR_USER_DEFINED;
    }
  }

  // --- special-token cache for partitioning: longest text first (ties: lower id first) ---
  special_cache.clear();
  for (int32_t id = 0; id < n_vocab; ++id)
    if (attr[id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) special_cache.push_back(id);
  std::stable_sort(special_cache.begin(), special_cache.end(),
                   [&](int32_t a, int32_t b) { return text[a].size() > text[b].size(); });

  // --- per-model strip attributes (llama.cpp sets these by name; they only affect partitioning) ---
  std::string name = file.get_string("general.name");
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string pre = file.get_string("tokenizer.ggml.pre");
  const std::string arch = file.get_string("general.architecture");
  auto contains_any = [](const std::string& s, std::initializer_list<std::string_view> subs) {
    for (std::string_view x : subs)
      if (s.find(x) != std::string::npos) return true;
    return false;
  };
  auto set_attr = [&](std::string_view t, uint32_t bit, bool on) {
    const int32_t id = find(t);
    if (id < 0) return;
    attr[id] = on ? (attr[id] | bit) : (attr[id] & ~bit);
  };
  if (contains_any(pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set_attr("<mask>", ATTR_LSTRIP, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (int32_t id : special_cache) attr[id] |= ATTR_RSTRIP;
    set_attr("</s>", ATTR_RSTRIP, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, ATTR_RSTRIP, false);
  }
}

// llama.cpp's tokenizer_st_partition, on a flat vector instead of a linked list. For each special token
// (longest first) every remaining text fragment is split at each occurrence of the token's text.
void Vocab::partition(std::string_view input, bool parse_special, std::vector<Fragment>& out) const {
  out.clear();
  if (input.empty()) return;
  out.push_back({-1, 0, input.size()});
  std::vector<Fragment> next;
  for (int32_t id : special_cache) {
    const uint32_t a = attr[id];
    // control and unknown tokens only when parse_special; user-defined ones always
    if (!parse_special && (a & (ATTR_CONTROL | ATTR_UNKNOWN))) continue;
    const std::string_view tok = text[id];
    if (input.find(tok) == std::string_view::npos) continue;  // cheap common case

    next.clear();
    for (const Fragment& f : out) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.offset;
      const size_t end = f.offset + f.length;
      const std::string_view window = input.substr(0, end);
      while (true) {
        const size_t m = window.find(tok, pos);
        if (m == std::string_view::npos) {
          if (end > pos) next.push_back({-1, pos, end - pos});
          break;
        }
        size_t left_len = m - pos;
        if (a & ATTR_LSTRIP)
          while (left_len > 0 && is_c_space(static_cast<unsigned char>(input[pos + left_len - 1]))) --left_len;
        if (left_len > 0) next.push_back({-1, pos, left_len});
        next.push_back({id, 0, 0});
        pos = m + tok.size();
        if (a & ATTR_RSTRIP)
          while (pos < end && is_c_space(static_cast<unsigned char>(input[pos]))) ++pos;
        if (pos >= end) break;
      }
    }
    out.swap(next);
  }
}

// ---------------------------------------------------------------------------------------------
// SPM tokenizer
// ---------------------------------------------------------------------------------------------

// token_to_piece(special=true) for every token (llama.cpp's cache_token_to_piece): control, unknown and
// user-defined tokens print their text; normal tokens with U+2581 as a space; byte tokens <0xXX> as that byte
// (when decode_byte_tokens; WordPiece has none); unused and undefined tokens as nothing.
void build_piece_cache(Vocab& vocab, bool decode_byte_tokens) {
  const int32_t n = vocab.n();
  vocab.piece.assign(static_cast<size_t>(n), std::string());
  for (int32_t id = 0; id < n; ++id) {
    const uint32_t a = vocab.attr[id];
    const std::string& t = vocab.text[id];
    std::string& p = vocab.piece[id];
    if (a & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) {
      p = t;
    } else if (a & ATTR_NORMAL) {
      p.reserve(t.size());
      for (size_t i = 0; i < t.size();) {
        if (t.compare(i, kSpace.size(), kSpace) == 0) {
          p += ' ';
          i += kSpace.size();
        } else {
          p += t[i++];
        }
      }
    } else if ((a & ATTR_BYTE) && decode_byte_tokens) {
      // llama.cpp: strtol(text.substr(3, 2), 16)
      unsigned v = 0;
      for (size_t i = 3; i < std::min<size_t>(t.size(), 5); ++i) {
        const char c = t[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + static_cast<unsigned>(d);
      }
      p.assign(1, static_cast<char>(v));
    }
  }
}

SpmTokenizer::SpmTokenizer(const gguf::File& file) {
  VocabDefaults d;  // llama.cpp's defaults for LLAMA_VOCAB_TYPE_SPM
  d.bos = 1;
  d.eos = 2;
  d.unk = 0;
  d.add_bos = true;
  d.add_eos = false;
  d.add_space_prefix = true;
  vocab_.load(file, d);

  // Byte fallback: "<0xXX>", else the byte itself as a one-character token (llama.cpp's byte_to_token).
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    int32_t id = vocab_.find(std::string_view(name, 6));
    if (id < 0) {
      const char c = static_cast<char>(b);
      id = vocab_.find(std::string_view(&c, 1));
    }
    byte_token_[b] = id;
  }

  word_split_safe_ = true;
  for (const std::string& t : vocab_.text) {
    size_t i = 0;
    while (t.compare(i, kSpace.size(), kSpace) == 0) i += kSpace.size();
    if (t.find(kSpace, i) != std::string::npos) {
      word_split_safe_ = false;
      break;
    }
  }

  build_piece_cache(vocab_, /*decode_byte_tokens=*/true);
}

const std::string& VocabTokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= vocab_.n()) fail("token id ", id, " is out of range (the vocab has ", vocab_.n(), " tokens)");
  return vocab_.text[id];
}

std::string SpmTokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_.n()) fail("token id ", id, " is out of range (the vocab has ", vocab_.n(), " tokens)");
  if (!special && (vocab_.attr[id] & (ATTR_UNKNOWN | ATTR_CONTROL))) return std::string();
  return vocab_.piece[id];
}

namespace {

struct Symbol {
  int32_t prev, next;
  uint32_t start, n;  // byte range in the fragment; n == 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t size;  // byte length of the merged text, to detect stale entries
};

// Max-heap order: the highest score first, ties to the leftmost pair (llama.cpp's llm_bigram_spm::comparator).
struct BigramLess {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

size_t utf8_len(unsigned char lead) {
  static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lookup[lead >> 4];
}

}  // namespace

struct SpmTokenizer::Scratch {
  std::vector<Symbol> sym;
  std::vector<Bigram> heap;
  // word -> where its ids were first written in `out` (start, count); keys point into the fragment text
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> memo;
};

void SpmTokenizer::tokenize_fragment(std::string_view s, Scratch& scratch, std::vector<int32_t>& out) const {
  if (!word_split_safe_) {
    bpe(s, scratch, out);
    return;
  }
  scratch.memo.clear();
  auto emit = [&](std::string_view word) {
    if (word.empty()) return;
    auto it = scratch.memo.find(word);
    if (it != scratch.memo.end()) {
      const auto [start, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[start + k]);
      return;
    }
    const size_t start = out.size();
    bpe(word, scratch, out);
    scratch.memo.emplace(word, std::make_pair(start, out.size() - start));
  };
  // Cut in front of every U+2581 symbol whose previous symbol is not U+2581 (symbols as bpe() splits them).
  size_t word_start = 0;
  bool prev_space = false;
  for (size_t off = 0; off < s.size();) {
    const size_t len = std::min(utf8_len(static_cast<unsigned char>(s[off])), s.size() - off);
    const bool space = len == kSpace.size() && s.compare(off, len, kSpace) == 0;
    if (space && !prev_space && off > word_start) {
      emit(s.substr(word_start, off - word_start));
      word_start = off;
    }
    prev_space = space;
    off += len;
  }
  emit(s.substr(word_start));
}

void SpmTokenizer::bpe(std::string_view s, Scratch& scratch, std::vector<int32_t>& out) const {
  if (s.empty()) return;
  std::vector<Symbol>& sym = scratch.sym;
  sym.clear();
  for (size_t off = 0; off < s.size();) {
    const size_t len = std::min(utf8_len(static_cast<unsigned char>(s[off])), s.size() - off);
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({i - 1, off + len == s.size() ? -1 : i + 1, static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
    off += len;
  }

  std::vector<Bigram>& heap = scratch.heap;
  heap.clear();
  const BigramLess less;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = sym[left].n + sym[right].n;
    const int32_t id = vocab_.find(s.substr(sym[left].start, size));
    if (id < 0) return;
    heap.push_back({vocab_.score[id], left, right, size});
    std::push_heap(heap.begin(), heap.end(), less);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), less);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale: one side already merged
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& x = sym[i];
    const int32_t id = vocab_.find(s.substr(x.start, x.n));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not in the vocab (only possible for a single character): one byte-fallback token per byte.
    bool all_bytes = true;
    for (uint32_t j = 0; j < x.n; ++j) all_bytes = all_bytes && byte_token_[static_cast<unsigned char>(s[x.start + j])] >= 0;
    if (all_bytes) {
      for (uint32_t j = 0; j < x.n; ++j) out.push_back(byte_token_[static_cast<unsigned char>(s[x.start + j])]);
    } else if (vocab_.unk >= 0) {
      // llama.cpp would throw here; SentencePiece without byte fallback gives one unknown token per character
      out.push_back(vocab_.unk);
    } else {
      fail("cannot encode ", quoted(s.substr(x.start, x.n)),
           ": the vocab has neither byte-fallback tokens for it nor an unknown token");
    }
  }
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  std::vector<Fragment> frags;
  vocab_.partition(text, parse_special, frags);

  if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
  bool prev_special = true;  // the first text fragment gets the space prefix
  std::string escaped;
  Scratch scratch;
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    escaped.clear();
    escaped.reserve(f.length + f.length / 2 + kSpace.size());
    if (vocab_.add_space_prefix && prev_special) escaped.append(kSpace);
    for (char c : text.substr(f.offset, f.length)) {
      if (c == ' ')
        escaped.append(kSpace);
      else
        escaped.push_back(c);
    }
    tokenize_fragment(escaped, scratch, out);
    prev_special = false;
  }
  if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
  return out;
}

}  // namespace minnow::tok
