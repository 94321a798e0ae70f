// The evaluator: runs traced TorchScript code symbolically. Python values (ints, lists, sizes)
// are computed; tensor ops go through the aten table into the graph; submodule calls are
// inlined, so the graph is flat and module paths survive only in node and weight names.
#include <cmath>
#include <cstring>
#include <limits>

#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {
namespace {

constexpr int kMaxDepth = 200;

struct Frame {
  std::map<std::string, TsVal> env;
  std::string file;  // code/... entry, for locations
};

StatusOr<TsVal> eval(Importer& c, Frame& f, const Expr& e);

std::string dotted(const Expr& e) {
  if (e.kind == Expr::kName) return e.name;
  if (e.kind == Expr::kAttr && e.base) {
    std::string b = dotted(*e.base);
    return b.empty() ? "" : b + "." + e.name;
  }
  return "";
}

std::string root_name(const std::string& d) { return d.substr(0, d.find('.')); }

// A pickled attribute of a module as a value.
StatusOr<TsVal> from_py(Importer& c, const PyRef& p, const std::string& path) {
  switch (p->kind) {
    case PyObj::kNone:
      return TsVal();
    case PyObj::kBool:
      return TsVal::Bool(p->i != 0);
    case PyObj::kInt:
      return TsVal::Int(p->i);
    case PyObj::kFloat:
      return TsVal::Float(p->f);
    case PyObj::kStr: {
      TsVal s;
      s.kind = TsVal::kStr;
      s.s = p->s;
      return s;
    }
    case PyObj::kTensor: {
      TSR_ASSIGN_OR_RETURN(int id, c.module_tensor(p, path));
      return TsVal::Tensor(id);
    }
    case PyObj::kObject: {
      TsVal m;
      m.kind = TsVal::kModule;
      m.obj = p;
      m.s = path;
      return m;
    }
    case PyObj::kTuple:
    case PyObj::kList: {
      TsVal l = TsVal::List({});
      for (size_t i = 0; i < p->items.size(); ++i) {
        TSR_ASSIGN_OR_RETURN(TsVal x, from_py(c, p->items[i], fmt::format("{}.{}", path, i)));
        l.items.push_back(std::move(x));
      }
      return l;
    }
    default:
      return c.fail("module attribute '{}' has an unsupported type", path);
  }
}

StatusOr<TsVal> module_attr(Importer& c, const TsVal& m, const std::string& name) {
  if (m.kind != TsVal::kModule) return c.fail("attribute '{}' of a non-module value", name);
  PyRef p = m.obj->attr(name);
  if (!p) return c.fail("module '{}' ({}) has no attribute '{}'", m.s, m.obj->s, name);
  return from_py(c, p, m.s.empty() ? name : m.s + "." + name);
}

StatusOr<TsVal> constant_n(Importer& c, const std::string& name) {
  size_t n = name.size() > 1 && name[0] == 'c' ? std::strtoul(name.c_str() + 1, nullptr, 10) : ~0u;
  if (n >= c.ar.constants().size()) return c.fail("CONSTANTS.{} is not in constants.pkl", name);
  const PyRef& p = c.ar.constants()[n];
  if (p->kind != PyObj::kTensor) return from_py(c, p, "CONSTANTS." + name);
  TSR_ASSIGN_OR_RETURN(auto data, c.ar.tensor(*p->tensor, "constants"));
  return TsVal::Tensor(c.constant(data, "CONSTANTS_" + name));
}

bool has_unknown(const Args& a) {
  for (const auto& x : a.pos)
    if (x.kind == TsVal::kUnknown) return true;
  for (const auto& [k, x] : a.kw)
    if (x.kind == TsVal::kUnknown) return true;
  return false;
}

StatusOr<TsVal> call_aten(Importer& c, Frame& f, const Expr& call, const std::string& name,
                          const Args& a) {
  bool inplace = name.size() > 1 && name.back() == '_' && name.rfind("__", 0) != 0;
  std::string base = inplace ? name.substr(0, name.size() - 1) : name;
  const AtenOp* op = find_aten(base);
  if (!op) {
    c.unsupported.push_back(fmt::format("aten::{} ({})", name, c.location));
    return TsVal::Unknown();
  }
  if (has_unknown(a)) return TsVal::Unknown();
  TsVal out;
  TSR_RETURN_IF_ERROR(op->fn(c, a, out));
  if (inplace && !call.items.empty() && call.items[0]->kind == Expr::kName) {
    f.env[call.items[0]->name] = out;  // later uses of the mutated variable see the result
  }
  return out;
}

StatusOr<TsVal> eval_call(Importer& c, Frame& f, const Expr& e) {
  if (e.base->kind == Expr::kName && e.base->name == "annotate" && e.items.size() == 2) {
    return eval(c, f, *e.items[1]);  // annotate(Type, value): the type is not evaluated
  }
  Args a;
  for (const auto& x : e.items) {
    TSR_ASSIGN_OR_RETURN(TsVal v, eval(c, f, *x));
    a.pos.push_back(std::move(v));
  }
  for (const auto& [k, x] : e.kwargs) {
    TSR_ASSIGN_OR_RETURN(TsVal v, eval(c, f, *x));
    a.kw[k] = std::move(v);
  }
  std::string fn = dotted(*e.base);
  if (e.base->kind == Expr::kAttr && (fn.empty() || f.env.count(root_name(fn)))) {
    TSR_ASSIGN_OR_RETURN(TsVal obj, eval(c, f, *e.base->base));  // (module).forward(...)
    if (obj.kind == TsVal::kUnknown) return TsVal::Unknown();
    if (obj.kind != TsVal::kModule)
      return c.fail("method '{}' called on a non-module", e.base->name);
    return run_method(c, obj, e.base->name, a.pos);
  }
  c.location = c.ar.location(f.file, e.offset, e.line);
  bool handled = false;
  TSR_ASSIGN_OR_RETURN(TsVal r, call_builtin(c, fn, a, handled));
  if (handled) return r;
  for (const char* pre : {"torch.", "ops.aten."}) {
    if (fn.rfind(pre, 0) == 0 && fn.find('.', std::strlen(pre)) == std::string::npos) {
      return call_aten(c, f, e, fn.substr(std::strlen(pre)), a);
    }
  }
  c.unsupported.push_back(fmt::format("{} ({})", fn, c.location));
  return TsVal::Unknown();
}

StatusOr<TsVal> eval_arith(Importer& c, const std::string& op, const TsVal& x, const TsVal& y) {
  if (x.kind == TsVal::kUnknown || y.kind == TsVal::kUnknown) return TsVal::Unknown();
  if (!x.is_number() || !y.is_number()) return c.fail("operator '{}' on non-numbers", op);
  bool fl = x.kind == TsVal::kFloat || y.kind == TsVal::kFloat || op == "/";
  double a = x.kind == TsVal::kFloat ? x.f : x.i, b = y.kind == TsVal::kFloat ? y.f : y.i;
  if (op == "==") return TsVal::Bool(a == b);
  if (op == "!=") return TsVal::Bool(a != b);
  if (op == "<") return TsVal::Bool(a < b);
  if (op == ">") return TsVal::Bool(a > b);
  if (op == "<=") return TsVal::Bool(a <= b);
  if (op == ">=") return TsVal::Bool(a >= b);
  if ((op == "/" || op == "//" || op == "%") && b == 0) return c.fail("division by zero");
  double r = op == "+"    ? a + b
             : op == "-"  ? a - b
             : op == "*"  ? a * b
             : op == "/"  ? a / b
             : op == "//" ? std::floor(a / b)
                          : a - std::floor(a / b) * b;
  if (fl) return TsVal::Float(r);
  return TsVal::Int(static_cast<int64_t>(r));
}

StatusOr<TsVal> eval(Importer& c, Frame& f, const Expr& e) {
  switch (e.kind) {
    case Expr::kInt:
      return TsVal::Int(e.i);
    case Expr::kFloat:
      return TsVal::Float(e.f);
    case Expr::kBool:
      return TsVal::Bool(e.i != 0);
    case Expr::kNone:
      return TsVal();
    case Expr::kStr: {
      TsVal s;
      s.kind = TsVal::kStr;
      s.s = e.name;
      return s;
    }
    case Expr::kName: {
      auto it = f.env.find(e.name);
      // TorchScript's printer writes infinite and NaN floats as the bare names inf and nan
      // (float("-inf") in masked_fill prints as -inf), as torch 1.13 does.
      if (it == f.env.end() && e.name == "inf")
        return TsVal::Float(std::numeric_limits<double>::infinity());
      if (it == f.env.end() && e.name == "nan")
        return TsVal::Float(std::numeric_limits<double>::quiet_NaN());
      if (it == f.env.end()) return c.fail("{}:{}: undefined name '{}'", f.file, e.line, e.name);
      return it->second;
    }
    case Expr::kAttr: {
      if (e.base->kind == Expr::kName && e.base->name == "CONSTANTS") return constant_n(c, e.name);
      TSR_ASSIGN_OR_RETURN(TsVal b, eval(c, f, *e.base));
      if (b.kind == TsVal::kUnknown) return b;
      return module_attr(c, b, e.name);
    }
    case Expr::kList:
    case Expr::kTuple: {
      TsVal l = TsVal::List({});
      for (const auto& x : e.items) {
        TSR_ASSIGN_OR_RETURN(TsVal v, eval(c, f, *x));
        l.items.push_back(std::move(v));
      }
      return l;
    }
    case Expr::kSubscript: {
      TSR_ASSIGN_OR_RETURN(TsVal b, eval(c, f, *e.base));
      if (b.kind != TsVal::kList || e.items.size() != 1) {
        return c.fail("{}:{}: only list[int] subscripts are supported", f.file, e.line);
      }
      TSR_ASSIGN_OR_RETURN(TsVal i, eval(c, f, *e.items[0]));
      TSR_ASSIGN_OR_RETURN(int64_t k, c.to_int(i));
      int64_t n = static_cast<int64_t>(b.items.size());
      if (k < -n || k >= n) return c.fail("{}:{}: list index {} out of range", f.file, e.line, k);
      return b.items[k < 0 ? k + n : k];
    }
    case Expr::kUnary: {
      TSR_ASSIGN_OR_RETURN(TsVal x, eval(c, f, *e.base));
      if (e.name == "not") return TsVal::Bool(x.i == 0);
      return eval_arith(c, "-", TsVal::Int(0), x);
    }
    case Expr::kBinary: {
      TSR_ASSIGN_OR_RETURN(TsVal x, eval(c, f, *e.base));
      TSR_ASSIGN_OR_RETURN(TsVal y, eval(c, f, *e.items[0]));
      return eval_arith(c, e.name, x, y);
    }
    case Expr::kCall:
      return eval_call(c, f, e);
  }
  return c.fail("unsupported expression");
}

Status bind(Importer& c, Frame& f, const Stmt& s, const TsVal& v) {
  if (s.targets.size() == 1) {
    f.env[s.targets[0]] = v;
    return Status::Ok();
  }
  if (v.kind == TsVal::kUnknown) {
    for (const auto& t : s.targets) f.env[t] = v;
    return Status::Ok();
  }
  if (v.kind != TsVal::kList || v.items.size() != s.targets.size()) {
    return c.fail("{}:{}: cannot unpack into {} names", f.file, s.line, s.targets.size());
  }
  for (size_t i = 0; i < s.targets.size(); ++i) f.env[s.targets[i]] = v.items[i];
  return Status::Ok();
}

}  // namespace

