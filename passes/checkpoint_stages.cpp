// Stage extraction for the checkpoint pass. Costs: O(nodes + values) plus the sharding-rule
// lookup per forward node for its FLOPs.
#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "passes/checkpoint_stages.h"
#include "passes/core/arena_alias.h"
#include "passes/core/cost_model.h"
#include "passes/core/inplace_updates.h"
#include "passes/core/memory_planner.h"
#include "passes/core/sharding_rules.h"

namespace tessera::passes {
namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Modelled forward seconds of one local node: collectives by α-β over their axes, the rest by
// roofline with the op's FLOPs scaled to this rank's share of the output.
double node_seconds(const ir::Graph& g, const ir::Node& n, const PipelineContext& ctx) {
  double in = 0, out = 0, out_global = 0;
  for (int i : n.inputs)
    if (i >= 0) in += static_cast<double>(local_bytes(g.values[i]));
  for (int o : n.outputs) {
    out += static_cast<double>(local_bytes(g.values[o]));
    out_global +=
        static_cast<double>(num_elements(g.values[o].shape) * dtype_size(g.values[o].dtype));
  }
  if (ir::is_collective_op(n.op)) {
    std::vector<int> axes;
    for (const auto& a : attr_strs(n.attrs, "axes"))
      if (int k = ctx.mesh.axis_index(a); k >= 0) axes.push_back(k);
    using C = spmd::Collective;
    const C c = n.op == "AllReduce"       ? C::kAllReduce
                : n.op == "AllGather"     ? C::kAllGather
                : n.op == "ReduceScatter" ? C::kReduceScatter
                                          : C::kAllToAll;
    if (n.op == "ShardSlice" || n.op == "MakePartial") return spmd::copy_seconds(out, ctx.cluster);
    return spmd::collective_seconds(c, c == C::kReduceScatter ? in : out, axes, ctx.mesh,
                                    ctx.cluster);
  }
  std::vector<Shape> ins, outs;
  for (int i : n.inputs)
    if (i >= 0) ins.push_back(g.values[i].shape);
  for (int o : n.outputs) outs.push_back(g.values[o].shape);
  double flops = 0, scratch = 0;
  const DType t = g.values[n.outputs[0]].dtype;
  if (auto rule = spmd::sharding_rule(n.op, n.attrs, ins, outs); rule.ok()) {
    const double share = out_global > 0 ? out / out_global : 1.0;
    flops = rule->flops * share;
    // Fused attention's passes over its scores scratch (recomputing it costs them again).
    scratch = rule->scratch_elements * share * dtype_size(t);
  }
  return spmd::compute_seconds(flops, in + out + scratch, t, ctx.cluster);
}

// "h.3", "layer.3", "layers.3", "blocks.3", "layer2.1": the block a weight belongs to.
std::string layer_key(const std::string& weight) {
  static const std::regex re(R"((^|[./_])(h|layer\d*|layers|blocks?)[._](\d+)([./_]|$))");
  std::smatch m;
  return std::regex_search(weight, m, re) ? m[2].str() + "." + m[3].str() : std::string();
}

// Peak during the forward of one stage's nodes (kept): its values produced so far that are
// still read (or saved for the backward). A replay holds the same, on top of what is live then.
int64_t forward_peak(const ir::Graph& g, const std::vector<int>& nodes, const Liveness& live,
                     const std::vector<bool>& bwd_read) {
  int64_t peak = 0;
  for (int t : nodes) {
    int64_t held = 0;
    for (int id : nodes) {
      if (id > t) break;
      for (int o : g.nodes[id].outputs)
        if (live.arena[o] && (live.last[o] >= t || bwd_read[o])) held += arena_bytes(g.values[o]);
    }
    peak = std::max(peak, held);
  }
  return peak;
}

// A reshape chain is one buffer, accounted at its root (core/arena_alias.h): read by the
// backward if any member is, and no longer the plan's to decide if a member is a graph output
// (that pins the buffer to the end).
void fold_aliases(const Liveness& live, const std::set<int>& outs, std::vector<bool>& bwd_read,
                  std::vector<bool>& decided) {
  for (size_t v = 0; v < live.root.size(); ++v) {
    const int r = live.root[v];
    if (r == static_cast<int>(v)) continue;
    if (bwd_read[v]) bwd_read[r] = true;
    if (outs.count(static_cast<int>(v))) decided[r] = false;
  }
}

// Bytes of the distinct buffers behind `values` whose root passes `keep` (aliases count once).
template <class Keep>
int64_t buffer_bytes(const ir::Graph& g, const Liveness& live, const std::set<int>& values,
                     Keep keep) {
  std::set<int> roots;
  int64_t bytes = 0;
  for (int v : values) {
    const int r = live.root[v];
    if (keep(r) && roots.insert(r).second) bytes += arena_bytes(g.values[r]);
  }
  return bytes;
}

}  // namespace

