// spmd-search: choose, per op, how its tensors are split over the mesh. Adapts the graph to the
// solver core (passes/core/solver.h): one solver node per op with the strategies its sharding
// rule allows, resharding costs on every activation edge, weights' local bytes as parameter
// memory, and nodes of repeated layers grouped so they share one choice. Writes the choice back
// as Node.strategy / Node.input_specs and Value.sharding; reshard then inserts collectives.
#include <cmath>
#include <map>
#include <numeric>

#include "passes/core/cost_model.h"
#include "passes/core/reshard.h"
#include "passes/core/solver.h"
#include "passes/core/strategies.h"
#include "passes/pipeline.h"
#include "passes/strategy_file.h"

namespace tessera::passes {
namespace {

// A resharding cost standing for "impossible" (a partial axis the producer cannot give); large
// but finite so the ILP stays well-conditioned.
constexpr double kForbidden = 1e6;

bool is_leaf(const ir::Value& v) { return v.kind != ir::ValueKind::kActivation; }

std::vector<Shape> present_shapes(const ir::Graph& g, const std::vector<int>& ids) {
  std::vector<Shape> s;
  for (int id : ids)
    if (id >= 0) s.push_back(g.values[id].shape);
  return s;
}

// The strategy that keeps everything whole: always legal, used for ops without a rule.
spmd::Strategy replicated_strategy(const ir::Graph& g, const ir::Node& n,
                                   const PipelineContext& ctx) {
  spmd::Strategy s;
  double bytes = 0;
  for (int id : n.inputs) {
    if (id < 0) continue;
    const auto& v = g.values[id];
    s.inputs.push_back(spmd::ShardingSpec::replicated(static_cast<int>(v.shape.size())));
    s.input_bytes.push_back(num_elements(v.shape) * dtype_size(v.dtype));
    bytes += s.input_bytes.back();
  }
  for (int id : n.outputs) {
    const auto& v = g.values[id];
    s.outputs.push_back(spmd::ShardingSpec::replicated(static_cast<int>(v.shape.size())));
    s.output_bytes += num_elements(v.shape) * dtype_size(v.dtype);
  }
  s.compute_seconds = spmd::copy_seconds(bytes + s.output_bytes, ctx.cluster);
  return s;
}

std::vector<spmd::Strategy> strategies_for(const ir::Graph& g, const ir::Node& n,
                                           const PipelineContext& ctx) {
  auto rule =
      spmd::sharding_rule(n.op, n.attrs, present_shapes(g, n.inputs), present_shapes(g, n.outputs));
  if (!rule.ok()) return {replicated_strategy(g, n, ctx)};
  DType dt = g.values[n.outputs[0]].dtype;
  if (ctx.mesh.world_size() <= 1) {
    // One device: nothing to choose, but the step, checkpoint and chunk models still need the
    // op's roofline time (FLOPs, views free), not the copy time of its bytes.
    spmd::Strategy s = replicated_strategy(g, n, ctx);
    const double io = std::accumulate(s.input_bytes.begin(), s.input_bytes.end(), s.output_bytes);
    s.compute_seconds = spmd::op_seconds(*rule, io, 1, dt, ctx.cluster);
    return {s};
  }
  // Ops in a mixed-dtype form (out_dtype, passes/fold_casts.cpp: 16-bit activations beside f32
  // weights or softmax) price each operand by its own dtype; the others as before, by dt.
  std::vector<DType> dts;
  if (attr_has(n.attrs, "out_dtype"))
    for (const auto* ids : {&n.inputs, &n.outputs})
      for (int id : *ids)
        if (id >= 0) dts.push_back(g.values[id].dtype);
  auto s =
      spmd::enumerate_strategies(*rule, present_shapes(g, n.inputs), present_shapes(g, n.outputs),
                                 dt, ctx.mesh, ctx.cluster, 2, dts);
  if (s.empty()) return {replicated_strategy(g, n, ctx)};
  return s;
}

// Layer signature: the node name with digit runs erased, plus op and shapes. Nodes of the same
// transformer layer repeated N times share it, so the ILP has one set of variables for all N.
std::string signature(const ir::Graph& g, const ir::Node& n) {
  std::string s;
  for (char c : n.name)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      s += c;
    else if (s.empty() || s.back() != '#')
      s += '#';
  s += "|" + n.op;
  for (int id : n.inputs) s += "|" + (id < 0 ? std::string("-") : shape_str(g.values[id].shape));
  for (int id : n.outputs) s += "|" + shape_str(g.values[id].shape);
  for (const auto& [k, a] : n.attrs) {
    s += "|" + k + "=" + std::to_string(a.i) + a.s;
    for (int64_t x : a.ints) s += "," + std::to_string(x);
  }
  return s;
}

struct Builder {
  ir::Graph& g;
  PipelineContext& ctx;
  std::vector<std::vector<spmd::Strategy>> strat;  // per graph node
  spmd::SolverGraph sg;
  spmd::ReshardCostCache cache;
  bool activations_elastic = false;