StatusOr<TsVal> run_method(Importer& c, const TsVal& module, const std::string& method,
                           const std::vector<TsVal>& args) {
  std::string file;
  TSR_ASSIGN_OR_RETURN(const ClassDef* cls, c.ar.find_class(module.obj->s, &file));
  auto it = cls->methods.find(method);
  if (it == cls->methods.end()) return c.fail("class {} has no method {}", module.obj->s, method);
  const Def& d = it->second;
  if (!d.unsupported.empty()) {
    return InvalidArgument(fmt::format(
        "{}: {}.{} uses scripted control flow ({}; prim::If/prim::Loop): only traced modules "
        "(torch.jit.trace) can be imported",
        file, cls->name, method, d.unsupported));
  }
  if (d.params.size() != args.size()) {
    return c.fail("{}.{} takes {} arguments, called with {}", cls->name, method, d.params.size(),
                  args.size());
  }
  if (++c.depth > kMaxDepth) return c.fail("module calls nested deeper than {}", kMaxDepth);
  Frame f;
  f.file = file;
  f.env["self"] = module;
  for (size_t i = 0; i < args.size(); ++i) f.env[d.params[i]] = args[i];
  std::string saved = c.scope;
  c.scope = module.s;
  TsVal result;
  for (const Stmt& s : d.body) {
    TSR_ASSIGN_OR_RETURN(TsVal v, eval(c, f, *s.value));
    if (s.kind == Stmt::kReturn) {
      result = std::move(v);
      break;
    }
    if (s.kind == Stmt::kAssign) TSR_RETURN_IF_ERROR(bind(c, f, s, v));
  }
  c.scope = saved;
  --c.depth;
  return result;
}

}  // namespace tessera::ts_fe
