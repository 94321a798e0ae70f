// Resharding: the cheapest sequence of primitives converting a tensor from one spec to another,
// found by Dijkstra over specs (every spec of the tensor is a state; the space is small: each
// mesh axis sits in one dim, in partial, or nowhere). Primitives:
//   Slice(dim, axes)            append free axes to dim's minor end; local copy, no comm
//   AllGather(dim, axes)        drop a minor suffix of dim's axes
//   AllToAll(axes, dim->to_dim) move a minor suffix of dim's axes to to_dim's minor end
//   ReduceScatter(axes -> dim)  sum over partial axes, leaving dim split over them
//   AllReduce(axes)             sum over partial axes, replicated over them
//   MakePartial(axes)           a replicated value becomes partial over free axes: the first
//                               rank of each group keeps it, the others hold zeros (local)
// Ties in cost are broken by fewer steps, then by the printed spec: results are deterministic.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "passes/core/cluster.h"
#include "passes/core/mesh.h"
#include "passes/core/sharding_spec.h"

namespace tessera::spmd {

enum class ReshardOp { kSlice, kAllGather, kAllToAll, kReduceScatter, kAllReduce, kMakePartial };
const char* reshard_op_name(ReshardOp op);

struct ReshardStep {
  ReshardOp op = ReshardOp::kSlice;
  std::vector<std::string> axes;  // mesh axes the step acts over, major first
  int dim = -1;                   // Slice/AllGather: the dim; AllToAll: from; ReduceScatter: to
  int to_dim = -1;                // AllToAll only
  ShardingSpec after;
  double seconds = 0;
  std::string to_string() const;  // "all-to-all{x} dim 1 -> 0 => [{x}, {}, {}]"
};

struct ReshardPlan {
  std::vector<ReshardStep> steps;
  double seconds = 0;
  std::string to_string() const;  // one step per line
};

struct TensorType {
  Shape shape;
  DType dtype = DType::kFloat32;
};

// The cheapest conversion; an empty plan when src == dst. Errors for invalid specs and for
// targets that cannot be reached (a partial axis in dst that src lacks).
StatusOr<ReshardPlan> find_reshard(const TensorType& t, const Mesh& mesh,
                                   const ClusterProfile& profile, const ShardingSpec& src,
                                   const ShardingSpec& dst);

// Costs from one source to every spec reachable from it, memoised per (type, source): the
// solver asks for |strategies|² conversions per edge and this makes each a map lookup.
class ReshardCostCache {
 public:
  ReshardCostCache(const Mesh& mesh, const ClusterProfile& profile)
      : mesh_(mesh), profile_(profile) {}
  // Seconds from src to dst; +infinity when unreachable.
  double seconds(const TensorType& t, const ShardingSpec& src, const ShardingSpec& dst);

 private:
  const Mesh& mesh_;
  const ClusterProfile& profile_;
  std::map<std::string, std::map<ShardingSpec, double>> from_;
};

}  // namespace tessera::spmd
