// Choosing what to chunk: liveness over the instruction order, region growth around the
// values live at the peak, chunk counts scored by the roofline cost model. Every candidate is
// scored by rewriting a copy of the graph and re-measuring the liveness, so the model the
// search optimises is exactly the arena the emitter will plan (a copy costs ~1 ms on a
// 3000-node training graph; a few thousand candidates per compile stay within seconds).
#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include "passes/core/arena_alias.h"
#include "passes/core/chunk.h"
#include "passes/core/cost_model.h"
#include "passes/core/inplace_updates.h"
#include "passes/core/sharding_rules.h"

namespace tessera::chunk {
namespace {

bool in_arena(const ir::Value& v) {
  return v.kind == ir::ValueKind::kActivation || v.kind == ir::ValueKind::kInput;
}

double node_seconds(const ir::Graph& g, const ir::Node& n, const spmd::ClusterProfile& p) {
  std::vector<Shape> in, out;
  double bytes = 0;
  for (int v : n.inputs)
    if (v >= 0) in.push_back(local_shape(g.values[v])), bytes += local_bytes(g.values[v]);
  for (int v : n.outputs)
    out.push_back(local_shape(g.values[v])), bytes += local_bytes(g.values[v]);
  auto r = spmd::sharding_rule(n.op, n.attrs, in, out);
  const double flops = r.ok() ? r->flops : 0;
  if (r.ok() && r->is_view) return kInstructionOverheadSeconds;
  const DType t = n.outputs.empty() ? DType::kFloat32 : g.values[n.outputs[0]].dtype;
  if (r.ok()) bytes += r->scratch_elements * dtype_size(t);  // fused attention's score passes
  return spmd::compute_seconds(flops, bytes, t, p) + kInstructionOverheadSeconds;
}

struct Candidate {
  std::vector<int> nodes;
  Trace trace;
  int seed = -1, dim = 0;
};

// Grows a region from the producer of `seed` along its dim `d`: a neighbour joins when the value
// between them is large (at least 1/8 of the seed) and the region stays legal and convex, so
// the region collects the big intermediates while its boundary stays small.
Candidate grow(const ir::Graph& g, int seed, int d) {
  Candidate c;
  c.seed = seed, c.dim = d;
  std::vector<std::vector<int>> readers(g.values.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    for (int in : g.nodes[ni].inputs)
      if (in >= 0) readers[in].push_back(static_cast<int>(ni));
  // Start at the producer; when it cannot take part (a collective, a loss), at a reader.
  std::vector<int> starts;
  if (g.values[seed].producer >= 0) starts.push_back(g.values[seed].producer);
  for (int r : readers[seed]) starts.push_back(r);
  std::vector<int> region;
  Trace t;
  for (int st : starts) {
    region = {st};
    t = trace_dim(g, region, seed, d);
    if (t.legal) break;
  }
  if (!t.legal) return c;
  const int64_t big = std::max<int64_t>(1, local_bytes(g.values[seed]) / 8);
  std::set<int> rejected;
  for (bool grew = true; grew;) {
    grew = false;
    std::vector<int> next;
    for (int v : t.inputs)
      if (in_arena(g.values[v]) && local_bytes(g.values[v]) >= big && g.values[v].producer >= 0)
        next.push_back(g.values[v].producer);
    for (int v : t.outputs)
      if (local_bytes(g.values[v]) >= big)
        for (int r : readers[v]) next.push_back(r);
    for (int n : next) {
      if (rejected.count(n) || std::find(region.begin(), region.end(), n) != region.end()) continue;
      std::vector<int> bigger = region;
      bigger.push_back(n);
      std::sort(bigger.begin(), bigger.end());
      Trace tb = trace_dim(g, bigger, seed, d);
      if (!tb.legal || !is_convex(g, bigger)) {
        rejected.insert(n);
        continue;
      }
      region = std::move(bigger), t = std::move(tb), grew = true;
      break;
    }
  }
  c.nodes = std::move(region);
  c.trace = std::move(t);
  return c;
}

// Counts to try: divisors of the extent (equal chunks), thinned to about a geometric series,
// at most kMaxChunks: the rewrite is unrolled, so K chunks cost K copies of the region in the
// plan (and in every candidate's scoring).
constexpr int64_t kMaxChunks = 64;
std::vector<int64_t> count_choices(int64_t extent) {
  std::vector<int64_t> out;
  for (int64_t k = 2; k <= std::min(extent, kMaxChunks); ++k) {
    if (extent % k) continue;
    if (out.empty() || k >= out.back() * 3 / 2 || k == extent) out.push_back(k);
  }
  return out;
}

}  // namespace

Liveness liveness(const ir::Graph& g) {
  const int steps = static_cast<int>(g.nodes.size());
  std::vector<int> first(g.values.size(), -1), last(g.values.size(), -1);
  for (int s = 0; s < steps; ++s) {
    for (int o : g.nodes[s].outputs)
      if (first[o] < 0) first[o] = last[o] = s;
    for (int in : g.nodes[s].inputs)
      if (in >= 0) last[in] = s;
  }
  for (int v : g.inputs) first[v] = 0, last[v] = std::max(last[v], 0);
  for (int v : g.outputs) last[v] = steps;
  // As the emitter: optimizer updates written into their state take no arena, and a chain of
  // reshapes is one buffer (its root's), live over the union of the chain's lifetimes.
  const std::vector<int> inplace = core::inplace_update_states(g);
  const std::vector<int> root = core::arena_alias_roots(g, inplace);
  merge_alias_lifetimes(root, first, last);
  std::vector<int64_t> diff(steps + 2, 0);
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!in_arena(g.values[v]) || first[v] < 0 || inplace[v] >= 0) continue;
    if (root[v] != static_cast<int>(v)) continue;
    diff[first[v]] += local_bytes(g.values[v]);
    diff[last[v] + 1] -= local_bytes(g.values[v]);
  }
  Liveness l;
  l.live.resize(steps + 1);
  int64_t cur = 0;
  for (int s = 0; s <= steps; ++s) {
    cur += diff[s];
    l.live[s] = cur;
    if (cur > l.peak) l.peak = cur, l.peak_step = s;
  }
  return l;
}