int64_t local_bytes(const ir::Value& v) {
  const Shape& s = v.local_shape.empty() ? v.shape : v.local_shape;
  return num_elements(s) * dtype_size(v.dtype);
}

int64_t arena_bytes(const ir::Value& v) { return (local_bytes(v) + 63) / 64 * 64; }

Liveness liveness(const ir::Graph& g) {
  std::vector<std::vector<int>> readers(g.values.size());
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i)
    for (int v : g.nodes[i].inputs)
      if (v >= 0) readers[v].push_back(i);
  const int nn = static_cast<int>(g.nodes.size());
  Liveness l;
  l.first.assign(g.values.size(), 0);
  l.last.assign(g.values.size(), 0);
  l.arena.assign(g.values.size(), false);
  // Optimizer updates written into their state's storage take no arena (as in the emitter).
  const std::vector<int> inplace = core::inplace_update_states(g);
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::Value& val = g.values[v];
    if (val.kind == ir::ValueKind::kWeight || val.kind == ir::ValueKind::kConstant) continue;
    l.arena[v] = (val.producer >= 0 || val.kind == ir::ValueKind::kInput) && inplace[v] < 0;
    l.first[v] = val.producer >= 0 ? val.producer : 0;
    l.last[v] = l.first[v];
    for (int r : readers[v]) l.last[v] = std::max(l.last[v], r);
  }
  for (int o : g.outputs) l.last[o] = nn;
  // Reshape chains share one buffer: members take no arena, roots live as long as the group.
  l.root = core::arena_alias_roots(g, inplace);
  merge_alias_lifetimes(l.root, l.first, l.last);
  for (size_t v = 0; v < g.values.size(); ++v)
    if (l.root[v] != static_cast<int>(v)) l.arena[v] = false;
  return l;
}

int64_t planned_peak(const ir::Graph& g) {
  const Liveness l = liveness(g);
  int64_t weights = 0;
  std::vector<core::BufferLife> bufs;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::Value& val = g.values[v];
    if (val.kind == ir::ValueKind::kWeight || val.kind == ir::ValueKind::kConstant)
      weights += arena_bytes(val);
    else if (l.arena[v])
      bufs.push_back({local_bytes(val), l.first[v], l.last[v]});
  }
  return weights + core::plan_arena(bufs, 64).arena_bytes;
}

