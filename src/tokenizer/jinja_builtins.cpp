// Jinja built-ins with jinja2 3.1 / Python 3 semantics: filters, tests, the methods templates call
// on str/dict/list, attribute and item lookup as the immutable sandbox does it, arithmetic, and the
// globals (range, dict, namespace, joiner).
#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>

#include "common/error.h"
#include "tokenizer/jinja_ast.h"

namespace minnow::jinja {
namespace {

// ---- argument helpers ---------------------------------------------------------------------------

// Binds positional and keyword arguments to parameter names; missing ones come back Undefined.
std::vector<Value> bind(std::string_view fname, Args& a, std::initializer_list<std::string_view> params) {
  std::vector<Value> out(params.size());
  std::vector<bool> given(params.size(), false);
  if (a.positional.size() > params.size())
    raise(std::string(fname) + "() takes at most " + std::to_string(params.size()) + " argument(s) (" +
          std::to_string(a.positional.size()) + " given)");
  for (size_t i = 0; i < a.positional.size(); ++i) {
    out[i] = a.positional[i];
    given[i] = true;
  }
  for (auto& [k, v] : a.keyword) {
    size_t idx = 0;
    bool found = false;
    for (auto p : params) {
      if (p == k) {
        found = true;
        break;
      }
      ++idx;
    }
    if (!found) raise(std::string(fname) + "() got an unexpected keyword argument '" + k + "'");
    if (given[idx]) raise(std::string(fname) + "() got multiple values for argument '" + k + "'");
    out[idx] = v;
    given[idx] = true;
  }
  return out;
}

bool given(const Value& v) { return !v.is_undefined(); }

int64_t to_index(const Value& v, std::string_view what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_undefined()) raise_undefined(v);
  raise(std::string(what) + ": an integer is required, not '" + v.type_name() + "'");
}

const std::string& need_str(const Value& v, std::string_view what) {
  if (v.is_string()) return v.as_string();
  if (v.is_undefined()) raise_undefined(v);
  raise(std::string(what) + ": expected a string, not '" + v.type_name() + "'");
}


// ---- strings (Python str methods, by code point) ---------------------------------------------------

uint32_t cp_upper(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
uint32_t cp_lower(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
uint32_t cp_title(uint32_t c) {
  if (c < 0x80) return cp_upper(c);
  return static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}
int cp_case(uint32_t c) {  // 1 upper/title, 2 lower, 0 uncased
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? 1 : (c >= 'a' && c <= 'z') ? 2 : 0;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LT: return 1;
    case UTF8PROC_CATEGORY_LL: return 2;
    default: return 0;
  }
}
bool cp_alpha(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool cp_digit(uint32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}
bool cp_numeric(uint32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

// Python's full case mappings that are not one code point (SpecialCasing.txt, unconditional).
// mode: 0 upper, 1 lower, 2 title. Returns nullptr when the simple mapping applies.
const char* special_case(uint32_t c, int mode) {
  switch (c) {
    case 0xDF: return mode == 0 ? "SS" : mode == 2 ? "Ss" : "\xC3\x9F";
    case 0x130: return mode == 1 ? "i\xCC\x87" : nullptr;
    case 0x149: return mode == 0 ? "\xCA\xBCN" : mode == 2 ? "\xCA\xBCN" : nullptr;
    case 0xFB00: return mode == 0 ? "FF" : mode == 2 ? "Ff" : nullptr;
    case 0xFB01: return mode == 0 ? "FI" : mode == 2 ? "Fi" : nullptr;
    case 0xFB02: return mode == 0 ? "FL" : mode == 2 ? "Fl" : nullptr;
    case 0xFB03: return mode == 0 ? "FFI" : mode == 2 ? "Ffi" : nullptr;
    case 0xFB04: return mode == 0 ? "FFL" : mode == 2 ? "Ffl" : nullptr;
    case 0xFB05: case 0xFB06: return mode == 0 ? "ST" : mode == 2 ? "St" : nullptr;
    default: return nullptr;
  }
}

void append_case(std::string& out, uint32_t c, int mode) {
  if (c >= 0x80) {
    if (const char* sp = special_case(c, mode)) {
      out += sp;
      return;
    }
  }
  utf8_append(out, mode == 0 ? cp_upper(c) : mode == 1 ? cp_lower(c) : cp_title(c));
}

std::string map_case(std::string_view s, int mode) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_case(out, utf8_next(s, i), mode);
  return out;
}
std::string str_upper(std::string_view s) { return map_case(s, 0); }
std::string str_lower(std::string_view s) { return map_case(s, 1); }

std::string str_capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    append_case(out, utf8_next(s, i), first ? 2 : 1);
    first = false;
  }
  return out;
}

std::string str_title_py(std::string_view s) {  // Python str.title()
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8_next(s, i);
    const int cs = cp_case(c);
    if (cs) {
      append_case(out, c, prev_cased ? 1 : 2);
      prev_cased = true;
    } else {
      utf8_append(out, c);
      prev_cased = false;
    }
  }
  return out;
}

std::string str_swapcase(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8_next(s, i);
    const int cs = cp_case(c);
    if (cs) append_case(out, c, cs == 1 ? 1 : 0);
    else utf8_append(out, c);
  }
  return out;
}

// jinja2's title filter: words start after -, whitespace, (, {, [, <.
std::string filter_title(std::string_view s) {
  std::string out;
  bool at_start = true;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8_next(s, i);
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
    if (sep) {
      utf8_append(out, c);
      at_start = true;
    } else {
      append_case(out, c, at_start ? 0 : 1);
      at_start = false;
    }
  }
  return out;
}

std::string str_strip(std::string_view s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::vector<uint32_t> set;
  const bool ws = !given(chars) || chars.is_none();
  if (!ws) set = utf8_decode(need_str(chars, "strip"));
  auto strip_it = [&](uint32_t c) {
    return ws ? py_isspace(c) : std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  if (b == 0 && e == cps.size()) return std::string(s);
  return utf8_encode(cps, b, e);
}

std::vector<Value> str_split(std::string_view s, const Value& sep_v, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!given(sep_v) || sep_v.is_none()) {
    // Runs of whitespace; leading/trailing whitespace ignored.
    std::vector<uint32_t> cps = utf8_decode(s);
    if (!from_right) {
      size_t i = 0;
      const size_t n = cps.size();
      while (true) {
        while (i < n && py_isspace(cps[i])) ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
          size_t e = n;
          while (e > i && py_isspace(cps[e - 1])) --e;
          parts.push_back(utf8_encode(cps, i, e));
          break;
        }
        size_t j = i;
        while (j < n && !py_isspace(cps[j])) ++j;
        parts.push_back(utf8_encode(cps, i, j));
        i = j;
      }
    } else {
      int64_t i = static_cast<int64_t>(cps.size()) - 1;
      while (true) {
        while (i >= 0 && py_isspace(cps[static_cast<size_t>(i)])) --i;
        if (i < 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
          size_t b = 0;
          while (b < static_cast<size_t>(i) && py_isspace(cps[b])) ++b;
          parts.push_back(utf8_encode(cps, b, static_cast<size_t>(i) + 1));
          break;
        }
        int64_t j = i;
        while (j >= 0 && !py_isspace(cps[static_cast<size_t>(j)])) --j;
        parts.push_back(utf8_encode(cps, static_cast<size_t>(j + 1), static_cast<size_t>(i) + 1));
        i = j;
      }
      std::reverse(parts.begin(), parts.end());
    }
  } else {
    const std::string& sep = need_str(sep_v, "split");
    if (sep.empty()) raise("empty separator");
    if (!from_right) {
      size_t start = 0;
      while (true) {
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
        const size_t p = s.find(sep, start);
        if (p == std::string_view::npos) break;
        parts.emplace_back(s.substr(start, p - start));
        start = p + sep.size();
      }
      parts.emplace_back(s.substr(start));
    } else {
      size_t end = s.size();
      std::vector<std::string> rev;
      while (true) {
        if (maxsplit >= 0 && static_cast<int64_t>(rev.size()) == maxsplit) break;
        if (end < sep.size()) break;
        const size_t p = s.rfind(sep, end - sep.size());
        if (p == std::string_view::npos) break;
        rev.emplace_back(s.substr(p + sep.size(), end - p - sep.size()));
        end = p;
      }
      rev.emplace_back(s.substr(0, end));
      parts.assign(rev.rbegin(), rev.rend());
    }
  }
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

std::string str_replace(std::string_view s, std::string_view old, std::string_view rep, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `rep` before every character and at the end.
    int64_t n = 0;
    size_t i = 0;
    while (i <= s.size()) {
      if (count >= 0 && n >= count) {
        out.append(s.substr(i));
        break;
      }
      out.append(rep);
      ++n;
      if (i == s.size()) break;
      const size_t start = i;
      utf8_next(s, i);
      out.append(s.substr(start, i - start));
      if (out.size() > kMaxValueBytes) raise("string too large");
    }
    return out;
  }
  size_t start = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t p = s.find(old, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(rep);
    if (out.size() > kMaxValueBytes) raise("string too large");
    start = p + old.size();
    ++n;
  }
  out.append(s.substr(start));
  return out;
}

std::vector<std::string> str_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  std::vector<uint32_t> cps = utf8_decode(s);
  size_t start = 0, i = 0;
  const size_t n = cps.size();
  while (i < n) {
    const uint32_t c = cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                     c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t eol = i + 1;
    if (c == '\r' && i + 1 < n && cps[i + 1] == '\n') eol = i + 2;
    lines.push_back(utf8_encode(cps, start, keepends ? eol : i));
    start = i = eol;
  }
  if (start < n) lines.push_back(utf8_encode(cps, start, n));
  return lines;
}

