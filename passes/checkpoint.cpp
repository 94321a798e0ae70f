// checkpoint: choose which forward activations the backward pass recomputes instead of keeping,
// to fit the per-device memory budget at the least added time (core/checkpoint.h), then rewrite
// the graph: each recomputed run's forward nodes (collectives included) are cloned right before
// the first backward node that reads one of its dropped values, and backward readers use the
// clones. The arena planner then sees the short lifetimes. Runs after partition: sizes are
// per-rank local bytes and the replayed collectives are priced.
//
// Mode from g.meta "checkpoint": auto (default when a budget is set), none, every-layer, sqrt-n.
// Records in g.meta: checkpoint.mode, checkpoint.recompute_seconds, checkpoint.recomputed_nodes,
// checkpoint.stages, checkpoint.runs and the modelled breakdown memory.planned.* (bytes).
#include <algorithm>
#include <map>
#include <set>

#include "passes/checkpoint_stages.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

StatusOr<core::CkptPlan> choose(const ForwardChain& fc, const std::string& mode, int64_t budget) {
  const core::CkptProblem& p = fc.problem;
  if (mode == "none") return core::ckpt_none(p);
  if (mode == "every-layer") return core::ckpt_every_layer(p);
  if (mode == "sqrt-n") return core::ckpt_sqrt_n(p);
  if (mode == "auto") return core::ckpt_optimal(p, budget);
  return InvalidArgument("checkpoint: mode '" + mode +
                         "': expected auto, none, every-layer or sqrt-n");
}

// Clones one run's forward nodes before its first backward reader; returns clones by position.
void rewrite_run(ir::Graph& g, const ForwardChain& fc, int first, int last, bool keep_boundary,
                 std::map<int, std::vector<ir::Node>>& inserts, int& cloned) {
  std::set<int> run_nodes, kept;
  for (int s = first; s <= last; ++s)
    run_nodes.insert(fc.stage_nodes[s].begin(), fc.stage_nodes[s].end());
  if (keep_boundary) kept.insert(fc.boundary[last].begin(), fc.boundary[last].end());
  std::map<int, int> clone_of;  // original value -> recomputed value
  std::vector<ir::Node> clones;
  for (int id : run_nodes) {  // std::set: forward order
    ir::Node c = g.nodes[id];
    c.name += "/recompute";
    for (int& in : c.inputs)
      if (auto it = clone_of.find(in); in >= 0 && it != clone_of.end()) in = it->second;
    for (int& out : c.outputs) {
      ir::Value v = g.values[out];
      v.name += "/recompute";
      const int nv = g.add_value(std::move(v));
      clone_of[out] = nv;
      out = nv;
    }
    clones.push_back(std::move(c));
  }
  int at = -1;
  for (int i = fc.backward_begin; i < static_cast<int>(g.nodes.size()); ++i)
    for (int& in : g.nodes[i].inputs) {
      if (in < 0 || kept.count(in)) continue;
      auto it = clone_of.find(in);
      if (it == clone_of.end()) continue;
      in = it->second;
      if (at < 0) at = i;
    }
  if (at < 0) return;  // the backward reads nothing of this run
  cloned += static_cast<int>(clones.size());
  auto& dst = inserts[at];
  dst.insert(dst.end(), std::make_move_iterator(clones.begin()),
             std::make_move_iterator(clones.end()));
}

}  // namespace

Status run_checkpoint(ir::Graph& g, PipelineContext& ctx) {
  std::string mode = attr_str(g.meta, "checkpoint", "auto");
  ForwardChain fc = build_forward_chain(g, ctx);
  if (fc.backward_begin < 0 || fc.problem.stages.empty()) return Status::Ok();  // inference
  const int64_t budget = ctx.memory_budget > 0 ? ctx.memory_budget
                                               : static_cast<int64_t>(ctx.cluster.device.mem_bytes);
  TSR_ASSIGN_OR_RETURN(core::CkptPlan plan, choose(fc, mode, budget));
  const int n = static_cast<int>(fc.problem.stages.size());
  std::map<int, std::vector<ir::Node>> inserts;
  int cloned = 0, runs = 0;
  for (int i = 0; i < n;) {
    if (!plan.recompute[i]) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < n && plan.recompute[j + 1] && !plan.recompute[n + j]) ++j;
    rewrite_run(g, fc, i, j, j + 1 < n, inserts, cloned);
    ++runs;
    i = j + 1;
  }
  if (!inserts.empty()) {
    std::vector<ir::Node> nodes = std::move(g.nodes);
    g.nodes.clear();
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
      if (auto it = inserts.find(i); it != inserts.end())
        for (ir::Node& c : it->second) g.add_node(std::move(c));
      g.add_node(std::move(nodes[i]));
    }
    g.prune();
  }
  g.meta["checkpoint.mode"] = Attr::Str(mode);
  g.meta["checkpoint.stages"] = Attr::Int(n);
  g.meta["checkpoint.runs"] = Attr::Int(runs);
  g.meta["checkpoint.recomputed_nodes"] = Attr::Int(cloned);
  g.meta["checkpoint.recompute_seconds"] = Attr::Float(plan.recompute_seconds);
  g.meta["memory.planned.parameters"] = Attr::Int(fc.parameter_bytes);
  g.meta["memory.planned.optimizer_state"] = Attr::Int(fc.optimizer_bytes);
  g.meta["memory.planned.gradients"] = Attr::Int(fc.gradient_bytes);
  g.meta["memory.planned.saved_activations"] = Attr::Int(plan.saved);
  g.meta["memory.planned.modelled_peak"] = Attr::Int(plan.peak);
  g.meta["memory.planned.temporaries"] =
      Attr::Int(std::max<int64_t>(0, plan.peak - fc.problem.fixed - plan.saved));
  ctx.modelled_step_seconds += plan.recompute_seconds;
  return Status::Ok();
}

}  // namespace tessera::passes
