// The chunk rewrite: region -> K × (Slice inputs, region ops on chunk shapes) -> Concat outputs.
// Unrolled into ordinary nodes so the plan format and the runtime stay as they are; shape
// inference re-runs on every clone, so a chunk whose attributes no longer fit fails here with
// the node's name rather than at run time.
#include <algorithm>
#include <queue>
#include <set>

#include "ir/shape_infer.h"
#include "passes/core/chunk.h"

namespace tessera::chunk {
namespace {

// A value like `v` whose chunk dim `d` holds `len` (local) elements; the global dim scales by
// the same shard factor so a sharded chunk dim keeps its spec.
ir::Value chunk_value(const ir::Value& v, int d, int64_t len, const std::string& name) {
  ir::Value c;
  c.name = name;
  c.dtype = v.dtype;
  c.kind = ir::ValueKind::kActivation;
  c.sharding = v.sharding;
  c.local_shape = local_shape(v);
  c.shape = v.shape;
  if (d >= 0) {
    const int64_t shards = c.local_shape[d] ? v.shape[d] / c.local_shape[d] : 1;
    c.local_shape[d] = len;
    c.shape[d] = len * shards;
  }
  if (v.local_shape.empty()) c.local_shape.clear();
  return c;
}

// Kahn's algorithm keyed by (position, sequence): every node keeps its place unless a
// dependency forces it later; the chunk block sits at the region's last node.
std::vector<int> topo_order(const ir::Graph& g, const std::vector<std::pair<int, int>>& key) {
  const int n = static_cast<int>(g.nodes.size());
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> users(n);
  for (int i = 0; i < n; ++i)
    for (int in : g.nodes[i].inputs) {
      const int p = in >= 0 ? g.values[in].producer : -1;
      if (p >= 0 && p != i) ++pending[i], users[p].push_back(i);
    }
  using Item = std::pair<std::pair<int, int>, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> ready;
  for (int i = 0; i < n; ++i)
    if (!pending[i]) ready.push({key[i], i});
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = ready.top().second;
    ready.pop();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0) ready.push({key[u], u});
  }
  return order;
}

}  // namespace

Status chunk_region(ir::Graph& g, const std::vector<int>& nodes_in, const Trace& t, int64_t count,
                    const std::string& tag, int* first, int* last) {
  if (!t.legal) return InvalidArgument("chunk: region is not legal: " + t.why);
  if (count < 2 || count > t.extent)
    return InvalidArgument("chunk: count " + std::to_string(count) + " for a dim of " +
                           std::to_string(t.extent));
  std::vector<int> nodes = nodes_in;
  std::sort(nodes.begin(), nodes.end());
  const std::set<int> region(nodes.begin(), nodes.end());
  const int64_t step = (t.extent + count - 1) / count;
  const int64_t chunks = (t.extent + step - 1) / step;
  const int old_n = static_cast<int>(g.nodes.size());
  const int pos = nodes.back();
  std::vector<ir::Node> block;
  std::map<int, std::vector<int>> pieces;  // region output -> its chunk values
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t start = c * step, len = std::min(step, t.extent - start);
    const std::string sfx = "." + tag + "." + std::to_string(c);
    std::map<int, int> now;  // original value -> this chunk's value
    for (int v : t.inputs) {
      const int d = t.dim.at(v);
      if (d < 0) continue;
      const std::string name = g.values[v].name;  // add_value may reallocate g.values
      const int cv = g.add_value(chunk_value(g.values[v], d, len, name + sfx));
      ir::Node s;
      s.name = name + ".slice" + sfx;
      s.op = "Slice";
      s.attrs["starts"] = Attr::Ints({start});
      s.attrs["ends"] = Attr::Ints({start + len});
      s.attrs["axes"] = Attr::Ints({d});
      s.attrs["steps"] = Attr::Ints({1});
      s.inputs = {v};
      s.outputs = {cv};
      block.push_back(std::move(s));
      now[v] = cv;
    }
    for (int ni : nodes) {
      ir::Node n = g.nodes[ni];
      n.name += sfx;
      // The search's per-node seconds, split by the share of the dim this chunk holds (the
      // re-read of whole inputs is charged by chunk::region_seconds, not here).
      n.modelled_seconds *= static_cast<double>(len) / static_cast<double>(t.extent);
      std::vector<ir::TypeShape> in_types;
      for (int& in : n.inputs) {
        if (in >= 0 && now.count(in)) in = now[in];
        in_types.push_back(in < 0 ? ir::TypeShape{DType::kUndefined, {}}
                                  : ir::TypeShape{g.values[in].dtype, local_shape(g.values[in])});
      }
      for (int& o : n.outputs) {
        const int cv =
            g.add_value(chunk_value(g.values[o], t.dim.at(o), len, g.values[o].name + sfx));
        now[o] = cv;
        if (std::binary_search(t.outputs.begin(), t.outputs.end(), o)) pieces[o].push_back(cv);
        o = cv;
      }
      // Attributes that spell out a (local) output shape follow the chunk.
      if (n.op == "Reshape" || n.op == "Expand")
        n.attrs["shape"] = Attr::Ints(local_shape(g.values[n.outputs[0]]));
      auto inferred = ir::infer(n, in_types);
      if (!inferred.ok())
        return Internal("chunk: clone '" + n.name +
                        "' does not type-check: " + inferred.status().message());
      for (size_t k = 0; k < n.outputs.size(); ++k)
        if ((*inferred)[k].second != local_shape(g.values[n.outputs[k]]))
          return Internal("chunk: clone '" + n.name + "' output " + std::to_string(k) +
                          " has shape " + shape_str((*inferred)[k].second) + ", expected " +
                          shape_str(local_shape(g.values[n.outputs[k]])));
      block.push_back(std::move(n));
    }
  }
  for (int o : t.outputs) {
    ir::Node cat;
    cat.name = g.values[o].name + ".concat." + tag;
    cat.op = "Concat";
    cat.attrs["axis"] = Attr::Int(t.dim.at(o));
    cat.inputs = pieces[o];
    cat.outputs = {o};
    block.push_back(std::move(cat));
  }
  // New node list: the untouched nodes, then the block; keys keep the original order.
  std::vector<ir::Node> all;
  std::vector<std::pair<int, int>> key;
  for (int i = 0; i < old_n; ++i) {
    if (region.count(i)) continue;
    all.push_back(std::move(g.nodes[i]));
    key.push_back({i, 0});
  }
  for (size_t b = 0; b < block.size(); ++b) {
    all.push_back(std::move(block[b]));
    key.push_back({pos, static_cast<int>(b) + 1});
  }
  g.nodes = std::move(all);
  for (ir::Value& v : g.values) v.producer = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int o : g.nodes[i].outputs) g.values[o].producer = static_cast<int>(i);
  std::vector<int> order = topo_order(g, key);
  if (order.size() != g.nodes.size())
    return Internal("chunk: region '" + tag + "' would create a cycle (not convex)");
  std::vector<ir::Node> sorted;
  int lo = -1, hi = -1;
  for (int i : order) {
    if (key[i].second > 0) {
      if (lo < 0) lo = static_cast<int>(sorted.size());
      hi = static_cast<int>(sorted.size());
    }
    sorted.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(sorted);
  for (ir::Value& v : g.values) v.producer = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int o : g.nodes[i].outputs) g.values[o].producer = static_cast<int>(i);
  if (first) *first = lo;
  if (last) *last = hi;
  return Status::Ok();
}

}  // namespace tessera::chunk
