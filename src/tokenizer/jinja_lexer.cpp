// Jinja lexer: the token stream jinja2's Lexer.tokeniter produces with trim_blocks=True and
// lstrip_blocks=True (comments are dropped, {% raw %} bodies become data).
//
// Whitespace rules, as jinja2 3.1 applies them:
// - Newlines are normalized to \n and ONE trailing newline of the template is removed.
// - `{%-` `{{-` `{#-` strip all whitespace before the tag; `-%}` `-}}` `-#}` strip all after it.
// - trim_blocks: `%}` and `#}` eat one \n right after them (not `}}`, not `+%}`).
// - lstrip_blocks: spaces/tabs between the start of a line and `{%` / `{#` are removed (not before
//   `{{`, not for `{%+`). "Start of a line" includes right after a tag whose match ended in \n.
//   ("Spaces" are Python's \s: Unicode whitespace, as jinja2's whitespace_re.fullmatch.)
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tokenizer/jinja_ast.h"

namespace minnow::jinja {
namespace {

struct Lexer {
  std::string src;
  std::vector<size_t> line_starts;
  std::vector<Token> out;
  size_t pos = 0;
  bool line_starting = true;

  int line_of(size_t p) const {
    auto it = std::upper_bound(line_starts.begin(), line_starts.end(), p);
    return static_cast<int>(it - line_starts.begin());
  }

  [[noreturn]] void fail_at(size_t p, const std::string& msg) const { raise(msg, line_of(p)); }

  // Length of Python whitespace (\s, Unicode aware) starting at p.
  size_t space_at(size_t p) const {
    if (p >= src.size()) return 0;
    size_t i = p;
    const uint32_t cp = utf8_next(src, i);
    return py_isspace(cp) ? i - p : 0;
  }
  size_t skip_spaces(size_t p) const {
    while (size_t n = space_at(p)) p += n;
    return p;
  }

  static std::string rstrip_py(const std::string& s) {
    // Python str.rstrip(): drop trailing (Unicode) whitespace.
    std::vector<uint32_t> cps = utf8_decode(s);
    size_t end = cps.size();
    while (end > 0 && py_isspace(cps[end - 1])) --end;
    if (end == cps.size()) return s;
    return utf8_encode(cps, 0, end);
  }

  void emit(Tok type, std::string value, size_t at) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.line = line_of(at);
    out.push_back(std::move(t));
  }

  // Whitespace control for the data before a tag (jinja2's OptionalLStrip handling).
  std::string strip_before(std::string text, char sign, bool is_variable) const {
    if (sign == '-') return rstrip_py(text);
    if (sign != '+' && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        // Only (Unicode) whitespace between the line start and the tag: strip it.
        bool only_space = true;
        for (size_t i = l_pos; i < text.size();) {
          if (!py_isspace(utf8_next(text, i))) {
            only_space = false;
            break;
          }
        }
        if (only_space) text.resize(l_pos);
      }
    }
    return text;
  }

