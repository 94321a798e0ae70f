#include "passes/core/reshard.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "passes/core/cost_model.h"

namespace tessera::spmd {
namespace {

// Generates the primitives applicable to one spec, in a fixed order.
class Moves {
 public:
  Moves(const TensorType& t, const Mesh& mesh, const ClusterProfile& p)
      : t_(t), mesh_(mesh), p_(p) {}

  std::vector<ReshardStep> from(const ShardingSpec& s) const {
    std::vector<ReshardStep> out;
    for (int d = 0; d < s.rank(); ++d) {
      gathers_and_all_to_alls(s, d, out);
      slices(s, d, {}, out);
    }
    partial_sums(s, out);
    make_partial(s, out);
    return out;
  }

 private:
  std::vector<int> idx(const std::vector<std::string>& axes) const {
    std::vector<int> v;
    for (const auto& a : axes) v.push_back(mesh_.axis_index(a));
    return v;
  }
  double bytes(const ShardingSpec& s) const {
    return static_cast<double>(s.local_bytes(t_.shape, t_.dtype, mesh_));
  }
  bool divisible(const ShardingSpec& s, int d) const {
    return t_.shape[d] % s.num_shards(d, mesh_) == 0;
  }
  ReshardStep step(ReshardOp op, std::vector<std::string> axes, int d, int to, ShardingSpec after,
                   double sec) const {
    return {op, std::move(axes), d, to, std::move(after), sec};
  }

  void gathers_and_all_to_alls(const ShardingSpec& s, int d, std::vector<ReshardStep>& out) const {
    const auto& ax = s.dims[d];
    for (size_t k = 1; k <= ax.size(); ++k) {
      std::vector<std::string> suffix(ax.end() - k, ax.end());
      ShardingSpec g = s;
      g.dims[d].resize(ax.size() - k);
      out.push_back(
          step(ReshardOp::kAllGather, suffix, d, -1, g,
               collective_seconds(Collective::kAllGather, bytes(g), idx(suffix), mesh_, p_)));
      for (int to = 0; to < s.rank(); ++to) {
        if (to == d) continue;
        ShardingSpec m = g;
        m.dims[to].insert(m.dims[to].end(), suffix.begin(), suffix.end());
        if (!divisible(m, to)) continue;
        out.push_back(
            step(ReshardOp::kAllToAll, suffix, d, to, m,
                 collective_seconds(Collective::kAllToAll, bytes(s), idx(suffix), mesh_, p_)));
      }
    }
  }

  // Every ordered choice of free axes appended to dim d.
  void slices(const ShardingSpec& s, int d, std::vector<std::string> added,
              std::vector<ReshardStep>& out) const {
    for (const MeshAxis& a : mesh_.axes()) {
      if (a.size == 1 || s.uses_axis(a.name)) continue;
      ShardingSpec n = s;
      n.dims[d].push_back(a.name);
      if (!divisible(n, d)) continue;
      std::vector<std::string> more = added;
      more.push_back(a.name);
      out.push_back(step(ReshardOp::kSlice, more, d, -1, n, copy_seconds(bytes(n), p_)));
      slices(n, d, more, out);
    }
  }

  // All-reduce and reduce-scatter over every non-empty subset of the partial axes.
  void partial_sums(const ShardingSpec& s, std::vector<ReshardStep>& out) const {
    std::vector<std::string> part;  // mesh order
    for (const MeshAxis& a : mesh_.axes()) {
      if (s.partial.count(a.name)) part.push_back(a.name);
    }
    for (unsigned mask = 1; mask < (1u << part.size()); ++mask) {
      std::vector<std::string> sub;
      for (size_t i = 0; i < part.size(); ++i) {
        if (mask & (1u << i)) sub.push_back(part[i]);
      }
      ShardingSpec r = s;
      for (const auto& a : sub) r.partial.erase(a);
      out.push_back(
          step(ReshardOp::kAllReduce, sub, -1, -1, r,
               collective_seconds(Collective::kAllReduce, bytes(s), idx(sub), mesh_, p_)));
      std::vector<std::string> perm = sub;
      std::sort(perm.begin(), perm.end(), [&](const std::string& a, const std::string& b) {
        return mesh_.axis_index(a) < mesh_.axis_index(b);
      });
      do {
        for (int d = 0; d < s.rank(); ++d) {
          ShardingSpec n = r;
          n.dims[d].insert(n.dims[d].end(), perm.begin(), perm.end());
          if (!divisible(n, d)) continue;
          double sec =
              collective_seconds(Collective::kReduceScatter, bytes(s), idx(perm), mesh_, p_);
          out.push_back(step(ReshardOp::kReduceScatter, perm, d, -1, n, sec));
        }
      } while (std::next_permutation(perm.begin(), perm.end(), [&](const auto& a, const auto& b) {
        return mesh_.axis_index(a) < mesh_.axis_index(b);
      }));
    }
  }

