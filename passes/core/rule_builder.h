// Internal to the sharding rules: a small builder so each op's rule reads as its einsum.
#pragma once
#include <string>
#include <vector>

#include "passes/core/sharding_rules.h"

namespace tessera::spmd::rules {

struct Builder {
  OpRule r;
  const std::vector<Shape>& in;
  const std::vector<Shape>& out;

  Builder(const std::string& op, const std::vector<Shape>& i, const std::vector<Shape>& o)
      : in(i), out(o) {
    r.op = op;
    for (const Shape& s : in) r.inputs.emplace_back(s.size(), -1);
    for (const Shape& s : out) r.outputs.emplace_back(s.size(), -1);
    r.summed_into_result.assign(in.size(), false);
  }
  int factor(int64_t size, FactorKind kind = FactorKind::kParallel, std::string why = "") {
    r.factors.push_back({size, kind, std::move(why)});
    return static_cast<int>(r.factors.size()) - 1;
  }
  void in_dim(size_t i, int d, int f) { r.inputs[i][d] = f; }
  void out_dim(size_t o, int d, int f) { r.outputs[o][d] = f; }
  int64_t numel_out() const {
    int64_t n = 0;
    for (const Shape& s : out) n += num_elements(s);
    return n;
  }
};

using RuleFn = StatusOr<OpRule> (*)(const std::string& op, const AttrMap& attrs,
                                    const std::vector<Shape>& in, const std::vector<Shape>& out);

// Checks operand counts; `max_in` < 0 means any number >= min_in.
Status expect_arity(const std::string& op, const std::vector<Shape>& in,
                    const std::vector<Shape>& out, int min_in, int max_in, int n_out);

// Per-op rule functions (sharding_rules_ops.cpp, sharding_rules_shape.cpp).
StatusOr<OpRule> elementwise(const std::string&, const AttrMap&, const std::vector<Shape>&,
                             const std::vector<Shape>&);
StatusOr<OpRule> softmax(const std::string&, const AttrMap&, const std::vector<Shape>&,
                         const std::vector<Shape>&);
StatusOr<OpRule> matmul(const std::string&, const AttrMap&, const std::vector<Shape>&,
                        const std::vector<Shape>&);
StatusOr<OpRule> gemm(const std::string&, const AttrMap&, const std::vector<Shape>&,
                      const std::vector<Shape>&);
StatusOr<OpRule> conv(const std::string&, const AttrMap&, const std::vector<Shape>&,
                      const std::vector<Shape>&);
StatusOr<OpRule> pool(const std::string&, const AttrMap&, const std::vector<Shape>&,
                      const std::vector<Shape>&);
StatusOr<OpRule> batch_norm(const std::string&, const AttrMap&, const std::vector<Shape>&,
                            const std::vector<Shape>&);
StatusOr<OpRule> layer_norm(const std::string&, const AttrMap&, const std::vector<Shape>&,
                            const std::vector<Shape>&);
StatusOr<OpRule> group_norm(const std::string&, const AttrMap&, const std::vector<Shape>&,
                            const std::vector<Shape>&);
StatusOr<OpRule> reduce(const std::string&, const AttrMap&, const std::vector<Shape>&,
                        const std::vector<Shape>&);
StatusOr<OpRule> reshape(const std::string&, const AttrMap&, const std::vector<Shape>&,
                         const std::vector<Shape>&);
StatusOr<OpRule> transpose(const std::string&, const AttrMap&, const std::vector<Shape>&,
                           const std::vector<Shape>&);
StatusOr<OpRule> same_rank_axis_ops(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                    const std::vector<Shape>&);
StatusOr<OpRule> gather(const std::string&, const AttrMap&, const std::vector<Shape>&,
                        const std::vector<Shape>&);
StatusOr<OpRule> dropout(const std::string&, const AttrMap&, const std::vector<Shape>&,
                         const std::vector<Shape>&);
// sharding_rules_quant.cpp
StatusOr<OpRule> quantize(const std::string&, const AttrMap&, const std::vector<Shape>&,
                          const std::vector<Shape>&);
StatusOr<OpRule> qmatmul(const std::string&, const AttrMap&, const std::vector<Shape>&,
                         const std::vector<Shape>&);
StatusOr<OpRule> qconv(const std::string&, const AttrMap&, const std::vector<Shape>&,
                       const std::vector<Shape>&);
StatusOr<OpRule> generator(const std::string&, const AttrMap&, const std::vector<Shape>&,
                           const std::vector<Shape>&);

// Training ops (sharding_rules_train.cpp).
StatusOr<OpRule> softmax_cross_entropy(const std::string&, const AttrMap&,
                                       const std::vector<Shape>&, const std::vector<Shape>&);
StatusOr<OpRule> softmax_cross_entropy_grad(const std::string&, const AttrMap&,
                                            const std::vector<Shape>&, const std::vector<Shape>&);
StatusOr<OpRule> layer_norm_grad(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                 const std::vector<Shape>&);
StatusOr<OpRule> conv_grad_weight(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                  const std::vector<Shape>&);
StatusOr<OpRule> pool_grad(const std::string&, const AttrMap&, const std::vector<Shape>&,
                           const std::vector<Shape>&);
StatusOr<OpRule> gather_grad(const std::string&, const AttrMap&, const std::vector<Shape>&,
                             const std::vector<Shape>&);
StatusOr<OpRule> gather_elements_grad(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                      const std::vector<Shape>&);
StatusOr<OpRule> batch_norm_train(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                  const std::vector<Shape>&);
StatusOr<OpRule> optimizer(const std::string&, const AttrMap&, const std::vector<Shape>&,
                           const std::vector<Shape>&);

// Fused attention (sharding_rules_attention.cpp).
StatusOr<OpRule> fused_attention(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                 const std::vector<Shape>&);
StatusOr<OpRule> fused_attention_grad(const std::string&, const AttrMap&, const std::vector<Shape>&,
                                      const std::vector<Shape>&);

}  // namespace tessera::spmd::rules
