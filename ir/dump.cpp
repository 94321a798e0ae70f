#include "ir/dump.h"

#include <fmt/format.h>

namespace tessera::ir {

namespace {

const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kActivation:
      return "act";
    case ValueKind::kInput:
      return "input";
    case ValueKind::kWeight:
      return "weight";
    case ValueKind::kConstant:
      return "const";
  }
  return "?";
}

std::string preview(const TensorData& t) {
  const int64_t n = std::min<int64_t>(t.numel(), 8);
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    if (i) s += ",";
    if (t.dtype == DType::kInt64)
      s += std::to_string(t.as<int64_t>()[i]);
    else if (t.dtype == DType::kInt32)
      s += std::to_string(t.as<int32_t>()[i]);
    else if (t.dtype == DType::kFloat32)
      s += fmt::format("{:g}", t.as<float>()[i]);
    else if (t.dtype == DType::kBool)
      s += t.as<uint8_t>()[i] ? "1" : "0";
    else
      return "...";
  }
  return n < t.numel() ? s + ",..." : s;
}

std::string value_str(const Graph& g, int v) {
  if (v < 0) return "_";
  const Value& x = g.values[v];
  return fmt::format("%{}:{}[{}]", x.name, dtype_name(x.dtype), shape_str(x.shape));
}

std::string attr_str_of(const Attr& a) {
  switch (a.kind) {
    case Attr::kInt:
      return std::to_string(a.i);
    case Attr::kFloat:
      return fmt::format("{:g}", a.f);
    case Attr::kString:
      return "\"" + a.s + "\"";
    case Attr::kInts:
      return fmt::format("[{}]", fmt::join(a.ints, ","));
    case Attr::kFloats:
      return fmt::format("[{}]", fmt::join(a.floats, ","));
    case Attr::kStrings:
      return fmt::format("[{}]", fmt::join(a.strings, ","));
  }
  return "?";
}

}  // namespace

std::string dump_graph(const Graph& g) {
  std::string out = fmt::format("graph {}: {} nodes, {} values, {} parameters\n", g.name,
                                g.nodes.size(), g.values.size(), g.parameter_count());
  for (const auto& [k, a] : g.meta) out += fmt::format("  meta {} = {}\n", k, attr_str_of(a));
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& x = g.values[v];
    if (x.kind == ValueKind::kActivation) continue;
    out += fmt::format("  {} {}", kind_name(x.kind), value_str(g, static_cast<int>(v)));
    if (x.kind == ValueKind::kConstant && x.data) out += " = {" + preview(*x.data) + "}";
    if (x.kind == ValueKind::kWeight && !x.data) out += " (no data)";
    out += "\n";
  }
  for (const Node& n : g.nodes) {
    std::vector<std::string> outs, ins, attrs;
    for (int v : n.outputs) outs.push_back(value_str(g, v));
    for (int v : n.inputs) ins.push_back(value_str(g, v));
    for (const auto& [k, a] : n.attrs) attrs.push_back(k + "=" + attr_str_of(a));
    out += fmt::format("  {} = {} '{}'({}) {{{}}}\n", fmt::join(outs, ", "), n.op, n.name,
                       fmt::join(ins, ", "), fmt::join(attrs, ", "));
  }
  for (int v : g.outputs) out += fmt::format("  output {}\n", value_str(g, v));
  return out;
}

}  // namespace tessera::ir
