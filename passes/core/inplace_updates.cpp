#include "passes/core/inplace_updates.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace tessera::core {
namespace {

const Shape& local_of(const ir::Value& v) {
  return v.local_shape.empty() ? v.shape : v.local_shape;
}

// The input of an in-place-safe optimizer node that output `j` overwrites; -1 if none.
// AdamW(w, g, m, v, step) -> (w, m, v); SGD(w, g[, buf]) -> (w[, buf]).
int matching_input(const ir::Node& n, size_t j) {
  if (n.op != "AdamW" && n.op != "SGD") return -1;
  return j == 0 ? 0 : static_cast<int>(j) + 1;
}

}  // namespace

std::vector<int> inplace_update_states(const ir::Graph& g) {
  std::vector<int> alias(g.values.size(), -1);
  auto it = g.meta.find("train.updates");
  if (it == g.meta.end()) return alias;
  const std::vector<std::string>& pairs = it->second.strings;
  std::map<std::string, int> weights, outputs;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].kind == ir::ValueKind::kWeight) weights[g.values[v].name] = static_cast<int>(v);
  for (int o : g.outputs) outputs[g.values[o].name] = o;
  std::set<int> taken;
  std::vector<int> last_reader(g.values.size(), -1);
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i)
    for (int v : g.nodes[i].inputs)
      if (v >= 0) last_reader[v] = std::max(last_reader[v], i);
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    auto ws = weights.find(pairs[i]);
    auto wo = outputs.find(pairs[i + 1]);
    if (ws == weights.end() || wo == outputs.end()) continue;
    const int state = ws->second, out = wo->second;
    const ir::Value &s = g.values[state], &u = g.values[out];
    const int p = u.producer;
    if (p < 0 || u.kind == ir::ValueKind::kWeight || alias[out] >= 0) continue;
    if (u.dtype != s.dtype || local_of(u) != local_of(s) || u.sharding != s.sharding) continue;
    if (last_reader[state] > p) continue;
    const ir::Node& n = g.nodes[p];
    const size_t j =
        static_cast<size_t>(std::find(n.outputs.begin(), n.outputs.end(), out) - n.outputs.begin());
    bool ok = true;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] == state) ok = ok && static_cast<int>(k) == matching_input(n, j);
    // One output per state, and no value written into two states.
    if (ok && taken.insert(state).second) alias[out] = state;
  }
  return alias;
}

}  // namespace tessera::core