ForwardChain build_forward_chain(const ir::Graph& g, const PipelineContext& ctx) {
  ForwardChain fc;
  const int nn = static_cast<int>(g.nodes.size());
  int grad0 = -1;
  for (int i = 0; i < nn && grad0 < 0; ++i)
    if (starts_with(g.nodes[i].name, "grad/")) grad0 = i;
  if (grad0 < 0) return fc;
  fc.backward_begin = grad0;
  std::vector<std::vector<int>> readers(g.values.size());
  for (int i = 0; i < nn; ++i)
    for (int v : g.nodes[i].inputs)
      if (v >= 0) readers[v].push_back(i);
  // A collective before grad0 is forward unless every reader is backward (reshard puts a
  // conversion right before its first consumer).
  std::vector<bool> fwd(nn, false);
  for (int i = grad0 - 1; i >= 0; --i) {
    const ir::Node& n = g.nodes[i];
    if (!ir::is_collective_op(n.op)) {
      fwd[i] = true;
      continue;
    }
    for (int o : n.outputs)
      for (int r : readers[o]) fwd[i] = fwd[i] || (r < grad0 && fwd[r]);
  }
  std::vector<int> order, pos(nn, -1);
  for (int i = 0; i < grad0; ++i)
    if (fwd[i]) pos[i] = static_cast<int>(order.size()), order.push_back(i);
  const Liveness live = liveness(g);
  std::set<int> outs(g.outputs.begin(), g.outputs.end());
  // Per value: last forward reader position, whether the backward reads it, whether it is a
  // forward activation the plan decides about (graph outputs live to the end whatever it does).
  std::vector<int> last_fwd(g.values.size(), -1);
  std::vector<bool> bwd_read(g.values.size(), false), decided(g.values.size(), false);
  int64_t largest = 0;
  for (size_t v = 0; v < g.values.size(); ++v) {
    for (int r : readers[v]) {
      if (pos[r] >= 0) last_fwd[v] = std::max(last_fwd[v], pos[r]);
      if (r >= grad0) bwd_read[v] = true;
    }
    if (g.values[v].producer >= 0 && pos[g.values[v].producer] >= 0) {
      largest = std::max(largest, local_bytes(g.values[v]));
      decided[v] = !outs.count(static_cast<int>(v));
    }
  }
  fold_aliases(live, outs, bwd_read, decided);
  // Bytes live at each step that no placement changes: inputs, backward and optimizer values,
  // graph outputs (the arena planner's lifetimes). Recomputation only moves forward values.
  std::vector<int64_t> other(nn + 2, 0);
  for (size_t v = 0; v < g.values.size(); ++v)
    if (live.arena[v] && !decided[v]) {
      other[live.first[v]] += arena_bytes(g.values[v]);
      other[live.last[v] + 1] -= arena_bytes(g.values[v]);
    }
  for (int t = 1; t <= nn + 1; ++t) other[t] += other[t - 1];
  const int64_t small = largest / 64;
  // Sweep: the values produced so far that a later forward node reads cross the cut.
  std::set<int> crossing;
  std::vector<int> cur;
  std::map<std::string, int> layer_ids;
  std::vector<std::string> stage_layer;
  std::vector<int> bwd_end;  // per stage: last step reading its saved values
  std::string cur_layer;
  int64_t crossing_in = 0;  // bytes of crossing values not saved by an earlier stage
  for (size_t p = 0; p < order.size(); ++p) {
    const ir::Node& n = g.nodes[order[p]];
    cur.push_back(order[p]);
    for (int w : n.inputs)
      if (w >= 0 && g.values[w].kind == ir::ValueKind::kWeight && cur_layer.empty())
        cur_layer = layer_key(g.values[w].name);
    for (int o : n.outputs)
      if (last_fwd[o] > static_cast<int>(p)) crossing.insert(o);
    for (auto it = crossing.begin(); it != crossing.end();)
      it = last_fwd[*it] <= static_cast<int>(p) ? crossing.erase(it) : std::next(it);
    int large = 0;
    for (int v : crossing) large += local_bytes(g.values[v]) >= small;
    if (large > 1 && p + 1 < order.size()) continue;
    core::CkptStage s;
    s.name = g.nodes[cur.front()].name;
    int end = -1;
    for (int id : cur) {
      s.seconds += node_seconds(g, g.nodes[id], ctx);
      for (int o : g.nodes[id].outputs)
        if (live.arena[o] && bwd_read[o] && decided[o]) {
          s.saved += arena_bytes(g.values[o]);
          // Small values (a mask, a scalar) read late would stretch the window: ignored.
          if (local_bytes(g.values[o]) >= small) end = std::max(end, live.last[o]);
        }
    }
    s.out = buffer_bytes(g, live, crossing, [](int) { return true; });
    s.out_extra = buffer_bytes(g, live, crossing, [&](int r) {
      const int prod = g.values[r].producer;
      return !(bwd_read[r] && std::find(cur.begin(), cur.end(), prod) != cur.end());
    });
    // The forward (or replay) of this stage: its own values live at each step (saved ones
    // held) and what crosses in unsaved, above `saved`; what else is live is added below.
    s.temp = std::max<int64_t>(0, forward_peak(g, cur, live, bwd_read) + crossing_in - s.saved);
    crossing_in = buffer_bytes(g, live, crossing, [&](int r) { return !bwd_read[r]; });
    fc.problem.stages.push_back(s);
    fc.stage_nodes.push_back(cur);
    fc.boundary.emplace_back(crossing.begin(), crossing.end());
    stage_layer.push_back(cur_layer);
    bwd_end.push_back(end);
    cur.clear();
    cur_layer.clear();
  }
  // Backward windows: stage i's backward runs after the later stages' saved values are dead
  // (window (E_{i+1}, E_i], E_i = max_{j >= i} bwd_end_j) and holds, besides stored
  // activations, what no placement changes: gradients in flight and accumulated weight
  // gradients. Their maximum over the window is the stage's backward temporary.
  const int ns_ = static_cast<int>(bwd_end.size());
  int hi = grad0 - 1;
  std::vector<int> E(ns_ + 1, grad0 - 1);
  for (int i = ns_ - 1; i >= 0; --i) E[i] = std::max(E[i + 1], bwd_end[i]);
  for (int i = ns_ - 1; i >= 0; --i) {
    // A replay runs near the window's start, over the gradients accumulated by then.
    int64_t m = 0, start = other[std::max(0, std::min(nn, E[i + 1] + 1))];
    for (int t = E[i + 1] + 1; t <= E[i]; ++t) m = std::max(m, other[t]);
    core::CkptStage& st = fc.problem.stages[i];
    st.temp = std::max(st.temp + std::max(start, other[fc.stage_nodes[i].front()]), m);
    hi = std::max(hi, E[i]);
  }
  int64_t tail = 0;  // after the last backward read of any activation: the optimizer's update
  for (int t = hi + 1; t <= nn; ++t) tail = std::max(tail, other[t]);
  // Layers: stages without a layer weight between two stages of one layer belong to it.
  const int ns = static_cast<int>(stage_layer.size());
  for (int i = 0; i < ns; ++i) {
    if (stage_layer[i].empty()) continue;
    auto [it, fresh] = layer_ids.emplace(stage_layer[i], static_cast<int>(layer_ids.size()));
    (void)fresh;
    fc.problem.stages[i].layer = it->second;
  }
  for (int i = 0, prev = -1; i < ns; ++i) {
    if (fc.problem.stages[i].layer >= 0) {
      const int l = fc.problem.stages[i].layer;
      if (prev >= 0 && fc.problem.stages[prev].layer == l)
        for (int j = prev + 1; j < i; ++j) fc.problem.stages[j].layer = l;
      prev = i;
    }
  }
  // Fixed bytes: weight storage (parameters and optimizer state), 64-byte aligned as the
  // runtime lays it out. Gradients, inputs and updated states are arena values: in `other`.
  for (const ir::Value& v : g.values) {
    if (v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant) {
      const bool opt = v.name.find(".adam_") != std::string::npos ||
                       v.name.find(".momentum") != std::string::npos || v.name == "optimizer.step";
      (opt ? fc.optimizer_bytes : fc.parameter_bytes) += arena_bytes(v);
    } else if (v.kind == ir::ValueKind::kInput) {
      fc.input_bytes += local_bytes(v);
    }
  }
  for (int o : outs) fc.gradient_bytes += local_bytes(g.values[o]);
  fc.problem.fixed = fc.parameter_bytes + fc.optimizer_bytes;
  fc.problem.floor = fc.problem.fixed + tail;
  return fc;
}

}  // namespace tessera::passes