  // A bias added to a partial result must itself be partial, else it is summed once per shard.
  void make_partial(const ShardingSpec& s, std::vector<ReshardStep>& out) const {
    for (const MeshAxis& a : mesh_.axes()) {
      if (a.size == 1 || s.uses_axis(a.name)) continue;
      ShardingSpec n = s;
      n.partial.insert(a.name);
      out.push_back(step(ReshardOp::kMakePartial, {a.name}, -1, -1, n, copy_seconds(bytes(n), p_)));
    }
  }

  const TensorType& t_;
  const Mesh& mesh_;
  const ClusterProfile& p_;
};

struct Entry {
  double cost = 0;
  int steps = 0;
  bool done = false;
  std::string prev;  // key of the previous state; empty at the source
  ReshardStep step;
};

// Settles states in (cost, steps, printed spec) order until `stop` is settled or all are.
std::map<std::string, Entry> dijkstra(const TensorType& t, const Mesh& mesh,
                                      const ClusterProfile& p, const ShardingSpec& src,
                                      const std::string& stop) {
  Moves moves(t, mesh, p);
  std::map<std::string, Entry> best;
  std::set<std::tuple<double, int, std::string>> queue;
  std::map<std::string, ShardingSpec> specs;
  std::string k0 = src.to_string();
  best[k0] = Entry{};
  specs[k0] = src;
  queue.insert({0.0, 0, k0});
  while (!queue.empty()) {
    auto [cost, steps, key] = *queue.begin();
    queue.erase(queue.begin());
    best[key].done = true;
    if (key == stop) break;
    for (ReshardStep& s : moves.from(specs[key])) {
      std::string nk = s.after.to_string();
      double nc = cost + s.seconds;
      auto it = best.find(nk);
      if (it != best.end() &&
          (it->second.done ||
           std::make_pair(it->second.cost, it->second.steps) <= std::make_pair(nc, steps + 1)))
        continue;
      if (it != best.end()) queue.erase({it->second.cost, it->second.steps, nk});
      specs[nk] = s.after;
      best[nk] = Entry{nc, steps + 1, false, key, std::move(s)};
      queue.insert({nc, steps + 1, nk});
    }
  }
  return best;
}

Status check_pair(const TensorType& t, const Mesh& mesh, const ShardingSpec& src,
                  const ShardingSpec& dst) {
  TSR_RETURN_IF_ERROR(src.validate(t.shape, mesh));
  TSR_RETURN_IF_ERROR(dst.validate(t.shape, mesh));
  return Status::Ok();
}

}  // namespace

const char* reshard_op_name(ReshardOp op) {
  switch (op) {
    case ReshardOp::kSlice:
      return "slice";
    case ReshardOp::kAllGather:
      return "all-gather";
    case ReshardOp::kAllToAll:
      return "all-to-all";
    case ReshardOp::kReduceScatter:
      return "reduce-scatter";
    case ReshardOp::kAllReduce:
      return "all-reduce";
    case ReshardOp::kMakePartial:
      return "make-partial";
  }
  return "?";
}

std::string ReshardStep::to_string() const {
  std::string s = reshard_op_name(op);
  s += "{";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + axes[i];
  s += "}";
  if (op == ReshardOp::kAllToAll) {
    s += " dim " + std::to_string(dim) + " -> " + std::to_string(to_dim);
  } else if (dim >= 0) {
    s += " dim " + std::to_string(dim);
  }
  return s + " => " + after.to_string();
}

std::string ReshardPlan::to_string() const {
  std::string s;
  for (const ReshardStep& st : steps) s += st.to_string() + "\n";
  return s;
}

StatusOr<ReshardPlan> find_reshard(const TensorType& t, const Mesh& mesh,
                                   const ClusterProfile& profile, const ShardingSpec& src,
                                   const ShardingSpec& dst) {
  TSR_RETURN_IF_ERROR(check_pair(t, mesh, src, dst));
  std::string goal = dst.to_string();
  std::map<std::string, Entry> best = dijkstra(t, mesh, profile, src, goal);
  auto it = best.find(goal);
  if (it == best.end() || !it->second.done) {
    return Internal("no resharding path from " + src.to_string() + " to " + goal);
  }
  ReshardPlan plan;
  plan.seconds = it->second.cost;
  for (std::string k = goal; k != src.to_string(); k = best[k].prev) {
    plan.steps.push_back(best[k].step);
  }
  std::reverse(plan.steps.begin(), plan.steps.end());
  return plan;
}

double ReshardCostCache::seconds(const TensorType& t, const ShardingSpec& src,
                                 const ShardingSpec& dst) {
  if (src == dst) return 0;
  std::string key = shape_str(t.shape) + dtype_name(t.dtype) + src.to_string();
  auto it = from_.find(key);
  if (it == from_.end()) {
    std::map<ShardingSpec, double> costs;
    if (src.validate(t.shape, mesh_).ok()) {
      for (auto& [k, e] : dijkstra(t, mesh_, profile_, src, "")) {
        if (e.done) costs[k == src.to_string() ? src : e.step.after] = e.cost;
      }
    }
    it = from_.emplace(key, std::move(costs)).first;
  }
  auto c = it->second.find(dst);
  return c == it->second.end() ? std::numeric_limits<double>::infinity() : c->second;
}

}  // namespace tessera::spmd
