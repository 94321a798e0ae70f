// Strategies of one op: every way of giving mesh axes to the factors of its rule (each axis at
// most once, axes of a factor in mesh order, divisibility respected), with the specs it implies
// and its per-device cost. Size-1 axes are never assigned.
#pragma once
#include <vector>

#include "passes/core/cluster.h"
#include "passes/core/sharding_rules.h"
#include "passes/core/sharding_spec.h"

namespace tessera::spmd {

struct Strategy {
  std::vector<std::vector<int>> factor_axes;  // per factor, mesh axis indices, major first
  std::vector<ShardingSpec> inputs, outputs;  // outputs partial over split reduction factors
  double compute_seconds = 0;                 // per device, roofline
  std::vector<int64_t> input_bytes;           // local bytes per input
  int64_t output_bytes = 0;                   // local bytes of all results
  std::string name(const Mesh& mesh) const;   // "b:{dp} n:{tp}" by factor index; "replicated"
};

// Roofline seconds of one device's share of an op split `split` ways, `io_bytes` being its
// local inputs and outputs: the rule's FLOPs and scratch added, views free.
double op_seconds(const OpRule& rule, double io_bytes, int64_t split, DType dtype,
                  const ClusterProfile& profile);

// Enumeration order: mesh axes in order, each trying "unused" first and then the factors in
// order, so the fully replicated strategy comes first. `dtype` prices bytes and GEMM rate;
// `operand_dtypes` (inputs then outputs), when given, prices each operand's bytes instead (ops
// of mixed dtypes: a 16-bit LayerNorm input beside its f32 scale, the f32 softmax of a 16-bit
// loss gradient).
std::vector<Strategy> enumerate_strategies(const OpRule& rule, const std::vector<Shape>& inputs,
                                           const std::vector<Shape>& outputs, DType dtype,
                                           const Mesh& mesh, const ClusterProfile& profile,
                                           int max_axes_per_factor = 2,
                                           const std::vector<DType>& operand_dtypes = {});

}  // namespace tessera::spmd