// Python slice index normalization; returns the selected positions.
std::vector<size_t> slice_positions(int64_t len, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto opt = [](const Value& v) { return !(v.is_none() || v.is_undefined()); };
  int64_t step = opt(step_v) ? to_index(step_v, "slice indices") : 1;
  if (step == 0) raise("slice step cannot be zero");
  int64_t start, stop;
  auto adjust = [&](const Value& v, int64_t dflt) {
    if (!opt(v)) return dflt;
    int64_t x = to_index(v, "slice indices");
    if (x < 0) {
      x += len;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = step < 0 ? len - 1 : len;
    }
    return x;
  };
  start = adjust(start_v, step < 0 ? len - 1 : 0);
  stop = adjust(stop_v, step < 0 ? -1 : len);
  std::vector<size_t> pos;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) pos.push_back(static_cast<size_t>(i));
  } else {
    for (int64_t i = start; i > stop; i += step) pos.push_back(static_cast<size_t>(i));
  }
  return pos;
}

// Python int(str, base) (whitespace, sign, underscores, 0x/0o/0b prefixes).
bool parse_py_int(std::string_view s, int base, int64_t& out) {
  std::string t = str_strip(s, Value(), true, true);
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
  if (i + 1 < t.size() && t[i] == '0') {
    const char p = static_cast<char>(t[i + 1] | 0x20);
    const int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (pb && (base == pb || base == 0)) {
      base = pb;
      i += 2;
      if (i < t.size() && t[i] == '_') ++i;
    }
  }
  if (base == 0) base = 10;
  if (i >= t.size()) return false;
  unsigned __int128 v = 0;
  bool prev_digit = false;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= t.size()) return false;
      prev_digit = false;
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') d = (c | 0x20) - 'a' + 10;
    else return false;
    if (d >= base) return false;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (v > static_cast<unsigned __int128>(INT64_MAX) + 1) raise("integer too large");
    prev_digit = true;
  }
  if (!neg && v > static_cast<unsigned __int128>(INT64_MAX)) raise("integer too large");
  out = neg ? static_cast<int64_t>(-static_cast<__int128>(v)) : static_cast<int64_t>(v);
  return true;
}

// Python float(str).
bool parse_py_float(std::string_view s, double& out) {
  std::string t = str_strip(s, Value(), true, true);
  std::string clean;
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) clean += t[i++];
  std::string rest = str_lower(t.substr(i));
  if (rest == "inf" || rest == "infinity") {
    out = clean == "-" ? -INFINITY : INFINITY;
    return true;
  }
  if (rest == "nan") {
    out = NAN;
    return true;
  }
  bool digits = false, dot = false, exp = false;
  for (size_t k = 0; k < rest.size(); ++k) {
    const char c = rest[k];
    if (c >= '0' && c <= '9') {
      digits = true;
      clean += c;
    } else if (c == '_' && k > 0 && k + 1 < rest.size() && std::isdigit(static_cast<unsigned char>(rest[k - 1])) &&
               std::isdigit(static_cast<unsigned char>(rest[k + 1]))) {
      continue;
    } else if (c == '.' && !dot && !exp) {
      dot = true;
      clean += c;
    } else if (c == 'e' && digits && !exp) {
      exp = true;
      clean += c;
      if (k + 1 < rest.size() && (rest[k + 1] == '+' || rest[k + 1] == '-')) clean += rest[++k];
      if (k + 1 >= rest.size()) return false;
    } else {
      return false;
    }
  }
  if (!digits) return false;
  out = std::strtod(clean.c_str(), nullptr);
  return true;
}

std::string repeat(std::string_view s, int64_t n) {
  if (n <= 0 || s.empty()) return "";
  if (s.size() * static_cast<size_t>(n) > kMaxValueBytes || static_cast<size_t>(n) > kMaxValueBytes)
    raise("string too large");
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.append(s);
  return out;
}

// ---- printf-style and str.format formatting -----------------------------------------------------

std::string pad_to(std::string body, int64_t width, char align, uint32_t fill, size_t sign_len = 0) {
  const int64_t len = static_cast<int64_t>(utf8_length(body));
  if (width <= len) return body;
  std::string f;
  utf8_append(f, fill);
  const int64_t padn = width - len;
  std::string pad = repeat(f, padn);
  switch (align) {
    case '<': return body + pad;
    case '^': {
      const int64_t left = padn / 2;
      return repeat(f, left) + body + repeat(f, padn - left);
    }
    case '=': return body.substr(0, sign_len) + pad + body.substr(sign_len);
    default: return pad + body;
  }
}

// allow_unused: the single argument supports the mapping protocol (list, dict), so Python doesn't
// complain when the format consumes nothing.
std::string percent_format(std::string_view fmt, const std::vector<Value>* positional, const DictObj* mapping,
                           bool allow_unused = false) {
  std::string out;
  size_t argi = 0;
  bool used_mapping = false;
  auto next_arg = [&]() -> Value {
    if (!positional || argi >= positional->size()) raise("not enough arguments for format string");
    return (*positional)[argi++];
  };
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] != '%') {
      out += fmt[i++];
      continue;
    }
    ++i;
    if (i >= fmt.size()) raise("incomplete format");
    Value arg;
    bool have_arg = false;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) raise("incomplete format key");
      if (!mapping) raise("format requires a mapping");
      const Value* v = mapping->find(fmt.substr(i + 1, close - i - 1));
      if (!v) raise("KeyError: " + py_str_repr(fmt.substr(i + 1, close - i - 1)));
      arg = *v;
      have_arg = true;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i]) && fmt[i]) flags += fmt[i++];
    std::string width, prec;
    bool has_prec = false;
    if (i < fmt.size() && fmt[i] == '*') {
      width = std::to_string(to_index(next_arg(), "* wants int"));
      ++i;
    } else {
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width += fmt[i++];
    }
    if (i < fmt.size() && fmt[i] == '.') {
      has_prec = true;
      ++i;
      if (i < fmt.size() && fmt[i] == '*') {
        prec = std::to_string(to_index(next_arg(), "* wants int"));
        ++i;
      } else {
        while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) prec += fmt[i++];
      }
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) raise("incomplete format");
    const char conv = fmt[i++];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!have_arg) arg = next_arg();
    if (width.size() > 6 || prec.size() > 6) raise("format width too large");
    std::string body;
    if (conv == 's' || conv == 'r' || conv == 'a') {
      body = conv == 's' ? arg.str() : arg.repr();
      if (has_prec) {
        const auto cps = utf8_decode(body);
        const size_t p = prec.empty() ? 0 : std::stoul(prec);
        if (p < cps.size()) body = utf8_encode(cps, 0, p);
      }
      const bool left = flags.find('-') != std::string::npos;
      body = pad_to(body, width.empty() ? 0 : std::stoll(width), left ? '<' : '>', ' ');
      out += body;
      continue;
    }
    std::string spec = "%" + flags + width + (has_prec ? "." + prec : "");
    char buf[512];
    if (conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o' || conv == 'c') {
      if (arg.is_undefined()) raise_undefined(arg);
      int64_t iv;
      if (conv == 'c') {
        if (arg.is_string()) {
          if (utf8_length(arg.as_string()) != 1) raise("%c requires int or char");
          out += pad_to(arg.as_string(), width.empty() ? 0 : std::stoll(width),
                        flags.find('-') != std::string::npos ? '<' : '>', ' ');
          continue;
        }
        std::string ch;
        utf8_append(ch, static_cast<uint32_t>(to_index(arg, "%c requires int or char")));
        out += pad_to(ch, width.empty() ? 0 : std::stoll(width), flags.find('-') != std::string::npos ? '<' : '>', ' ');
        continue;
      }
      if (arg.is_float() && (conv == 'd' || conv == 'i' || conv == 'u')) {
        const double d = arg.as_float();
        if (!std::isfinite(d)) raise("cannot convert float to integer");
        iv = static_cast<int64_t>(d);
      } else if (arg.is_int() || arg.is_bool()) {
        iv = arg.as_int();
      } else {
        raise(std::string("%") + conv + " format: " + (conv == 'd' || conv == 'i' || conv == 'u' ? "a real number" : "an integer") +
              " is required, not " + arg.type_name());
      }
      const char c = conv == 'i' || conv == 'u' ? 'd' : conv;
      if (c == 'o' && flags.find('#') != std::string::npos) {
        // Python writes 0o17 where C writes 017.
        std::string f2 = flags;
        f2.erase(std::remove(f2.begin(), f2.end(), '#'), f2.end());
        std::snprintf(buf, sizeof buf, ("%" + f2 + width + (has_prec ? "." + prec : "") + "llo").c_str(),
                      static_cast<long long>(iv < 0 ? -iv : iv));
        std::string b = buf;
        size_t p = b.find_first_not_of(' ');
        b.insert(p, iv < 0 ? "-0o" : "0o");
        out += b;
        continue;
      }
      std::snprintf(buf, sizeof buf, (spec + "ll" + c).c_str(), static_cast<long long>(iv));
      out += buf;
      continue;
    }
    if (std::strchr("eEfFgG", conv)) {
      if (arg.is_undefined()) raise_undefined(arg);
      if (!arg.is_number()) raise("must be real number, not " + arg.type_name());
      std::snprintf(buf, sizeof buf, (spec + conv).c_str(), arg.as_float());
      out += buf;
      continue;
    }
    raise(std::string("unsupported format character '") + conv + "'");
  }
  if (positional && argi < positional->size() && !used_mapping && !allow_unused) raise("not all arguments converted during string formatting");
  return out;
}

