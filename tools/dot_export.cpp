// `tessera inspect --dot FILE`: the per-rank program as a Graphviz digraph. Kernels are boxes
// (op, output shape, strategy), one `subgraph cluster_N` per layer (tools/inspect_layers.h);
// inserted collectives are hexagons coloured by kind and labelled with bytes and time, so the
// communication a strategy costs is visible where it happens. Weights and graph inputs are
// left out: they would double the node count and say nothing about the plan's decisions.
#include <map>

#include "inspect_format.h"
#include "inspect_views.h"

namespace tessera::tools {
namespace {

const char* collective_colour(const std::string& op) {
  if (op == "AllReduce") return "#e06c75";
  if (op == "AllGather") return "#61afef";
  if (op == "ReduceScatter") return "#c678dd";
  if (op == "AllToAll") return "#e5c07b";
  return "#abb2bf";  // local shard ops: no traffic
}

std::string node_line(const InspectModel& m, int ins) {
  const std::string id = "i" + std::to_string(ins);
  const int op = m.op_of_instruction[ins];
  if (op >= 0) {
    const OpRow& r = m.ops[op];
    std::string label = r.op + "\\n" + dot_escape(r.node);
    if (!r.outputs.empty())
      label += "\\n" + dot_escape(r.outputs[0].shape + " " + r.outputs[0].spec);
    if (!r.strategy.empty()) label += "\\n" + dot_escape(r.strategy);
    return "    " + id + " [label=\"" + label + "\", shape=box, style=\"rounded,filled\", " +
           "fillcolor=\"#f5f5f5\"];\n";
  }
  if (m.collective_of_instruction[ins] >= 0) {
    const CollectiveRow& c = m.collectives[m.collective_of_instruction[ins]];
    std::string axes;
    for (const auto& a : c.axes) axes += (axes.empty() ? "" : ",") + a;
    std::string label =
        c.op + "{" + axes + "}\n" + human_bytes(c.bytes) + ", " + human_seconds(c.seconds);
    return "    " + id + " [label=\"" + dot_escape(label) + "\", shape=hexagon, style=filled, " +
           "fillcolor=\"" + collective_colour(c.op) + "\"];\n";
  }
  return "";
}

std::string layer_of(const InspectModel& m, int ins) {
  const int op = m.op_of_instruction[ins];
  if (op >= 0) return m.ops[op].layer;
  const int c = m.collective_of_instruction[ins];
  return c >= 0 ? m.collectives[c].layer : "";
}

}  // namespace

std::string plan_dot(const InspectModel& m) {
  const plan::Plan& p = *m.plan;
  std::string s = "digraph plan {\n  graph [rankdir=TB, fontname=\"Helvetica\", label=\"" +
                  dot_escape(m.model + " on " + (m.mesh.empty() ? "one device" : m.mesh)) +
                  "\", labelloc=t];\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  // Layers in order of first appearance, so cluster numbering follows the schedule.
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> members;
  for (int i = 0; i < p.instructions_size(); ++i) {
    std::string layer = layer_of(m, i);
    if (!members.count(layer)) order.push_back(layer);
    members[layer].push_back(i);
  }
  int cluster = 0;
  for (const std::string& layer : order) {
    const bool boxed = !layer.empty();
    if (boxed)
      s += "  subgraph cluster_" + std::to_string(cluster++) + " {\n    label=\"" +
           dot_escape(layer) + "\"; style=dashed; color=\"#888888\";\n";
    for (int i : members[layer]) s += node_line(m, i);
    if (boxed) s += "  }\n";
  }
  // Edges: producer instruction -> consumer instruction, labelled with the tensor's spec.
  std::vector<int> producer(p.tensors_size(), -1);
  for (int i = 0; i < p.instructions_size(); ++i)
    for (int t : p.instructions(i).outputs()) producer[t] = i;
  for (int i = 0; i < p.instructions_size(); ++i)
    for (int t : p.instructions(i).inputs())
      if (t >= 0 && producer[t] >= 0)
        s += "  i" + std::to_string(producer[t]) + " -> i" + std::to_string(i) + ";\n";
  return s + "}\n";
}

}  // namespace tessera::tools
