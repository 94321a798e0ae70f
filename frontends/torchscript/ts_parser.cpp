// Recursive-descent parser of the TorchScript subset (ts_ast.h).
#include <fmt/format.h>

#include <cstdlib>

#include "frontends/torchscript/ts_ast.h"
#include "frontends/torchscript/ts_lexer.h"

namespace tessera::ts_fe {

const ClassDef* SourceFile::find_class(const std::string& name) const {
  for (const auto& c : classes) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(std::vector<Token> t, const std::string& path) : t_(std::move(t)), path_(path) {}
  StatusOr<SourceFile> file();

 private:
  const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool is_op(const char* op, size_t k = 0) const {
    return peek(k).kind == Token::kOp && peek(k).text == op;
  }
  bool is_name(const char* n) const { return peek().kind == Token::kName && peek().text == n; }
  Status fail(const std::string& m) const {
    return InvalidArgument(fmt::format("{}:{}: {} (at '{}')", path_, peek().line, m, peek().text));
  }
  Status expect_op(const char* op) {
    if (!is_op(op)) return fail(fmt::format("expected '{}'", op));
    ++p_;
    return Status::Ok();
  }
  Status expect(Token::Kind k, const char* what) {
    if (peek().kind != k) return fail(fmt::format("expected {}", what));
    ++p_;
    return Status::Ok();
  }
  void skip_line();   // to the end of this logical line
  void skip_block();  // an indented block, after its header line
  Status class_def(SourceFile& f);
  Status def(Def& d);
  Status params(Def& d);
  Status stmt(Def& d);
  StatusOr<ExprPtr> expr();
  StatusOr<ExprPtr> binary(int prec);
  StatusOr<ExprPtr> unary();
  StatusOr<ExprPtr> postfix();
  StatusOr<ExprPtr> atom();
  Status call_args(Expr& call);
  std::shared_ptr<Expr> node(Expr::Kind k, const Token& at) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    e->offset = at.offset;
    e->line = at.line;
    return e;
  }

  std::vector<Token> t_;
  const std::string& path_;
  size_t p_ = 0;
};

void Parser::skip_line() {
  while (peek().kind != Token::kNewline && peek().kind != Token::kEnd) ++p_;
  if (peek().kind == Token::kNewline) ++p_;
}

void Parser::skip_block() {
  skip_line();
  if (peek().kind != Token::kIndent) return;
  int depth = 0;
  do {
    if (peek().kind == Token::kIndent) ++depth;
    if (peek().kind == Token::kDedent) --depth;
    ++p_;
  } while (depth > 0 && peek().kind != Token::kEnd);
}

StatusOr<SourceFile> Parser::file() {
  SourceFile f;
  f.path = path_;
  while (peek().kind != Token::kEnd) {
    if (is_name("class")) {
      TSR_RETURN_IF_ERROR(class_def(f));
    } else if (is_name("def")) {
      Def d;
      TSR_RETURN_IF_ERROR(def(d));
      f.functions[d.name] = std::move(d);
    } else if (peek().kind == Token::kIndent) {
      skip_block();
    } else {
      skip_line();  // imports, op_version_set = 1, ...
    }
  }
  return f;
}

// A string list such as __parameters__ = ["weight", "bias", ]
std::vector<std::string> string_list(const std::vector<Token>& t, size_t from) {
  std::vector<std::string> out;
  for (size_t i = from; i < t.size() && t[i].kind != Token::kNewline; ++i) {
    if (t[i].kind == Token::kStr) out.push_back(t[i].text);
  }
  return out;
}

Status Parser::class_def(SourceFile& f) {
  ++p_;
  ClassDef c;
  if (peek().kind != Token::kName) return fail("expected a class name");
  c.name = peek().text;
  skip_line();
  TSR_RETURN_IF_ERROR(expect(Token::kIndent, "an indented class body"));
  while (peek().kind != Token::kDedent && peek().kind != Token::kEnd) {
    if (is_name("def")) {
      Def d;
      TSR_RETURN_IF_ERROR(def(d));
      c.methods[d.name] = std::move(d);
    } else if (is_name("__parameters__") || is_name("__buffers__")) {
      auto& dst = is_name("__parameters__") ? c.parameters : c.buffers;
      dst = string_list(t_, p_);
      skip_line();
    } else if (peek().kind == Token::kIndent) {
      skip_block();
    } else {
      skip_line();  // attribute annotations, __annotations__[...] = ..., constants
    }
  }
  if (peek().kind == Token::kDedent) ++p_;
  f.classes.push_back(std::move(c));
  return Status::Ok();
}

