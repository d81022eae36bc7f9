// Jinja parser: a recursive-descent port of jinja2's Parser (same precedence, same tuple rules),
// producing the tree in jinja_ast.h. Unknown filters and tests fail here, as jinja2 fails at
// compile time, even on a path that never runs.
#include <functional>
#include <map>
#include <set>

#include "tokenizer/jinja_ast.h"

namespace minnow::jinja {
namespace {

constexpr int kMaxNesting = 200;       // parser recursion (brackets, blocks); deeper fails instead of overflowing the stack
constexpr uint32_t kMaxExprDepth = 256;  // height of an expression tree (`a + b + c ...` chains too)

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  Body parse_template() {
    Body body = subparse({});
    return body;
  }

 private:
  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::vector<std::string>> end_stack_;
  std::vector<std::string> tag_stack_;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.fail("template nesting too deep");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& peek() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  Token next() {
    Token t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().value == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().value == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const std::string& msg, int line = 0) const { raise(msg, line ? line : cur().line); }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Name: case Tok::Op: return t.value;
      case Tok::String: return "string";
      case Tok::Int: return "integer";
      case Tok::Float: return "float";
      case Tok::Data: return "template data / text";
      case Tok::VarBegin: return "begin of print statement";
      case Tok::VarEnd: return "end of print statement";
      case Tok::BlockBegin: return "begin of statement block";
      case Tok::BlockEnd: return "end of statement block";
      case Tok::Eof: return "end of template";
    }
    return "?";
  }

  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
    next();
  }
  void expect(Tok type, const char* what) {
    if (cur().type != type) fail(std::string("expected token '") + what + "', got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
    return next().value;
  }

  [[noreturn]] void fail_eof_or_unknown(const std::string* tag, int line) const {
    std::string msg = tag ? "Encountered unknown tag '" + *tag + "'." : std::string("Unexpected end of template.");
    if (!end_stack_.empty()) {
      std::string looking;
      for (const auto& n : end_stack_.back()) looking += (looking.empty() ? "'" : " or '") + n + "'";
      msg += " Jinja was looking for the following tags: " + looking + ".";
    }
    if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    fail(msg, line);
  }

  // ---- statements --------------------------------------------------------------------------------

  static StmtPtr make_stmt(StmtKind k, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  Body subparse(const std::vector<std::string>& end_tokens) {
    Body body;
    if (!end_tokens.empty()) end_stack_.push_back(end_tokens);
    for (;;) {
      const Token& t = cur();
      if (t.type == Tok::Eof) break;
      if (t.type == Tok::Data) {
        auto s = make_stmt(StmtKind::Data, t.line);
        s->text = t.value;
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = make_stmt(StmtKind::Print, cur().line);
        s->expr = parse_tuple(true, {}, false);
        expect(Tok::VarEnd, "end of print statement");
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        next();
        if (!end_tokens.empty() && cur().type == Tok::Name) {
          for (const auto& e : end_tokens) {
            if (cur().value == e) {
              end_stack_.pop_back();
              return body;
            }
          }
        }
        body.push_back(parse_statement());
        expect(Tok::BlockEnd, "end of statement block");
      } else {
        fail("internal parser error: unexpected token '" + describe(t) + "'");
      }
    }
    if (!end_tokens.empty()) end_stack_.pop_back();
    return body;
  }

  // Expects the end of the opening tag, parses the body up to one of end_tokens (left current),
  // fails at the end of the template. drop_needle consumes the end tag's name.
  Body parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle) {
    skip_op(":");
    expect(Tok::BlockEnd, "end of statement block");
    Body body = subparse(end_tokens);
    if (cur().type == Tok::Eof) {
      end_stack_.push_back(end_tokens);
      fail_eof_or_unknown(nullptr, cur().line);
    }
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
    DepthGuard g(*this);
    const Token& t = cur();
    if (t.type != Tok::Name) fail("tag name expected");
    const std::string name = t.value;
    tag_stack_.push_back(name);
    StmtPtr s;
    if (name == "for") s = parse_for();
    else if (name == "if") s = parse_if();
    else if (name == "set") s = parse_set();
    else if (name == "macro") s = parse_macro();
    else if (name == "call") s = parse_call_block();
    else if (name == "filter") s = parse_filter_block();
    else if (name == "with") s = parse_with();
    else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail("'" + name + "' outside loop");
      s = make_stmt(name == "break" ? StmtKind::Break : StmtKind::Continue, t.line);
      next();
    } else if (name == "block" || name == "extends" || name == "include" || name == "import" ||
               name == "from" || name == "autoescape" || name == "do" || name == "trans") {
      fail("tag '" + name + "' is not supported");
    } else {
      tag_stack_.pop_back();
      fail_eof_or_unknown(&name, t.line);
    }
    tag_stack_.pop_back();
    return s;
  }

  StmtPtr parse_for() {
    auto s = make_stmt(StmtKind::For, next().line);
    s->target = parse_assign_target(true, false, {"in"});
    if (!skip_name("in")) fail("expected token 'in', got '" + describe(cur()) + "'");
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) s->cond = parse_expression(true);
    s->recursive = skip_name("recursive");
    ++loop_depth_;
    s->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (next().value != "endfor") s->else_body = parse_statements({"endfor"}, true);
    return s;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(StmtKind::If, next().line);
    for (;;) {
      ExprPtr test = parse_tuple(false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->branches.emplace_back(std::move(test), std::move(body));
      const Token t = next();
      if (t.value == "elif") continue;
      if (t.value == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  StmtPtr parse_set() {
    const int line = next().line;
    Target target = parse_assign_target(true, true, {});
    if (skip_op("=")) {
      auto s = make_stmt(StmtKind::Set, line);
      s->target = std::move(target);
      s->expr = parse_tuple(true, {}, false);
      return s;
    }
    auto s = make_stmt(StmtKind::SetBlock, line);
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filter(nullptr, false);
    s->body = parse_statements({"endset"}, true);
    return s;
  }

  void parse_signature(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      s.params.push_back(expect_name());
      if (skip_op("=")) {
        s.defaults.push_back(parse_expression(true));
      } else if (!s.defaults.empty()) {
        fail("non-default argument follows default argument");
      }
    }
    expect_op(")");
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(StmtKind::Macro, next().line);
    s->name = expect_name();
    parse_signature(*s);
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_statements({"endmacro"}, true);
    loop_depth_ = saved_loops;
    scan_special_names(*s);
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = make_stmt(StmtKind::CallBlock, next().line);
    if (is_op("(")) parse_signature(*s);
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::Call) fail("expected call", s->line);
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_statements({"endcall"}, true);
    loop_depth_ = saved_loops;
    scan_special_names(*s);
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make_stmt(StmtKind::FilterBlock, next().line);
    s->expr = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = make_stmt(StmtKind::With, next().line);
    while (cur().type != Tok::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target t = parse_assign_target(true, false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  Target parse_assign_target(bool with_tuple, bool with_namespace, const std::vector<std::string>& extra_end) {
    auto one = [&]() {
      Target t;
      if (with_namespace && cur().type == Tok::Name && peek().type == Tok::Op && peek().value == ".") {
        t.kind = Target::Kind::Attr;
        t.name = next().value;
        next();
        t.attr = expect_name();
        return t;
      }
      if (cur().type != Tok::Name) fail("can't assign to '" + describe(cur()) + "'");
      t.name = next().value;
      if (t.name == "true" || t.name == "false" || t.name == "none" || t.name == "True" ||
          t.name == "False" || t.name == "None")
        fail("can't assign to constant '" + t.name + "'");
      return t;
    };
    if (!with_tuple) return one();
    std::vector<Target> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(one());
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (items.empty()) fail("expected an assignment target, got '" + describe(cur()) + "'");
      return std::move(items[0]);
    }
    Target t;
    t.kind = Target::Kind::Tuple;
    t.items = std::move(items);
    return t;
  }

  // Whether a macro / call block body uses caller, varargs or kwargs (jinja2 only passes them then).
  static void scan_special_names(Stmt& m) {
    std::function<void(const Expr*)> ex;
    std::function<void(const Body&)> body;
    ex = [&](const Expr* e) {
      if (!e) return;
      if (e->kind == ExprKind::Name) {
        if (e->name == "caller") m.uses_caller = true;
        if (e->name == "varargs") m.uses_varargs = true;
        if (e->name == "kwargs") m.uses_kwargs = true;
      }
      ex(e->a.get());
      ex(e->b.get());
      ex(e->c.get());
      for (const auto& x : e->args) ex(x.get());
      for (const auto& kv : e->kwargs) ex(kv.second.get());
      ex(e->dyn_args.get());
      ex(e->dyn_kwargs.get());
    };
    body = [&](const Body& b) {
      for (const auto& s : b) {
        ex(s->expr.get());
        ex(s->cond.get());
        for (const auto& br : s->branches) {
          ex(br.first.get());
          body(br.second);
        }
        for (const auto& d : s->defaults) ex(d.get());
        for (const auto& a : s->assigns) ex(a.second.get());
        if (s->kind != StmtKind::Macro) {
          body(s->body);
          body(s->else_body);
        }
      }
    };
    body(m.body);
  }

  // ---- expressions ------------------------------------------------------------------------------

  static ExprPtr make(ExprKind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // Records the height of a finished node; evaluating and freeing the tree recurse that deep.
  ExprPtr done(ExprPtr e) const {
    uint32_t d = 0;
    auto see = [&](const ExprPtr& c) {
      if (c) d = std::max(d, c->depth);
    };
    see(e->a);
    see(e->b);
    see(e->c);
    see(e->dyn_args);
    see(e->dyn_kwargs);
    for (const auto& x : e->args) see(x);
    for (const auto& kv : e->kwargs) see(kv.second);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth) fail("expression nesting too deep", e->line);
    return e;
  }

  bool is_tuple_end(const std::vector<std::string>& extra_end) const {
    const Token& t = cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || (t.type == Tok::Op && t.value == ")")) return true;
    if (t.type == Tok::Name)
      for (const auto& e : extra_end)
        if (t.value == e) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string>& extra_end, bool explicit_parens) {
    DepthGuard g(*this);
    int line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    for (;;) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
      line = cur().line;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = make(ExprKind::Tuple, line);
    e->args = std::move(args);
    return done(std::move(e));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard g(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    int line = cur().line;
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      ExprPtr expr2 = parse_or();
      ExprPtr expr3;
      if (skip_name("else")) expr3 = parse_condexpr();
      auto e = make(ExprKind::CondExpr, line);
      e->a = std::move(expr2);
      e->b = std::move(expr1);
      e->c = std::move(expr3);
      expr1 = done(std::move(e));
      line = cur().line;
    }
    return expr1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      auto e = make(ExprKind::Or, line);
      e->a = std::move(left);
      e->b = parse_and();
      left = done(std::move(e));
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      auto e = make(ExprKind::And, line);
      e->a = std::move(left);
      e->b = parse_not();
      left = done(std::move(e));
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this);
      auto e = make(ExprKind::Not, next().line);
      e->a = parse_not();
      return done(std::move(e));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr expr = parse_math1();
    std::vector<ExprPtr> operands;
    std::vector<CmpOp> ops;
    for (;;) {
      const Token& t = cur();
      CmpOp op;
      if (t.type == Tok::Op && t.value == "==") op = CmpOp::Eq;
      else if (t.type == Tok::Op && t.value == "!=") op = CmpOp::Ne;
      else if (t.type == Tok::Op && t.value == "<") op = CmpOp::Lt;
      else if (t.type == Tok::Op && t.value == "<=") op = CmpOp::Le;
      else if (t.type == Tok::Op && t.value == ">") op = CmpOp::Gt;
      else if (t.type == Tok::Op && t.value == ">=") op = CmpOp::Ge;
      else if (t.type == Tok::Name && t.value == "in") op = CmpOp::In;
      else if (t.type == Tok::Name && t.value == "not" && peek().type == Tok::Name && peek().value == "in") {
        next();
        op = CmpOp::NotIn;
      } else {
        break;
      }
      next();
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return expr;
    auto e = make(ExprKind::Compare, line);
    e->args.push_back(std::move(expr));
    for (auto& o : operands) e->args.push_back(std::move(o));
    e->cmp_ops = std::move(ops);
    return done(std::move(e));
  }

  ExprPtr binary(BinOp op, ExprPtr l, ExprPtr r, int line) {
    auto e = make(ExprKind::Binary, line);
    e->op = op;
    e->a = std::move(l);
    e->b = std::move(r);
    return done(std::move(e));
  }

  ExprPtr parse_math1() {
    int line = cur().line;
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const BinOp op = cur().value == "+" ? BinOp::Add : BinOp::Sub;
      next();
      left = binary(op, std::move(left), parse_concat(), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(ExprKind::Concat, line);
    e->args.push_back(std::move(first));
    while (skip_op("~")) e->args.push_back(parse_math2());
    return done(std::move(e));
  }

  ExprPtr parse_math2() {
    int line = cur().line;
    ExprPtr left = parse_pow();
    for (;;) {
      BinOp op;
      if (is_op("*")) op = BinOp::Mul;
      else if (is_op("/")) op = BinOp::Div;
      else if (is_op("//")) op = BinOp::FloorDiv;
      else if (is_op("%")) op = BinOp::Mod;
      else break;
      next();
      left = binary(op, std::move(left), parse_pow(), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_pow() {
    int line = cur().line;
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) {
      left = binary(BinOp::Pow, std::move(left), parse_unary(true), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this);
    const int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const bool neg = cur().value == "-";
      next();
      node = make(neg ? ExprKind::Neg : ExprKind::Pos, line);
      node->a = parse_unary(false);
      node = done(std::move(node));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    if (t.type == Tok::Name) {
      auto e = make(ExprKind::Const, line);
      if (t.value == "true" || t.value == "True") e->value = Value(true);
      else if (t.value == "false" || t.value == "False") e->value = Value(false);
      else if (t.value == "none" || t.value == "None") e->value = Value::none();
      else {
        e->kind = ExprKind::Name;
        e->name = t.value;
      }
      next();
      return e;
    }
    if (t.type == Tok::String) {
      std::string s;
      while (cur().type == Tok::String) s += next().value;
      auto e = make(ExprKind::Const, line);
      e->value = Value(std::move(s));
      return e;
    }
    if (t.type == Tok::Int || t.type == Tok::Float) {
      auto e = make(ExprKind::Const, line);
      e->value = t.type == Tok::Int ? Value(t.ival) : Value(t.fval);
      next();
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = make(ExprKind::List, line);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return done(std::move(e));
    }
    if (is_op("{")) {
      next();
      auto e = make(ExprKind::Dict, line);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return done(std::move(e));
    }
    fail("unexpected '" + describe(t) + "'");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) node = parse_filter(std::move(node), false);
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token t = next();
    if (t.value == ".") {
      const Token attr = next();
      if (attr.type == Tok::Name) {
        auto e = make(ExprKind::GetAttr, t.line);
        e->a = std::move(node);
        e->name = attr.value;
        return done(std::move(e));
      }
      if (attr.type != Tok::Int) fail("expected name or number", attr.line);
      auto e = make(ExprKind::GetItem, t.line);
      e->a = std::move(node);
      e->b = make(ExprKind::Const, attr.line);
      e->b->value = Value(attr.ival);
      return done(std::move(e));
    }
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    auto e = make(ExprKind::GetItem, t.line);
    e->a = std::move(node);
    if (args.size() == 1) {
      e->b = std::move(args[0]);
    } else {
      e->b = make(ExprKind::Tuple, t.line);
      e->b->args = std::move(args);
      e->b = done(std::move(e->b));
    }
    return done(std::move(e));
  }

  ExprPtr parse_subscribed() {
    const int line = cur().line;
    ExprPtr start;
    if (is_op(":")) {
      next();
    } else {
      ExprPtr node = parse_expression(true);
      if (!is_op(":")) return node;
      next();
      start = std::move(node);
    }
    auto e = make(ExprKind::Slice, line);
    e->a = std::move(start);
    if (!is_op(":") && !is_op("]") && !is_op(",")) e->b = parse_expression(true);
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(",")) e->c = parse_expression(true);
    }
    return done(std::move(e));
  }

  void parse_call_args(Expr& e) {
    const int line = cur().line;
    expect_op("(");
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression", line);
    };
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*")) {
        ensure(!e.dyn_args && !e.dyn_kwargs);
        next();
        e.dyn_args = parse_expression(true);
      } else if (is_op("**")) {
        ensure(!e.dyn_kwargs);
        next();
        e.dyn_kwargs = parse_expression(true);
      } else if (cur().type == Tok::Name && peek().type == Tok::Op && peek().value == "=") {
        ensure(!e.dyn_kwargs);
        std::string key = next().value;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!e.dyn_args && !e.dyn_kwargs && e.kwargs.empty());
        e.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, cur().line);
    e->a = std::move(node);
    parse_call_args(*e);
    return done(std::move(e));
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      const Token t = cur();
      std::string name = expect_name();
      while (skip_op(".")) {
      name += '.';
      name += expect_name();
    }
      if (!is_filter_name(name)) fail("unknown filter '" + name + "'", t.line);
      auto e = make(ExprKind::Filter, t.line);
      e->a = std::move(node);
      e->name = std::move(name);
      if (is_op("(")) parse_call_args(*e);
      node = done(std::move(e));
      start_inline = false;
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    const int line = next().line;  // 'is'
    const bool negated = skip_name("not");
    const Token t = cur();
    std::string name = expect_name();
    while (skip_op(".")) {
      name += '.';
      name += expect_name();
    }
    if (!is_test_name(name)) fail("unknown test '" + name + "'", t.line);
    auto e = make(ExprKind::Test, line);
    e->a = std::move(node);
    e->name = std::move(name);
    const Token& c = cur();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Int || c.type == Tok::Float ||
                is_op("(") || is_op("[") || is_op("{")) &&
               !(c.type == Tok::Name && (c.value == "else" || c.value == "or" || c.value == "and"))) {
      if (c.type == Tok::Name && c.value == "is") fail("You cannot chain multiple tests with is");
      ExprPtr arg = parse_primary();
      arg = parse_postfix(std::move(arg));
      e->args.push_back(std::move(arg));
    }
    e = done(std::move(e));
    if (negated) {
      auto n = make(ExprKind::Not, line);
      n->a = std::move(e);
      return done(std::move(n));
    }
    return e;
  }
};