// format(value, spec) for the common spec mini-language: [[fill]align][sign][#][0][width][,_][.prec][type]
std::string format_spec(const Value& v, std::string_view spec) {
  size_t i = 0;
  uint32_t fill = ' ';
  char align = 0;
  {
    size_t j = 0;
    if (!spec.empty()) {
      const uint32_t c0 = utf8_next(spec, j);
      if (j < spec.size() && std::strchr("<>=^", spec[j])) {
        fill = c0;
        align = spec[j];
        i = j + 1;
      } else if (std::strchr("<>=^", spec[0])) {
        align = spec[0];
        i = 1;
      }
    }
  }
  char sign = 0;
  if (i < spec.size() && std::strchr("+- ", spec[i])) sign = spec[i++];
  bool alt = false;
  if (i < spec.size() && spec[i] == '#') {
    alt = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    if (!align) {
      fill = '0';
      align = '=';
    }
    ++i;
  }
  int64_t width = 0;
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) {
    width = width * 10 + (spec[i++] - '0');
    if (width > 100000) raise("format width too large");
  }
  char group = 0;
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) group = spec[i++];
  int prec = -1;
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    prec = 0;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) {
      prec = prec * 10 + (spec[i++] - '0');
      if (prec > 1000) raise("format precision too large");
    }
  }
  char type = 0;
  if (i < spec.size()) type = spec[i++];
  if (i != spec.size()) raise("Invalid format specifier");

  auto group_digits = [&](std::string num) {
    if (!group) return num;
    size_t start = (num[0] == '-' || num[0] == '+' || num[0] == ' ') ? 1 : 0;
    size_t end = num.find_first_not_of("0123456789", start);
    if (end == std::string::npos) end = num.size();
    std::string digits = num.substr(start, end - start), g;
    for (size_t k = 0; k < digits.size(); ++k) {
      if (k && (digits.size() - k) % 3 == 0) g += group;
      g += digits[k];
    }
    return num.substr(0, start) + g + num.substr(end);
  };
  auto signed_num = [&](std::string body, bool negative) {
    std::string s = negative ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "";
    return s + body;
  };

  if (v.is_string() || (!v.is_number() && !type)) {
    if (type && type != 's') raise(std::string("Unknown format code '") + type + "' for object of type 'str'");
    std::string s = v.str();
    if (prec >= 0) {
      auto cps = utf8_decode(s);
      if (static_cast<size_t>(prec) < cps.size()) s = utf8_encode(cps, 0, static_cast<size_t>(prec));
    }
    return pad_to(s, width, align ? align : '<', fill);
  }
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_number()) raise(std::string("Unknown format code '") + type + "' for object of type '" + v.type_name() + "'");
  char buf[1100];
  const bool is_int = !v.is_float();
  if (is_int && (type == 0 || type == 'd' || type == 'n' || type == 'b' || type == 'o' || type == 'x' || type == 'X' || type == 'c')) {
    const int64_t x = v.as_int();
    if (type == 'c') {
      std::string ch;
      utf8_append(ch, static_cast<uint32_t>(x));
      return pad_to(ch, width, align ? align : '<', fill);
    }
    const uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    std::string digits;
    if (type == 'b') {
      if (mag == 0) digits = "0";
      for (uint64_t m = mag; m; m >>= 1) digits.insert(digits.begin(), static_cast<char>('0' + (m & 1)));
      if (alt) digits = "0b" + digits;
    } else if (type == 'o') {
      std::snprintf(buf, sizeof buf, "%llo", static_cast<unsigned long long>(mag));
      digits = buf;
      if (alt) digits = "0o" + digits;
    } else if (type == 'x' || type == 'X') {
      std::snprintf(buf, sizeof buf, type == 'x' ? "%llx" : "%llX", static_cast<unsigned long long>(mag));
      digits = buf;
      if (alt) digits = (type == 'x' ? "0x" : "0X") + digits;
    } else {
      digits = group_digits(std::to_string(mag));
    }
    std::string s = signed_num(digits, x < 0);
    const size_t sign_len = (x < 0 || sign == '+' || sign == ' ') ? 1 : 0;
    return pad_to(s, width, align ? align : '>', fill, sign_len);
  }
  double d = v.as_float();
  std::string body;
  const bool neg = std::signbit(d) && !std::isnan(d);
  const double mag = std::fabs(d);
  if (type == 0 && prec < 0) {
    body = is_int ? std::to_string(v.as_int() < 0 ? -v.as_int() : v.as_int()) : py_float_repr(mag);
  } else {
    char t = type ? type : 'g';
    if (t == 'n') t = 'g';
    double m = mag;
    if (t == '%') m *= 100;
    const int p = prec < 0 ? 6 : prec;
    const char ct = t == '%' ? 'f' : t;
    std::string cfmt = std::string("%") + (alt ? "#" : "") + ".*" + ct;
    std::snprintf(buf, sizeof buf, cfmt.c_str(), (type == 0 && p == 0) ? 1 : p, m);
    body = buf;
    if (type == 0 && body.find_first_of(".eEn") == std::string::npos) body += ".0";  // '' keeps a '.0'
    if (t == '%') body += '%';
    body = group_digits(body);
  }
  std::string s = signed_num(body, neg);
  const size_t sign_len = (neg || sign == '+' || sign == ' ') ? 1 : 0;
  return pad_to(s, width, align ? align : '>', fill, sign_len);
}

std::string str_format(const std::string& fmt, Args& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size();) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      raise("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) raise("expected '}' before end of string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close + 1;
    std::string spec, conv;
    if (auto colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (auto bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    // field_name: arg_name ("." attr | "[" key "]")*
    size_t k = 0;
    while (k < field.size() && field[k] != '.' && field[k] != '[') ++k;
    const std::string head = field.substr(0, k);
    Value v;
    if (head.empty()) {
      if (auto_idx >= a.positional.size()) raise("Replacement index " + std::to_string(auto_idx) + " out of range for positional args tuple");
      v = a.positional[auto_idx++];
    } else if (std::all_of(head.begin(), head.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
      const size_t idx = std::stoul(head);
      if (idx >= a.positional.size()) raise("Replacement index " + head + " out of range for positional args tuple");
      v = a.positional[idx];
    } else {
      bool found = false;
      for (auto& [kname, kv] : a.keyword) {
        if (kname == head) {
          v = kv;
          found = true;
        }
      }
      if (!found) raise("KeyError: " + py_str_repr(head));
    }
    while (k < field.size()) {
      if (field[k] == '.') {
        size_t e = k + 1;
        while (e < field.size() && field[e] != '.' && field[e] != '[') ++e;
        v = get_attr(v, field.substr(k + 1, e - k - 1));
        k = e;
      } else {
        const size_t e = field.find(']', k);
        if (e == std::string::npos) raise("Missing ']' in format string");
        const std::string key = field.substr(k + 1, e - k - 1);
        const bool num = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
        v = get_item(v, num ? Value(static_cast<int64_t>(std::stoll(key))) : Value(key));
        k = e + 1;
      }
    }
    if (conv == "r" || conv == "a") v = Value(v.repr());
    else if (conv == "s") v = Value(v.str());
    else if (!conv.empty()) raise("Unknown conversion specifier " + conv);
    out += format_spec(v, spec);
  }
  return out;
}

// ---- Markup (markupsafe) ----------------------------------------------------------------------------

std::string html_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// What Markup does to an operand: Markup stays, anything else is str()'d and escaped.
std::string escaped_operand(const Value& v) { return v.is_markup() ? v.as_string() : html_escape(v.str()); }

// markupsafe's escape helper for Markup % args: numbers stay numbers, the rest becomes escaped text.
Value escape_arg(const Value& v) {
  if (v.is_markup() || v.is_number() || v.is_none()) return v;
  return Value::markup(html_escape(v.str()));
}

Value keep_markup(const Value& from, Value result) {
  if (!from.is_markup()) return result;
  if (result.is_string()) return Value::markup(result.as_string());
  if (result.is_list()) {
    std::vector<Value> items;
    for (const auto& x : result.items()) items.push_back(x.is_string() ? Value::markup(x.as_string()) : x);
    return result.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }
  return result;
}

// ---- attribute lookup helpers ---------------------------------------------------------------------

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_namespace()) return "jinja2.utils.Namespace object";
  return v.type_name() + " object";
}

Value missing_attr(const Value& obj, std::string_view name) {
  return Value::undefined("'" + object_type_repr(obj) + "' has no attribute '" + std::string(name) + "'");
}

Value missing_element(const Value& obj, const Value& key) {
  if (key.is_string()) return missing_attr(obj, key.as_string());
  return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
}

Value unsafe(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute '" + std::string(name) + "' of '" + obj.type_name() +
                          "' object is unsafe.");
}

const char* const kStrMethods[] = {
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum",
    "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle",
    "isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix",
    "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper", "zfill"};
const char* const kDictMethods[] = {"items", "keys", "values", "get", "copy"};
const char* const kDictUnsafe[] = {"pop", "popitem", "setdefault", "update", "clear"};
const char* const kListMethods[] = {"index", "count", "copy"};
const char* const kListUnsafe[] = {"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear"};

