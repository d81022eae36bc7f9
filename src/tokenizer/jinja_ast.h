// Internal to the Jinja interpreter (see jinja.h): tokens, the syntax tree, the error type that
// carries a template line, and the Python-semantics helpers the lexer, parser, evaluator and
// built-ins share. Nothing outside src/tokenizer/jinja*.cpp should include this.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/jinja.h"

namespace minnow::jinja {

// ---- errors ---------------------------------------------------------------------------------------

// What jinja2 would raise. `line` is 0 until the innermost statement or expression that knows its
// template line fills it in; Template turns it into minnow::Error("template line N: msg").
struct TemplateError : std::exception {
  std::string msg;
  int line = 0;
  explicit TemplateError(std::string m, int l = 0) : msg(std::move(m)), line(l) {}
  const char* what() const noexcept override { return msg.c_str(); }
};
[[noreturn]] void raise(std::string msg, int line = 0);
// Using an Undefined further than printing/testing it: raises jinja2's UndefinedError message.
[[noreturn]] void raise_undefined(const Value& undefined);

// ---- Python helpers (jinja.cpp) ---------------------------------------------------------------

std::string py_float_repr(double d);          // repr(float): 0.1, 1e+16, 1.0, inf, nan
std::string py_str_repr(std::string_view s);  // repr(str) with Python's quote choice and escapes
bool py_isspace(uint32_t cp);                 // str.isspace() for one code point
// UTF-8: decode one code point at s[i] (advancing i); invalid bytes decode as themselves (U+0080..FF).
uint32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, uint32_t cp);
std::vector<uint32_t> utf8_decode(std::string_view s);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

// Python truth of a comparison a < b (raises TypeError like Python for unorderable types).
bool py_less(const Value& a, const Value& b);

// ---- tokens ---------------------------------------------------------------------------------------

enum class Tok : uint8_t {
  Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof
};

struct Token {
  Tok type = Tok::Eof;
  std::string value;  // Data text, name, decoded string literal, operator text
  int line = 1;
  int64_t ival = 0;
  double fval = 0;
};

// Tokenizes with trim_blocks and lstrip_blocks semantics, comments dropped, {% raw %} as data.
std::vector<Token> lex(std::string_view source);

// ---- syntax tree ----------------------------------------------------------------------------------

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
  Const, Name, GetAttr, GetItem, Slice, Call, Filter, Test, Not, Neg, Pos, Binary, And, Or,
  Compare, Concat, CondExpr, List, Tuple, Dict
};
enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Expr {
  ExprKind kind = ExprKind::Const;
  int line = 0;
  Value value;        // Const
  std::string name;   // Name; GetAttr attribute; Filter/Test name
  BinOp op = BinOp::Add;
  ExprPtr a, b, c;    // GetAttr/GetItem: a[b]; Slice: a:b:c; Binary/And/Or: a op b; CondExpr: b if a else c;
                      // Not/Neg/Pos: a; Call: a(...); Filter/Test: a|name(...) (a null in a filter block)
  std::vector<ExprPtr> args;  // call arguments; List/Tuple items; Dict key,value,key,value...;
                              // Compare operands; Concat parts
  std::vector<CmpOp> cmp_ops;  // Compare: args[0] op[0] args[1] op[1] args[2] ...
  uint32_t depth = 1;          // height of this subtree (bounded by the parser)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;  // *args, **kwargs
};

// Assignment target: a name, `ns.attr`, or a tuple of targets.
struct Target {
  enum class Kind : uint8_t { Name, Attr, Tuple } kind = Kind::Name;
  std::string name;  // Name; Attr: the namespace variable
  std::string attr;  // Attr
  std::vector<Target> items;
};

enum class StmtKind : uint8_t {
  Data, Print, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Break, Continue
};

struct Stmt {
  StmtKind kind = StmtKind::Data;
  int line = 0;
  std::string text;  // Data
  ExprPtr expr;      // Print; For iterable; Set value; CallBlock call; FilterBlock/SetBlock filter chain
  ExprPtr cond;      // For `if` filter
  Target target;     // For, Set, SetBlock
  std::vector<std::pair<ExprPtr, Body>> branches;  // If / elif
  Body body, else_body;
  bool recursive = false;  // For
  // Macro / CallBlock signature
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // defaults for the last defaults.size() params
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
  std::vector<std::pair<Target, ExprPtr>> assigns;  // With
  // Names that start Undefined in the scope this statement opens (each loop iteration, macro
  // call, ...), and in a For's else block: jinja2 resolves names statically, so a name assigned
  // in a scope shadows outer and context values from the scope's start (see analyze_scopes).
  std::vector<std::string> undefined_init, else_undefined_init;
};

struct TemplateImpl {
  Body body;
  std::vector<std::string> undefined_init;  // the template's top-level scope
};

// Parses the token stream (checks filter and test names as jinja2 does at compile time).
std::shared_ptr<TemplateImpl> parse(std::vector<Token> tokens);

// ---- built-ins (jinja_builtins.cpp) -----------------------------------------------------------------

bool is_filter_name(std::string_view name);
bool is_test_name(std::string_view name);
Value apply_filter(std::string_view name, const Value& target, Args& args);
bool apply_test(std::string_view name, const Value& target, Args& args);
// environment.getattr / getitem of jinja2's sandbox (methods of str/dict/list come back bound).
Value get_attr(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
Value call_value(const Value& callee, Args& args);
// iter(v) materialized: list/tuple items, dict keys, string characters, Undefined -> empty.
std::vector<Value> iterate(const Value& v);
// Python `needle in haystack`.
bool contains(const Value& haystack, const Value& needle);
// Python binary arithmetic (+ - * / // % **).
Value binary_op(BinOp op, const Value& a, const Value& b);
// The globals every template sees: range, dict, namespace, joiner. Namespaces created go into
// `namespaces`, so that the render can empty them at the end (a namespace can contain itself).
void add_builtin_globals(std::map<std::string, Value>& globals,
                         const std::shared_ptr<std::vector<std::weak_ptr<DictObj>>>& namespaces);

// Guard against hostile templates: strings and lists larger than this fail instead of exhausting memory.
constexpr size_t kMaxValueBytes = size_t{256} << 20;

}  // namespace minnow::jinja