// ---- scope analysis ------------------------------------------------------------------------------
//
// A port of jinja2's idtracking (Symbols, FrameSymbolVisitor, RootVisitor). jinja2 compiles every
// name to a Python local of some frame (template, loop body, macro, ...) or to a context lookup.
// A name a frame assigns is local to that frame from the frame's start, and it starts as:
//   - the outer frame's value, when an outer frame references the name (alias), else
//   - the context value, when the frame reads the name before assigning it (resolve), else
//   - *undefined* (even when the context has the name).
// Only the last case differs from looking names up through the scope chain at run time, so all
// the evaluator needs is the list of names that start Undefined in each frame.

enum class Load : uint8_t { Param, Resolve, Alias, Undefined };

struct Symbols {
  const Symbols* parent = nullptr;
  std::map<std::string, Load> refs;
  std::set<std::string> stores;

  bool find_ref(const std::string& n) const {
    for (const Symbols* s = this; s; s = s->parent)
      if (s->refs.count(n)) return true;
    return false;
  }
  void store(const std::string& n) {
    stores.insert(n);
    if (!refs.count(n)) refs[n] = (parent && parent->find_ref(n)) ? Load::Alias : Load::Undefined;
  }
  void param(const std::string& n) {
    stores.insert(n);
    refs[n] = Load::Param;
  }
  void load(const std::string& n) {
    if (!find_ref(n)) refs[n] = Load::Resolve;
  }
  // After an if: a name assigned in only some branches starts as the outer/context value.
  void branch_update(const std::vector<Symbols>& branches) {
    std::map<std::string, size_t> counts;
    for (const auto& b : branches)
      for (const auto& t : b.stores)
        if (!stores.count(t)) ++counts[t];
    for (const auto& b : branches) {
      for (const auto& [k, v] : b.refs) refs[k] = v;
      stores.insert(b.stores.begin(), b.stores.end());
    }
    for (const auto& [name, n] : counts) {
      if (n == branches.size()) continue;
      refs[name] = (parent && parent->find_ref(name)) ? Load::Alias : Load::Resolve;
    }
  }
  std::vector<std::string> undefined_names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : refs)
      if (v == Load::Undefined) out.push_back(k);
    return out;
  }
};