template <size_t N>
bool in_list(const char* const (&names)[N], std::string_view name) {
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

Value call_method(const Value& self, const std::string& name, Args& a);

Value bound_method(const Value& self, std::string_view name) {
  std::string n(name);
  return Value::function(n, [self, n](Args& a) { return call_method(self, n, a); });
}

// Method attribute of a value, or Undefined when there is none (unsafe ones fail when used).
std::optional<Value> method_of(const Value& obj, std::string_view name) {
  if (obj.is_string() && in_list(kStrMethods, name)) return bound_method(obj, name);
  if (obj.is_dict()) {
    if (in_list(kDictMethods, name)) return bound_method(obj, name);
    if (in_list(kDictUnsafe, name)) return unsafe(obj, name);
  }
  if (obj.is_list() && !obj.is_generator()) {
    if (in_list(kListMethods, name) && !(obj.is_tuple() && name == "copy")) return bound_method(obj, name);
    if (!obj.is_tuple() && in_list(kListUnsafe, name)) return unsafe(obj, name);
  }
  return std::nullopt;
}

// ---- str / dict / list methods ------------------------------------------------------------------

int64_t find_sub(const std::string& s, const Value& sub_v, const Value& start_v, const Value& end_v, bool rev) {
  const std::string& sub = need_str(sub_v, "find");
  const auto cps = utf8_decode(s);
  const int64_t len = static_cast<int64_t>(cps.size());
  auto norm = [&](const Value& v, int64_t dflt) {
    if (!given(v) || v.is_none()) return dflt;
    int64_t x = to_index(v, "slice indices");
    if (x < 0) x = std::max<int64_t>(0, x + len);
    return std::min(x, len);
  };
  const int64_t b = norm(start_v, 0), e = norm(end_v, len);
  if (b > e) return -1;
  const std::string window = utf8_encode(cps, static_cast<size_t>(b), static_cast<size_t>(e));
  const size_t p = rev ? window.rfind(sub) : window.find(sub);
  if (p == std::string::npos) return -1;
  return b + static_cast<int64_t>(utf8_length(std::string_view(window).substr(0, p)));
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& x) {
    const std::string& a = need_str(x, prefix ? "startswith" : "endswith");
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list() && affix.is_tuple()) {
    for (const auto& x : affix.items())
      if (one(x)) return true;
    return false;
  }
  return one(affix);
}

Value str_method(const std::string& s, const std::string& name, Args& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto p = bind(name, a, {"chars"});
    return Value(str_strip(s, p[0], name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    auto p = bind(name, a, {"sep", "maxsplit"});
    return Value::list(str_split(s, p[0], given(p[1]) ? to_index(p[1], "maxsplit") : -1, name == "rsplit"));
  }
  if (name == "startswith" || name == "endswith") {
    auto p = bind(name, a, {"prefix", "start", "end"});
    if (!given(p[0])) raise(name + "() takes at least 1 argument (0 given)");
    std::string window = s;
    if (given(p[1]) || given(p[2])) {
      const auto cps = utf8_decode(s);
      auto pos = slice_positions(static_cast<int64_t>(cps.size()), p[1], p[2], Value());
      window = pos.empty() ? std::string() : utf8_encode(cps, pos.front(), pos.back() + 1);
    }
    return Value(affix_match(window, p[0], name == "startswith"));
  }
  if (name == "replace") {
    auto p = bind(name, a, {"old", "new", "count"});
    return Value(str_replace(s, need_str(p[0], "replace"), need_str(p[1], "replace"),
                             given(p[2]) ? to_index(p[2], "count") : -1));
  }
  if (name == "upper") return Value(str_upper(s));
  if (name == "lower" || name == "casefold") return Value(str_lower(s));
  if (name == "title") return Value(str_title_py(s));
  if (name == "capitalize") return Value(str_capitalize(s));
  if (name == "swapcase") return Value(str_swapcase(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    auto p = bind(name, a, {"sub", "start", "end"});
    const int64_t r = find_sub(s, p[0], p[1], p[2], name[0] == 'r');
    if (r < 0 && (name == "index" || name == "rindex")) raise("substring not found");
    return Value(r);
  }
  if (name == "count") {
    auto p = bind(name, a, {"sub"});
    const std::string& sub = need_str(p[0], "count");
    if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    auto p = bind(name, a, {"iterable"});
    std::string out;
    bool first = true;
    for (const auto& v : iterate(p[0])) {
      if (!v.is_string()) raise("sequence item: expected str instance, " + v.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += v.as_string();
      if (out.size() > kMaxValueBytes) raise("string too large");
    }
    return Value(std::move(out));
  }
  if (name == "format") return Value(str_format(s, a));
  if (name == "splitlines") {
    auto p = bind(name, a, {"keepends"});
    std::vector<Value> out;
    for (auto& l : str_splitlines(s, p[0].truthy())) out.emplace_back(std::move(l));
    return Value::list(std::move(out));
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    auto p = bind(name, a, {"width", "fillchar"});
    uint32_t fill = ' ';
    if (given(p[1])) {
      const auto f = utf8_decode(need_str(p[1], name));
      if (f.size() != 1) raise("The fill character must be exactly one character long");
      fill = f[0];
    }
    const int64_t w = to_index(p[0], name);
    if (name == "center") {
      // Python's center puts the odd pad on the right unless the string length is odd... (CPython: left = pad/2 + (pad & width & 1))
      const int64_t len = static_cast<int64_t>(utf8_length(s));
      if (w <= len) return Value(s);
      const int64_t pad = w - len;
      const int64_t left = pad / 2 + (pad & w & 1);
      std::string f;
      utf8_append(f, fill);
      return Value(repeat(f, left) + s + repeat(f, pad - left));
    }
    return Value(pad_to(s, w, name == "ljust" ? '<' : '>', fill));
  }
  if (name == "zfill") {
    auto p = bind(name, a, {"width"});
    const int64_t w = to_index(p[0], name);
    const int64_t len = static_cast<int64_t>(utf8_length(s));
    if (w <= len) return Value(s);
    const bool sgn = !s.empty() && (s[0] == '+' || s[0] == '-');
    return Value((sgn ? s.substr(0, 1) : std::string()) + repeat("0", w - len) + (sgn ? s.substr(1) : s));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    auto p = bind(name, a, {"affix"});
    const std::string& x = need_str(p[0], name);
    if (name == "removeprefix") return Value(s.compare(0, x.size(), x) == 0 ? s.substr(x.size()) : s);
    if (x.size() <= s.size() && s.compare(s.size() - x.size(), x.size(), x) == 0) return Value(s.substr(0, s.size() - x.size()));
    return Value(s);
  }
  if (name == "partition" || name == "rpartition") {
    auto p = bind(name, a, {"sep"});
    const std::string& sep = need_str(p[0], name);
    if (sep.empty()) raise("empty separator");
    const size_t pos = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (pos == std::string::npos)
      return name == "partition" ? Value::tuple({Value(s), Value(""), Value("")}) : Value::tuple({Value(""), Value(""), Value(s)});
    return Value::tuple({Value(s.substr(0, pos)), Value(sep), Value(s.substr(pos + sep.size()))});
  }
  bind(name, a, {});
  const auto cps = utf8_decode(s);
  auto all = [&](auto pred) { return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred); };
  if (name == "isdigit" || name == "isdecimal") return Value(all(cp_digit));
  if (name == "isnumeric") return Value(all(cp_numeric));
  if (name == "isalpha") return Value(all(cp_alpha));
  if (name == "isalnum") return Value(all([](uint32_t c) { return cp_alpha(c) || cp_numeric(c); }));
  if (name == "isspace") return Value(all(py_isspace));
  if (name == "isascii") return Value(is_ascii(s));
  if (name == "islower" || name == "isupper") {
    bool cased = false;
    for (uint32_t c : cps) {
      const int cs = cp_case(c);
      if (cs == (name == "islower" ? 1 : 2)) return Value(false);
      if (cs) cased = true;
    }
    return Value(cased);
  }
  if (name == "istitle") return Value(!cps.empty() && str_title_py(s) == s && std::any_of(cps.begin(), cps.end(), cp_case));
  raise("'str' object has no attribute '" + name + "'");
}

Value call_method(const Value& self, const std::string& name, Args& a) {
  if (self.is_string() && self.is_markup()) {
    // Markup methods escape the text they take in and return Markup.
    if (name == "join") {
      auto p = bind(name, a, {"iterable"});
      std::vector<Value> items;
      for (const auto& x : iterate(p[0])) items.push_back(Value(escaped_operand(x)));
      Args inner;
      inner.positional.push_back(Value::list(std::move(items)));
      return keep_markup(self, str_method(self.as_string(), name, inner));
    }
    Args esc = a;
    if (name == "format") {
      for (auto& x : esc.positional) x = escape_arg(x);
      for (auto& kv : esc.keyword) kv.second = escape_arg(kv.second);
    } else if (name == "replace" && esc.positional.size() >= 2) {
      esc.positional[1] = Value(escaped_operand(esc.positional[1]));
    }
    return keep_markup(self, str_method(self.as_string(), name, esc));
  }
  if (self.is_string()) return str_method(self.as_string(), name, a);
  if (self.is_dict()) {
    const DictObj& d = self.dict_obj();
    if (name == "get") {
      auto p = bind(name, a, {"key", "default"});
      if (const Value* v = d.find(p[0])) return *v;
      return given(p[1]) ? p[1] : Value::none();
    }
    bind(name, a, {});
    if (name == "copy") return Value::dict(std::make_shared<DictObj>(d));
    std::vector<Value> out;
    out.reserve(d.size());
    for (const auto& [k, v] : d.entries) {
      if (name == "items") out.push_back(Value::tuple({k, v}));
      else if (name == "keys") out.push_back(k);
      else out.push_back(v);
    }
    return Value::list(std::move(out));
  }
  if (self.is_list()) {
    const auto& items = self.items();
    if (name == "copy") {
      bind(name, a, {});
      return Value::list(items);
    }
    auto p = bind(name, a, {"value"});
    if (name == "count") {
      return Value(static_cast<int64_t>(std::count_if(items.begin(), items.end(), [&](const Value& x) { return x.equals(p[0]); })));
    }
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].equals(p[0])) return Value(static_cast<int64_t>(i));
    raise(p[0].repr() + " is not in list");
  }
  raise("'" + self.type_name() + "' object has no attribute '" + name + "'");
}

