// Byte-level BPE tokenizer (vocab kind "gpt2") with llama.cpp's pre-tokenizers, and the shared Unicode helpers.
// Behaviour follows llama.cpp's llama-vocab.cpp (llm_tokenizer_bpe, llama_vocab::impl::load) and unicode.cpp
// (unicode_regex_split and its hand-written matchers) of September 2025; see bpe.h for the overview.
#include "tokenizer/bpe.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>

#include "common/error.h"
#include "gguf/gguf.h"

namespace minnow::tok {

// ---------------------------------------------------------------------------------------------
// Unicode helpers
// ---------------------------------------------------------------------------------------------

namespace uni {
namespace {

uint16_t category_flag(utf8proc_category_t c) {
  switch (c) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return LETTER;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      return MARK;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return NUMBER;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
      return PUNCTUATION;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
      return SYMBOL;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      return SEPARATOR;
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
      return CONTROL;
    default:  // Cn
      return UNDEFINED;
  }
}

// One flag word per code point, like llama.cpp's table (built once, 2.2 MB).
struct FlagTable {
  std::vector<uint16_t> t;
  FlagTable() : t(kMaxCodepoint + 1) {
    for (uint32_t cp = 0; cp <= kMaxCodepoint; ++cp)
      t[cp] = category_flag(static_cast<utf8proc_category_t>(utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->category));
    // llama.cpp's tables are Unicode 15.1; an older utf8proc (Unicode 15.0) lacks these 15.1 additions.
    auto assign = [&](uint32_t first, uint32_t last, uint16_t f) {
      for (uint32_t cp = first; cp <= last; ++cp)
        if (t[cp] == UNDEFINED) t[cp] = f;
    };
    assign(0x2FFC, 0x2FFF, SYMBOL);    // ideographic description characters
    assign(0x31EF, 0x31EF, SYMBOL);    // CJK stroke HXG
    assign(0x2EBF0, 0x2EE5D, LETTER);  // CJK Unified Ideographs Extension I
    // llama.cpp's whitespace set (White_Space in PropList.txt)
    for (uint32_t cp = 0x09; cp <= 0x0D; ++cp) t[cp] |= WHITESPACE;
    for (uint32_t cp = 0x2000; cp <= 0x200A; ++cp) t[cp] |= WHITESPACE;
    for (uint32_t cp : {0x20u, 0x85u, 0xA0u, 0x1680u, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) t[cp] |= WHITESPACE;
  }
};

}  // namespace

const uint16_t* flag_table() {
  static const FlagTable table;
  return table.t.data();
}

uint16_t flags(uint32_t cp) { return cp <= kMaxCodepoint ? flag_table()[cp] : static_cast<uint16_t>(UNDEFINED); }

uint32_t to_lower(uint32_t cp) {
  if (cp > kMaxCodepoint) return cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xC0 || cp > kMaxCodepoint || (cp >= 0xD800 && cp <= 0xDFFF)) return cp;
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8, UTF8PROC_DECOMPOSE, &last_boundclass);
  return n > 0 ? static_cast<uint32_t>(buf[0]) : cp;
}

bool decode_utf8(std::string_view s, std::vector<uint32_t>& out) {
  out.clear();
  out.reserve(s.size());
  bool faithful = true;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  while (i < n) {
    const uint32_t c = p[i];
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (c & 0x40) {
      if (!(c & 0x20)) {
        if (cont(1)) {
          const uint32_t cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
          faithful = faithful && cp >= 0x80;
          out.push_back(cp);
          i += 2;
          continue;
        }
      } else if (!(c & 0x10)) {
        if (cont(1) && cont(2)) {
          const uint32_t cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
          faithful = faithful && cp >= 0x800;
          out.push_back(cp);
          i += 3;
          continue;
        }
      } else if (!(c & 0x08)) {
        if (cont(1) && cont(2) && cont(3)) {
          const uint32_t cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
          faithful = faithful && cp >= 0x10000 && cp <= kMaxCodepoint;
          out.push_back(cp);
          i += 4;
          continue;
        }
      }
    }
    out.push_back(0xFFFD);  // invalid: replacement character, one byte consumed
    faithful = false;
    ++i;
  }
  return faithful;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= kMaxCodepoint) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    fail("cannot encode code point 0x", std::hex, cp, " as UTF-8 (beyond U+10FFFF)");
  }
}

}  // namespace uni

// ---------------------------------------------------------------------------------------------
// Pre-tokenizer patterns (llama.cpp's llm_tokenizer_bpe regex lists, per tokenizer.ggml.pre)
// ---------------------------------------------------------------------------------------------