  Builder(ir::Graph& graph, PipelineContext& c) : g(graph), ctx(c), cache(c.mesh, c.cluster) {}

  // Index of input `k` (counting present inputs only) in a strategy's input list.
  static int present_index(const ir::Node& n, size_t k) {
    int idx = 0;
    for (size_t i = 0; i < k; ++i) idx += n.inputs[i] >= 0;
    return idx;
  }

  void add_node(size_t ni, std::map<std::string, int>& groups) {
    const ir::Node& n = g.nodes[ni];
    spmd::SolverNode sn;
    sn.name = n.name;
    for (const auto& s : strat[ni]) {
      sn.cost.push_back(s.compute_seconds);
      // Activations left to the checkpoint pass count nothing here (see run_spmd_search).
      sn.out_bytes.push_back(activations_elastic ? 0.0 : static_cast<double>(s.output_bytes));
      double params = 0, leaf_cost = 0;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        if (n.inputs[k] < 0 || !is_leaf(g.values[n.inputs[k]])) continue;
        int pi = present_index(n, k);
        if (g.values[n.inputs[k]].kind != ir::ValueKind::kInput)
          params += static_cast<double>(s.input_bytes[pi]);
        // A leaf wanted partial (a bias added to a split reduction) is zeroed on all but one
        // rank of the group: a local copy.
        if (!s.inputs[pi].partial.empty())
          leaf_cost += spmd::copy_seconds(static_cast<double>(s.input_bytes[pi]), ctx.cluster);
      }
      sn.param_bytes.push_back(params);
      sn.cost.back() += leaf_cost;
    }
    for (int o : n.outputs)
      for (int go : g.outputs) sn.live_to_end |= (o == go);
    if (strat[ni].size() > 1) {
      auto [it, fresh] = groups.emplace(signature(g, n) + "#" + std::to_string(strat[ni].size()),
                                        static_cast<int>(groups.size()));
      (void)fresh;
      sn.group = it->second;
    }
    sg.nodes.push_back(std::move(sn));
  }

  void add_edges(size_t ni) {
    const ir::Node& n = g.nodes[ni];
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int vid = n.inputs[k];
      if (vid < 0 || is_leaf(g.values[vid])) continue;
      const ir::Value& v = g.values[vid];
      int src = v.producer;
      int out_idx = 0;
      while (g.nodes[src].outputs[out_idx] != vid) ++out_idx;
      int pi = present_index(n, k);
      spmd::SolverEdge e;
      e.src = src;
      e.dst = static_cast<int>(ni);
      for (const auto& a : strat[src]) {
        std::vector<double> row;
        for (const auto& b : strat[ni]) {
          double c = cache.seconds({v.shape, v.dtype}, a.outputs[out_idx], b.inputs[pi]);
          row.push_back(std::isfinite(c) ? c : kForbidden);
        }
        e.cost.push_back(std::move(row));
      }
      sg.edges.push_back(std::move(e));
    }
  }
};

void apply(ir::Graph& g, const PipelineContext& ctx, const Builder& b,
           const std::vector<int>& choice) {
  for (auto& v : g.values)
    if (is_leaf(v)) v.sharding.clear();
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    ir::Node& n = g.nodes[ni];
    const spmd::Strategy& s = b.strat[ni][choice[ni]];
    n.strategy = s.name(ctx.mesh);
    n.input_specs.assign(n.inputs.size(), "");
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] < 0) continue;
      n.input_specs[k] = s.inputs[Builder::present_index(n, k)].to_string();
      ir::Value& v = g.values[n.inputs[k]];
      // Leaves take the layout their first consumer wants: weights are stored pre-sharded and
      // inputs are cut by the runtime, so that costs no communication.
      if (is_leaf(v) && v.sharding.empty() &&
          s.inputs[Builder::present_index(n, k)].partial.empty())
        v.sharding = n.input_specs[k];
    }
    for (size_t o = 0; o < n.outputs.size(); ++o)
      g.values[n.outputs[o]].sharding = s.outputs[o].to_string();
  }
  for (auto& v : g.values)
    if (is_leaf(v) && v.sharding.empty())
      v.sharding = spmd::ShardingSpec::replicated(static_cast<int>(v.shape.size())).to_string();
}