// ---- filters --------------------------------------------------------------------------------------

using FilterFn = Value (*)(const Value&, Args&);
using TestFn = bool (*)(const Value&, Args&);

std::string soft_str(const Value& v) { return v.str(); }

int64_t py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_length(v.as_string()));
    case Value::Kind::List:
      if (v.is_generator()) raise("object of type 'generator' has no len()");
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.dict_obj().size());
    default: raise("object of type '" + v.type_name() + "' has no len()");
  }
}

// attribute="a.b.0" lookups of map/selectattr/sort/... (make_attrgetter).
std::vector<Value> attr_parts(const Value& attribute) {
  std::vector<Value> parts;
  if (!given(attribute) || attribute.is_none()) return parts;
  if (!attribute.is_string()) {
    parts.push_back(attribute);
    return parts;
  }
  for (const auto& piece : str_split(attribute.as_string(), Value("."), -1, false)) {
    const std::string& p = piece.as_string();
    const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits ? Value(static_cast<int64_t>(std::stoll(p))) : piece);
  }
  return parts;
}

Value get_path(Value item, const std::vector<Value>& parts, const Value& dflt = Value()) {
  for (const auto& part : parts) {
    item = get_item(item, part);
    if (given(dflt) && !dflt.is_none() && item.is_undefined()) item = dflt;
  }
  return item;
}

Value ignore_case(const Value& v) { return v.is_string() ? Value(str_lower(v.as_string())) : v; }

Value f_abs(const Value& v, Args& a) {
  bind("abs", a, {});
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) raise("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_undefined()) raise_undefined(v);
  raise("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(const Value& v, Args& a) {
  auto p = bind("attr", a, {"name"});
  return get_attr(v, need_str(p[0], "attr"));
}

Value f_batch(const Value& v, Args& a) {
  auto p = bind("batch", a, {"linecount", "fill_with"});
  const int64_t n = to_index(p[0], "batch");
  if (n <= 0) raise("batch: linecount must be positive");
  std::vector<Value> out, tmp;
  for (auto& item : iterate(v)) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(std::move(item));
  }
  if (!tmp.empty()) {
    if (given(p[1]) && !p[1].is_none())
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(p[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::generator(std::move(out));
}

Value f_capitalize(const Value& v, Args& a) {
  bind("capitalize", a, {});
  return keep_markup(v, Value(str_capitalize(soft_str(v))));
}

Value f_center(const Value& v, Args& a) {
  auto p = bind("center", a, {"width"});
  Args inner;
  inner.positional.push_back(given(p[0]) ? p[0] : Value(80));
  return keep_markup(v, str_method(soft_str(v), "center", inner));
}

Value f_default(const Value& v, Args& a) {
  auto p = bind("default", a, {"default_value", "boolean"});
  const Value dflt = given(p[0]) ? p[0] : Value("");
  if (v.is_undefined() || (p[1].truthy() && !v.truthy())) return dflt;
  return v;
}

Value f_dictsort(const Value& v, Args& a) {
  auto p = bind("dictsort", a, {"case_sensitive", "by", "reverse"});
  const bool cs = p[0].truthy();
  const std::string by = given(p[1]) ? need_str(p[1], "dictsort") : std::string("key");
  if (by != "key" && by != "value") raise("You can only sort by either \"key\" or \"value\"");
  if (!v.is_dict()) {
    if (v.is_undefined()) raise_undefined(v);
    raise("'" + v.type_name() + "' object has no attribute 'items'");
  }
  std::vector<std::pair<Value, Value>> items = v.dict_obj().entries;
  const bool rev = p[2].truthy();
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    Value kx = by == "key" ? x.first : x.second, ky = by == "key" ? y.first : y.second;
    if (!cs) {
      kx = ignore_case(kx);
      ky = ignore_case(ky);
    }
    return rev ? py_less(ky, kx) : py_less(kx, ky);
  });
  std::vector<Value> out;
  for (auto& [k, val] : items) out.push_back(Value::tuple({k, val}));
  return Value::list(std::move(out));
}

Value f_escape(const Value& v, Args& a) {
  bind("escape", a, {});
  if (v.is_markup()) return v;
  return Value::markup(html_escape(soft_str(v)));
}

Value f_forceescape(const Value& v, Args& a) {
  bind("forceescape", a, {});
  return Value::markup(html_escape(soft_str(v)));
}

Value f_first(const Value& v, Args& a) {
  bind("first", a, {});
  if (v.is_list() && !v.items().empty()) return v.items().front();
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(const Value& v, Args& a) {
  bind("last", a, {});
  if (v.is_generator()) raise("'generator' object is not reversible");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(const Value& v, Args& a) {
  auto p = bind("float", a, {"default"});
  const Value dflt = given(p[0]) ? p[0] : Value(0.0);
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_number()) return Value(v.as_float());
  double d;
  if (v.is_string() && parse_py_float(v.as_string(), d)) return Value(d);
  return dflt;
}

Value f_format(const Value& v, Args& a) {
  const std::string fmt = soft_str(v);
  if (v.is_markup()) {
    for (auto& x : a.positional) x = escape_arg(x);
    for (auto& kv : a.keyword) kv.second = escape_arg(kv.second);
  }
  if (!a.keyword.empty()) {
    auto d = std::make_shared<DictObj>();
    for (auto& [k, x] : a.keyword) d->set(Value(k), x);
    return keep_markup(v, Value(percent_format(fmt, nullptr, d.get())));
  }
  return keep_markup(v, Value(percent_format(fmt, &a.positional, nullptr)));
}

Value f_indent(const Value& v, Args& a) {
  auto p = bind("indent", a, {"width", "first", "blank"});
  std::string ind;
  if (p[0].is_string()) ind = p[0].as_string();
  else ind = repeat(" ", given(p[0]) ? to_index(p[0], "indent") : 4);
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_string()) raise("unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
  const std::string s = v.as_string() + "\n";
  auto lines = str_splitlines(s, false);
  std::string rv;
  if (p[2].truthy()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    if (lines.size() > 1) {
      rv += "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) rv += "\n";
        if (!lines[i].empty()) rv += ind;
        rv += lines[i];
      }
    }
  }
  if (p[1].truthy()) rv = ind + rv;
  return keep_markup(v, Value(std::move(rv)));
}

Value f_int(const Value& v, Args& a) {
  auto p = bind("int", a, {"default", "base"});
  const Value dflt = given(p[0]) ? p[0] : Value(0);
  const int64_t base = given(p[1]) ? to_index(p[1], "int") : 10;
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    const double d = v.as_float();
    if (std::isnan(d)) return dflt;
    if (std::isinf(d) || std::fabs(d) >= 9.2e18) raise("cannot convert float to integer");
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    int64_t r;
    if ((base == 0 || (base >= 2 && base <= 36)) && parse_py_int(v.as_string(), static_cast<int>(base), r)) return Value(r);
    double d;
    if (parse_py_float(v.as_string(), d)) {
      if (std::isnan(d)) return dflt;
      if (std::isinf(d) || std::fabs(d) >= 9.2e18) raise("cannot convert float to integer");
      return Value(static_cast<int64_t>(d));
    }
  }
  return dflt;
}

Value f_items(const Value& v, Args& a) {
  bind("items", a, {});
  if (v.is_undefined()) return Value::generator({});
  if (!v.is_dict()) raise("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict_obj().entries) out.push_back(Value::tuple({k, val}));
  return Value::generator(std::move(out));
}

Value f_join(const Value& v, Args& a) {
  auto p = bind("join", a, {"d", "attribute"});
  const std::string sep = given(p[0]) ? soft_str(p[0]) : std::string();
  const auto parts = attr_parts(p[1]);
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += (parts.empty() ? item : get_path(item, parts)).str();
    if (out.size() > kMaxValueBytes) raise("string too large");
  }
  return Value(std::move(out));
}

Value f_length(const Value& v, Args& a) {
  bind("length", a, {});
  return Value(py_len(v));
}

Value f_list(const Value& v, Args& a) {
  bind("list", a, {});
  return Value::list(iterate(v));
}

Value f_lower(const Value& v, Args& a) {
  bind("lower", a, {});
  return keep_markup(v, Value(str_lower(soft_str(v))));
}

Value f_upper(const Value& v, Args& a) {
  bind("upper", a, {});
  return keep_markup(v, Value(str_upper(soft_str(v))));
}