namespace {

// The two patterns llama.cpp runs through hand-written matchers instead of a regex engine (it recognises them
// by their text; the Llama-3 one also in its original "(?i:...)" spelling, which no list uses).
constexpr std::string_view kGpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr std::string_view kLlama3Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kPoroRegex = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";
constexpr std::string_view kCjkRegex = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

enum class PreKind {
  Default, Llama3, Dbrx, DeepseekLlm, Deepseek3, DeepseekCoder, Falcon, Starcoder, Gpt2, Qwen2, Poro, ChatGlm4,
  Viking, Tekken, Chameleon, Gpt4o, SuperBpe, BailingMoe, SeedCoder,
};

struct PreName {
  std::string_view name;
  PreKind kind;
};

// tokenizer.ggml.pre -> pattern set, as llama_vocab::impl::load maps them.
constexpr PreName kPreNames[] = {
    {"default", PreKind::Default},
    {"llama3", PreKind::Llama3}, {"llama-v3", PreKind::Llama3}, {"llama-bpe", PreKind::Llama3},
    {"falcon3", PreKind::Llama3}, {"falcon-h1", PreKind::Llama3}, {"pixtral", PreKind::Llama3},
    {"midm-2.0", PreKind::Llama3}, {"lfm2", PreKind::Llama3},
    {"deepseek-llm", PreKind::DeepseekLlm},
    {"deepseek-coder", PreKind::DeepseekCoder},
    {"deepseek-v3", PreKind::Deepseek3}, {"hunyuan-dense", PreKind::Deepseek3},
    {"falcon", PreKind::Falcon},
    {"mpt", PreKind::Gpt2},
    {"starcoder", PreKind::Starcoder}, {"refact", PreKind::Starcoder}, {"command-r", PreKind::Starcoder},
    {"smollm", PreKind::Starcoder}, {"codeshell", PreKind::Starcoder}, {"exaone", PreKind::Starcoder},
    {"minerva-7b", PreKind::Starcoder},
    {"gpt-2", PreKind::Gpt2}, {"phi-2", PreKind::Gpt2}, {"jina-es", PreKind::Gpt2}, {"jina-de", PreKind::Gpt2},
    {"gigachat", PreKind::Gpt2}, {"jina-v2-es", PreKind::Gpt2}, {"jina-v2-de", PreKind::Gpt2},
    {"a.x-4.0", PreKind::Gpt2}, {"mellum", PreKind::Gpt2}, {"jina-v1-en", PreKind::Gpt2},
    {"jina-v2-code", PreKind::Gpt2}, {"roberta-bpe", PreKind::Gpt2}, {"olmo", PreKind::Gpt2},
    {"jais", PreKind::Gpt2}, {"exaone4", PreKind::Gpt2}, {"trillion", PreKind::Gpt2},
    {"qwen2", PreKind::Qwen2}, {"deepseek-r1-qwen", PreKind::Qwen2}, {"stablelm2", PreKind::Qwen2},
    {"megrez", PreKind::Qwen2}, {"hunyuan", PreKind::Qwen2}, {"grok-2", PreKind::Qwen2},
    {"dbrx", PreKind::Dbrx}, {"smaug-bpe", PreKind::Dbrx},
    {"poro-chat", PreKind::Poro}, {"bloom", PreKind::Poro}, {"gpt3-finnish", PreKind::Poro},
    {"glm4", PreKind::ChatGlm4}, {"chatglm-bpe", PreKind::ChatGlm4},
    {"viking", PreKind::Viking},
    {"tekken", PreKind::Tekken},
    {"chameleon", PreKind::Chameleon},
    {"gpt-4o", PreKind::Gpt4o}, {"llama4", PreKind::Gpt4o},
    {"superbpe", PreKind::SuperBpe},
    {"bailingmoe", PreKind::BailingMoe}, {"llada-moe", PreKind::BailingMoe},
    {"seed-coder", PreKind::SeedCoder},
};

std::vector<std::string_view> patterns_for(PreKind kind) {
  switch (kind) {
    case PreKind::Llama3:
    case PreKind::Dbrx:
    case PreKind::ChatGlm4:
      return {kLlama3Regex};
    case PreKind::DeepseekLlm:
      return {
          "[\r\n]",
          "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
          "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
          "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
          "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
          "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
          "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
          "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
          "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
          "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
          "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
          "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
          "\\s+$",
          kCjkRegex,
          "\\p{N}+",
      };
    case PreKind::Deepseek3:
      return {
          "\\p{N}{1,3}",
          "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
          "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|"
          "\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
      };
    case PreKind::DeepseekCoder:
      return {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjkRegex, "\\p{N}"};
    case PreKind::Falcon:
      return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2Regex, "[0-9][0-9][0-9]"};
    case PreKind::Starcoder:
      return {"\\p{N}", kGpt2Regex};
    case PreKind::Gpt2:
      return {kGpt2Regex};
    case PreKind::Qwen2:
      return {kQwen2Regex};
    case PreKind::Poro:
      return {kPoroRegex};
    case PreKind::Viking:
      return {kPoroRegex, "\\p{N}"};
    case PreKind::Tekken:
      return {
          "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+"
          "((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      };
    case PreKind::Chameleon:
      return {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
              "[\\p{P}!-/:-@\\[-`{-~]", kGpt2Regex};
    case PreKind::Gpt4o:
      return {
          "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
          "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
          "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      };
    case PreKind::SuperBpe:
      return {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"};
    case PreKind::BailingMoe:
      return {
          "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
          "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
      };
    case PreKind::SeedCoder:
      return {
          "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
          "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      };
    case PreKind::Default:
      break;
  }
  return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2Regex, "\\p{N}+", "[0-9][0-9][0-9]"};
}

// The unicode categories llama.cpp "collapses" and the byte that stands for each non-ASCII member.
struct CollapsedClass {
  char letter;           // X in \p{X}
  uint16_t flag;         // uni::Flag
  unsigned char code;    // byte in the collapsed text
  std::string_view ascii;  // the class's ASCII members, as written inside [...]
};
constexpr CollapsedClass kCollapsed[] = {
    {'N', uni::NUMBER, 0xD1, "0-9"},
    {'L', uni::LETTER, 0xD2, "A-Za-z"},
    {'P', uni::PUNCTUATION, 0xD3, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {'M', uni::MARK, 0xD4, ""},
    {'S', uni::SYMBOL, 0xD5, "\\$\\+<->^`\\|"},
};

unsigned char collapsed_byte(uint32_t cp, uint16_t f) {
  if (cp < 0x80) return static_cast<unsigned char>(cp);
  if (f & uni::WHITESPACE) return 0x0B;
  const uint16_t cat = f & uni::CATEGORY_MASK;
  for (const auto& c : kCollapsed)
    if (cat == c.flag) return c.code;
  return 0xD0;
}

bool uses_categories(std::string_view re) {
  for (const auto& c : kCollapsed) {
    const char pat[6] = {'\\', 'p', '{', c.letter, '}', 0};
    if (re.find(pat) != std::string_view::npos) return true;
  }
  return false;
}

// Rewrites \p{X} for the collapsed text: outside brackets "[" code ascii "]", inside just code ascii.
// Bracket tracking is llama.cpp's: an unescaped '[' opens, an unescaped ']' closes.
std::string collapse_regex(std::string_view re) {
  for (unsigned char ch : re)
    if (ch >= 0x80) fail("pre-tokenizer pattern mixes unicode categories with non-ASCII characters (unsupported)");
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && re[i] == ']' && re[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (re[i] == '\\' && i + 4 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{' && re[i + 4] == '}') {
      const CollapsedClass* cls = nullptr;
      for (const auto& c : kCollapsed)
        if (re[i + 3] == c.letter) cls = &c;
      if (cls) {
        if (!inside) out += '[';
        out += static_cast<char>(cls->code);
        out.append(cls->ascii);
        if (!inside) out += ']';
        i += 4;
        continue;
      }
    }
    out += re[i];
  }
  return out;
}

}  // namespace

struct PreTokenizer::Pattern {
  enum Kind { Gpt2, Llama3, Collapsed, Wide } kind;
  std::string source;  // the pattern as llama.cpp writes it
  pcre2_code* code = nullptr;
  ~Pattern() {
    if (code) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer(std::string_view pre) : name_(pre.empty() ? "default" : pre) {
  const PreName* found = nullptr;
  for (const auto& p : kPreNames)
    if (p.name == name_) found = &p;
  if (!found) {
    if (name_ == "kimi-k2")
      fail("pre-tokenizer \"kimi-k2\" is not supported yet");
    fail("unknown pre-tokenizer \"", name_, "\" in tokenizer.ggml.pre");
  }
  const PreKind kind = found->kind;
  ignore_merges_ = kind == PreKind::Llama3 || kind == PreKind::Tekken;
  add_bos_ = kind == PreKind::Llama3 || kind == PreKind::Tekken || kind == PreKind::Chameleon;
  has_bos_ = kind != PreKind::ChatGlm4;

  for (std::string_view re : patterns_for(kind)) {
    auto p = std::make_unique<Pattern>();
    p->source = std::string(re);
    if (re == kGpt2Regex) {
      p->kind = Pattern::Gpt2;
    } else if (re == kLlama3Regex) {
      p->kind = Pattern::Llama3;
    } else {
      const bool collapsed = uses_categories(re);
      p->kind = collapsed ? Pattern::Collapsed : Pattern::Wide;
      const std::string src = collapsed ? collapse_regex(re) : std::string(re);
      // ECMAScript (std::regex) '$' only matches at the very end; \s, \d stay ASCII (no UCP) as in the C locale.
      const uint32_t opts = PCRE2_DOLLAR_ENDONLY | (collapsed ? 0u : PCRE2_UTF);
      int err = 0;
      PCRE2_SIZE err_off = 0;
      p->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(src.data()), src.size(), opts, &err, &err_off, nullptr);
      if (!p->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        fail("pre-tokenizer \"", name_, "\": cannot compile pattern ", re, ": ", reinterpret_cast<const char*>(msg));
      }
      pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    }
    patterns_.push_back(std::move(p));
  }
}

PreTokenizer::~PreTokenizer() = default;

struct PreTokenizer::Scratch {
  std::vector<uint32_t> cur, next;
  std::string collapsed;
  bool have_collapsed = false;
  std::string wide;                 // UTF-8 of the code points as std::wregex sees them
  std::vector<uint32_t> wide_off;   // code point -> byte offset in `wide` (size n + 1)
  std::vector<uint32_t> wide_cp;    // byte offset -> code point (valid at character starts)
  bool have_wide = false;
  void release() {
    std::vector<uint32_t>().swap(cur);
    std::vector<uint32_t>().swap(next);
    std::string().swap(collapsed);
    std::string().swap(wide);
    std::vector<uint32_t>().swap(wide_off);
    std::vector<uint32_t>().swap(wide_cp);
  }
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (md) pcre2_match_data_free(md);
    if (mctx) pcre2_match_context_free(mctx);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
  }
  void init_pcre() {
    if (md) return;
    md = pcre2_match_data_create(32, nullptr);
    mctx = pcre2_match_context_create(nullptr);
    if (!md || !mctx) fail("out of memory setting up the pre-tokenizer");
  }
  // JIT matching starts on a small machine stack; a bigger one is set up only when a match needs it.
  bool grow_jit_stack() {
    if (jit_stack) return false;
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (!jit_stack) return false;
    pcre2_jit_stack_assign(mctx, nullptr, jit_stack);
    return true;
  }
};

namespace {

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// Walks each chunk of `in` (lengths in code points) and appends the words a matcher finds to `out`.
// The matcher sees positions relative to the whole text; outside the chunk, cp() is kOutOfRange and fl() is 0.
struct ChunkView {
  const uint32_t* cps;
  const uint16_t* fls;
  size_t ini, end;
  uint32_t cp(size_t pos) const { return pos >= ini && pos < end ? cps[pos] : kOutOfRange; }
  uint16_t fl(size_t pos) const { return pos >= ini && pos < end ? fls[pos] : 0; }
};

constexpr uint16_t kWs = uni::WHITESPACE, kL = uni::LETTER, kN = uni::NUMBER;

// llama.cpp's unicode_regex_split_custom_gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
// (and \s+, and one character when nothing matches).
void split_gpt2(const ChunkView& v, std::vector<uint32_t>& out) {
  size_t prev = v.ini;
  auto add = [&](size_t e) {
    if (e > prev) out.push_back(static_cast<uint32_t>(e - prev));
    prev = e;
  };
  for (size_t pos = v.ini; pos < v.end;) {
    const uint32_t c = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (c == '\'' && pos + 1 < v.end) {
      const uint32_t c1 = v.cp(pos + 1);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        pos += 2;
        add(pos);
        continue;
      }
      if (pos + 2 < v.end) {
        const uint32_t c2 = v.cp(pos + 2);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          pos += 3;
          add(pos);
          continue;
        }
      }
    }
    uint16_t f2 = c == ' ' ? v.fl(pos + 1) : f;
    if (f2 & kL) {
      pos += c == ' ';
      while (f2 & kL) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (f2 & kN) {
      pos += c == ' ';
      while (f2 & kN) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (!(f2 & (kWs | kL | kN)) && f2) {
      pos += c == ' ';
      while (!(f2 & (kWs | kL | kN)) && f2) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    size_t n_ws = 0;
    while (v.fl(pos + n_ws) & kWs) ++n_ws;
    if (n_ws > 1 && v.cp(pos + n_ws) != kOutOfRange) {  // \s+(?!\S): leave the last one for the next word
      pos += n_ws - 1;
      add(pos);
      continue;
    }
    if (n_ws > 0) {
      pos += n_ws;
      add(pos);
      continue;
    }
    add(++pos);
  }
}

// llama.cpp's unicode_regex_split_custom_llama3:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const ChunkView& v, std::vector<uint32_t>& out) {
  size_t prev = v.ini;
  auto add = [&](size_t e) {
    if (e > prev) out.push_back(static_cast<uint32_t>(e - prev));
    prev = e;
  };
  for (size_t pos = v.ini; pos < v.end;) {
    const uint32_t c = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (c == '\'' && pos + 1 < v.end) {  // contractions, case-insensitive
      const uint32_t c1 = uni::to_lower(v.cp(pos + 1));
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        pos += 2;
        add(pos);
        continue;
      }
      if (pos + 2 < v.end) {
        const uint32_t c2 = uni::to_lower(v.cp(pos + 2));
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          pos += 3;
          add(pos);
          continue;
        }
      }
    }
    if (!(c == '\r' || c == '\n' || (f & kN))) {  // [^\r\n\p{L}\p{N}]?\p{L}+
      if ((f & kL) || (v.fl(pos + 1) & kL)) {
        ++pos;
        while (v.fl(pos) & kL) ++pos;
        add(pos);
        continue;
      }
    }
    if (f & kN) {  // \p{N}{1,3}
      size_t ini = pos;
      while (v.fl(pos) & kN) {
        if (++pos - ini >= 3) {
          add(pos);
          ini = pos;
        }
      }
      add(pos);
      continue;
    }
    uint16_t f2 = c == ' ' ? v.fl(pos + 1) : f;  // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (note: tests f, not f2, for "in range")
    if (!(f2 & (kWs | kL | kN)) && f) {
      pos += c == ' ';
      while (!(f2 & (kWs | kL | kN)) && f2) f2 = v.fl(++pos);
      uint32_t c2 = v.cp(pos);
      while (c2 == '\r' || c2 == '\n') c2 = v.cp(++pos);
      add(pos);
      continue;
    }
    size_t n_ws = 0, last_rn = 0;
    while (v.fl(pos + n_ws) & kWs) {
      const uint32_t c2 = v.cp(pos + n_ws);
      if (c2 == '\r' || c2 == '\n') last_rn = pos + n_ws + 1;
      ++n_ws;
    }
    if (last_rn > 0) {  // \s*[\r\n]+
      pos = last_rn;
      add(pos);
      continue;
    }
    if (n_ws > 1 && v.cp(pos + n_ws) != kOutOfRange) {  // \s+(?!\S)
      pos += n_ws - 1;
      add(pos);
      continue;
    }
    if (n_ws > 0) {
      pos += n_ws;
      add(pos);
      continue;
    }
    add(++pos);
  }
}

size_t utf8_char_len(unsigned char lead) {
  static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lookup[lead >> 4];
}

// std::regex_iterator over one subject, as llama.cpp's unicode_regex_split_stl uses it: each match and each
// unmatched gap becomes a piece. Empty matches are handled the way libstdc++'s iterator steps past them.
// emit(begin, end) gets subject offsets of non-empty pieces, in order, covering the subject.
template <typename Emit>
void regex_pieces(const pcre2_code* code, const char* subject, size_t n, bool utf, PreTokenizer::Scratch& s, Emit emit) {
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject);
  const uint32_t base_opts = utf ? PCRE2_NO_UTF_CHECK : 0u;
  size_t pos = 0, last = 0;
  bool retry_nonempty = false;
  while (pos <= n) {
    const uint32_t opts = base_opts | (retry_nonempty ? (PCRE2_ANCHORED | PCRE2_NOTEMPTY_ATSTART) : 0u);
    int rc = pcre2_match(code, subj, n, pos, opts, s.md, s.mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && s.grow_jit_stack()) rc = pcre2_match(code, subj, n, pos, opts, s.md, s.mctx);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (!retry_nonempty) break;
      // no non-empty match here: search again from the next character
      retry_nonempty = false;
      pos += utf ? utf8_char_len(static_cast<unsigned char>(subject[pos])) : 1;
      continue;
    }
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail("pre-tokenizer: pattern matching failed: ", reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
    const size_t ms = ov[0], me = ov[1];
    if (ms > last) emit(last, ms);
    if (me > ms) emit(ms, me);
    last = me;
    pos = me;
    retry_nonempty = me == ms;
    if (retry_nonempty && me == n) break;
  }
  if (last < n) emit(last, n);
}

}  // namespace

