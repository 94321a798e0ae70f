#include "frontends/torchscript/ts_lexer.h"

#include <fmt/format.h>

#include <cctype>

namespace tessera::ts_fe {
namespace {

class Lexer {
 public:
  Lexer(const std::string& s, const std::string& path) : s_(s), path_(path) {}
  StatusOr<std::vector<Token>> run();

 private:
  Status fail(const std::string& m) const {
    return InvalidArgument(fmt::format("{}:{}: {}", path_, line_, m));
  }
  void add(Token::Kind k, std::string t, size_t off) {
    out_.push_back({k, std::move(t), off, line_});
  }
  Status indent(size_t& i);
  Status string_lit(size_t& i);
  void number(size_t& i);

  const std::string& s_;
  const std::string& path_;
  std::vector<Token> out_;
  std::vector<size_t> indents_{0};
  int depth_ = 0, line_ = 1;
};

// At a line start outside brackets: measure indentation; blank and comment lines do not count.
Status Lexer::indent(size_t& i) {
  size_t j = i, w = 0;
  while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j, ++w;
  if (j >= s_.size() || s_[j] == '\n' || s_[j] == '#') {
    i = j;
    return Status::Ok();
  }
  if (w > indents_.back()) {
    indents_.push_back(w);
    add(Token::kIndent, "", j);
  }
  while (w < indents_.back()) {
    indents_.pop_back();
    add(Token::kDedent, "", j);
  }
  if (w != indents_.back()) return fail("inconsistent indentation");
  i = j;
  return Status::Ok();
}

Status Lexer::string_lit(size_t& i) {
  char q = s_[i];
  size_t start = i++;
  std::string v;
  while (i < s_.size() && s_[i] != q) {
    if (s_[i] == '\n') return fail("unterminated string");
    if (s_[i] == '\\' && i + 1 < s_.size()) {
      char c = s_[++i];
      v += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      v += s_[i];
    }
    ++i;
  }
  if (i >= s_.size()) return fail("unterminated string");
  ++i;
  add(Token::kStr, v, start);
  return Status::Ok();
}

void Lexer::number(size_t& i) {
  size_t start = i;
  bool is_float = false;
  while (i < s_.size() &&
         (std::isalnum(static_cast<unsigned char>(s_[i])) || s_[i] == '.' ||
          ((s_[i] == '-' || s_[i] == '+') && (s_[i - 1] == 'e' || s_[i - 1] == 'E')))) {
    if (s_[i] == '.' || s_[i] == 'e' || s_[i] == 'E') is_float = true;
    ++i;
  }
  add(is_float ? Token::kFloat : Token::kInt, s_.substr(start, i - start), start);
}

StatusOr<std::vector<Token>> Lexer::run() {
  size_t i = 0;
  bool line_start = true;
  while (i < s_.size()) {
    if (line_start && depth_ == 0) TSR_RETURN_IF_ERROR(indent(i));
    line_start = false;
    if (i >= s_.size()) break;
    char c = s_[i];
    if (c == '\n') {
      if (depth_ == 0 && !out_.empty() && out_.back().kind != Token::kNewline &&
          out_.back().kind != Token::kIndent && out_.back().kind != Token::kDedent) {
        add(Token::kNewline, "", i);
      }
      ++line_, ++i, line_start = true;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\\') {
      ++i;
    } else if (c == '#') {
      while (i < s_.size() && s_[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      TSR_RETURN_IF_ERROR(string_lit(i));
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s_.size() &&
                std::isdigit(static_cast<unsigned char>(s_[i + 1])))) {
      number(i);
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t st = i;
      while (i < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i])) || s_[i] == '_'))
        ++i;
      add(Token::kName, s_.substr(st, i - st), st);
    } else {
      static const char* two[] = {"->", "//", "**", "==", "!=", "<=", ">="};
      std::string op(1, c);
      for (const char* t : two) {
        if (s_.compare(i, 2, t) == 0) op = t;
      }
      if (c == '(' || c == '[' || c == '{') ++depth_;
      if (c == ')' || c == ']' || c == '}') --depth_;
      if (depth_ < 0) return fail("unbalanced brackets");
      add(Token::kOp, op, i);
      i += op.size();
    }
  }
  if (!out_.empty() && out_.back().kind != Token::kNewline) add(Token::kNewline, "", i);
  while (indents_.size() > 1) indents_.pop_back(), add(Token::kDedent, "", i);
  add(Token::kEnd, "", i);
  return std::move(out_);
}

}  // namespace

StatusOr<std::vector<Token>> tokenize(const std::string& src, const std::string& path) {
  return Lexer(src, path).run();
}

}  // namespace tessera::ts_fe