Value f_map(const Value& v, Args& a) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before anything else
  if (a.positional.empty()) {
    Value attribute, dflt;
    for (auto& [k, x] : a.keyword) {
      if (k == "attribute") attribute = x;
      else if (k == "default") dflt = x;
      else raise("Unexpected keyword argument '" + k + "'");
    }
    if (!given(attribute)) raise("map requires a filter argument");
    const auto parts = attr_parts(attribute);
    for (const auto& item : iterate(v)) out.push_back(get_path(item, parts, dflt));
    return Value::generator(std::move(out));
  }
  const std::string name = need_str(a.positional[0], "map");
  Args rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& item : iterate(v)) {
    Args call = rest;
    out.push_back(apply_filter(name, item, call));
  }
  return Value::generator(std::move(out));
}

Value minmax(const Value& v, Args& a, bool want_max, const char* fname) {
  auto p = bind(fname, a, {"case_sensitive", "attribute"});
  const bool cs = p[0].truthy();
  const auto parts = attr_parts(p[1]);
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) {
    Value k = parts.empty() ? x : get_path(x, parts);
    return cs ? k : ignore_case(k);
  };
  size_t best = 0;
  Value bk = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    if (want_max ? py_less(bk, k) : py_less(k, bk)) {
      best = i;
      bk = k;
    }
  }
  return items[best];
}
Value f_max(const Value& v, Args& a) { return minmax(v, a, true, "max"); }
Value f_min(const Value& v, Args& a) { return minmax(v, a, false, "min"); }

Value f_pprint(const Value& v, Args& a) {
  bind("pprint", a, {});
  return Value(v.repr());
}

Value select_impl(const Value& v, Args& a, bool attr_lookup, bool select, const char* fname) {
  if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before anything else
  size_t off = 0;
  std::vector<Value> parts;
  if (attr_lookup) {
    if (a.positional.empty()) raise("Missing parameter for attribute name");
    parts = attr_parts(a.positional[0]);
    off = 1;
  }
  std::string test;
  Args targs;
  const bool has_test = a.positional.size() > off;
  if (has_test) {
    test = need_str(a.positional[off], fname);
    if (!is_test_name(test)) raise("No test named '" + test + "'.");
    targs.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(off + 1), a.positional.end());
    targs.keyword = a.keyword;
  } else if (!a.keyword.empty()) {
    raise(std::string(fname) + "() got an unexpected keyword argument '" + a.keyword[0].first + "'");
  }
  std::vector<Value> out;
  for (auto& item : iterate(v)) {
    const Value x = attr_lookup ? get_path(item, parts) : item;
    bool ok;
    if (has_test) {
      Args call = targs;
      ok = apply_test(test, x, call);
    } else {
      ok = x.truthy();
    }
    if (ok == select) out.push_back(std::move(item));
  }
  return Value::generator(std::move(out));
}
Value f_select(const Value& v, Args& a) { return select_impl(v, a, false, true, "select"); }
Value f_reject(const Value& v, Args& a) { return select_impl(v, a, false, false, "reject"); }
Value f_selectattr(const Value& v, Args& a) { return select_impl(v, a, true, true, "selectattr"); }
Value f_rejectattr(const Value& v, Args& a) { return select_impl(v, a, true, false, "rejectattr"); }

Value f_replace(const Value& v, Args& a) {
  auto p = bind("replace", a, {"old", "new", "count"});
  if (!given(p[0]) || !given(p[1])) raise("replace() missing required argument");
  return Value(str_replace(soft_str(v), soft_str(p[0]), soft_str(p[1]),
                           given(p[2]) && !p[2].is_none() ? to_index(p[2], "replace") : -1));
}

Value f_reverse(const Value& v, Args& a) {
  bind("reverse", a, {});
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return keep_markup(v, Value(utf8_encode(cps, 0, cps.size())));
  }
  if (v.is_generator()) {
    auto items = v.items();
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::generator(std::move(items));
}

double round_half_even(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits > 300) return x;
  if (ndigits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(ndigits), x);  // glibc rounds the exact value half-even
    return std::strtod(buf, nullptr);
  }
  const double pow10 = std::pow(10.0, static_cast<double>(-ndigits));
  const double y = x / pow10;
  double r = std::nearbyint(y);  // FE_TONEAREST: half to even
  return r * pow10;
}

Value f_round(const Value& v, Args& a) {
  auto p = bind("round", a, {"precision", "method"});
  const int64_t prec = given(p[0]) ? to_index(p[0], "round") : 0;
  const std::string method = given(p[1]) ? need_str(p[1], "round") : std::string("common");
  if (method != "common" && method != "ceil" && method != "floor") raise("method must be common, ceil or floor");
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_number()) raise("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (!v.is_float()) {
      if (prec >= 0) return Value(v.as_int());
      return Value(static_cast<int64_t>(round_half_even(static_cast<double>(v.as_int()), prec)));
    }
    return Value(round_half_even(v.as_float(), prec));
  }
  const double scale = std::pow(10.0, static_cast<double>(prec));
  const double x = v.as_float() * scale;
  return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_safe(const Value& v, Args& a) {
  bind("safe", a, {});
  return Value::markup(soft_str(v));
}