// What each alternative would have cost with every other node's choice fixed: the node's own
// seconds plus the conversions on its edges. O(nodes·strategies + edges·strategies).
void record_candidates(ir::Graph& g, const PipelineContext& ctx, const Builder& b,
                       const std::vector<int>& choice) {
  std::vector<std::vector<size_t>> edges_of(g.nodes.size());
  for (size_t e = 0; e < b.sg.edges.size(); ++e) {
    edges_of[b.sg.edges[e].src].push_back(e);
    edges_of[b.sg.edges[e].dst].push_back(e);
  }
  std::map<int, int> group_size;
  for (const auto& sn : b.sg.nodes)
    if (sn.group >= 0) ++group_size[sn.group];
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const spmd::SolverNode& sn = b.sg.nodes[ni];
    ir::Node& n = g.nodes[ni];
    n.candidates.clear();
    for (size_t k = 0; k < b.strat[ni].size(); ++k) {
      ir::CandidateCost c;
      c.strategy = b.strat[ni][k].name(ctx.mesh);
      c.compute_seconds = sn.cost[k];
      for (size_t e : edges_of[ni]) {
        const spmd::SolverEdge& ed = b.sg.edges[e];
        c.reshard_seconds += ed.dst == static_cast<int>(ni) ? ed.cost[choice[ed.src]][k]
                                                            : ed.cost[k][choice[ed.dst]];
      }
      if (c.reshard_seconds >= kForbidden) c.reshard_seconds = INFINITY;
      c.total_seconds = c.compute_seconds + c.reshard_seconds;
      c.memory_bytes = static_cast<int64_t>(sn.out_bytes[k] + sn.param_bytes[k]);
      n.candidates.push_back(std::move(c));
    }
    n.chosen = choice[ni];
    n.modelled_seconds = sn.cost[choice[ni]];
    n.group_size = sn.group >= 0 ? group_size[sn.group] : 1;
  }
}

}  // namespace

Status run_spmd_search(ir::Graph& g, PipelineContext& ctx) {
  record_context(ctx, g);
  Builder b(g, ctx);
  // Two-stage design (sharding, then checkpoint placement): when checkpointing may recompute
  // activations, the ILP's memory rows hold parameters, gradients' and optimizer state only;
  // the checkpoint pass then fits the activations into what is left, knowing what
  // recomputation saves. Constraining activations here would reject plans recomputation fits.
  b.activations_elastic = ctx.mode == "train" && attr_str(g.meta, "checkpoint", "auto") != "none";
  StrategyOverrides forced;
  if (!ctx.strategy_file.empty()) {
    TSR_ASSIGN_OR_RETURN(forced, load_strategy_file(ctx.strategy_file));
  }
  std::map<std::string, int> groups;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    b.strat.push_back(strategies_for(g, g.nodes[ni], ctx));
    if (ctx.filter) {
      auto& cand = b.strat.back();
      std::vector<spmd::Strategy> keep;
      for (auto& s : cand)
        if (ctx.filter(g, g.nodes[ni], s)) keep.push_back(std::move(s));
      if (keep.empty())
        return InvalidArgument("spmd-search: the strategy filter leaves node '" + g.nodes[ni].name +
                               "' (" + g.nodes[ni].op + ") no strategy");
      cand = std::move(keep);
    }
    TSR_RETURN_IF_ERROR(apply_overrides(forced, g.nodes[ni], ctx.mesh, b.strat.back()));
    b.add_node(ni, groups);
  }
  TSR_RETURN_IF_ERROR(check_overrides_used(forced));
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) b.add_edges(ni);
  spmd::SolverOptions opt;
  if (ctx.memory_budget > 0) opt.memory_budget = static_cast<double>(ctx.memory_budget);
  auto sol = spmd::solve_ilp(b.sg, opt);
  if (!sol.ok()) return InvalidArgument("spmd-search: " + sol.status().message());
  if (sol->seconds >= kForbidden)
    return Internal(
        "spmd-search: every plan needs an impossible conversion (a forced strategy "
        "asks for a partial-sum input that its producer cannot give?)");
  apply(g, ctx, b, sol->choice);
  record_candidates(g, ctx, b, sol->choice);
  ctx.modelled_step_seconds = sol->seconds;
  ctx.modelled_peak_bytes = sol->peak_bytes;
  g.meta["modelled_step_seconds"] = Attr::Float(sol->seconds);
  g.meta["modelled_peak_bytes"] = Attr::Int(static_cast<int64_t>(sol->peak_bytes));
  return Status::Ok();
}

}  // namespace tessera::passes
