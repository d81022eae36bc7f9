// Jinja evaluator: runs the tree with jinja2's scoping rules.
// - `if` shares its enclosing scope; each `for` iteration, macro call, caller() call, `with`,
//   `{% filter %}` and block `{% set %}` body gets a fresh child scope, so `set` inside them does not
//   leak out (a namespace carries values out). Each loop iteration starts from the enclosing values.
// - Macros see the scope they were defined in (lexical), as it is when they are called.
// - Names a scope assigns but jinja2 would treat as unassigned locals at the scope's start begin
//   Undefined (computed by the parser's scope analysis), which makes run-time lookup through the
//   scope chain agree with jinja2's static name resolution.
// - Limits: 200 nested macro calls, 10 million statements + loop iterations, 256 MiB of output.
#include <algorithm>

#include "common/error.h"
#include "tokenizer/jinja_ast.h"

namespace minnow::jinja {
namespace {

constexpr int kMaxCallDepth = 200;          // Python's recursion limit would stop jinja2 near here too
constexpr uint64_t kMaxSteps = 10'000'000;  // statements + loop iterations per render

struct Scope;
using ScopePtr = std::shared_ptr<Scope>;

struct Scope {
  ScopePtr parent;
  std::map<std::string, Value> vars;

  explicit Scope(ScopePtr p = nullptr) : parent(std::move(p)) {}

  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};

enum class Flow { Normal, Break, Continue };

class Interp {
 public:
  explicit Interp(std::shared_ptr<const TemplateImpl> t) : tmpl_(std::move(t)) {}

  void render(const ScopePtr& root, std::string& out) {
    for (const auto& n : tmpl_->undefined_init) root->vars[n] = Value::undefined("'" + n + "' is undefined");
    exec_body(tmpl_->body, root, out);
  }

 private:
  std::shared_ptr<const TemplateImpl> tmpl_;
  // Scopes that closures (macros, caller, recursive loops) refer to weakly; kept alive for the
  // whole render so a closure never outlives its scope and no shared_ptr cycle leaks.
  std::vector<ScopePtr> keep_alive_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;

  void step() {
    if (++steps_ > kMaxSteps) raise("template too expensive: more than 10 million steps");
  }

  // Names jinja2 treats as unassigned locals of a new scope (see analyze_scopes in the parser).
  static ScopePtr new_scope(const ScopePtr& parent, const std::vector<std::string>& undefined_init) {
    auto s = std::make_shared<Scope>(parent);
    for (const auto& n : undefined_init) s->vars[n] = Value::undefined("'" + n + "' is undefined");
    return s;
  }

  static void append(std::string& out, std::string_view s) {
    if (out.size() + s.size() > kMaxValueBytes) raise("template output too large");
    out.append(s);
  }