Value f_slice(const Value& v, Args& a) {
  auto p = bind("slice", a, {"slices", "fill_with"});
  const int64_t slices = to_index(p[0], "slice");
  if (slices <= 0) raise("slice: slices must be positive");
  auto seq = iterate(v);
  const int64_t length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices, extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (given(p[1]) && !p[1].is_none() && n >= extra) tmp.push_back(p[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::generator(std::move(out));
}

Value f_sort(const Value& v, Args& a) {
  auto p = bind("sort", a, {"reverse", "case_sensitive", "attribute"});
  const bool rev = p[0].truthy(), cs = p[1].truthy();
  const auto parts = attr_parts(p[2]);
  auto items = iterate(v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    Value k = parts.empty() ? items[i] : get_path(items[i], parts);
    keyed.emplace_back(cs ? k : ignore_case(k), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return rev ? py_less(y.first, x.first) : py_less(x.first, y.first);
  });
  std::vector<Value> out;
  for (const auto& [k, i] : keyed) out.push_back(items[i]);
  return Value::list(std::move(out));
}

Value f_string(const Value& v, Args& a) {
  bind("string", a, {});
  return keep_markup(v, Value(soft_str(v)));
}

Value f_sum(const Value& v, Args& a) {
  auto p = bind("sum", a, {"attribute", "start"});
  const auto parts = attr_parts(p[0]);
  Value total = given(p[1]) ? p[1] : Value(0);
  for (const auto& item : iterate(v)) total = binary_op(BinOp::Add, total, parts.empty() ? item : get_path(item, parts));
  return total;
}

Value f_title(const Value& v, Args& a) {
  bind("title", a, {});
  return Value(filter_title(soft_str(v)));
}

Value f_tojson(const Value& v, Args& a) {
  auto p = bind("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = p[0].truthy();
  o.indent = p[1];
  if (given(p[2]) && !p[2].is_none()) {
    const auto seps = iterate(p[2]);
    if (seps.size() != 2) raise("tojson: separators must be an (item_separator, key_separator) pair");
    o.item_sep = need_str(seps[0], "tojson");
    o.key_sep = need_str(seps[1], "tojson");
    o.custom_separators = true;
  }
  o.sort_keys = p[3].truthy();
  return Value(to_json(v, o));
}

Value f_trim(const Value& v, Args& a) {
  auto p = bind("trim", a, {"chars"});
  return keep_markup(v, Value(str_strip(soft_str(v), p[0], true, true)));
}

Value f_truncate(const Value& v, Args& a) {
  auto p = bind("truncate", a, {"length", "killwords", "end", "leeway"});
  if (!v.is_string()) {
    // jinja2 applies len() and slicing to the value itself.
    const int64_t length = given(p[0]) ? to_index(p[0], "truncate") : 255;
    const int64_t leeway = given(p[3]) && !p[3].is_none() ? to_index(p[3], "truncate") : 5;
    if (py_len(v) <= length + leeway) return v;
    raise("truncate: expected a string, not '" + v.type_name() + "'");
  }
  const std::string s = soft_str(v);
  const int64_t length = given(p[0]) ? to_index(p[0], "truncate") : 255;
  const std::string end = given(p[2]) ? soft_str(p[2]) : std::string("...");
  const int64_t leeway = given(p[3]) && !p[3].is_none() ? to_index(p[3], "truncate") : 5;
  const auto cps = utf8_decode(s);
  const int64_t end_len = static_cast<int64_t>(utf8_length(end));
  if (length < end_len) raise("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (leeway < 0) raise("expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value(s);
  std::string head = utf8_encode(cps, 0, static_cast<size_t>(length - end_len));
  if (p[1].truthy()) return Value(head + end);
  const size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head.resize(sp);
  return Value(head + end);
}

Value f_unique(const Value& v, Args& a) {
  auto p = bind("unique", a, {"case_sensitive", "attribute"});
  const bool cs = p[0].truthy();
  const auto parts = attr_parts(p[1]);
  std::vector<Value> seen, out;
  for (auto& item : iterate(v)) {
    Value k = parts.empty() ? item : get_path(item, parts);
    if (!cs) k = ignore_case(k);
    if ((k.is_list() && !k.is_tuple()) || k.is_dict()) raise("unhashable type: '" + k.type_name() + "'");
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return s.equals(k); })) {
      seen.push_back(k);
      out.push_back(std::move(item));
    }
  }
  return Value::generator(std::move(out));
}

Value f_wordcount(const Value& v, Args& a) {
  bind("wordcount", a, {});
  int64_t n = 0;
  bool in_word = false;
  const std::string s = soft_str(v);
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8_next(s, i);
    const bool w = c == '_' || cp_alpha(c) || cp_numeric(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Value f_unsupported(const Value&, Args&) { raise("this filter is not supported by minnow's template engine"); }

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> m = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
      {"center", f_center}, {"count", f_length}, {"d", f_default}, {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape}, {"first", f_first},
      {"float", f_float}, {"forceescape", f_forceescape}, {"format", f_format}, {"indent", f_indent},
      {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
      {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
      {"pprint", f_pprint}, {"reject", f_reject}, {"rejectattr", f_rejectattr},
      {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},
      {"select", f_select}, {"selectattr", f_selectattr}, {"slice", f_slice}, {"sort", f_sort},
      {"string", f_string}, {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson},
      {"trim", f_trim}, {"truncate", f_truncate}, {"unique", f_unique}, {"upper", f_upper},
      {"wordcount", f_wordcount},
      // jinja2 has these; templates using them parse, and fail only if they run.
      {"filesizeformat", f_unsupported}, {"groupby", f_unsupported}, {"random", f_unsupported},
      {"striptags", f_unsupported}, {"urlencode", f_unsupported}, {"urlize", f_unsupported},
      {"wordwrap", f_unsupported}, {"xmlattr", f_unsupported},
  };
  return m;
}

// ---- tests ----------------------------------------------------------------------------------------

Value one_arg(const char* name, Args& a) {
  auto p = bind(name, a, {"other"});
  return p[0];
}

bool t_defined(const Value& v, Args& a) { bind("defined", a, {}); return !v.is_undefined(); }
bool t_undefined(const Value& v, Args& a) { bind("undefined", a, {}); return v.is_undefined(); }
bool t_none(const Value& v, Args& a) { bind("none", a, {}); return v.is_none(); }
bool t_boolean(const Value& v, Args& a) { bind("boolean", a, {}); return v.is_bool(); }
bool t_true(const Value& v, Args& a) { bind("true", a, {}); return v.is_bool() && v.as_bool(); }
bool t_false(const Value& v, Args& a) { bind("false", a, {}); return v.is_bool() && !v.as_bool(); }
bool t_integer(const Value& v, Args& a) { bind("integer", a, {}); return v.is_int(); }
bool t_float(const Value& v, Args& a) { bind("float", a, {}); return v.is_float(); }
bool t_number(const Value& v, Args& a) { bind("number", a, {}); return v.is_number(); }
bool t_string(const Value& v, Args& a) { bind("string", a, {}); return v.is_string(); }
bool t_mapping(const Value& v, Args& a) { bind("mapping", a, {}); return v.is_dict(); }
bool t_iterable(const Value& v, Args& a) {
  bind("iterable", a, {});
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
bool t_sequence(const Value& v, Args& a) {
  bind("sequence", a, {});
  return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_generator()) || v.is_dict();
}
bool t_callable(const Value& v, Args& a) { bind("callable", a, {}); return v.is_function() || v.is_undefined(); }
bool t_escaped(const Value& v, Args& a) { bind("escaped", a, {}); return v.is_markup(); }
bool t_sameas(const Value& v, Args& a) { return v.same_as(one_arg("sameas", a)); }
bool t_eq(const Value& v, Args& a) { return v.equals(one_arg("eq", a)); }
bool t_ne(const Value& v, Args& a) { return !v.equals(one_arg("ne", a)); }
bool t_lt(const Value& v, Args& a) { return py_less(v, one_arg("lt", a)); }
bool t_gt(const Value& v, Args& a) { return py_less(one_arg("gt", a), v); }
bool t_le(const Value& v, Args& a) { const Value o = one_arg("le", a); return v.equals(o) || py_less(v, o); }
bool t_ge(const Value& v, Args& a) { const Value o = one_arg("ge", a); return v.equals(o) || py_less(o, v); }
bool t_in(const Value& v, Args& a) { return contains(one_arg("in", a), v); }
bool t_divisibleby(const Value& v, Args& a) {
  const Value n = one_arg("divisibleby", a);
  return binary_op(BinOp::Mod, v, n).equals(Value(0));
}
bool t_even(const Value& v, Args& a) { bind("even", a, {}); return binary_op(BinOp::Mod, v, Value(2)).equals(Value(0)); }
bool t_odd(const Value& v, Args& a) { bind("odd", a, {}); return binary_op(BinOp::Mod, v, Value(2)).equals(Value(1)); }
bool t_lower(const Value& v, Args& a) {
  bind("lower", a, {});
  Args none;
  return str_method(soft_str(v), "islower", none).truthy();
}
bool t_upper(const Value& v, Args& a) {
  bind("upper", a, {});
  Args none;
  return str_method(soft_str(v), "isupper", none).truthy();
}
bool t_filter(const Value& v, Args& a) { bind("filter", a, {}); return v.is_string() && is_filter_name(v.as_string()); }
bool t_test(const Value& v, Args& a) { bind("test", a, {}); return v.is_string() && is_test_name(v.as_string()); }

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> m = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"true", t_true}, {"false", t_false}, {"integer", t_integer}, {"float", t_float},
      {"number", t_number}, {"string", t_string}, {"mapping", t_mapping}, {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"escaped", t_escaped}, {"sameas", t_sameas},
      {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq}, {"ne", t_ne}, {"!=", t_ne}, {"lt", t_lt},
      {"lessthan", t_lt}, {"<", t_lt}, {"le", t_le}, {"<=", t_le}, {"gt", t_gt},
      {"greaterthan", t_gt}, {">", t_gt}, {"ge", t_ge}, {">=", t_ge}, {"in", t_in},
      {"divisibleby", t_divisibleby}, {"even", t_even}, {"odd", t_odd}, {"lower", t_lower},
      {"upper", t_upper}, {"filter", t_filter}, {"test", t_test},
  };
  return m;
}

// ---- arithmetic -----------------------------------------------------------------------------------

[[noreturn]] void unsupported_operands(const char* op, const Value& a, const Value& b) {
  raise(std::string("unsupported operand type(s) for ") + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) raise("integer overflow");
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) raise("integer overflow");
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) raise("integer overflow");
  return r;
}

double py_fmod(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) mod += wx;
  } else {
    mod = std::copysign(0.0, wx);
  }
  return mod;
}

double py_floordiv(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0 && ((wx < 0) != (mod < 0))) div -= 1.0;
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return floordiv;
}

}  // namespace

// ---- public entry points -------------------------------------------------------------------------

bool is_filter_name(std::string_view name) { return filters().count(name) != 0; }
bool is_test_name(std::string_view name) { return tests().count(name) != 0; }

Value apply_filter(std::string_view name, const Value& target, Args& args) {
  auto it = filters().find(name);
  if (it == filters().end()) raise("No filter named '" + std::string(name) + "'.");
  try {
    return it->second(target, args);
  } catch (const minnow::Error& e) {
    raise(e.what());
  }
}

bool apply_test(std::string_view name, const Value& target, Args& args) {
  auto it = tests().find(name);
  if (it == tests().end()) raise("No test named '" + std::string(name) + "'.");
  return it->second(target, args);
}

Value get_attr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      raise_undefined(obj);
    case Value::Kind::Dict: {
      if (auto m = method_of(obj, name)) return *m;
      if (const Value* v = obj.dict_obj().find(name)) return *v;
      return missing_attr(obj, name);
    }
    case Value::Kind::Namespace: {
      if (const Value* v = obj.dict_obj().find(name)) return *v;
      return missing_attr(obj, name);
    }
    case Value::Kind::Function: {
      if (const auto& attr = obj.func().attr)
        if (auto v = attr(name)) return *v;
      return missing_attr(obj, name);
    }
    default:
      if (auto m = method_of(obj, name)) return *m;
      return missing_attr(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      raise_undefined(obj);
    case Value::Kind::Dict:
      if ((key.is_list() && !key.is_tuple()) || key.is_dict()) break;
      if (const Value* v = obj.dict_obj().find(key)) return *v;
      break;
    case Value::Kind::List:
    case Value::Kind::String:
      if (obj.is_generator()) break;
      if (key.is_int() || key.is_bool()) {
        int64_t i = key.as_int();
        if (obj.is_string()) {
          const std::string& s = obj.as_string();
          if (is_ascii(s)) {
            const int64_t n = static_cast<int64_t>(s.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) break;
            return keep_markup(obj, Value(std::string(1, s[static_cast<size_t>(i)])));
          }
          const auto cps = utf8_decode(s);
          const int64_t n = static_cast<int64_t>(cps.size());
          if (i < 0) i += n;
          if (i < 0 || i >= n) break;
          return keep_markup(obj, Value(utf8_encode(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1)));
        }
        const auto& items = obj.items();
        const int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) break;
        return items[static_cast<size_t>(i)];
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    // obj[name] failed: jinja2 falls back to getattr(obj, name).
    if (obj.is_dict()) {
      if (auto m = method_of(obj, key.as_string())) return *m;
      return missing_attr(obj, key.as_string());
    }
    return get_attr(obj, key.as_string());
  }
  return missing_element(obj, key);
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (is_ascii(s)) {
      auto pos = slice_positions(static_cast<int64_t>(s.size()), start, stop, step);
      std::string out;
      out.reserve(pos.size());
      for (size_t p : pos) out += s[p];
      return keep_markup(obj, Value(std::move(out)));
    }
    const auto cps = utf8_decode(s);
    auto pos = slice_positions(static_cast<int64_t>(cps.size()), start, stop, step);
    std::string out;
    for (size_t p : pos) utf8_append(out, cps[p]);
    return keep_markup(obj, Value(std::move(out)));
  }
  if (obj.is_list() && !obj.is_generator()) {
    const auto& items = obj.items();
    auto pos = slice_positions(static_cast<int64_t>(items.size()), start, stop, step);
    std::vector<Value> out;
    out.reserve(pos.size());
    for (size_t p : pos) out.push_back(items[p]);
    return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }
  if (obj.is_dict() || obj.is_generator() || obj.is_none() || obj.is_number())
    return Value::undefined(object_type_repr(obj) + " has no element slice(" + start.repr() + ", " + stop.repr() + ", " + step.repr() + ")");
  raise("'" + obj.type_name() + "' object is not subscriptable");
}

