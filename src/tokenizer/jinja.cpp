// Jinja values with Python semantics: str()/repr(), truthiness, ==, <, json.dumps, plus the UTF-8
// helpers the rest of the interpreter uses (Python strings index by code point).
#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "tokenizer/jinja_ast.h"

namespace minnow::jinja {

// ---- errors -----------------------------------------------------------------------------------------

void raise(std::string msg, int line) { throw TemplateError(std::move(msg), line); }

void raise_undefined(const Value& u) {
  const std::string& m = u.undefined_message();
  raise(m.empty() ? std::string("value is undefined") : m);
}

// ---- UTF-8 ---------------------------------------------------------------------------------------------

uint32_t utf8_next(std::string_view s, size_t& i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) {
    ++i;
    return c0;
  }
  int n = 0;
  uint32_t cp = 0;
  if ((c0 & 0xE0) == 0xC0) {
    n = 1;
    cp = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    n = 2;
    cp = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    n = 3;
    cp = c0 & 0x07;
  } else {
    ++i;
    return c0;  // stray byte: stands for itself
  }
  if (i + n >= s.size()) {
    ++i;
    return c0;
  }
  for (int k = 1; k <= n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return c0;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += n + 1;
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<uint32_t> utf8_decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(utf8_next(s, i));
  return out;
}

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t k = begin; k < end; ++k) utf8_append(out, cps[k]);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

size_t utf8_length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    utf8_next(s, i);
    ++n;
  }
  return n;
}

bool py_isspace(uint32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\n': case '\r': case 0x0B: case 0x0C:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// ---- Python repr --------------------------------------------------------------------------------------

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci[0] == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos))
    if (c != '.') digits += c;
  int exp10 = std::atoi(std::string(sci.substr(epos + 1)).c_str());
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  const int nd = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (decpt >= nd) {
      out += digits;
      out.append(static_cast<size_t>(decpt - nd), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out += '.';
      out += digits.substr(static_cast<size_t>(decpt));
    }
  } else {
    out += digits[0];
    if (nd > 1) {
      out += '.';
      out += digits.substr(1);
    }
    const int e = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    out += eb;
  }
  return out;
}

static bool py_isprintable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string py_str_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = utf8_next(s, i);
    char buf[16];
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (py_isprintable(cp)) {
      utf8_append(out, cp);
    } else {
      if (cp < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      else if (cp < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", cp);
      out += buf;
    }
  }
  out += quote;
  return out;
}

// ---- Value ----------------------------------------------------------------------------------------------

Value Value::undefined(std::string message) {
  Value v;
  v.v_ = std::move(message);
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

static uint32_t checked_depth(uint32_t d) {
  if (d > Value::kMaxDepth) raise("value nested too deeply (more than " + std::to_string(Value::kMaxDepth) + " levels)");
  return d;
}

uint32_t Value::depth() const {
  switch (kind_) {
    case Kind::List: return list_ptr()->depth;
    case Kind::Dict: case Kind::Namespace: return dict_ptr()->depth;
    case Kind::Function: return func().depth;
    default: return 0;
  }
}

Value Value::list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::List;
  auto l = std::make_shared<ListObj>();
  uint32_t d = 0;
  for (const auto& x : items) d = std::max(d, x.depth());
  l->depth = checked_depth(d + 1);
  l->items = std::move(items);
  v.v_ = std::move(l);
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  std::get<std::shared_ptr<ListObj>>(v.v_)->tuple = true;
  return v;
}

Value Value::generator(std::vector<Value> items) {
  Value v = list(std::move(items));
  std::get<std::shared_ptr<ListObj>>(v.v_)->generator = true;
  return v;
}

Value Value::dict(std::shared_ptr<DictObj> d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.v_ = std::move(d);
  return v;
}

Value Value::new_dict() { return dict(std::make_shared<DictObj>()); }

Value Value::new_namespace() {
  Value v;
  v.kind_ = Kind::Namespace;
  v.v_ = std::make_shared<DictObj>();
  return v;
}

Value Value::function(std::string name, NativeFn fn) {
  Value v;
  v.kind_ = Kind::Function;
  auto f = std::make_shared<FuncObj>();
  f->name = std::move(name);
  f->fn = std::move(fn);
  v.v_ = std::move(f);
  return v;
}