Status Parser::params(Def& d) {
  TSR_RETURN_IF_ERROR(expect_op("("));
  bool first = true;
  while (!is_op(")")) {
    if (peek().kind != Token::kName) return fail("expected a parameter name");
    std::string name = peek().text, type;
    ++p_;
    if (is_op(":")) {  // the type runs to the next top-level ',' or ')'
      ++p_;
      int depth = 0;
      while (depth > 0 || !(is_op(",") || is_op(")"))) {
        if (is_op("[")) ++depth;
        if (is_op("]")) --depth;
        type += peek().text;
        ++p_;
      }
    }
    if (!(first && name == "self")) d.params.push_back(name), d.param_types.push_back(type);
    first = false;
    if (is_op(",")) ++p_;
  }
  return expect_op(")");
}

Status Parser::def(Def& d) {
  ++p_;
  if (peek().kind != Token::kName) return fail("expected a function name");
  d.name = peek().text;
  ++p_;
  TSR_RETURN_IF_ERROR(params(d));
  while (!is_op(":") || peek(1).kind != Token::kNewline) {  // the return annotation
    if (peek().kind == Token::kEnd) return fail("unterminated def");
    ++p_;
  }
  p_ += 2;
  TSR_RETURN_IF_ERROR(expect(Token::kIndent, "an indented function body"));
  while (peek().kind != Token::kDedent && peek().kind != Token::kEnd) {
    TSR_RETURN_IF_ERROR(stmt(d));
  }
  if (peek().kind == Token::kDedent) ++p_;
  return Status::Ok();
}

Status Parser::stmt(Def& d) {
  static const char* kControl[] = {"if", "elif", "else", "for", "while", "with", "try", "except"};
  for (const char* k : kControl) {
    if (is_name(k)) {
      if (d.unsupported.empty()) d.unsupported = fmt::format("'{}' at line {}", k, peek().line);
      skip_block();
      return Status::Ok();
    }
  }
  Stmt s;
  s.line = peek().line;
  if (is_name("pass")) {
    skip_line();
    return Status::Ok();
  }
  if (is_name("return")) {
    ++p_;
    s.kind = Stmt::kReturn;
  } else {
    // targets: a, b, c, = ...   or   x: T = ...   or a bare expression
    size_t save = p_;
    while (peek().kind == Token::kName && (is_op(",", 1) || is_op("=", 1) || is_op(":", 1))) {
      s.targets.push_back(peek().text);
      ++p_;
      if (is_op(":")) {
        while (!is_op("=") && peek().kind != Token::kNewline) ++p_;
      }
      if (is_op(",")) ++p_;
      if (is_op("=")) break;
    }
    if (!s.targets.empty() && is_op("=")) {
      ++p_;
      s.kind = Stmt::kAssign;
    } else {
      p_ = save;
      s.targets.clear();
      s.kind = Stmt::kExpr;
    }
  }
  TSR_ASSIGN_OR_RETURN(s.value, expr());
  if (s.kind == Stmt::kReturn && is_op(",")) {  // return a, b
    auto tup = node(Expr::kTuple, peek());
    tup->items.push_back(s.value);
    while (is_op(",")) {
      ++p_;
      if (peek().kind == Token::kNewline) break;
      TSR_ASSIGN_OR_RETURN(auto e, expr());
      tup->items.push_back(e);
    }
    s.value = tup;
  }
  TSR_RETURN_IF_ERROR(expect(Token::kNewline, "end of statement"));
  d.body.push_back(std::move(s));
  return Status::Ok();
}

StatusOr<ExprPtr> Parser::expr() { return binary(0); }

int precedence(const std::string& op) {
  if (op == "==" || op == "!=" || op == "<" || op == ">" || op == "<=" || op == ">=") return 1;
  if (op == "+" || op == "-") return 2;
  if (op == "*" || op == "/" || op == "//" || op == "%") return 3;
  return -1;
}