Value call_value(const Value& callee, Args& args) {
  if (callee.is_undefined()) raise_undefined(callee);
  if (!callee.is_function()) raise("'" + callee.type_name() + "' object is not callable");
  return callee.func().fn(args);
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return v.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict_obj().size());
      for (const auto& [k, val] : v.dict_obj().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      const std::string& s = v.as_string();
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        utf8_next(s, i);
        chars.emplace_back(s.substr(start, i - start));
      }
      return chars;
    }
    default:
      raise("'" + (v.is_none() ? std::string("NoneType") : v.type_name()) + "' object is not iterable");
  }
}

bool contains(const Value& hay, const Value& needle) {
  switch (hay.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!needle.is_string()) {
        if (needle.is_undefined()) raise_undefined(needle);
        raise("'in <string>' requires string as left operand, not " + needle.type_name());
      }
      return hay.as_string().find(needle.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& x : hay.items())
        if (x.equals(needle)) return true;
      return false;
    case Value::Kind::Dict:
      if ((needle.is_list() && !needle.is_tuple()) || needle.is_dict()) raise("unhashable type: '" + needle.type_name() + "'");
      return hay.dict_obj().find(needle) != nullptr;
    default:
      raise("argument of type '" + (hay.is_none() ? std::string("NoneType") : hay.type_name()) + "' is not iterable");
  }
}

Value binary_op(BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  switch (op) {
    case BinOp::Add:
      if (ints) return Value(checked_add(a.as_int(), b.as_int()));
      if (nums) return Value(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) {
        if (a.as_string().size() + b.as_string().size() > kMaxValueBytes) raise("string too large");
        if (a.is_markup() || b.is_markup()) return Value::markup(escaped_operand(a) + escaped_operand(b));
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator() && a.is_tuple() == b.is_tuple()) {
        std::vector<Value> items = a.items();
        items.insert(items.end(), b.items().begin(), b.items().end());
        return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      if (a.is_string()) raise("can only concatenate str (not \"" + b.type_name() + "\") to str");
      if (a.is_list() && !a.is_generator())
        raise("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " + a.type_name());
      unsupported_operands("+", a, b);
    case BinOp::Sub:
      if (ints) return Value(checked_sub(a.as_int(), b.as_int()));
      if (nums) return Value(a.as_float() - b.as_float());
      unsupported_operands("-", a, b);
    case BinOp::Mul:
      if (ints) return Value(checked_mul(a.as_int(), b.as_int()));
      if (nums) return Value(a.as_float() * b.as_float());
      if (a.is_string() && (b.is_int() || b.is_bool())) return keep_markup(a, Value(repeat(a.as_string(), b.as_int())));
      if (b.is_string() && (a.is_int() || a.is_bool())) return keep_markup(b, Value(repeat(b.as_string(), a.as_int())));
      if ((a.is_list() && !a.is_generator() && (b.is_int() || b.is_bool())) ||
          (b.is_list() && !b.is_generator() && (a.is_int() || a.is_bool()))) {
        const Value& l = a.is_list() ? a : b;
        const int64_t n = a.is_list() ? b.as_int() : a.as_int();
        std::vector<Value> items;
        if (n > 0 && !l.items().empty()) {
          if (static_cast<uint64_t>(n) * l.items().size() > kMaxValueBytes / 16) raise("list too large");
          for (int64_t k = 0; k < n; ++k) items.insert(items.end(), l.items().begin(), l.items().end());
        }
        return l.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      unsupported_operands("*", a, b);
    case BinOp::Div:
      if (!nums) unsupported_operands("/", a, b);
      if (b.as_float() == 0) raise("division by zero");
      return Value(a.as_float() / b.as_float());
    case BinOp::FloorDiv:
      if (!nums) unsupported_operands("//", a, b);
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) raise("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) raise("integer overflow");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value(q);
      }
      if (b.as_float() == 0) raise("float floor division by zero");
      return Value(py_floordiv(a.as_float(), b.as_float()));
    case BinOp::Mod:
      if (a.is_string()) {
        if (a.is_markup()) {
          if (b.is_list() && b.is_tuple()) {
            std::vector<Value> args;
            for (const auto& x : b.items()) args.push_back(escape_arg(x));
            return Value::markup(percent_format(a.as_string(), &args, nullptr));
          }
          if (b.is_dict()) {
            auto d = std::make_shared<DictObj>();
            for (const auto& [k, x] : b.dict_obj().entries) d->set(k, escape_arg(x));
            std::vector<Value> single{b};
            return Value::markup(percent_format(a.as_string(), &single, d.get(), true));
          }
          std::vector<Value> single{escape_arg(b)};
          return Value::markup(percent_format(a.as_string(), &single, nullptr, b.is_list()));
        }
        if (b.is_list() && b.is_tuple()) return Value(percent_format(a.as_string(), &b.items(), nullptr));
        if (b.is_dict()) {
          std::vector<Value> single{b};
          return Value(percent_format(a.as_string(), &single, &b.dict_obj(), true));
        }
        std::vector<Value> single{b};
        return Value(percent_format(a.as_string(), &single, nullptr, b.is_list()));
      }
      if (!nums) unsupported_operands("%", a, b);
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) raise("integer division or modulo by zero");
        if (y == -1) return Value(int64_t{0});
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
      }
      if (b.as_float() == 0) raise("float modulo");
      return Value(py_fmod(a.as_float(), b.as_float()));
    case BinOp::Pow:
      if (!nums) unsupported_operands("** or pow()", a, b);
      if (ints && b.as_int() >= 0) {
        int64_t base = a.as_int(), e = b.as_int(), result = 1;
        while (e > 0) {
          if (e & 1) result = checked_mul(result, base);
          e >>= 1;
          if (e) base = checked_mul(base, base);
        }
        return Value(result);
      }
      if (a.as_float() == 0 && b.as_float() < 0) raise("0.0 cannot be raised to a negative power");
      return Value(std::pow(a.as_float(), b.as_float()));
  }
  raise("unknown operator");
}

void add_builtin_globals(std::map<std::string, Value>& g,
                         const std::shared_ptr<std::vector<std::weak_ptr<DictObj>>>& namespaces) {
  g["range"] = Value::function("range", [](Args& a) -> Value {
    if (!a.keyword.empty()) raise("range() takes no keyword arguments");
    const auto& p = a.positional;
    if (p.empty() || p.size() > 3) raise("range expected 1 to 3 arguments, got " + std::to_string(p.size()));
    int64_t start = 0, stop, step = 1;
    if (p.size() == 1) {
      stop = to_index(p[0], "range");
    } else {
      start = to_index(p[0], "range");
      stop = to_index(p[1], "range");
      if (p.size() == 3) step = to_index(p[2], "range");
    }
    if (step == 0) raise("range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 100000)
        raise("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      out.emplace_back(i);
    }
    return Value::list(std::move(out));
  });
  g["dict"] = Value::function("dict", [](Args& a) -> Value {
    auto d = std::make_shared<DictObj>();
    if (a.positional.size() > 1) raise("dict expected at most 1 argument, got " + std::to_string(a.positional.size()));
    if (!a.positional.empty()) {
      const Value& src = a.positional[0];
      if (src.is_dict()) {
        for (const auto& [k, v] : src.dict_obj().entries) d->set(k, v);
      } else {
        for (const auto& pair : iterate(src)) {
          auto kv = iterate(pair);
          if (kv.size() != 2) raise("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
          d->set(kv[0], kv[1]);
        }
      }
    }
    for (auto& [k, v] : a.keyword) d->set(Value(k), v);
    return Value::dict(std::move(d));
  });
  g["namespace"] = Value::function("namespace", [namespaces](Args& a) -> Value {
    Value ns = Value::new_namespace();
    namespaces->push_back(ns.dict_ptr());
    if (a.positional.size() > 1) raise("namespace expected at most 1 positional argument");
    if (!a.positional.empty()) {
      const Value& src = a.positional[0];
      if (!src.is_dict()) raise("namespace() argument must be a mapping");
      for (const auto& [k, v] : src.dict_obj().entries) ns.dict_obj().set(k, v);
    }
    for (auto& [k, v] : a.keyword) ns.dict_obj().set(Value(k), v);
    return ns;
  });
  g["joiner"] = Value::function("joiner", [](Args& a) -> Value {
    auto p = bind("joiner", a, {"sep"});
    const std::string sep = given(p[0]) ? p[0].str() : std::string(", ");
    auto used = std::make_shared<bool>(false);
    return Value::function("joiner", [sep, used](Args&) -> Value {
      if (!*used) {
        *used = true;
        return Value("");
      }
      return Value(sep);
    });
  });
}

}  // namespace minnow::jinja