void PreTokenizer::split(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& fls, Scratch& s,
                         std::vector<uint32_t>& words) const {
  const size_t n = cps.size();
  if (n == 0) return;
  s.cur.assign(1, static_cast<uint32_t>(n));
  s.have_collapsed = s.have_wide = false;

  for (const auto& pat : patterns_) {
    s.next.clear();
    size_t start = 0;
    switch (pat->kind) {
      case Pattern::Gpt2:
      case Pattern::Llama3:
        for (uint32_t len : s.cur) {
          const ChunkView v{cps.data(), fls.data(), start, start + len};
          if (pat->kind == Pattern::Gpt2)
            split_gpt2(v, s.next);
          else
            split_llama3(v, s.next);
          start += len;
        }
        break;
      case Pattern::Collapsed: {
        if (!s.have_collapsed) {
          s.collapsed.resize(n);
          for (size_t i = 0; i < n; ++i) s.collapsed[i] = static_cast<char>(collapsed_byte(cps[i], fls[i]));
          s.have_collapsed = true;
        }
        s.init_pcre();
        for (uint32_t len : s.cur) {
          regex_pieces(pat->code, s.collapsed.data() + start, len, false, s,
                       [&](size_t b, size_t e) { s.next.push_back(static_cast<uint32_t>(e - b)); });
          start += len;
        }
        break;
      }
      case Pattern::Wide: {
        if (!s.have_wide) {
          // std::wregex sees the code points with non-ASCII whitespace turned into U+000B; surrogates (which
          // UTF-8 cannot carry) become U+FFFF, which no pattern here names either.
          s.wide.clear();
          s.wide_off.resize(n + 1);
          for (size_t i = 0; i < n; ++i) {
            s.wide_off[i] = static_cast<uint32_t>(s.wide.size());
            uint32_t c = cps[i];
            if (c > 0x7F && (fls[i] & uni::WHITESPACE)) c = 0x0B;
            if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFF;
            uni::append_utf8(c, s.wide);
          }
          s.wide_off[n] = static_cast<uint32_t>(s.wide.size());
          s.wide_cp.resize(s.wide.size() + 1);
          for (size_t i = 0; i <= n; ++i) s.wide_cp[s.wide_off[i]] = static_cast<uint32_t>(i);
          s.have_wide = true;
        }
        s.init_pcre();
        for (uint32_t len : s.cur) {
          const size_t b0 = s.wide_off[start], b1 = s.wide_off[start + len];
          regex_pieces(pat->code, s.wide.data() + b0, b1 - b0, true, s, [&](size_t b, size_t e) {
            s.next.push_back(s.wide_cp[b0 + e] - s.wide_cp[b0 + b]);
          });
          start += len;
        }
        break;
      }
    }
    s.cur.swap(s.next);
  }
  for (uint32_t len : s.cur)
    if (len) words.push_back(len);
}

