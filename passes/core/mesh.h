// Device mesh: named axes with sizes, e.g. "dp=2,tp=4" (8 devices). Ranks map to coordinates
// row-major (the first axis varies slowest), so rank = ((c0 * s1) + c1) * s2 + c2 ...
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::spmd {

struct MeshAxis {
  std::string name;
  int64_t size = 1;
};

class Mesh {
 public:
  Mesh() = default;  // no axes: one device
  // Checks names (identifiers, unique) and sizes (>= 1).
  static StatusOr<Mesh> create(std::vector<MeshAxis> axes);
  // "dp=2,tp=4"; whitespace around tokens is ignored.
  static StatusOr<Mesh> parse(const std::string& text);

  int num_axes() const { return static_cast<int>(axes_.size()); }
  const std::vector<MeshAxis>& axes() const { return axes_; }
  const MeshAxis& axis(int i) const { return axes_[i]; }
  int64_t axis_size(int i) const { return axes_[i].size; }
  // Index of the axis with this name, -1 when absent.
  int axis_index(const std::string& name) const;
  // Product of all axis sizes.
  int64_t world_size() const;
  // Product of the sizes of the given axes (indices).
  int64_t group_size(const std::vector<int>& axes) const;

  std::vector<int64_t> coords(int64_t rank) const;
  int64_t rank(const std::vector<int64_t>& coords) const;
  std::string to_string() const;  // "dp=2,tp=4"
  bool operator==(const Mesh& o) const;

 private:
  std::vector<MeshAxis> axes_;
};

}  // namespace tessera::spmd
