// The TorchScript source subset that torch.jit.trace + torch.jit.save write under code/: classes
// with typed attributes and straight-line `forward` methods. Control flow (if/for/while) is
// parsed only far enough to be skipped and reported, since traced code never contains it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/status.h"

namespace tessera::ts_fe {

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum Kind {
    kName,
    kInt,
    kFloat,
    kStr,
    kNone,
    kBool,
    kAttr,
    kCall,
    kList,
    kTuple,
    kSubscript,
    kUnary,
    kBinary
  };
  Kind kind = kName;
  std::string name;            // kName, kAttr (attribute), kStr (value), kUnary/kBinary (operator)
  int64_t i = 0;               // kInt, kBool
  double f = 0;                // kFloat
  ExprPtr base;                // kAttr object, kCall callee, kSubscript object, kUnary operand, lhs
  std::vector<ExprPtr> items;  // kCall positional args, kList/kTuple items, index, rhs
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // kCall
  size_t offset = 0;  // byte offset in the file (matches .debug_pkl ranges)
  int line = 0;
};

struct Stmt {
  enum Kind { kAssign, kReturn, kExpr, kPass };
  Kind kind = kPass;
  std::vector<std::string> targets;  // kAssign; several = tuple unpacking
  ExprPtr value;
  int line = 0;
};

struct Def {
  std::string name;
  std::vector<std::string> params;  // without self
  std::vector<std::string> param_types;
  std::vector<Stmt> body;
  std::string unsupported;  // first scripted-control-flow construct, "if at line 12"
};

struct ClassDef {
  std::string name;
  std::vector<std::string> parameters, buffers;  // __parameters__, __buffers__
  std::map<std::string, Def> methods;
};

struct SourceFile {
  std::string path;  // archive entry, e.g. "code/__torch__/torch/nn/modules/linear.py"
  std::vector<ClassDef> classes;
  std::map<std::string, Def> functions;  // module-level defs
  const ClassDef* find_class(const std::string& name) const;
};

// Parses one code/*.py entry; errors are "path:line: message".
StatusOr<SourceFile> parse_source(const std::string& text, const std::string& path);

}  // namespace tessera::ts_fe
