#include "passes/core/mesh.h"

#include <cctype>

namespace tessera::spmd {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

StatusOr<Mesh> Mesh::create(std::vector<MeshAxis> axes) {
  for (size_t i = 0; i < axes.size(); ++i) {
    const MeshAxis& a = axes[i];
    if (!is_identifier(a.name)) {
      return InvalidArgument("mesh axis name '" + a.name + "' is not an identifier");
    }
    if (a.size < 1) {
      return InvalidArgument("mesh axis '" + a.name + "' has size " + std::to_string(a.size) +
                             "; sizes must be >= 1");
    }
    for (size_t j = 0; j < i; ++j) {
      if (axes[j].name == a.name)
        return InvalidArgument("mesh axis '" + a.name + "' appears twice");
    }
  }
  Mesh m;
  m.axes_ = std::move(axes);
  return m;
}

StatusOr<Mesh> Mesh::parse(const std::string& text) {
  if (trim(text).empty()) return InvalidArgument("empty mesh; expected e.g. 'dp=2,tp=4'");
  std::vector<MeshAxis> axes;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = trim(text.substr(pos, comma - pos));
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument("mesh '" + text + "': item '" + item + "' is not name=size");
    }
    std::string name = trim(item.substr(0, eq));
    std::string num = trim(item.substr(eq + 1));
    bool digits = !num.empty() && num.size() <= 12;
    for (char c : num) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits) {
      return InvalidArgument("mesh '" + text + "': size of axis '" + name + "' is '" + num +
                             "', not a positive integer");
    }
    axes.push_back({name, std::stoll(num)});
    pos = comma + 1;
  }
  StatusOr<Mesh> m = create(std::move(axes));
  if (!m.ok()) return InvalidArgument("mesh '" + text + "': " + m.status().message());
  return m;
}

int Mesh::axis_index(const std::string& name) const {
  for (int i = 0; i < num_axes(); ++i) {
    if (axes_[i].name == name) return i;
  }
  return -1;
}

int64_t Mesh::world_size() const {
  int64_t n = 1;
  for (const MeshAxis& a : axes_) n *= a.size;
  return n;
}

int64_t Mesh::group_size(const std::vector<int>& axes) const {
  int64_t n = 1;
  for (int a : axes) n *= axes_[a].size;
  return n;
}

std::vector<int64_t> Mesh::coords(int64_t rank) const {
  std::vector<int64_t> c(axes_.size());
  for (int i = num_axes() - 1; i >= 0; --i) {
    c[i] = rank % axes_[i].size;
    rank /= axes_[i].size;
  }
  return c;
}

int64_t Mesh::rank(const std::vector<int64_t>& coords) const {
  int64_t r = 0;
  for (int i = 0; i < num_axes(); ++i) r = r * axes_[i].size + coords[i];
  return r;
}

std::string Mesh::to_string() const {
  std::string s;
  for (const MeshAxis& a : axes_) {
    if (!s.empty()) s += ",";
    s += a.name + "=" + std::to_string(a.size);
  }
  return s;
}

bool Mesh::operator==(const Mesh& o) const {
  if (axes_.size() != o.axes_.size()) return false;
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (axes_[i].name != o.axes_[i].name || axes_[i].size != o.axes_[i].size) return false;
  }
  return true;
}

}  // namespace tessera::spmd