template <class J>
static Value from_json_impl(const J& j, uint32_t depth = 0) {
  if (depth >= Value::kMaxDepth) fail("JSON input nested too deeply (more than ", Value::kMaxDepth, " levels)");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_impl(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      auto d = std::make_shared<DictObj>();
      for (auto it = j.begin(); it != j.end(); ++it) d->set(Value(it.key()), from_json_impl(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default:
      return Value::none();
  }
}

Value Value::from_json(const nlohmann::json& j) { return from_json_impl(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return from_json_impl(j); }

bool Value::is_tuple() const { return kind_ == Kind::List && list_ptr()->tuple; }
bool Value::is_generator() const { return kind_ == Kind::List && list_ptr()->generator; }

double Value::as_float() const {
  if (kind_ == Kind::Float) return std::get<double>(v_);
  return static_cast<double>(as_int());
}

const std::string& Value::undefined_message() const {
  static const std::string empty;
  if (const auto* s = std::get_if<std::string>(&v_)) return *s;
  return empty;
}

const std::vector<Value>& Value::items() const { return list_ptr()->items; }
DictObj& Value::dict_obj() const { return *dict_ptr(); }
FuncObj& Value::func() const { return *std::get<std::shared_ptr<FuncObj>>(v_); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return as_bool();
    case Kind::Int: return as_int() != 0;
    case Kind::Float: return as_float() != 0.0;
    case Kind::String: return !as_string().empty();
    case Kind::List: return is_generator() || !items().empty();
    case Kind::Dict: return dict_obj().size() != 0;
    case Kind::Namespace: case Kind::Function: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return markup_ ? "Markup" : "str";
    case Kind::List: return is_generator() ? "generator" : is_tuple() ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
  }
  return "object";
}

// repr() of containers; `active` holds the containers being printed, so a namespace that
// (indirectly) contains itself prints as {...} / [...] the way Python's reprlib guard does.
static void append_repr(const Value& v, std::string& out, std::vector<const void*>& active);

static void append_dict_repr(const DictObj& d, std::string& out, std::vector<const void*>& active) {
  if (std::find(active.begin(), active.end(), &d) != active.end()) {
    out += "{...}";
    return;
  }
  if (out.size() > kMaxValueBytes) raise("value too large to print");
  active.push_back(&d);
  out += '{';
  bool first = true;
  for (const auto& [k, val] : d.entries) {
    if (!first) out += ", ";
    first = false;
    append_repr(k, out, active);
    out += ": ";
    append_repr(val, out, active);
  }
  out += '}';
  active.pop_back();
}

static void append_repr(const Value& v, std::string& out, std::vector<const void*>& active) {
  switch (v.kind()) {
    case Value::Kind::String:
      if (v.is_markup()) out += "Markup(";
      out += py_str_repr(v.as_string());
      if (v.is_markup()) out += ")";
      return;
    case Value::Kind::Undefined:
      out += "Undefined";
      return;
    case Value::Kind::List: {
      if (v.is_generator()) {
        out += "<generator object>";
        return;
      }
      const ListObj* l = v.list_ptr().get();
      if (std::find(active.begin(), active.end(), l) != active.end()) {
        out += "[...]";
        return;
      }
      if (out.size() > kMaxValueBytes) raise("value too large to print");
      active.push_back(l);
      const bool tup = v.is_tuple();
      out += tup ? '(' : '[';
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(items[i], out, active);
      }
      if (tup && items.size() == 1) out += ',';
      out += tup ? ')' : ']';
      active.pop_back();
      return;
    }
    case Value::Kind::Dict:
      append_dict_repr(v.dict_obj(), out, active);
      return;
    case Value::Kind::Namespace:
      out += "<Namespace ";
      append_dict_repr(v.dict_obj(), out, active);
      out += ">";
      return;
    default:
      out += v.str();
  }
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return as_bool() ? "True" : "False";
    case Kind::Int: return std::to_string(as_int());
    case Kind::Float: return py_float_repr(as_float());
    case Kind::String: return as_string();
    case Kind::List: case Kind::Dict: case Kind::Namespace: return repr();
    case Kind::Function: return "<function " + func().name + ">";
  }
  return "";
}

std::string Value::repr() const {
  std::string out;
  std::vector<const void*> active;
  append_repr(*this, out, active);
  return out;
}

bool Value::equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (kind_ != Kind::Float && o.kind_ != Kind::Float) return as_int() == o.as_int();
    return as_float() == o.as_float();
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::String: return as_string() == o.as_string();
    case Kind::List: {
      if (is_generator() || o.is_generator()) return list_ptr() == o.list_ptr();
      if (is_tuple() != o.is_tuple()) return false;
      const auto& a = items();
      const auto& b = o.items();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (!a[i].equals(b[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const DictObj& a = dict_obj();
      const DictObj& b = o.dict_obj();
      if (a.size() != b.size()) return false;
      for (const auto& [k, v] : a.entries) {
        const Value* w = b.find(k);
        if (!w || !v.equals(*w)) return false;
      }
      return true;
    }
    case Kind::Namespace: return dict_ptr() == o.dict_ptr();
    case Kind::Function: return &func() == &o.func();
    default: return false;
  }
}

bool Value::same_as(const Value& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::List: return list_ptr() == o.list_ptr();
    case Kind::Dict: case Kind::Namespace: return dict_ptr() == o.dict_ptr();
    case Kind::Function: return &func() == &o.func();
    case Kind::Undefined: return false;
    default: return equals(o);
  }
}