std::vector<std::string> PreTokenizer::split_words(std::string_view text) const {
  std::vector<uint32_t> cps;
  uni::decode_utf8(text, cps);
  std::vector<uint16_t> fls(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    if (cps[i] > uni::kMaxCodepoint) fail("cannot tokenize: the text holds a code point beyond U+10FFFF");
    fls[i] = uni::flags(cps[i]);
  }
  Scratch scratch;
  std::vector<uint32_t> lens;
  split(cps, fls, scratch, lens);
  std::vector<std::string> words;
  size_t pos = 0;
  for (uint32_t len : lens) {
    std::string w;
    for (size_t i = pos; i < pos + len; ++i) uni::append_utf8(cps[i], w);
    words.push_back(std::move(w));
    pos += len;
  }
  return words;
}

// ---------------------------------------------------------------------------------------------
// BPE tokenizer
// ---------------------------------------------------------------------------------------------

namespace {

// GPT-2's byte <-> unicode alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes map
// to U+0100.. in byte order.
uint32_t byte_to_cp(int b) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    uint32_t next = 256;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
      t[c] = printable ? static_cast<uint32_t>(c) : next++;
    }
    return t;
  }();
  return table[b];
}

constexpr uint64_t kEmptyKey = ~0ull;

std::atomic<uint64_t> g_bpe_instances{0};

