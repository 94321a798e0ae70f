#include "passes/core/sharding_spec.h"

#include <cctype>

namespace tessera::spmd {
namespace {

std::string join_braced(const std::vector<std::string>& axes) {
  std::string s = "{";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + axes[i];
  return s + "}";
}

// A tiny cursor over the readable form; errors name the offending column.
struct Cursor {
  const std::string& text;
  size_t pos = 0;
  void skip() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool eat(char c) {
    skip();
    if (pos < text.size() && text[pos] == c) return ++pos, true;
    return false;
  }
  std::string ident() {
    skip();
    size_t b = pos;
    while (pos < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_'))
      ++pos;
    return text.substr(b, pos - b);
  }
  Status error(const std::string& what) const {
    return InvalidArgument("sharding spec '" + text + "' at column " + std::to_string(pos + 1) +
                           ": " + what);
  }
};

StatusOr<std::vector<std::string>> parse_axes(Cursor& c) {
  if (!c.eat('{')) return c.error("expected '{'");
  std::vector<std::string> axes;
  if (c.eat('}')) return axes;
  do {
    std::string a = c.ident();
    if (a.empty()) return c.error("expected a mesh axis name");
    axes.push_back(a);
  } while (c.eat(','));
  if (!c.eat('}')) return c.error("expected ',' or '}'");
  return axes;
}

}  // namespace

ShardingSpec ShardingSpec::replicated(int rank) {
  ShardingSpec s;
  s.dims.resize(rank);
  return s;
}

std::string ShardingSpec::to_string() const {
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) s += (d ? ", " : "") + join_braced(dims[d]);
  s += "]";
  if (!partial.empty()) {
    s += " partial" + join_braced(std::vector<std::string>(partial.begin(), partial.end()));
  }
  return s;
}

StatusOr<ShardingSpec> ShardingSpec::parse(const std::string& text) {
  Cursor c{text};
  ShardingSpec spec;
  if (!c.eat('[')) return c.error("expected '['");
  if (!c.eat(']')) {
    do {
      TSR_ASSIGN_OR_RETURN(std::vector<std::string> axes, parse_axes(c));
      spec.dims.push_back(std::move(axes));
    } while (c.eat(','));
    if (!c.eat(']')) return c.error("expected ',' or ']'");
  }
  c.skip();
  if (c.pos < text.size()) {
    if (c.ident() != "partial") return c.error("expected 'partial{...}' or the end");
    TSR_ASSIGN_OR_RETURN(std::vector<std::string> axes, parse_axes(c));
    for (const std::string& a : axes) {
      if (!spec.partial.insert(a).second) return c.error("axis '" + a + "' repeats in partial");
    }
    c.skip();
    if (c.pos < text.size()) return c.error("unexpected text after the spec");
  }
  return spec;
}

StatusOr<std::string> ShardingSpec::to_colossal(const Mesh& mesh) const {
  auto indices = [&](const std::vector<std::string>& axes) -> StatusOr<std::string> {
    std::string s;
    for (const std::string& a : axes) {
      int i = mesh.axis_index(a);
      if (i < 0)
        return InvalidArgument("spec " + to_string() + ": mesh " + mesh.to_string() +
                               " has no axis '" + a + "'");
      s += std::to_string(i);
    }
    return s;
  };
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    TSR_ASSIGN_OR_RETURN(std::string idx, indices(dims[d]));
    s += (d ? "," : "") + (idx.empty() ? std::string("R") : "S" + idx);
  }
  s += "]";
  if (!partial.empty()) {
    std::vector<std::string> p(partial.begin(), partial.end());
    TSR_RETURN_IF_ERROR(indices(p).status());  // names a partial axis the mesh lacks
    p.clear();
    for (int i = 0; i < mesh.num_axes(); ++i) {
      if (partial.count(mesh.axis(i).name)) p.push_back(mesh.axis(i).name);
    }
    s += " P" + indices(p).value();
  }
  return s;
}

bool ShardingSpec::is_replicated() const {
  for (const auto& d : dims) {
    if (!d.empty()) return false;
  }
  return partial.empty();
}

bool ShardingSpec::uses_axis(const std::string& axis) const {
  if (partial.count(axis)) return true;
  for (const auto& d : dims) {
    for (const std::string& a : d) {
      if (a == axis) return true;
    }
  }
  return false;
}

Status ShardingSpec::validate(const Shape& shape, const Mesh& mesh) const {
  std::string me = "sharding " + to_string() + " of tensor " + shape_str(shape);
  if (static_cast<int>(shape.size()) != rank()) {
    return InvalidArgument(me + ": the spec has " + std::to_string(rank()) + " dims, the tensor " +
                           std::to_string(shape.size()));
  }
  std::set<std::string> seen;
  auto use = [&](const std::string& a) -> Status {
    if (mesh.axis_index(a) < 0)
      return InvalidArgument(me + ": mesh " + mesh.to_string() + " has no axis '" + a + "'");
    if (!seen.insert(a).second)
      return InvalidArgument(me + ": mesh axis '" + a + "' is used twice");
    return Status::Ok();
  };
  for (int d = 0; d < rank(); ++d) {
    for (const std::string& a : dims[d]) TSR_RETURN_IF_ERROR(use(a));
    int64_t n = num_shards(d, mesh);
    if (shape[d] % n != 0) {
      return InvalidArgument(me + ": dim " + std::to_string(d) + " of size " +
                             std::to_string(shape[d]) + " does not divide into " +
                             std::to_string(n) + " shards");
    }
  }
  for (const std::string& a : partial) TSR_RETURN_IF_ERROR(use(a));
  return Status::Ok();
}

int64_t ShardingSpec::num_shards(int d, const Mesh& mesh) const {
  int64_t n = 1;
  for (const std::string& a : dims[d]) n *= mesh.axis_size(mesh.axis_index(a));
  return n;
}

Shape ShardingSpec::local_shape(const Shape& global, const Mesh& mesh) const {
  Shape s = global;
  for (int d = 0; d < rank(); ++d) s[d] /= num_shards(d, mesh);
  return s;
}

int64_t ShardingSpec::local_bytes(const Shape& global, DType t, const Mesh& mesh) const {
  return num_elements(local_shape(global, mesh)) * dtype_size(t);
}

int64_t ShardingSpec::shard_index(int d, const std::vector<int64_t>& coords,
                                  const Mesh& mesh) const {
  int64_t idx = 0;
  for (const std::string& a : dims[d]) {
    int i = mesh.axis_index(a);
    idx = idx * mesh.axis_size(i) + coords[i];
  }
  return idx;
}

std::vector<int64_t> ShardingSpec::shard_offsets(const Shape& global,
                                                 const std::vector<int64_t>& coords,
                                                 const Mesh& mesh) const {
  std::vector<int64_t> off(rank());
  for (int d = 0; d < rank(); ++d) {
    off[d] = shard_index(d, coords, mesh) * (global[d] / num_shards(d, mesh));
  }
  return off;
}

}  // namespace tessera::spmd
