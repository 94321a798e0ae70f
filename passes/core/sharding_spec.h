// How a tensor is laid out over a mesh: per dimension the mesh axes it is split over (major
// first), plus the axes over which each device holds a partial sum. Axes are named, so a spec
// prints and parses without its mesh; validate() checks it against one.
//   readable:  [{tp}, {}] partial{dp}      replicated rank-2: [{}, {}]
//   Colossal:  [S1,R] (S<axis indices in mesh order>, R = replicated)
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "passes/core/mesh.h"
#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::spmd {

struct ShardingSpec {
  std::vector<std::vector<std::string>> dims;  // per tensor dim, axes major first
  std::set<std::string> partial;               // sum-partial axes (a set: order is meaningless)

  static ShardingSpec replicated(int rank);
  static StatusOr<ShardingSpec> parse(const std::string& text);
  std::string to_string() const;
  // Colossal-AI notation; partial axes, which it has no letter for, print as " P<indices>".
  StatusOr<std::string> to_colossal(const Mesh& mesh) const;

  int rank() const { return static_cast<int>(dims.size()); }
  bool is_replicated() const;  // no dim split and nothing partial
  // Every axis used by a dim or partial, in no particular order; for "is axis free" checks.
  bool uses_axis(const std::string& axis) const;
  // Axes exist, each used once across dims and partial, dims divisible by their split.
  Status validate(const Shape& shape, const Mesh& mesh) const;
  // Number of pieces dim d is cut into (product of its axes' sizes).
  int64_t num_shards(int d, const Mesh& mesh) const;
  Shape local_shape(const Shape& global, const Mesh& mesh) const;
  int64_t local_bytes(const Shape& global, DType t, const Mesh& mesh) const;
  // Which piece of dim d a device at `coords` holds: mixed radix over the dim's axes.
  int64_t shard_index(int d, const std::vector<int64_t>& coords, const Mesh& mesh) const;
  // Element offset of the device's block in the global tensor, per dim.
  std::vector<int64_t> shard_offsets(const Shape& global, const std::vector<int64_t>& coords,
                                     const Mesh& mesh) const;

  bool operator==(const ShardingSpec& o) const { return dims == o.dims && partial == o.partial; }
  bool operator!=(const ShardingSpec& o) const { return !(*this == o); }
  bool operator<(const ShardingSpec& o) const {
    return dims != o.dims ? dims < o.dims : partial < o.partial;
  }
};

}  // namespace tessera::spmd
