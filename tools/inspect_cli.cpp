#include "inspect_cli.h"

namespace tessera::tools {

void add_inspect_commands(CLI::App& app, InspectCli& c) {
  auto* i = app.add_subcommand(
      "inspect", "Summarise a plan: modelled step time, memory per device, per-op strategies");
  i->add_option("plan", c.plan, "Plan file")->required();
  i->add_flag("--json", c.inspect.json, "Machine-readable output (schema: docs/inspect-json.md)");
  i->add_option("--op", c.inspect.op_pattern, "Only ops whose type or node name match this glob");
  i->add_option("--top", c.inspect.top, "Only the N ops with the most modelled seconds")
      ->check(CLI::NonNegativeNumber);
  i->add_option("--dot", c.inspect.dot_file, "Write the graph as Graphviz DOT to FILE");
  i->add_option("--trace", c.inspect.trace_file,
                "Write the modelled schedule as Chrome trace JSON to FILE (Perfetto)");
  i->add_option("--html", c.inspect.html_file, "Write a self-contained HTML report to FILE");
  i->add_flag("--colossal", c.inspect.colossal,
              "Print specs in Colossal-AI notation ([S01,R]; P<axes> = partial sum)");
  c.inspect_cmd = i;
  auto* e = app.add_subcommand(
      "explain", "Show the strategies considered for one op and why the chosen one won");
  e->add_option("plan", c.plan, "Plan file")->required();
  e->add_option("node", c.node, "Node name, or a unique part of one")->required();
  e->add_flag("--json", c.explain.json, "Machine-readable output");
  c.explain_cmd = e;
}

bool run_inspect_commands(const InspectCli& c, int* rc) {
  if (c.inspect_cmd && c.inspect_cmd->parsed()) {
    *rc = inspect_plan(c.plan, c.inspect);
    return true;
  }
  if (c.explain_cmd && c.explain_cmd->parsed()) {
    *rc = explain_node(c.plan, c.node, c.explain);
    return true;
  }
  return false;
}

}  // namespace tessera::tools