void load_names(const Expr* e, Symbols& s) {
  if (!e) return;
  if (e->kind == ExprKind::Name) s.load(e->name);
  // Children in jinja2's field order (the order matters only for load-before-store).
  load_names(e->a.get(), s);
  load_names(e->b.get(), s);
  load_names(e->c.get(), s);
  for (const auto& x : e->args) load_names(x.get(), s);
  for (const auto& kv : e->kwargs) load_names(kv.second.get(), s);
  load_names(e->dyn_args.get(), s);
  load_names(e->dyn_kwargs.get(), s);
}

void store_target(const Target& t, Symbols& s, bool as_param) {
  switch (t.kind) {
    case Target::Kind::Name:
      if (as_param) s.param(t.name);
      else s.store(t.name);
      return;
    case Target::Kind::Attr:
      s.load(t.name);  // `set ns.attr = ...` reads ns
      return;
    case Target::Kind::Tuple:
      for (const auto& x : t.items) store_target(x, s, as_param);
      return;
  }
}

void visit_stmts(const Body& body, Symbols& s);

// FrameSymbolVisitor: a statement as seen from the frame that contains it.
void visit_stmt(const Stmt& st, Symbols& s) {
  switch (st.kind) {
    case StmtKind::Data: case StmtKind::Break: case StmtKind::Continue:
      return;
    case StmtKind::Print:
      load_names(st.expr.get(), s);
      return;
    case StmtKind::If: {
      // jinja2's If(test, body, elif_=[If...], else_): each branch on a copy, then merged.
      load_names(st.branches[0].first.get(), s);
      std::vector<Symbols> branches(3, s);
      visit_stmts(st.branches[0].second, branches[0]);
      for (size_t k = 1; k < st.branches.size(); ++k) {
        Symbols& e = branches[1];
        load_names(st.branches[k].first.get(), e);
        std::vector<Symbols> sub(3, e);
        visit_stmts(st.branches[k].second, sub[0]);
        e.branch_update(sub);
      }
      visit_stmts(st.else_body, branches[2]);
      s.branch_update(branches);
      return;
    }
    case StmtKind::For:
      load_names(st.expr.get(), s);
      return;
    case StmtKind::Set:
      load_names(st.expr.get(), s);
      store_target(st.target, s, false);
      return;
    case StmtKind::SetBlock:
      store_target(st.target, s, false);
      return;
    case StmtKind::Macro:
      s.store(st.name);
      return;
    case StmtKind::CallBlock:
      load_names(st.expr.get(), s);
      return;
    case StmtKind::FilterBlock:
      load_names(st.expr.get(), s);
      return;
    case StmtKind::With:
      for (const auto& a : st.assigns) load_names(a.second.get(), s);
      return;
  }
}

