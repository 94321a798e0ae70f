// Seconds for collectives (α-β per mesh axis) and for local compute (roofline).
//
// A collective over a group of n devices spanning one or more mesh axes runs as one ring over
// the whole group (what NCCL does): every step crosses the group's slowest link, so it costs
// alpha = max alpha and beta = max beta over the group's axes. Hierarchical algorithms can beat
// this on multi-node groups; we accept overestimating those (simple, and it never prefers a
// plan because of an optimistic guess).
//   all-reduce      2(n-1)·α + 2(n-1)/n · B·β    B = bytes per device (in = out)
//   all-gather       (n-1)·α +  (n-1)/n · B·β    B = bytes per device after (the gathered size)
//   reduce-scatter   (n-1)·α +  (n-1)/n · B·β    B = bytes per device before
//   all-to-all       (n-1)·α +  (n-1)/n · B·β    B = bytes per device (in = out); each device
//                    keeps 1/n and sends the rest through its own link (pairwise exchange on a
//                    switched fabric). Colossal-AI's (n-1)/n²·B·β·n/2 is half of this.
#pragma once
#include <string>
#include <vector>

#include "passes/core/cluster.h"
#include "passes/core/mesh.h"

namespace tessera::spmd {

enum class Collective { kAllReduce, kAllGather, kReduceScatter, kAllToAll };
const char* collective_name(Collective c);

// `axes` are mesh axis indices forming the group; an empty group costs 0.
double collective_seconds(Collective c, double bytes, const std::vector<int>& axes,
                          const Mesh& mesh, const ClusterProfile& profile);

// Roofline: max(flops / GEMM rate of dtype, bytes / memory bandwidth). `bytes` counts what the
// op reads and writes; non-GEMM ops are always memory bound on these devices, so one rate does.
double compute_seconds(double flops, double bytes, DType t, const ClusterProfile& profile);

// A local copy writing `bytes` (and reading as many: the bandwidth counts both).
double copy_seconds(double bytes, const ClusterProfile& profile);

}  // namespace tessera::spmd