bool py_less(const Value& a, const Value& b) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int();
    return a.as_float() < b.as_float();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order == code point order
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i].equals(y[i])) continue;
      return py_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  raise("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

// ---- DictObj ------------------------------------------------------------------------------------------

const Value* DictObj::find(std::string_view key) const {
  auto it = str_index_.find(key);
  return it == str_index_.end() ? nullptr : &entries[it->second].second;
}

const Value* DictObj::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries)
    if (!k.is_string() && k.equals(key)) return &v;
  return nullptr;
}

void DictObj::set(const Value& key, Value value) {
  depth = checked_depth(std::max({depth, key.depth() + 1, value.depth() + 1}));
  if (key.is_string()) {
    auto it = str_index_.find(std::string_view(key.as_string()));
    if (it != str_index_.end()) {
      entries[it->second].second = std::move(value);
      return;
    }
    str_index_.emplace(key.as_string(), entries.size());
    entries.emplace_back(key, std::move(value));
    return;
  }
  for (auto& [k, v] : entries) {
    if (!k.is_string() && k.equals(key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(key, std::move(value));
}

// ---- json.dumps ----------------------------------------------------------------------------------------

static void json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = utf8_next(s, i);
    char buf[16];
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out += '"';
}

static void json_dump(const Value& v, const JsonOptions& o, const std::string* indent, int level, std::string& out) {
  if (out.size() > kMaxValueBytes) raise("tojson: output too large");
  switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: {
      const double d = v.as_float();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
      else out += py_float_repr(d);
      return;
    }
    case Value::Kind::String: json_string(v.as_string(), o.ensure_ascii, out); return;
    case Value::Kind::List: {
      if (v.is_generator()) raise("Object of type generator is not JSON serializable");
      const auto& items = v.items();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      std::string nl;
      if (indent) {
        nl = "\n";
        for (int k = 0; k <= level; ++k) nl += *indent;
        out += nl;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) {
          out += o.item_sep;
          out += nl;
        }
        json_dump(items[i], o, indent, level + 1, out);
      }
      if (indent) {
        out += '\n';
        for (int k = 0; k < level; ++k) out += *indent;
      }
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      const DictObj& d = v.dict_obj();
      if (d.size() == 0) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> entries;
      for (const auto& e : d.entries) entries.push_back(&e);
      if (o.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* x, const auto* y) { return py_less(x->first, y->first); });
      out += '{';
      std::string nl;
      if (indent) {
        nl = "\n";
        for (int k = 0; k <= level; ++k) nl += *indent;
        out += nl;
      }
      bool first = true;
      for (const auto* e : entries) {
        if (!first) {
          out += o.item_sep;
          out += nl;
        }
        first = false;
        const Value& k = e->first;
        if (k.is_string()) json_string(k.as_string(), o.ensure_ascii, out);
        else if (k.is_bool()) out += k.as_bool() ? "\"true\"" : "\"false\"";
        else if (k.is_int()) out += "\"" + std::to_string(k.as_int()) + "\"";
        else if (k.is_float()) out += "\"" + py_float_repr(k.as_float()) + "\"";
        else if (k.is_none()) out += "\"null\"";
        else raise("keys must be str, int, float, bool or None, not " + k.type_name());
        out += o.key_sep;
        json_dump(e->second, o, indent, level + 1, out);
      }
      if (indent) {
        out += '\n';
        for (int k = 0; k < level; ++k) out += *indent;
      }
      out += '}';
      return;
    }
    default:
      raise("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

std::string to_json(const Value& v, const JsonOptions& opts) {
  JsonOptions o = opts;
  std::string indent_str;
  const std::string* indent = nullptr;
  if (!o.indent.is_undefined() && !o.indent.is_none()) {
    if (o.indent.is_string()) {
      indent_str = o.indent.as_string();
    } else if (o.indent.is_int() || o.indent.is_bool()) {
      const int64_t n = o.indent.as_int();
      if (n > 1000) raise("tojson: indent too large");
      indent_str.assign(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    } else {
      raise("tojson: indent must be an int or a string, not " + o.indent.type_name());
    }
    indent = &indent_str;
    if (!o.custom_separators) o.item_sep = ",";
  }
  std::string out;
  json_dump(v, o, indent, 0, out);
  return out;
}

}  // namespace minnow::jinja