uint64_t merge_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}
uint64_t merge_hash(uint64_t key) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ull;
  key ^= key >> 32;
  return key;
}

}  // namespace

BpeTokenizer::BpeTokenizer(const gguf::File& file) : instance_(++g_bpe_instances) {
  const std::string& path = file.path();
  try {
    pre_ = std::make_unique<PreTokenizer>(file.get_string("tokenizer.ggml.pre"));
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }

  uni::flag_table();  // build the shared Unicode table now rather than in the first encode

  VocabDefaults d;  // llama.cpp's defaults for LLAMA_VOCAB_TYPE_BPE
  d.bos = pre_->default_has_bos() ? 11 : -1;
  d.eos = 11;
  d.add_bos = pre_->default_add_bos();
  vocab_.load(file, d);
  const int32_t n = vocab_.n();

  // --- merges ---
  const gguf::Value* merges = file.get_array("tokenizer.ggml.merges");
  if (!merges)
    fail(path, ": unsupported tokenizer kind \"gpt2\" without merges: tokenizer.ggml.merges is missing");
  if (merges->elem_type != gguf::ValueType::STRING)
    fail(path, ": tokenizer.ggml.merges should be an array of strings but holds ", gguf::value_type_name(merges->elem_type));
  if (merges->count > 0x7FFFFFFFull) fail(path, ": tokenizer.ggml.merges has too many entries (", merges->count, ")");

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> virtual_ids;
  int32_t next_virtual = n;
  auto symbol_id = [&](std::string_view s) -> int32_t {
    const int32_t id = vocab_.find(s);
    if (id >= 0) return id;
    auto it = virtual_ids.find(s);
    if (it != virtual_ids.end()) return it->second;
    virtual_ids.emplace(std::string(s), next_virtual);
    return next_virtual++;
  };

  for (int b = 0; b < 256; ++b) {
    byte_enc_[b].clear();
    uni::append_utf8(byte_to_cp(b), byte_enc_[b]);
    byte_sym_[b] = symbol_id(byte_enc_[b]);
    const char c = static_cast<char>(b);
    single_char_token_[b] = vocab_.find(std::string_view(&c, 1));
  }

  size_t cap = 16;
  while (cap < 2 * static_cast<size_t>(merges->count) + 16) cap *= 2;
  merges_.assign(cap, MergeEntry{kEmptyKey, 0, 0});
  merge_mask_ = cap - 1;
  std::string joined;
  for (size_t i = 0; i < merges->count; ++i) {
    // llama.cpp splits "left right" at the first space after the first byte
    const std::string_view m = merges->strings[i];
    const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    if (sp == std::string_view::npos) continue;
    const std::string_view left = m.substr(0, sp), right = m.substr(sp + 1);
    if (left.empty() || right.empty()) continue;  // can never match a symbol
    const int32_t l = symbol_id(left), r = symbol_id(right);
    joined.assign(left);
    joined.append(right);
    const int32_t result = symbol_id(joined);
    const uint64_t key = merge_key(l, r);
    for (uint64_t h = merge_hash(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
      MergeEntry& e = merges_[h];
      if (e.key == key) break;  // the first occurrence keeps its rank
      if (e.key == kEmptyKey) {
        e = MergeEntry{key, static_cast<int32_t>(i), result};
        break;
      }
    }
  }

  // --- token_to_piece(special=true) for every token (llama.cpp's cache_token_to_piece) ---
  int16_t cp_to_byte[324];
  std::fill(std::begin(cp_to_byte), std::end(cp_to_byte), static_cast<int16_t>(-1));
  for (int b = 0; b < 256; ++b) cp_to_byte[byte_to_cp(b)] = static_cast<int16_t>(b);
  vocab_.piece.assign(static_cast<size_t>(n), std::string());
  std::vector<uint32_t> cps;
  for (int32_t id = 0; id < n; ++id) {
    const uint32_t a = vocab_.attr[id];
    const std::string& t = vocab_.text[id];
    std::string& p = vocab_.piece[id];
    if (a & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) {
      p = t;
    } else if (a & ATTR_NORMAL) {
      // llama_decode_text: each character of the alphabet back to its byte
      uni::decode_utf8(t, cps);
      for (uint32_t cp : cps) {
        if (cp < 324 && cp_to_byte[cp] >= 0) {
          p += static_cast<char>(cp_to_byte[cp]);
        } else {
          static const char* hex = "0123456789abcdef";
          std::string u;
          if (cp <= uni::kMaxCodepoint) uni::append_utf8(cp, u);
          p += "[UNK_BYTE_0x";
          for (unsigned char c : u) {
            p += hex[c >> 4];
            p += hex[c & 15];
          }
          p += t;
          p += ']';
        }
      }
    }
    // byte, unused and undefined tokens print as nothing
  }
}

BpeTokenizer::~BpeTokenizer() = default;

std::string BpeTokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_.n()) fail("token id ", id, " is out of range (the vocab has ", vocab_.n(), " tokens)");
  if (!special && (vocab_.attr[id] & (ATTR_UNKNOWN | ATTR_CONTROL))) return std::string();
  return vocab_.piece[id];
}