  // ---- statements ------------------------------------------------------------------------------

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& s : body) {
      const Flow f = exec(*s, scope, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    try {
      return exec_inner(s, scope, out);
    } catch (TemplateError& e) {
      if (!e.line) e.line = s.line;
      throw;
    }
  }

  Flow exec_inner(const Stmt& s, const ScopePtr& scope, std::string& out) {
    step();
    switch (s.kind) {
      case StmtKind::Data:
        append(out, s.text);
        return Flow::Normal;
      case StmtKind::Print:
        append(out, eval(*s.expr, scope).str());
        return Flow::Normal;
      case StmtKind::If:
        for (const auto& [test, body] : s.branches)
          if (eval(*test, scope).truthy()) return exec_body(body, scope, out);
        return exec_body(s.else_body, scope, out);
      case StmtKind::For:
        run_for(s, eval(*s.expr, scope), scope, 0, out);
        return Flow::Normal;
      case StmtKind::Set:
        assign(s.target, eval(*s.expr, scope), *scope);
        return Flow::Normal;
      case StmtKind::SetBlock: {
        std::string text;
        exec_body(s.body, new_scope(scope, s.undefined_init), text);
        Value v(std::move(text));
        if (s.expr) v = apply_filter_chain(*s.expr, std::move(v), scope);
        assign(s.target, std::move(v), *scope);
        return Flow::Normal;
      }
      case StmtKind::Macro:
        scope->vars[s.name] = make_macro(s, scope);
        return Flow::Normal;
      case StmtKind::CallBlock: {
        const Expr& call = *s.expr;
        Value callee = eval(*call.a, scope);
        Args args = eval_args(call, scope);
        args.keyword.emplace_back("caller", make_caller(s, scope));
        append(out, invoke(callee, args).str());
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        std::string text;
        exec_body(s.body, new_scope(scope, s.undefined_init), text);
        append(out, apply_filter_chain(*s.expr, Value(std::move(text)), scope).str());
        return Flow::Normal;
      }
      case StmtKind::With: {
        auto inner = new_scope(scope, s.undefined_init);
        for (const auto& [target, value] : s.assigns) assign(target, eval(*value, scope), *inner);
        return exec_body(s.body, inner, out);
      }
      case StmtKind::Break:
        return Flow::Break;
      case StmtKind::Continue:
        return Flow::Continue;
    }
    return Flow::Normal;
  }

  // Applies `|f1(...)|f2` where the innermost filter's target is null: it gets `v`.
  Value apply_filter_chain(const Expr& f, Value v, const ScopePtr& scope) {
    Value target = f.a ? apply_filter_chain(*f.a, std::move(v), scope) : std::move(v);
    Args args = eval_args(f, scope);
    return apply_filter(f.name, target, args);
  }

  void assign(const Target& t, Value v, Scope& scope) {
    switch (t.kind) {
      case Target::Kind::Name:
        scope.vars[t.name] = std::move(v);
        return;
      case Target::Kind::Attr: {
        const Value* ns = scope.find(t.name);
        if (!ns || !ns->is_namespace()) raise("can't set attribute '" + t.attr + "' of '" + t.name + "': not a namespace");
        ns->dict_obj().set(Value(t.attr), std::move(v));
        return;
      }
      case Target::Kind::Tuple: {
        std::vector<Value> items = iterate(v);
        if (items.size() < t.items.size())
          raise("not enough values to unpack (expected " + std::to_string(t.items.size()) + ", got " +
                std::to_string(items.size()) + ")");
        if (items.size() > t.items.size())
          raise("too many values to unpack (expected " + std::to_string(t.items.size()) + ")");
        for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], std::move(items[i]), scope);
        return;
      }
    }
  }

