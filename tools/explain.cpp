#include "explain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "inspect.h"
#include "inspect_format.h"
#include "size_parse.h"

namespace tessera::tools {
namespace {

StatusOr<const plan::NodeCandidates*> find_node(const plan::Plan& p, const std::string& name) {
  std::vector<const plan::NodeCandidates*> hits;
  for (const auto& nc : p.candidates()) {
    if (nc.node() == name) return &nc;
    if (nc.node().find(name) != std::string::npos) hits.push_back(&nc);
  }
  if (hits.size() == 1) return hits[0];
  if (p.candidates().empty())
    return NotFound(
        "the plan records no strategy candidates (compiled by a tessera without "
        "explain support): recompile it");
  if (hits.empty()) {
    for (const auto& ins : p.instructions())
      if (ins.node() == name)
        return NotFound("node '" + name + "' (" + ins.op() +
                        ") was inserted after the search (a collective or local shard op): "
                        "explain the op it serves instead");
    return NotFound("no node named '" + name + "' (tessera inspect lists them)");
  }
  std::string list;
  for (size_t i = 0; i < hits.size() && i < 10; ++i) list += "\n  " + hits[i]->node();
  if (hits.size() > 10) list += "\n  ... (" + std::to_string(hits.size() - 10) + " more)";
  return InvalidArgument("'" + name + "' matches " + std::to_string(hits.size()) +
                         " nodes; name one:" + list);
}

const plan::Instruction* instruction_of(const plan::Plan& p, const std::string& node) {
  for (const auto& ins : p.instructions())
    if (ins.node() == node) return &ins;
  return nullptr;
}

std::string pct(double a, double b) {
  if (!(b > 0) || !std::isfinite(a)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, " (+%.0f%%)", (a - b) / b * 100);
  return buf;
}

// Why the chosen candidate won, in one or two sentences.
std::string reason(const plan::NodeCandidates& nc) {
  const auto& c = nc.candidates();
  const auto& ch = c[nc.chosen()];
  int best_other = -1;
  for (int i = 0; i < c.size(); ++i)
    if (i != nc.chosen() &&
        (best_other < 0 || c[i].total_seconds() < c[best_other].total_seconds()))
      best_other = i;
  std::string s = ch.strategy() + " costs " + human_seconds(ch.total_seconds()) + ": compute " +
                  human_seconds(ch.compute_seconds()) + " + resharding " +
                  human_seconds(ch.reshard_seconds()) + " with its neighbours' chosen strategies.";
  if (best_other < 0)
    return s +
           " It was the only candidate (no rule for this op, a one-device "
           "mesh, or a forced strategy).";
  const auto& alt = c[best_other];
  if (ch.total_seconds() <= alt.total_seconds())
    return s + " The next best, " + alt.strategy() + ", costs " +
           human_seconds(alt.total_seconds()) + pct(alt.total_seconds(), ch.total_seconds()) + ".";
  s += " On its own " + alt.strategy() + " would be cheaper (" +
       human_seconds(alt.total_seconds()) + "), but";
  if (nc.group_size() > 1)
    s += " this node shares its choice with " + std::to_string(nc.group_size() - 1) +
         " other node(s) of repeated layers, and over the whole group the chosen strategy is "
         "cheaper";
  if (alt.memory_bytes() > ch.memory_bytes())
    s += std::string(nc.group_size() > 1 ? "; also," : "") + " it needs " +
         human_bytes(alt.memory_bytes()) + " per device against " + human_bytes(ch.memory_bytes()) +
         ", and the plan must fit the memory budget";
  if (nc.group_size() <= 1 && alt.memory_bytes() <= ch.memory_bytes())
    s += " changing this node alone would not change its neighbours: the solver optimises the "
         "whole graph, where a jointly chosen neighbourhood is cheaper";
  return s + ".";
}

void print_text(const plan::Plan& p, const plan::NodeCandidates& nc) {
  const plan::Instruction* ins = instruction_of(p, nc.node());
  std::printf("node:      %s (%s)\n", nc.node().c_str(), ins ? ins->op().c_str() : "?");
  if (ins)
    for (int t : ins->outputs())
      std::printf("output:    %s %s\n", p.tensors(t).name().c_str(),
                  p.tensors(t).sharding().c_str());
  if (nc.group_size() > 1)
    std::printf("group:     %d nodes of repeated layers share this choice\n", nc.group_size());
  std::vector<int> order(nc.candidates_size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return nc.candidates(a).total_seconds() < nc.candidates(b).total_seconds();
  });
  std::printf("\n   %-28s %12s %12s %12s %12s\n", "strategy", "compute", "resharding", "total",
              "memory");
  for (int i : order) {
    const auto& c = nc.candidates(i);
    std::printf("%s  %-28s %12s %12s %12s %12s\n", i == nc.chosen() ? "*" : " ",
                c.strategy().c_str(), human_seconds(c.compute_seconds()).c_str(),
                human_seconds(c.reshard_seconds()).c_str(),
                human_seconds(c.total_seconds()).c_str(), human_bytes(c.memory_bytes()).c_str());
  }
  std::printf("\nwhy: %s\n", reason(nc).c_str());
}

void print_json(const plan::NodeCandidates& nc) {
  std::printf(
      "{\"schema_version\": 1, \"node\": %s, \"chosen\": %d, \"group_size\": %d, "
      "\"candidates\": [",
      json_str(nc.node()).c_str(), nc.chosen(), nc.group_size());
  for (int i = 0; i < nc.candidates_size(); ++i) {
    const auto& c = nc.candidates(i);
    std::printf(
        "%s{\"strategy\": %s, \"compute_seconds\": %s, \"reshard_seconds\": %s, "
        "\"total_seconds\": %s, \"memory_bytes\": %lld}",
        i ? ", " : "", json_str(c.strategy()).c_str(), json_num(c.compute_seconds()).c_str(),
        json_num(c.reshard_seconds()).c_str(), json_num(c.total_seconds()).c_str(),
        static_cast<long long>(c.memory_bytes()));
  }
  std::printf("], \"why\": %s}\n", json_str(reason(nc)).c_str());
}

}  // namespace

int explain_node(const std::string& plan_path, const std::string& node, const ExplainOptions& o) {
  auto f = open_plan_for_inspect(plan_path);
  if (!f.ok()) return fail(f.status().message());
  const plan::Plan& p = (*f)->plan();
  auto nc = find_node(p, node);
  if (!nc.ok()) return fail(nc.status().message());
  if ((*nc)->chosen() < 0 || (*nc)->chosen() >= (*nc)->candidates_size())
    return fail("node '" + (*nc)->node() + "': the plan's candidate record is malformed");
  if (o.json)
    print_json(**nc);
  else
    print_text(p, **nc);
  return 0;
}

}  // namespace tessera::tools
