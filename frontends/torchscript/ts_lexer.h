// Tokens of the TorchScript subset, with Python's INDENT/DEDENT from leading whitespace and
// newlines inside brackets ignored.
#pragma once
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::ts_fe {

struct Token {
  enum Kind { kName, kInt, kFloat, kStr, kOp, kNewline, kIndent, kDedent, kEnd };
  Kind kind = kEnd;
  std::string text;  // name, operator, string value, or number spelling
  size_t offset = 0;
  int line = 0;
};

StatusOr<std::vector<Token>> tokenize(const std::string& src, const std::string& path);

}  // namespace tessera::ts_fe