  void run_for(const Stmt& s, const Value& iterable, const ScopePtr& scope, int depth, std::string& out) {
    std::vector<Value> items = iterate(iterable);
    if (s.cond) {
      std::vector<Value> kept;
      for (auto& item : items) {
        step();
        auto probe = std::make_shared<Scope>(scope);
        assign(s.target, item, *probe);
        if (eval(*s.cond, probe).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, new_scope(scope, s.else_undefined_init), out);
      return;
    }
    NativeFn recurse;
    if (s.recursive) {
      keep_alive_.push_back(scope);
      std::weak_ptr<Scope> weak = scope;
      const Stmt* stmt = &s;
      recurse = [this, stmt, weak, depth](Args& a) -> Value {
        if (a.positional.size() != 1 || !a.keyword.empty()) raise("loop() takes exactly one argument");
        std::string text;
        run_for(*stmt, a.positional[0], weak.lock(), depth + 1, text);
        return Value(std::move(text));
      };
    } else {
      recurse = [](Args&) -> Value {
        raise("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
      };
    }
    // One `loop` object per loop (like jinja2's LoopContext), advanced in place.
    auto st = std::make_shared<LoopState>();
    st->items = std::move(items);
    st->depth = depth;
    Value loop = Value::function("loop", std::move(recurse));
    uint32_t d = 0;
    for (const auto& x : st->items) d = std::max(d, x.depth());
    if (d + 1 > Value::kMaxDepth) raise("value nested too deeply");
    loop.func().depth = d + 1;
    loop.func().attr = [st](std::string_view name) { return loop_attr(st, name); };
    const size_t n = st->items.size();
    for (size_t i = 0; i < n; ++i) {
      step();
      st->index = static_cast<int64_t>(i);
      auto iter_scope = new_scope(scope, s.undefined_init);
      iter_scope->vars["loop"] = loop;
      assign(s.target, st->items[i], *iter_scope);
      const Flow f = exec_body(s.body, iter_scope, out);
      if (f == Flow::Break) break;
    }
  }

  struct LoopState {
    std::vector<Value> items;
    int64_t index = 0;
    int depth = 0;
    std::vector<Value> changed_last;
    bool changed_first = true;
  };

  static std::optional<Value> loop_attr(const std::shared_ptr<LoopState>& st, std::string_view name) {
    const int64_t i = st->index, n = static_cast<int64_t>(st->items.size());
    if (name == "index") return Value(i + 1);
    if (name == "index0") return Value(i);
    if (name == "revindex") return Value(n - i);
    if (name == "revindex0") return Value(n - i - 1);
    if (name == "first") return Value(i == 0);
    if (name == "last") return Value(i == n - 1);
    if (name == "length") return Value(n);
    if (name == "depth") return Value(int64_t{st->depth} + 1);
    if (name == "depth0") return Value(int64_t{st->depth});
    if (name == "previtem")
      return i > 0 ? st->items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item");
    if (name == "nextitem")
      return i + 1 < n ? st->items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item");
    if (name == "cycle") {
      return Value::function("cycle", [st](Args& a) -> Value {
        if (a.positional.empty()) raise("no items for cycling given");
        return a.positional[static_cast<size_t>(st->index) % a.positional.size()];
      });
    }
    if (name == "changed") {
      return Value::function("changed", [st](Args& a) -> Value {
        if (st->changed_first || !Value::tuple(a.positional).equals(Value::tuple(st->changed_last))) {
          st->changed_first = false;
          st->changed_last = a.positional;
          return Value(true);
        }
        return Value(false);
      });
    }
    return std::nullopt;
  }

  // ---- macros and caller -------------------------------------------------------------------------

  Value make_macro(const Stmt& m, const ScopePtr& scope) {
    keep_alive_.push_back(scope);
    std::weak_ptr<Scope> weak = scope;
    const Stmt* stmt = &m;
    return Value::function(m.name, [this, stmt, weak](Args& a) -> Value {
      return call_macro(*stmt, weak.lock(), a, true);
    });
  }

  Value make_caller(const Stmt& c, const ScopePtr& scope) {
    keep_alive_.push_back(scope);
    std::weak_ptr<Scope> weak = scope;
    const Stmt* stmt = &c;
    return Value::function("caller", [this, stmt, weak](Args& a) -> Value {
      return call_macro(*stmt, weak.lock(), a, false);
    });
  }

  Value call_macro(const Stmt& m, const ScopePtr& def_scope, Args& a, bool is_macro) {
    if (!def_scope) raise("macro called after its scope ended");
    const std::string name = is_macro ? m.name : std::string("caller");
    if (++call_depth_ > kMaxCallDepth) {
      --call_depth_;
      raise("maximum recursion depth exceeded in macro '" + name + "'");
    }
    struct Depth {
      int& d;
      ~Depth() { --d; }
    } depth_guard{call_depth_};

    auto sc = new_scope(def_scope, m.undefined_init);
    const size_t np = m.params.size();
    std::vector<bool> given(np, false);
    std::vector<Value> extra;
    for (size_t i = 0; i < a.positional.size(); ++i) {
      if (i < np) {
        sc->vars[m.params[i]] = a.positional[i];
        given[i] = true;
      } else {
        extra.push_back(a.positional[i]);
      }
    }
    if (!extra.empty() && !m.uses_varargs)
      raise("macro '" + name + "' takes not more than " + std::to_string(np) + " argument(s)");
    auto kwargs = std::make_shared<DictObj>();
    Value caller = Value::undefined("No caller defined");
    for (auto& [k, v] : a.keyword) {
      auto it = std::find(m.params.begin(), m.params.end(), k);
      if (it != m.params.end()) {
        const size_t idx = static_cast<size_t>(it - m.params.begin());
        if (given[idx]) raise("macro '" + name + "' got multiple values for argument '" + k + "'");
        sc->vars[k] = v;
        given[idx] = true;
      } else if (k == "caller" && is_macro && m.uses_caller) {
        caller = v;
      } else if (m.uses_kwargs) {
        kwargs->set(Value(k), v);
      } else {
        raise("macro '" + name + "' takes no keyword argument '" + k + "'");
      }
    }
    const size_t first_default = np - m.defaults.size();
    for (size_t i = 0; i < np; ++i) {
      if (given[i]) continue;
      if (i >= first_default) sc->vars[m.params[i]] = eval(*m.defaults[i - first_default], sc);
      else sc->vars[m.params[i]] = Value::undefined("parameter '" + m.params[i] + "' was not provided");
    }
    if (m.uses_varargs) sc->vars["varargs"] = Value::tuple(std::move(extra));
    if (m.uses_kwargs) sc->vars["kwargs"] = Value::dict(kwargs);
    if (is_macro && m.uses_caller) sc->vars["caller"] = caller;
    std::string out;
    exec_body(m.body, sc, out);
    return Value(std::move(out));
  }

  // ---- expressions -------------------------------------------------------------------------------

  Value invoke(const Value& callee, Args& args) {
    if (callee.is_undefined()) raise_undefined(callee);
    try {
      return call_value(callee, args);
    } catch (const minnow::Error& e) {
      raise(e.what());
    }
  }

  Args eval_args(const Expr& e, const ScopePtr& scope) {
    Args args;
    for (const auto& x : e.args) args.positional.push_back(eval(*x, scope));
    for (const auto& [k, x] : e.kwargs) args.keyword.emplace_back(k, eval(*x, scope));
    if (e.dyn_args)
      for (auto& v : iterate(eval(*e.dyn_args, scope))) args.positional.push_back(std::move(v));
    if (e.dyn_kwargs) {
      const Value d = eval(*e.dyn_kwargs, scope);
      if (!d.is_dict()) raise("argument after ** must be a mapping, not " + d.type_name());
      for (const auto& [k, v] : d.dict_obj().entries) {
        if (!k.is_string()) raise("keywords must be strings");
        args.keyword.emplace_back(k.as_string(), v);
      }
    }
    return args;
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    try {
      return eval_inner(e, scope);
    } catch (TemplateError& err) {
      if (!err.line) err.line = e.line;
      throw;
    }
  }

  Value eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case ExprKind::Const:
        return e.value;
      case ExprKind::Name: {
        if (const Value* v = scope->find(e.name)) return *v;
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case ExprKind::GetAttr: {
        const Value obj = eval(*e.a, scope);
        if (obj.is_undefined()) raise_undefined(obj);
        return get_attr(obj, e.name);
      }
      case ExprKind::GetItem: {
        const Value obj = eval(*e.a, scope);
        if (obj.is_undefined()) raise_undefined(obj);
        if (e.b->kind == ExprKind::Slice) {
          const Expr& sl = *e.b;
          const Value start = sl.a ? eval(*sl.a, scope) : Value::none();
          const Value stop = sl.b ? eval(*sl.b, scope) : Value::none();
          const Value stride = sl.c ? eval(*sl.c, scope) : Value::none();
          return slice_value(obj, start, stop, stride);
        }
        return get_item(obj, eval(*e.b, scope));
      }
      case ExprKind::Slice:
        raise("slice outside of a subscript");
      case ExprKind::Call: {
        const Value callee = eval(*e.a, scope);
        Args args = eval_args(e, scope);
        return invoke(callee, args);
      }
      case ExprKind::Filter: {
        const Value target = eval(*e.a, scope);
        Args args = eval_args(e, scope);
        return apply_filter(e.name, target, args);
      }
      case ExprKind::Test: {
        const Value target = eval(*e.a, scope);
        Args args = eval_args(e, scope);
        return Value(apply_test(e.name, target, args));
      }
      case ExprKind::Not:
        return Value(!eval(*e.a, scope).truthy());
      case ExprKind::Neg:
      case ExprKind::Pos: {
        const Value v = eval(*e.a, scope);
        if (v.is_undefined()) raise_undefined(v);
        const bool neg = e.kind == ExprKind::Neg;
        if (v.is_float()) return Value(neg ? -v.as_float() : v.as_float());
        if (v.is_int() || v.is_bool()) {
          const int64_t x = v.as_int();
          if (neg && x == INT64_MIN) raise("integer overflow");
          return Value(neg ? -x : x);
        }
        raise(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + v.type_name() + "'");
      }
      case ExprKind::Binary: {
        const Value l = eval(*e.a, scope);
        const Value r = eval(*e.b, scope);
        return binary_op(e.op, l, r);
      }
      case ExprKind::And: {
        Value l = eval(*e.a, scope);
        if (!l.truthy()) return l;
        return eval(*e.b, scope);
      }
      case ExprKind::Or: {
        Value l = eval(*e.a, scope);
        if (l.truthy()) return l;
        return eval(*e.b, scope);
      }
      case ExprKind::Compare: {
        Value left = eval(*e.args[0], scope);
        for (size_t k = 0; k < e.cmp_ops.size(); ++k) {
          Value right = eval(*e.args[k + 1], scope);
          bool ok = false;
          switch (e.cmp_ops[k]) {
            case CmpOp::Eq: ok = left.equals(right); break;
            case CmpOp::Ne: ok = !left.equals(right); break;
            case CmpOp::Lt: ok = py_less(left, right); break;
            case CmpOp::Gt: ok = py_less(right, left); break;
            case CmpOp::Le: ok = left.equals(right) || py_less(left, right); break;
            case CmpOp::Ge: ok = left.equals(right) || py_less(right, left); break;
            case CmpOp::In: ok = contains(right, left); break;
            case CmpOp::NotIn: ok = !contains(right, left); break;
          }
          if (!ok) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case ExprKind::Concat: {
        std::string s;
        for (const auto& x : e.args) {
          const std::string part = eval(*x, scope).str();
          if (s.size() + part.size() > kMaxValueBytes) raise("string too large");
          s += part;
        }
        return Value(std::move(s));
      }
      case ExprKind::CondExpr: {
        if (eval(*e.a, scope).truthy()) return eval(*e.b, scope);
        if (e.c) return eval(*e.c, scope);
        return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                " evaluated to false and no else section was defined.");
      }
      case ExprKind::List:
      case ExprKind::Tuple: {
        std::vector<Value> items;
        items.reserve(e.args.size());
        for (const auto& x : e.args) items.push_back(eval(*x, scope));
        return e.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case ExprKind::Dict: {
        auto d = std::make_shared<DictObj>();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k], scope);
          if (key.is_list() && !key.is_tuple()) raise("unhashable type: 'list'");
          if (key.is_dict()) raise("unhashable type: 'dict'");
          d->set(key, eval(*e.args[k + 1], scope));
        }
        return Value::dict(std::move(d));
      }
    }
    raise("internal error: unknown expression");
  }
};

}  // namespace

Template::Template(std::string_view source) {
  try {
    impl_ = parse(lex(source));
  } catch (const TemplateError& e) {
    fail("template line ", e.line, ": ", e.msg);
  }
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const std::map<std::string, Value>& vars) const {
  auto namespaces = std::make_shared<std::vector<std::weak_ptr<DictObj>>>();
  // Empties the namespaces when the render ends: a namespace holding itself would otherwise leak.
  struct BreakCycles {
    std::shared_ptr<std::vector<std::weak_ptr<DictObj>>> list;
    ~BreakCycles() {
      for (auto& w : *list)
        if (auto d = w.lock()) d->clear();
    }
  } break_cycles{namespaces};
  auto globals = std::make_shared<Scope>();
  add_builtin_globals(globals->vars, namespaces);
  for (const auto& [k, v] : vars) globals->vars[k] = v;
  auto root = std::make_shared<Scope>(globals);
  std::string out;
  Interp interp(impl_);
  try {
    interp.render(root, out);
  } catch (const TemplateError& e) {
    fail("template line ", e.line, ": ", e.msg);
  }
  return out;
}

}  // namespace minnow::jinja
