// Hand-plan families the searched plan is compared against, scored by the same cost model:
//   pure data parallelism  a StrategyFilter: every weight input replicated (gradients
//                          all-reduced, optimizer replicated: DDP);
//   Megatron-style         a StrategyFilter pinning weight-GEMM weights to column- or
//                          row-parallel layouts over `tp`; the rest is left to the search, so
//                          it scores the best completion of the Megatron pattern (at least as
//                          good as a hand Megatron plan; in train mode the optimizer layout is
//                          free too, which covers Megatron + ZeRO-1);
//   ZeRO-3                 analytic: the DP plan plus per-use all-gathers of every weight over
//                          all devices (and a gradient reduce-scatter instead of the all-reduce).
#pragma once
#include <map>
#include <string>

#include "ir/graph.h"
#include "passes/pipeline.h"

namespace tessera::bench {

passes::StrategyFilter data_parallel_filter();

// Weight value id -> the printed spec every GEMM/Transpose consumer must give it. Weights of
// GEMMs whose activation derives (through anything but another weight GEMM) from a
// column-parallel GEMM's output are row-parallel (k split over tp), the others
// column-parallel (n split over tp). Dims not divisible by tp stay unclassified (free).
struct MegatronPlan {
  std::map<int, std::string> spec;  // weight value id -> required spec
  int column = 0, row = 0;          // counts, for the report
};
MegatronPlan classify_megatron(const ir::Graph& g, const spmd::Mesh& mesh);
passes::StrategyFilter megatron_filter(const MegatronPlan& plan);

struct Zero3 {
  double seconds = 0;
  double peak_bytes = 0;
};
// `dp_seconds`/`dp_peak` are the pure-DP plan's figures on the same graph and context.
Zero3 zero3_estimate(const ir::Graph& g, const passes::PipelineContext& ctx, double dp_seconds,
                     double dp_peak);

}  // namespace tessera::bench