int32_t BpeTokenizer::find_merge(int32_t left, int32_t right, int32_t& result) const {
  const uint64_t key = merge_key(left, right);
  for (uint64_t h = merge_hash(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
    const MergeEntry& e = merges_[h];
    if (e.key == key) {
      result = e.result;
      return e.rank;
    }
    if (e.key == kEmptyKey) return -1;
  }
}

namespace {

struct Sym {
  int32_t prev, next;
  int32_t len;  // bytes of the word; 0 once merged into its left neighbour
  int32_t id;   // vocab id, or a virtual id >= n_vocab
};

struct Bigram {
  int32_t rank, left, right, size, result;
};

// Lowest rank first, ties to the leftmost pair (llama.cpp's llm_bigram_bpe::comparator, as a max-heap order).
struct BigramAfter {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

struct BpeTokenizer::Scratch {
  std::vector<uint32_t> cps;
  std::vector<uint16_t> fls;
  std::vector<uint32_t> offs;  // code point -> byte offset in the re-encoded text
  std::string reenc;
  std::vector<uint32_t> words;
  PreTokenizer::Scratch pre;
  std::vector<Sym> sym;
  std::vector<Bigram> heap;
  std::string enc;

  // Word -> ids cache across calls (text repeats words a lot). It belongs to one tokenizer at a time
  // (`owner`, a never-reused instance number) and is emptied when it grows past kMaxWords.
  static constexpr size_t kMaxWords = 1 << 16;
  static constexpr size_t kMaxWordBytes = 64;  // longer words are not cached
  uint64_t owner = 0;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>> cache;  // (start, count)
  std::vector<int32_t> cache_ids;

  void release_if_large() {  // don't keep megabytes around after one huge text
    constexpr size_t kKeep = size_t{1} << 20;
    if (cps.capacity() > kKeep) {
      std::vector<uint32_t>().swap(cps);
      std::vector<uint16_t>().swap(fls);
      std::vector<uint32_t>().swap(offs);
      std::string().swap(reenc);
      std::vector<uint32_t>().swap(words);
      pre.release();
    }
  }
};

namespace {
// One scratch per thread, reused by every call (encode does not re-enter itself).
BpeTokenizer::Scratch& thread_scratch() {
  thread_local BpeTokenizer::Scratch scratch;
  return scratch;
}
}  // namespace

void BpeTokenizer::bpe_word(std::string_view word, Scratch& s, std::vector<int32_t>& out) const {
  const int32_t n_vocab = vocab_.n();
  const auto* w = reinterpret_cast<const unsigned char*>(word.data());
  const auto n = static_cast<int32_t>(word.size());

  if (pre_->ignore_merges()) {  // a word that is a token is taken as it is
    s.enc.clear();
    for (int32_t i = 0; i < n; ++i) s.enc += byte_enc_[w[i]];
    const int32_t id = vocab_.find(s.enc);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }

  std::vector<Sym>& sym = s.sym;
  sym.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) sym[i] = Sym{i - 1, i + 1 < n ? i + 1 : -1, 1, byte_sym_[w[i]]};

  std::vector<Bigram>& heap = s.heap;
  heap.clear();
  const BigramAfter after;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t result = 0;
    const int32_t rank = find_merge(sym[l].id, sym[r].id, result);
    if (rank < 0) return;
    heap.push_back(Bigram{rank, l, r, sym[l].len + sym[r].len, result});
    std::push_heap(heap.begin(), heap.end(), after);
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    const Bigram b = heap.back();
    heap.pop_back();
    Sym& l = sym[b.left];
    Sym& r = sym[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // outdated
    l.len += r.len;
    l.id = b.result;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1 && n > 0; i = sym[i].next) {
    const Sym& x = sym[i];
    if (x.id < n_vocab) {
      out.push_back(x.id);
      continue;
    }
    // not a token: llama.cpp looks up each byte of the symbol's (mapped) text on its own, dropping misses
    for (int32_t j = i; j < i + x.len; ++j)
      for (char e : byte_enc_[w[j]]) {
        const int32_t t = single_char_token_[static_cast<unsigned char>(e)];
        if (t >= 0) out.push_back(t);
      }
  }
}

void BpeTokenizer::tokenize_fragment(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  const bool faithful = uni::decode_utf8(text, s.cps);
  const size_t n = s.cps.size();
  const uint16_t* table = uni::flag_table();
  s.fls.resize(n);
  s.offs.resize(n + 1);
  size_t off = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t cp = s.cps[i];
    if (cp > uni::kMaxCodepoint) fail("cannot tokenize ", quoted(text), ": it holds a code point beyond U+10FFFF");
    s.fls[i] = table[cp];
    s.offs[i] = static_cast<uint32_t>(off);
    off += uni::utf8_size(cp);
  }
  s.offs[n] = static_cast<uint32_t>(off);
  std::string_view base = text;
  if (!faithful) {
    s.reenc.clear();
    for (uint32_t cp : s.cps) uni::append_utf8(cp, s.reenc);
    base = s.reenc;
  }

  s.words.clear();
  pre_->split(s.cps, s.fls, s.pre, s.words);

  if (s.owner != instance_) {
    s.cache.clear();
    s.cache_ids.clear();
    s.owner = instance_;
  }
  size_t pos = 0;
  for (uint32_t len : s.words) {
    const std::string_view word = base.substr(s.offs[pos], s.offs[pos + len] - s.offs[pos]);
    pos += len;
    if (word.size() > Scratch::kMaxWordBytes) {
      bpe_word(word, s, out);
      continue;
    }
    auto it = s.cache.find(word);
    if (it != s.cache.end()) {
      const auto [start, count] = it->second;
      out.insert(out.end(), s.cache_ids.begin() + start, s.cache_ids.begin() + start + count);
      continue;
    }
    const size_t first = out.size();
    bpe_word(word, s, out);
    if (s.cache.size() >= Scratch::kMaxWords) {
      s.cache.clear();
      s.cache_ids.clear();
    }
    s.cache.emplace(word, std::make_pair(static_cast<uint32_t>(s.cache_ids.size()), static_cast<uint32_t>(out.size() - first)));
    s.cache_ids.insert(s.cache_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  std::vector<Fragment> frags;
  vocab_.partition(text, parse_special, frags);
  if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
  Scratch& scratch = thread_scratch();
  for (const Fragment& f : frags) {
    if (f.token >= 0)
      out.push_back(f.token);
    else
      tokenize_fragment(text.substr(f.offset, f.length), scratch, out);
  }
  scratch.release_if_large();
  if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
  return out;
}

}  // namespace minnow::tok