StatusOr<ExprPtr> Parser::binary(int prec) {
  TSR_ASSIGN_OR_RETURN(ExprPtr lhs, unary());
  while (peek().kind == Token::kOp && precedence(peek().text) > prec) {
    const Token& op = peek();
    int p = precedence(op.text);
    ++p_;
    TSR_ASSIGN_OR_RETURN(ExprPtr rhs, binary(p));
    auto e = node(Expr::kBinary, op);
    e->name = op.text;
    e->base = lhs;
    e->items = {rhs};
    lhs = e;
  }
  return lhs;
}

StatusOr<ExprPtr> Parser::unary() {
  if (is_op("-") || is_name("not")) {
    auto e = node(Expr::kUnary, peek());
    e->name = peek().text;
    ++p_;
    TSR_ASSIGN_OR_RETURN(e->base, unary());
    return ExprPtr(e);
  }
  return postfix();
}

Status Parser::call_args(Expr& call) {
  while (!is_op(")")) {
    if (peek().kind == Token::kName && is_op("=", 1)) {
      std::string k = peek().text;
      p_ += 2;
      TSR_ASSIGN_OR_RETURN(auto v, expr());
      call.kwargs.emplace_back(k, v);
    } else {
      TSR_ASSIGN_OR_RETURN(auto v, expr());
      call.items.push_back(v);
    }
    if (!is_op(",")) break;
    ++p_;
  }
  return expect_op(")");
}

StatusOr<ExprPtr> Parser::postfix() {
  TSR_ASSIGN_OR_RETURN(ExprPtr e, atom());
  while (true) {
    if (is_op(".")) {
      ++p_;
      if (peek().kind != Token::kName) return fail("expected an attribute name");
      auto a = node(Expr::kAttr, peek());
      a->offset = e->offset;
      a->name = peek().text;
      a->base = e;
      ++p_;
      e = a;
    } else if (is_op("(")) {
      auto c = node(Expr::kCall, peek());
      c->offset = e->offset;
      c->line = e->line;
      c->base = e;
      ++p_;
      TSR_RETURN_IF_ERROR(call_args(*c));
      e = c;
    } else if (is_op("[")) {
      auto s = node(Expr::kSubscript, peek());
      s->base = e;
      ++p_;
      while (!is_op("]")) {
        TSR_ASSIGN_OR_RETURN(auto v, expr());
        s->items.push_back(v);
        if (!is_op(",")) break;
        ++p_;
      }
      TSR_RETURN_IF_ERROR(expect_op("]"));
      e = s;
    } else {
      return e;
    }
  }
}

StatusOr<ExprPtr> Parser::atom() {
  const Token& t = peek();
  if (t.kind == Token::kInt || t.kind == Token::kFloat) {
    auto e = node(t.kind == Token::kInt ? Expr::kInt : Expr::kFloat, t);
    if (t.kind == Token::kInt) e->i = std::strtoll(t.text.c_str(), nullptr, 0);
    e->f = std::strtod(t.text.c_str(), nullptr);
    ++p_;
    return ExprPtr(e);
  }
  if (t.kind == Token::kStr) {
    auto e = node(Expr::kStr, t);
    e->name = t.text;
    ++p_;
    return ExprPtr(e);
  }
  if (t.kind == Token::kName) {
    auto e = node(Expr::kName, t);
    e->name = t.text;
    if (t.text == "None") e->kind = Expr::kNone;
    if (t.text == "True" || t.text == "False") e->kind = Expr::kBool, e->i = t.text == "True";
    ++p_;
    return ExprPtr(e);
  }
  if (is_op("(") || is_op("[")) {
    bool list = is_op("[");
    auto e = node(list ? Expr::kList : Expr::kTuple, t);
    ++p_;
    bool comma = false;
    while (!is_op(list ? "]" : ")")) {
      TSR_ASSIGN_OR_RETURN(auto v, expr());
      e->items.push_back(v);
      if (!is_op(",")) break;
      comma = true;
      ++p_;
    }
    TSR_RETURN_IF_ERROR(expect_op(list ? "]" : ")"));
    if (!list && !comma && e->items.size() == 1) return e->items[0];  // parenthesised
    return ExprPtr(e);
  }
  return fail("unexpected token");
}

}  // namespace

StatusOr<SourceFile> parse_source(const std::string& text, const std::string& path) {
  TSR_ASSIGN_OR_RETURN(auto toks, tokenize(text, path));
  return Parser(std::move(toks), path).file();
}

}  // namespace tessera::ts_fe
