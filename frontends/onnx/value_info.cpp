// Exporter-recorded shapes (graph.value_info) as a fallback for graph-only models: when the
// data of an integer initializer is missing (weights file absent), the shape computations that
// use it cannot be evaluated, so output shapes come from value_info, with symbolic dims bound
// through --shape. Exporters write dims as expressions ("batch*seq", "seq + 1"): evaluated here.
#include <cctype>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

namespace {

// expr := term (('+'|'-') term)* ; term := atom (('*'|'//'|'/') atom)* ; atom := int | name | '('
// expr ')'
struct DimParser {
  const std::string& s;
  const std::map<std::string, int64_t>& env;
  size_t i = 0;
  bool ok = true;
  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  int64_t atom() {
    skip();
    if (i < s.size() && s[i] == '(') {
      ++i;
      const int64_t v = expr();
      skip();
      ok = ok && i < s.size() && s[i] == ')';
      ++i;
      return v;
    }
    const size_t b = i;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      return std::stoll(s.substr(b, i - b));
    }
    while (i < s.size() &&
           (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
      ++i;
    auto it = env.find(s.substr(b, i - b));
    ok = ok && i > b && it != env.end();
    return it == env.end() ? 0 : it->second;
  }
  int64_t term() {
    int64_t v = atom();
    for (skip(); ok && i < s.size() && (s[i] == '*' || s[i] == '/'); skip()) {
      const char op = s[i++];
      if (op == '/' && i < s.size() && s[i] == '/') ++i;
      const int64_t r = atom();
      if (op == '*')
        v *= r;
      else if (r != 0)
        v /= r;
      else
        ok = false;
    }
    return v;
  }
  int64_t expr() {
    int64_t v = term();
    for (skip(); ok && i < s.size() && (s[i] == '+' || s[i] == '-'); skip()) {
      const char op = s[i++];
      const int64_t r = term();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
};

}  // namespace

StatusOr<int64_t> eval_dim(const std::string& expr, const std::map<std::string, int64_t>& env) {
  DimParser p{expr, env};
  const int64_t v = p.expr();
  p.skip();
  if (!p.ok || p.i != expr.size() || expr.empty() || v < 0) {
    return InvalidArgument(
        fmt::format("symbolic dim '{}' cannot be evaluated from the bound dims", expr));
  }
  return v;
}

StatusOr<ir::TypeShape> recorded_type(const ImportCtx& c, const std::string& name, bool partial) {
  auto it = c.value_info.find(name);
  if (it == c.value_info.end() || !it->second->has_tensor_type() ||
      !it->second->tensor_type().has_shape()) {
    return InvalidArgument(fmt::format("value '{}' has no recorded shape (value_info)", name));
  }
  const auto& tt = it->second->tensor_type();
  ir::TypeShape ts{static_cast<DType>(tt.elem_type()), {}};
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      ts.second.push_back(d.dim_value());
      continue;
    }
    auto v = eval_dim(d.dim_param(), c.opts.dim_bindings);
    if (!v.ok() && partial) {
      ts.second.push_back(-1);  // unknown: derive.cpp treats it as a wildcard
      continue;
    }
    if (!v.ok()) return InvalidArgument(fmt::format("value '{}': {}", name, v.status().message()));
    ts.second.push_back(*v);
  }
  return ts;
}

}  // namespace tessera::onnx_fe
