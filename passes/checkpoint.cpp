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
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "passes/checkpoint_stages.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

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

// Rewrites every run of `plan` into g; returns (runs, cloned nodes).
std::pair<int, int> apply_plan(ir::Graph& g, const ForwardChain& fc, const core::CkptPlan& plan) {
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
  if (inserts.empty()) return {runs, cloned};
  std::vector<ir::Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    if (auto it = inserts.find(i); it != inserts.end())
      for (ir::Node& c : it->second) g.add_node(std::move(c));
    g.add_node(std::move(nodes[i]));
  }
  g.prune();
  return {runs, cloned};
}

std::string mib(int64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB (%lld bytes)", static_cast<double>(b) / (1 << 20),
                static_cast<long long>(b));
  return buf;
}

struct Fitted {
  core::CkptPlan plan;
  int64_t planned = 0;  // the rewritten graph's planned peak (weights + arena); 0: not computed
};

// The planned peak of g rewritten by `plan` (what `inspect` and the runtime see).
int64_t planned_after(const ir::Graph& g, const ForwardChain& fc, const core::CkptPlan& plan) {
  ir::Graph copy = g;
  apply_plan(copy, fc, plan);
  return planned_peak(copy);
}

// auto: the DP's memory model is a per-stage bound, not the arena planner's packing, so its
// budget is calibrated against the planned peak of the rewritten graph: secant steps, then
// bisection between the largest DP budget seen to fit and the smallest seen not to. At most 10
// rewrites + arena plans (a fraction of a second each on gpt2-xl). Keeps the least recompute
// time whose planned peak fits.
StatusOr<Fitted> fit_auto(const ir::Graph& g, const ForwardChain& fc, int64_t budget) {
  const core::CkptProblem& p = fc.problem;
  const int64_t keep_all = planned_peak(g);
  if (keep_all <= budget) return Fitted{core::ckpt_none(p), keep_all};
  const int64_t dp_min = core::ckpt_min_budget(p);
  std::optional<Fitted> best;
  int64_t lo = -1, hi = -1, dp = std::max(budget, dp_min);
  for (int iter = 0; iter < 10; ++iter) {
    auto plan = core::ckpt_optimal(p, dp);
    if (!plan.ok()) break;
    const int64_t peak = planned_after(g, fc, *plan);
    if (peak <= budget) {
      if (!best || plan->recompute_seconds < best->plan.recompute_seconds)
        best = Fitted{*plan, peak};
      lo = dp;
    } else {
      hi = dp;
      if (dp == dp_min) break;  // the least-memory placement does not fit either
    }
    int64_t next = hi < 0 ? dp + (budget - peak) : lo < 0 ? dp - (peak - budget) : (lo + hi) / 2;
    next = std::max(next, dp_min);
    if (lo >= 0 && hi >= 0 && hi - lo <= std::max<int64_t>(budget / 2000, 1 << 20)) break;
    if (next == dp || (best && best->plan.recompute_seconds == 0)) break;
    dp = next;
  }
  // The fixed schedules are in the DP's space, but the arena planner packs each plan its own
  // way (a few hundred MiB apart on gpt2-xl near the minimum): a baseline that needs less
  // recompute than the best plan found, or fits where none did, is taken. Cost: at most two
  // more rewrites, only then.
  int64_t least = INT64_MAX;
  for (const core::CkptPlan& b : {core::ckpt_every_layer(p), core::ckpt_sqrt_n(p)}) {
    if (best && best->plan.recompute_seconds <= b.recompute_seconds) continue;
    const int64_t peak = planned_after(g, fc, b);
    least = std::min(least, peak);
    if (peak <= budget && (!best || b.recompute_seconds < best->plan.recompute_seconds))
      best = Fitted{b, peak};
  }
  if (best) return *best;
  auto dp_least = core::ckpt_optimal(p, dp_min);
  if (!dp_least.ok()) return dp_least.status();
  least = std::max(std::min({least, keep_all, planned_after(g, fc, *dp_least)}), p.floor);
  return InvalidArgument("checkpoint: no recomputation schedule fits the memory budget of " +
                         mib(budget) + " per device; the smallest budget that fits is " +
                         mib(least));
}

StatusOr<Fitted> choose(const ir::Graph& g, const ForwardChain& fc, const std::string& mode,
                        int64_t budget) {
  const core::CkptProblem& p = fc.problem;
  if (mode == "auto") return fit_auto(g, fc, budget);
  if (mode == "none") return Fitted{core::ckpt_none(p), 0};
  if (mode == "every-layer") return Fitted{core::ckpt_every_layer(p), 0};
  if (mode == "sqrt-n") return Fitted{core::ckpt_sqrt_n(p), 0};
  return InvalidArgument("checkpoint: mode '" + mode +
                         "': expected auto, none, every-layer or sqrt-n");
}

}  // namespace

Status run_checkpoint(ir::Graph& g, PipelineContext& ctx) {
  std::string mode = attr_str(g.meta, "checkpoint", "auto");
  ForwardChain fc = build_forward_chain(g, ctx);
  if (fc.backward_begin < 0 || fc.problem.stages.empty()) return Status::Ok();  // inference
  const int64_t budget = ctx.memory_budget > 0 ? ctx.memory_budget
                                               : static_cast<int64_t>(ctx.cluster.device.mem_bytes);
  TSR_ASSIGN_OR_RETURN(Fitted fit, choose(g, fc, mode, budget));
  const core::CkptPlan& plan = fit.plan;
  const int n = static_cast<int>(fc.problem.stages.size());
  const auto [runs, cloned] = apply_plan(g, fc, plan);
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
  g.meta["memory.planned.peak"] = Attr::Int(fit.planned > 0 ? fit.planned : planned_peak(g));
  ctx.modelled_step_seconds += plan.recompute_seconds;
  return Status::Ok();
}

}  // namespace tessera::passes
