// A Jinja2 template interpreter of our own, big enough for the chat templates models ship in
// `tokenizer.chat_template`. It renders byte for byte what Python's jinja2 renders the Hugging Face
// way: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
// no autoescape, Python semantics for values (str(), truthiness, ==, arithmetic), jinja2's default
// Undefined (prints empty, is falsy, fails when used further).
//
// Files: jinja.h (this: values and the Template API), jinja_ast.h (internal: tokens, AST, helpers),
// jinja.cpp (values: Python str/repr/==/json), jinja_lexer.cpp, jinja_parser.cpp, jinja_eval.cpp
// (statements and expressions), jinja_builtins.cpp (filters, tests, methods, globals).
//
// Errors are minnow::Error with one line naming the template line: "template line 12: unknown filter 'foo'".
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace minnow::jinja {

class Value;
struct ListObj;
struct DictObj;
struct FuncObj;

// Arguments of a call: f(a, b, key=c).
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
// A function callable from a template. Throw minnow::Error to fail; the message gets the template line.
using NativeFn = std::function<Value(Args&)>;

// A template value: Python's None/bool/int/float/str/list/tuple/dict, jinja2's Undefined and
// namespace(), and callables. Lists, tuples and dicts are shared and never modified after they are
// built (the sandbox is immutable); a namespace is shared and its attributes can be set.
class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

  Value() = default;  // Undefined
  Value(std::nullptr_t) : kind_(Kind::None) {}
  Value(bool b) : kind_(Kind::Bool), v_(b) {}
  Value(int i) : kind_(Kind::Int), v_(int64_t{i}) {}
  Value(int64_t i) : kind_(Kind::Int), v_(i) {}
  Value(double f) : kind_(Kind::Float), v_(f) {}
  Value(std::string s) : kind_(Kind::String), v_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::String), v_(std::string(s)) {}
  Value(const char* s) : kind_(Kind::String), v_(std::string(s)) {}

  // An Undefined whose misuse fails with `message` ("'x' is undefined").
  static Value undefined(std::string message);
  static Value none() { return Value(nullptr); }
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value generator(std::vector<Value> items);
  static Value dict(std::shared_ptr<DictObj> d);
  static Value new_dict();
  static Value new_namespace();
  static Value function(std::string name, NativeFn fn);
  // A markupsafe.Markup string (what |safe and |escape return): + and % escape the plain operand.
  static Value markup(std::string s);
  // JSON object key order is kept (use nlohmann::ordered_json to keep the order of the input).
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return markup_; }
  bool is_list() const { return kind_ == Kind::List; }  // list or tuple
  bool is_tuple() const;
  bool is_generator() const;
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return kind_ == Kind::Bool ? int64_t{std::get<bool>(v_)} : std::get<int64_t>(v_); }
  double as_float() const;  // int, bool or float
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const std::string& undefined_message() const;
  const std::vector<Value>& items() const;  // list or tuple
  DictObj& dict_obj() const;                 // dict or namespace
  const std::shared_ptr<DictObj>& dict_ptr() const { return std::get<std::shared_ptr<DictObj>>(v_); }
  const std::shared_ptr<ListObj>& list_ptr() const { return std::get<std::shared_ptr<ListObj>>(v_); }
  FuncObj& func() const;

  // Containers nest at most this deep (deeper fails), so printing, comparing and freeing them
  // never recurses far.
  static constexpr uint32_t kMaxDepth = 256;
  uint32_t depth() const;  // 0 for scalars

  bool truthy() const;          // Python bool()
  std::string str() const;      // Python str(); Undefined prints as ""
  std::string repr() const;     // Python repr()
  std::string type_name() const;  // Python type name: 'str', 'NoneType', 'dict', ...
  // Python == (1 == 1.0 == True; list != tuple; Undefined == Undefined).
  bool equals(const Value& other) const;
  // True when the two values are the same object (Python `is`).
  bool same_as(const Value& other) const;

 private:
  Kind kind_ = Kind::Undefined;
  bool markup_ = false;
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<ListObj>,
               std::shared_ptr<DictObj>, std::shared_ptr<FuncObj>>
      v_;
};

struct ListObj {
  std::vector<Value> items;
  bool tuple = false;
  // The result of a filter that returns a Python generator (map, select, selectattr, items, ...):
  // always truthy, has no len(), can't be indexed, isn't JSON serializable (as in jinja2).
  bool generator = false;
  uint32_t depth = 1;  // nesting depth (1 + deepest item), bounded so that nothing recurses too deep
};

// Insertion-ordered dict (also the attribute store of a namespace).
struct DictObj {
  std::vector<std::pair<Value, Value>> entries;

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
  size_t size() const { return entries.size(); }
  uint32_t depth = 1;  // nesting depth, as ListObj's (never decreases)
  void clear() {
    entries.clear();
    str_index_.clear();
  }

 private:
  std::map<std::string, size_t, std::less<>> str_index_;  // string keys -> position in entries
};

struct FuncObj {
  std::string name;
  NativeFn fn;
  // Attribute lookup (the `loop` object's index, first, ...); may be empty. nullopt: no such attribute.
  std::function<std::optional<Value>(std::string_view)> attr;
  uint32_t depth = 0;  // nesting depth of the values the function holds on to (see Value::kMaxDepth)
};

// json.dumps(v, ensure_ascii=..., indent=..., separators=..., sort_keys=...) as Python writes it.
// indent: none, an int (spaces) or a string. Throws minnow::Error for values JSON can't hold.
struct JsonOptions {
  bool ensure_ascii = false;
  Value indent;  // Undefined/None: single line
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool custom_separators = false;
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& opts = {});

struct TemplateImpl;

class Template {
 public:
  // Lexes and parses; throws minnow::Error "template line N: ..." on a syntax error, an unknown
  // filter or test, or a tag this interpreter does not support.
  explicit Template(std::string_view source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with these variables (they shadow the built-in globals range/dict/namespace/...).
  // Throws minnow::Error "template line N: ..." for what jinja2 would raise at render time.
  std::string render(const std::map<std::string, Value>& vars) const;

 private:
  std::shared_ptr<const TemplateImpl> impl_;
};

}  // namespace minnow::jinja
