// Graph construction and clean-up. prune() is a mark-and-sweep from the graph outputs: O(nodes +
// values), run once per import, so it stays simple rather than incremental.
#include "ir/graph.h"

#include "tessera/collectives.h"

#include <utility>

namespace tessera::ir {

bool is_collective_op(const std::string& op) { return tessera::is_collective_op(op); }

int Graph::add_node(Node n) {
  const int id = static_cast<int>(nodes.size());
  for (int v : n.outputs) {
    if (v >= 0 && v < static_cast<int>(values.size())) values[v].producer = id;
  }
  nodes.push_back(std::move(n));
  return id;
}

namespace {

// Marks nodes that (transitively) feed a graph output. Walks nodes backwards, which is enough
// because nodes are in topological order.
std::vector<bool> live_nodes(const Graph& g, std::vector<bool>& value_live) {
  std::vector<bool> node_live(g.nodes.size(), false);
  for (int v : g.outputs) value_live[v] = true;
  for (int i = static_cast<int>(g.nodes.size()) - 1; i >= 0; --i) {
    const Node& n = g.nodes[i];
    bool live = false;
    for (int v : n.outputs) live = live || (v >= 0 && value_live[v]);
    if (!live) continue;
    node_live[i] = true;
    for (int v : n.inputs) {
      if (v >= 0) value_live[v] = true;
    }
  }
  return node_live;
}

void remap(std::vector<int>& ids, const std::vector<int>& new_id) {
  for (int& v : ids) {
    if (v >= 0) v = new_id[v];
  }
}

}  // namespace

void Graph::prune() {
  std::vector<bool> value_live(values.size(), false);
  for (int v : inputs) value_live[v] = true;  // runtime inputs are the interface: always kept
  std::vector<bool> node_live = live_nodes(*this, value_live);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!node_live[i]) continue;
    for (int v : nodes[i].outputs) value_live[v] = true;  // unused outputs of live nodes stay
  }
  std::vector<int> new_id(values.size(), -1);
  std::vector<Value> kept_values;
  for (size_t v = 0; v < values.size(); ++v) {
    if (!value_live[v]) continue;
    new_id[v] = static_cast<int>(kept_values.size());
    kept_values.push_back(std::move(values[v]));
  }
  std::vector<Node> kept_nodes;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!node_live[i]) continue;
    Node n = std::move(nodes[i]);
    remap(n.inputs, new_id);
    remap(n.outputs, new_id);
    for (int v : n.outputs) kept_values[v].producer = static_cast<int>(kept_nodes.size());
    kept_nodes.push_back(std::move(n));
  }
  values = std::move(kept_values);
  nodes = std::move(kept_nodes);
  remap(inputs, new_id);
  remap(outputs, new_id);
}

int64_t Graph::parameter_count() const {
  int64_t n = 0;
  for (const Value& v : values) {
    if (v.kind == ValueKind::kWeight) n += num_elements(v.shape);
  }
  return n;
}

}  // namespace tessera::ir