  void run() {
    while (pos < src.size()) {
      size_t t = pos;
      for (;;) {
        t = src.find('{', t);
        if (t == std::string::npos || t + 1 >= src.size()) {
          t = std::string::npos;
          break;
        }
        const char k = src[t + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++t;
      }
      if (t == std::string::npos) {
        emit(Tok::Data, src.substr(pos), pos);
        pos = src.size();
        break;
      }
      const char kind = src[t + 1];
      size_t after = t + 2;
      char sign = 0;
      if (after < src.size() && (src[after] == '-' || src[after] == '+')) sign = src[after++];

      // {% raw %} ... {% endraw %}
      size_t raw_end = 0;
      if (kind == '%') raw_end = match_raw_begin(after);

      std::string text = strip_before(src.substr(pos, t - pos), sign, kind == '{');
      if (!text.empty()) emit(Tok::Data, std::move(text), pos);

      if (raw_end) {
        line_starting = src[raw_end - 1] == '\n';
        lex_raw_body(raw_end, t);
      } else if (kind == '#') {
        lex_comment(after, t);
      } else {
        emit(kind == '%' ? Tok::BlockBegin : Tok::VarBegin, src.substr(t, after - t), t);
        pos = after;
        lex_tag(kind == '%');
      }
    }
    emit(Tok::Eof, "", src.size());
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` at the tag (after the sign); returns the end of the match or 0.
  size_t match_raw_begin(size_t p) const {
    p = skip_spaces(p);
    if (src.compare(p, 3, "raw") != 0) return 0;
    p = skip_spaces(p + 3);
    if (src.compare(p, 3, "-%}") == 0) return skip_spaces(p + 3);
    if (src.compare(p, 2, "%}") == 0) return p + 2;
    return 0;
  }

  void lex_raw_body(size_t body, size_t tag_pos) {
    for (size_t p = body;; ++p) {
      p = src.find("{%", p);
      if (p == std::string::npos) fail_at(tag_pos, "Missing end of raw directive");
      size_t q = p + 2;
      char sign = 0;
      if (q < src.size() && (src[q] == '-' || src[q] == '+')) sign = src[q++];
      q = skip_spaces(q);
      if (src.compare(q, 6, "endraw") != 0) continue;
      q = skip_spaces(q + 6);
      size_t end;
      if (src.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (src.compare(q, 3, "-%}") == 0) {
        end = skip_spaces(q + 3);
      } else if (src.compare(q, 2, "%}") == 0) {
        end = q + 2;
        if (end < src.size() && src[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string text = strip_before(src.substr(body, p - body), sign, false);
      if (!text.empty()) emit(Tok::Data, std::move(text), body);
      line_starting = src[end - 1] == '\n';
      pos = end;
      return;
    }
  }

  void lex_comment(size_t body, size_t tag_pos) {
    const size_t q = src.find("#}", body);
    if (q == std::string::npos) fail_at(tag_pos, "Missing end of comment tag");
    char mod = 0;
    if (q > body && (src[q - 1] == '-' || src[q - 1] == '+')) mod = src[q - 1];
    size_t end = q + 2;
    if (mod == '-') {
      end = skip_spaces(end);
    } else if (mod != '+' && end < src.size() && src[end] == '\n') {
      ++end;
    }
    line_starting = src[end - 1] == '\n';
    pos = end;
  }

  // (\d+_)*\d+ at p: end of the match or npos.
  size_t match_digits(size_t p, bool hex = false) const {
    auto is_d = [&](char c) {
      return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
    };
    if (p >= src.size() || !is_d(src[p])) return std::string::npos;
    while (p < src.size()) {
      if (is_d(src[p])) {
        ++p;
      } else if (src[p] == '_' && p + 1 < src.size() && is_d(src[p + 1])) {
        p += 2;
      } else {
        break;
      }
    }
    return p;
  }

  static std::string no_underscores(std::string s) {
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    return s;
  }

  bool lex_number() {
    const size_t start = pos;
    const char c = src[pos];
    if (c < '0' || c > '9') return false;
    // float: (?<!\.) D ((\.D)? e[+-]? D | \.D)
    if (start == 0 || src[start - 1] != '.') {
      const size_t d1 = match_digits(start);
      size_t p = d1;
      bool frac = false, expo = false;
      if (p < src.size() && src[p] == '.') {
        const size_t d2 = match_digits(p + 1);
        if (d2 != std::string::npos) {
          p = d2;
          frac = true;
        }
      }
      if (p < src.size() && (src[p] == 'e' || src[p] == 'E')) {
        size_t q = p + 1;
        if (q < src.size() && (src[q] == '+' || src[q] == '-')) ++q;
        const size_t d3 = match_digits(q);
        if (d3 != std::string::npos) {
          p = d3;
          expo = true;
        }
      }
      if (frac || expo) {
        Token t;
        t.type = Tok::Float;
        t.value = src.substr(start, p - start);
        t.fval = std::strtod(no_underscores(t.value).c_str(), nullptr);
        t.line = line_of(start);
        out.push_back(std::move(t));
        pos = p;
        return true;
      }
    }
    // integer: 0b.. 0o.. 0x.. [1-9](_?\d)* 0(_?0)*
    size_t p = start;
    int base = 10;
    std::string digits;
    auto radix_run = [&](size_t q, auto ok) {
      size_t e = q;
      while (e < src.size()) {
        if (ok(src[e])) {
          ++e;
        } else if (src[e] == '_' && e + 1 < src.size() && ok(src[e + 1])) {
          e += 2;
        } else {
          break;
        }
      }
      return e;
    };
    const char n1 = start + 1 < src.size() ? static_cast<char>(src[start + 1] | 0x20) : 0;
    if (c == '0' && (n1 == 'b' || n1 == 'o' || n1 == 'x')) {
      base = n1 == 'b' ? 2 : n1 == 'o' ? 8 : 16;
      auto ok = [base](char ch) {
        if (base == 2) return ch == '0' || ch == '1';
        if (base == 8) return ch >= '0' && ch <= '7';
        return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
      };
      size_t q = start + 2;
      if (q < src.size() && src[q] == '_') ++q;
      const size_t e = radix_run(q, ok);
      if (e == q) {
        p = start + 1;  // just "0"
        base = 10;
        digits = "0";
      } else {
        p = e;
        digits = no_underscores(src.substr(start + 2, e - start - 2));
      }
    } else if (c == '0') {
      p = radix_run(start + 1, [](char ch) { return ch == '0'; });
      digits = "0";
    } else {
      p = radix_run(start + 1, [](char ch) { return ch >= '0' && ch <= '9'; });
      digits = no_underscores(src.substr(start, p - start));
    }
    errno = 0;
    char* endp = nullptr;
    const unsigned long long v = std::strtoull(digits.c_str(), &endp, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
      fail_at(start, "integer literal too large");
    Token t;
    t.type = Tok::Int;
    t.value = src.substr(start, p - start);
    t.ival = static_cast<int64_t>(v);
    t.line = line_of(start);
    out.push_back(std::move(t));
    pos = p;
    return true;
  }

  // Python's "unicode-escape" decoding of a string literal body (jinja2 decodes literals that way).
  std::string unescape(const std::string& raw, size_t at) const {
    std::string s;
    s.reserve(raw.size());
    auto hexval = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      h = static_cast<char>(h | 0x20);
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      return -1;
    };
    for (size_t i = 0; i < raw.size();) {
      if (raw[i] != '\\') {
        s += raw[i++];
        continue;
      }
      if (i + 1 >= raw.size()) fail_at(at, "invalid string literal: \\ at end of string");
      const char e = raw[i + 1];
      i += 2;
      switch (e) {
        case '\n': break;
        case '\\': s += '\\'; break;
        case '\'': s += '\''; break;
        case '"': s += '"'; break;
        case 'a': s += '\a'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'v': s += '\v'; break;
        case 'x': case 'u': case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            const int h = i + k < raw.size() ? hexval(raw[i + k]) : -1;
            if (h < 0) fail_at(at, std::string("invalid string literal: truncated \\") + e + " escape");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (cp > 0x10FFFF) fail_at(at, "invalid string literal: illegal Unicode character");
          i += static_cast<size_t>(n);
          utf8_append(s, cp);
          break;
        }
        case 'N':
          fail_at(at, "string literals with \\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7'; ++k)
              cp = cp * 8 + static_cast<uint32_t>(raw[i++] - '0');
            utf8_append(s, cp);
          } else if (static_cast<unsigned char>(e) >= 0x80) {
            // Non-ASCII after a backslash: jinja2's backslashreplace round trip leaves "\xe9"-style text.
            size_t j = i - 1;
            const uint32_t cp = utf8_next(raw, j);
            char buf[16];
            if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", cp);
            else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", cp);
            else std::snprintf(buf, sizeof buf, "\\U%08x", cp);
            s += buf;
            i = j;
          } else {
            s += '\\';
            s += e;
          }
      }
    }
    return s;
  }

  void lex_tag(bool block) {
    std::vector<char> balance;
    for (;;) {
      if (pos >= src.size()) return;  // the parser reports the unexpected end
      if (balance.empty()) {
        size_t end = 0;
        if (block) {
          if (src.compare(pos, 3, "+%}") == 0) {
            end = pos + 3;
          } else if (src.compare(pos, 3, "-%}") == 0) {
            end = skip_spaces(pos + 3);
          } else if (src.compare(pos, 2, "%}") == 0) {
            end = pos + 2;
            if (end < src.size() && src[end] == '\n') ++end;
          }
        } else {
          if (src.compare(pos, 3, "-}}") == 0) {
            end = skip_spaces(pos + 3);
          } else if (src.compare(pos, 2, "}}") == 0) {
            end = pos + 2;
          }
        }
        if (end) {
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", pos);
          line_starting = src[end - 1] == '\n';
          pos = end;
          return;
        }
      }
      if (size_t n = space_at(pos)) {
        pos = skip_spaces(pos + n);
        continue;
      }
      const char c = src[pos];
      if (lex_number()) continue;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        size_t e = pos + 1;
        while (e < src.size() && (std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '_')) ++e;
        emit(Tok::Name, src.substr(pos, e - pos), pos);
        pos = e;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t e = pos + 1;
        bool closed = false;
        while (e < src.size()) {
          if (src[e] == '\\' && e + 1 < src.size()) {
            e += 2;
          } else if (src[e] == c) {
            closed = true;
            break;
          } else {
            ++e;
          }
        }
        if (!closed) fail_at(pos, std::string("unexpected char ") + py_str_repr(std::string(1, c)) + " (unterminated string)");
        Token t;
        t.type = Tok::String;
        t.value = unescape(src.substr(pos + 1, e - pos - 1), pos);
        t.line = line_of(pos);
        out.push_back(std::move(t));
        pos = e + 1;
        continue;
      }
      static const char* const kOps2[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (const char* o : kOps2)
        if (src.compare(pos, 2, o) == 0) op = o;
      if (op.empty() && std::strchr("+-/*%~[](){}><=.:|,;", c) && c != 0) op = std::string(1, c);
      if (op.empty()) {
        size_t j = pos;
        const uint32_t cp = utf8_next(src, j);
        std::string ch;
        utf8_append(ch, cp);
        fail_at(pos, "unexpected char " + py_str_repr(ch));
      }
      if (op == "{" || op == "(" || op == "[") {
        balance.push_back(op == "{" ? '}' : op == "(" ? ')' : ']');
      } else if (op == "}" || op == ")" || op == "]") {
        if (balance.empty()) fail_at(pos, "unexpected '" + op + "'");
        const char expected = balance.back();
        balance.pop_back();
        if (expected != op[0]) fail_at(pos, "unexpected '" + op + "', expected '" + std::string(1, expected) + "'");
      }
      emit(Tok::Op, op, pos);
      pos += op.size();
    }
  }
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
  Lexer lx;
  // Normalize \r\n and \r to \n; drop one trailing newline (keep_trailing_newline=False).
  lx.src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      lx.src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      lx.src += source[i];
    }
  }
  if (!lx.src.empty() && lx.src.back() == '\n') lx.src.pop_back();
  lx.line_starts.push_back(0);
  for (size_t i = 0; i < lx.src.size(); ++i)
    if (lx.src[i] == '\n') lx.line_starts.push_back(i + 1);
  lx.run();
  return std::move(lx.out);
}

}  // namespace minnow::jinja