void visit_stmts(const Body& body, Symbols& s) {
  for (const auto& st : body) visit_stmt(*st, s);
}

void analyze_nested(Body& body, const Symbols& frame);

// RootVisitor: analyzes the frame a statement opens, then the frames nested in it.
void analyze_frame(Stmt& st, const Symbols& outer) {
  Symbols f;
  f.parent = &outer;
  auto signature = [&]() {
    for (const auto& p : st.params) f.param(p);
    for (const auto& d : st.defaults) load_names(d.get(), f);
  };
  switch (st.kind) {
    case StmtKind::For: {
      store_target(st.target, f, true);
      visit_stmts(st.body, f);
      st.undefined_init = f.undefined_names();
      analyze_nested(st.body, f);
      Symbols e;
      e.parent = &outer;
      visit_stmts(st.else_body, e);
      st.else_undefined_init = e.undefined_names();
      analyze_nested(st.else_body, e);
      return;
    }
    case StmtKind::Macro:
    case StmtKind::CallBlock:
      signature();
      visit_stmts(st.body, f);
      break;
    case StmtKind::FilterBlock:
      visit_stmts(st.body, f);
      load_names(st.expr.get(), f);
      break;
    case StmtKind::SetBlock:
      visit_stmts(st.body, f);
      load_names(st.expr.get(), f);
      break;
    case StmtKind::With:
      for (const auto& a : st.assigns) store_target(a.first, f, true);
      visit_stmts(st.body, f);
      break;
    default:
      return;
  }
  st.undefined_init = f.undefined_names();
  analyze_nested(st.body, f);
}

void analyze_nested(Body& body, const Symbols& frame) {
  for (auto& st : body) {
    if (st->kind == StmtKind::If) {
      for (auto& br : st->branches) analyze_nested(br.second, frame);
      analyze_nested(st->else_body, frame);
    } else {
      analyze_frame(*st, frame);
    }
  }
}

void analyze_scopes(TemplateImpl& t) {
  Symbols root;
  visit_stmts(t.body, root);
  t.undefined_init = root.undefined_names();
  analyze_nested(t.body, root);
}

}  // namespace

std::shared_ptr<TemplateImpl> parse(std::vector<Token> tokens) {
  Parser p(std::move(tokens));
  auto impl = std::make_shared<TemplateImpl>();
  impl->body = p.parse_template();
  analyze_scopes(*impl);
  return impl;
}

}  // namespace minnow::jinja
