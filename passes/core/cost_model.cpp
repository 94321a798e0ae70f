#include "passes/core/cost_model.h"

#include <algorithm>

namespace tessera::spmd {

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::kAllReduce:
      return "all-reduce";
    case Collective::kAllGather:
      return "all-gather";
    case Collective::kReduceScatter:
      return "reduce-scatter";
    case Collective::kAllToAll:
      return "all-to-all";
  }
  return "?";
}

double collective_seconds(Collective c, double bytes, const std::vector<int>& axes,
                          const Mesh& mesh, const ClusterProfile& profile) {
  double n = static_cast<double>(mesh.group_size(axes));
  if (n <= 1) return 0;
  double alpha = 0, beta = 0;
  for (int a : axes) {
    alpha = std::max(alpha, profile.links[a].alpha);
    beta = std::max(beta, profile.links[a].beta);
  }
  double steps = n - 1, share = (n - 1) / n;
  if (c == Collective::kAllReduce) steps *= 2, share *= 2;
  return steps * alpha + share * bytes * beta;
}

double compute_seconds(double flops, double bytes, DType t, const ClusterProfile& profile) {
  return std::max(flops / profile.gemm_flops(t), bytes / profile.device.mem_bandwidth);
}

double copy_seconds(double bytes, const ClusterProfile& profile) {
  return 2 * bytes / profile.device.mem_bandwidth;
}

}  // namespace tessera::spmd
