// Op sharding rules, factor based (like an einsum): every operand and result dimension maps to a
// factor or to none (-1: that dim is never split, e.g. broadcast size-1 dims); a factor is
// parallel or a reduction. Giving a factor mesh axes splits every dim mapped to it; splitting a
// reduction factor leaves the results partial sums over those axes.
//
// One explicit table (sharding_rules.cpp) keyed by canonical op name (docs/ops.md). Absent
// optional inputs are trailing in every canonical op: pass the shapes of present inputs only.
#pragma once
#include <string>
#include <vector>

#include "tessera/attr.h"
#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::spmd {

enum class FactorKind { kParallel, kReduction };

struct Factor {
  int64_t size = 1;
  FactorKind kind = FactorKind::kParallel;
  std::string cannot_split;  // why the factor must stay whole; empty = splittable
};

struct OpRule {
  std::string op;
  std::vector<Factor> factors;
  std::vector<std::vector<int>> inputs;   // [input][dim] -> factor index or -1
  std::vector<std::vector<int>> outputs;  // [result][dim] -> factor index or -1
  // Inputs added to the reduction's result (Gemm's c): when the reduction is split they must
  // arrive partial over the same axes, else they would be summed once per shard.
  std::vector<bool> summed_into_result;
  // Results that sum over a parallel factor (a mean loss over rows, LayerNorm's dscale): splitting
  // that factor leaves only these results partial. [result] -> factor indices; may be empty.
  std::vector<std::vector<int>> output_sums;
  double flops = 0;      // whole op, for the roofline
  // Element reads and writes of kernel scratch beyond reading the inputs and writing the results
  // once (the fused attention's passes over its scores), whole op: the roofline prices them in
  // the op's dtype and divides them over the split like the flops.
  double scratch_elements = 0;
  bool is_view = false;  // Reshape and friends: no data moves, costs nothing

  // "MatMul (b=2 m=8 n=16 k=4r): bmk, bkn -> bmn"; '.' = unmapped dim, '!' = unsplittable.
  std::string to_string() const;
};

// The rule of one op instance; errors name the op and what does not fit (unknown op, wrong
// number of operands, shapes that contradict the attributes).
StatusOr<OpRule> sharding_rule(const std::string& op, const AttrMap& attrs,
                               const std::vector<Shape>& inputs, const std::vector<Shape>& outputs);

// Every op the table covers, sorted.
std::vector<std::string> ops_with_rules();

}  // namespace tessera::spmd
