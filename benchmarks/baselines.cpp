#include "benchmarks/baselines.h"

#include <algorithm>
#include <numeric>

#include "passes/core/cost_model.h"
#include "passes/core/sharding_spec.h"
#include "passes/core/strategies.h"

namespace tessera::bench {
namespace {

bool is_weight(const ir::Graph& g, int id) {
  return id >= 0 && g.values[id].kind == ir::ValueKind::kWeight;
}
bool is_optimizer(const ir::Node& n) { return n.op == "AdamW" || n.op == "SGD"; }

double bytes_of(const ir::Value& v) {
  return static_cast<double>(num_elements(v.shape)) * dtype_size(v.dtype);
}

// Position of input k among the present inputs (the strategy's input list).
int present_index(const ir::Node& n, size_t k) {
  int idx = 0;
  for (size_t i = 0; i < k; ++i) idx += n.inputs[i] >= 0;
  return idx;
}

// The (k, n) dims of a GEMM's weight operand, or {-1, -1} when the weight is not the right-hand
// side of a 2-D contraction (then the op is not treated as a Megatron GEMM).
std::pair<int, int> weight_dims(const ir::Node& n, size_t input) {
  if (input != 1) return {-1, -1};
  if (n.op == "MatMul") return {0, 1};
  if (n.op == "Gemm")
    return attr_int(n.attrs, "transB", 0) ? std::make_pair(1, 0) : std::make_pair(0, 1);
  return {-1, -1};
}

}  // namespace

passes::StrategyFilter data_parallel_filter() {
  return [](const ir::Graph& g, const ir::Node& n, const spmd::Strategy& s) {
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (is_weight(g, n.inputs[k]) && !s.inputs[present_index(n, k)].is_replicated()) return false;
    return true;
  };
}

MegatronPlan classify_megatron(const ir::Graph& g, const spmd::Mesh& mesh) {
  MegatronPlan p;
  int tp = mesh.axis_index("tp");
  std::vector<char> from_column(g.values.size(), 0);  // derives from a column GEMM's output
  for (const ir::Node& n : g.nodes) {
    int w = -1;
    std::pair<int, int> kn{-1, -1};
    for (size_t k = 0; k < n.inputs.size() && w < 0; ++k) {
      if (!is_weight(g, n.inputs[k]) || g.values[n.inputs[k]].shape.size() != 2) continue;
      kn = weight_dims(n, k);
      if (kn.first >= 0) w = n.inputs[k];
    }
    bool any = false;
    for (int id : n.inputs) any = any || (id >= 0 && from_column[id]);
    bool column = false;
    if (w >= 0) {
      // The first (forward) consumer decides; later uses (backward GEMMs) reuse the class.
      column = !any;
      const Shape& ws = g.values[w].shape;
      int dim = column ? kn.second : kn.first;
      if (tp >= 0 && !p.spec.count(w) && ws[dim] % mesh.axis_size(tp) == 0) {
        spmd::ShardingSpec spec = spmd::ShardingSpec::replicated(2);
        spec.dims[dim] = {"tp"};
        p.spec[w] = spec.to_string();
        ++(column ? p.column : p.row);
      }
    }
    for (int o : n.outputs) from_column[o] = w >= 0 ? column : any;
  }
  return p;
}

passes::StrategyFilter megatron_filter(const MegatronPlan& plan) {
  return [plan](const ir::Graph& g, const ir::Node& n, const spmd::Strategy& s) {
    if (is_optimizer(n)) return true;  // optimizer layout free: Megatron + ZeRO-1 and beyond
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      auto it = n.inputs[k] >= 0 ? plan.spec.find(n.inputs[k]) : plan.spec.end();
      if (it != plan.spec.end() && s.inputs[present_index(n, k)].to_string() != it->second)
        return false;
    }
    (void)g;
    return true;
  };
}

Zero3 zero3_estimate(const ir::Graph& g, const passes::PipelineContext& ctx, double dp_seconds,
                     double dp_peak) {
  const spmd::Mesh& mesh = ctx.mesh;
  std::vector<int> all(mesh.num_axes());
  std::iota(all.begin(), all.end(), 0);
  double N = static_cast<double>(mesh.world_size());
  bool train = ctx.mode == "train";
  auto coll = [&](spmd::Collective c, double b) {
    return spmd::collective_seconds(c, b, all, mesh, ctx.cluster);
  };
  // The DP plan counts a replicated weight once per consumer (the solver's parameter memory).
  std::vector<int> consumers(g.values.size(), 0), optimized(g.values.size(), 0);
  for (const ir::Node& n : g.nodes)
    for (int id : n.inputs)
      if (is_weight(g, id)) {
        ++consumers[id];
        if (is_optimizer(n) && id == n.inputs[0]) optimized[id] = 1;
      }
  Zero3 z{dp_seconds, dp_peak};
  double largest = 0;
  for (size_t id = 0; id < g.values.size(); ++id) {
    const ir::Value& v = g.values[id];
    if (v.kind != ir::ValueKind::kWeight || consumers[id] == 0) continue;
    double b = bytes_of(v);
    z.peak_bytes -= b * consumers[id] - b / N;
    bool state = train && !optimized[id];  // optimizer moments and step: sharded, never gathered
    if (state || !dtype_is_float(v.dtype)) continue;
    largest = std::max(largest, b);
    if (!train) {
      z.seconds += coll(spmd::Collective::kAllGather, b);
      continue;
    }
    // Gather for forward and again for backward; reduce-scatter the gradient instead of DP's
    // all-reduce; each device updates 1/N of the weights instead of all of them.
    z.seconds += 2 * coll(spmd::Collective::kAllGather, b) +
                 coll(spmd::Collective::kReduceScatter, b) - coll(spmd::Collective::kAllReduce, b);
    z.seconds -= (1 - 1 / N) *
                 spmd::compute_seconds(10.0 * num_elements(v.shape), 7 * b, v.dtype, ctx.cluster);
    z.peak_bytes -= b * (1 - 1 / N);  // the gradient, live until the update, is sharded too
  }
  z.peak_bytes += 2 * largest;  // a gathered weight (and, training, its gradient) in flight
  return z;
}

}  // namespace tessera::bench