double region_seconds(const ir::Graph& g, const std::vector<int>& nodes, const Trace& t,
                      int64_t count, const spmd::ClusterProfile& profile) {
  if (count <= 1) {
    double s = 0;
    for (int ni : nodes) s += node_seconds(g, g.nodes[ni], profile);
    return s;
  }
  ir::Graph copy = g;
  int lo = 0, hi = -1;
  if (!chunk_region(copy, nodes, t, count, "cost", &lo, &hi).ok()) return 1e30;
  double s = 0;
  for (int i = lo; i <= hi; ++i) s += node_seconds(copy, copy.nodes[i], profile);
  return s;
}

StatusOr<Report> auto_chunk(ir::Graph& g, const Options& o) {
  Report rep;
  Liveness cur = liveness(g);
  rep.peak_before = cur.peak;
  // A forced count chunks whatever lowers the arena (target 0); else fit the budget.
  const int64_t target = o.force_count > 0 ? 0 : std::max<int64_t>(0, o.activation_budget);
  if (o.force_count <= 0 && (o.activation_budget <= 0 || cur.peak <= target)) {
    rep.peak_after = cur.peak;
    return rep;
  }
  std::set<int> barren;  // forced mode: seeds that gave no region
  for (int iter = 0; iter < o.max_regions + static_cast<int>(g.values.size()) / 4 &&
                     static_cast<int>(rep.regions.size()) < o.max_regions && cur.peak > target;
       ++iter) {
    // The largest values live at the peak step, produced by nodes (seeds of regions). Clones
    // of an already chunked region are not chunked again: its count was chosen for it.
    std::vector<std::pair<int64_t, int>> live;
    const int s = cur.peak_step;
    std::vector<int> last_read(g.values.size(), -1);
    for (size_t ni = 0; ni < g.nodes.size(); ++ni)
      for (int in : g.nodes[ni].inputs)
        if (in >= 0) last_read[in] = static_cast<int>(ni);
    // A forced count (tests) looks at every value, largest first, not only at the peak, so
    // small models whose peak is unchunkable (the logits) still exercise the rewrite.
    const bool everywhere = o.force_count > 0;
    for (size_t v = 0; v < g.values.size(); ++v) {
      const ir::Value& val = g.values[v];
      if (val.kind != ir::ValueKind::kActivation || val.producer < 0) continue;
      if (g.nodes[val.producer].name.find(".chunk") != std::string::npos) continue;
      if (everywhere ? !barren.count(static_cast<int>(v))
                     : val.producer <= s && (val.producer == s || last_read[v] >= s))
        live.push_back({-local_bytes(val), static_cast<int>(v)});
    }
    std::sort(live.begin(), live.end());
    if (live.size() > 4) live.resize(4);
    if (live.empty()) break;
    // Score: the arena peak over the steps the region spans, before and after chunking.
    int64_t best_gain = 0;
    double best_cost = 0;
    int64_t best_k = 0, best_after = 0;
    Candidate best;
    std::set<std::vector<int>> tried;
    for (const auto& [neg, v] : live) {
      for (int d = 0; d < static_cast<int>(local_shape(g.values[v]).size()); ++d) {
        Candidate c = grow(g, v, d);
        if (c.nodes.empty()) continue;
        std::vector<int> key = c.nodes;  // the same region may be tried along several dims
        key.push_back(-1 - c.trace.dim.at(v));
        if (!tried.insert(key).second) continue;
        bool clone = false;
        for (int ni : c.nodes)
          clone = clone || g.nodes[ni].name.find(".chunk") != std::string::npos;
        if (clone) continue;
        const int first = c.nodes.front(), last = c.nodes.back();
        int64_t before = 0;
        for (int i = first; i <= last; ++i) before = std::max(before, cur.live[i]);
        const std::vector<int64_t> ks =
            o.force_count > 0 ? std::vector<int64_t>{std::min(o.force_count, c.trace.extent)}
                              : count_choices(c.trace.extent);
        auto peak_of = [&](int64_t k) -> int64_t {
          ir::Graph copy = g;
          int lo = 0, hi = -1;
          if (!chunk_region(copy, c.nodes, c.trace, k, "try", &lo, &hi).ok()) return INT64_MAX;
          const Liveness l = liveness(copy);
          int64_t p = 0;
          for (int i = std::min(first, lo); i <= hi; ++i) p = std::max(p, l.live[i]);
          return p;
        };
        const double base = region_seconds(g, c.nodes, c.trace, 1, o.profile);
        auto cost_of = [&](int64_t k) {
          return region_seconds(g, c.nodes, c.trace, k, o.profile) - base;
        };
        const int64_t k = choose_count(ks, target, peak_of, cost_of);
        if (k < 2) continue;
        const int64_t after = peak_of(k);
        const double cost = cost_of(k);
        const int64_t gain = before - after;
        // Prefer a region that brings the peak under the target at least cost; else the
        // largest reduction.
        const bool fits = after <= target, best_fits = best_k && best_after <= target;
        const bool better =
            (fits && (!best_fits || cost < best_cost)) || (!fits && !best_fits && gain > best_gain);
        if (gain > 0 && better) {
          best_gain = gain, best_cost = cost, best_k = k, best_after = after, best = c;
        }
      }
    }
    if (!best_k) {
      if (!everywhere) break;
      for (const auto& [neg, v] : live) barren.insert(v);  // try the next largest values
      continue;
    }
    ChunkedRegion r;
    r.name = "chunk" + std::to_string(rep.regions.size());
    for (int ni : best.nodes) r.ops.push_back(g.nodes[ni].name);
    r.seed = g.values[best.seed].name;
    r.dim = best.dim;
    r.count = best_k;
    r.peak_before = cur.peak;
    r.added_seconds = best_cost;
    int lo = 0, hi = -1;
    TSR_RETURN_IF_ERROR(chunk_region(g, best.nodes, best.trace, best_k, r.name, &lo, &hi));
    for (int i = lo; i <= hi; ++i) {  // the copies the rewrite added
      ir::Node& n = g.nodes[i];
      if ((n.op == "Slice" || n.op == "Concat") && n.modelled_seconds == 0)
        n.modelled_seconds =
            spmd::copy_seconds(static_cast<double>(local_bytes(g.values[n.outputs[0]])), o.profile);
    }
    cur = liveness(g);
    r.peak_after = cur.peak;
    rep.added_seconds += best_cost;
    rep.regions.push_back(std::move(r));
  }
  rep.peak_after = cur.peak;
  return rep;
}

}  // namespace tessera::chunk
