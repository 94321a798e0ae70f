// `tessera inspect PLAN`: what a plan holds and what it costs: model, mesh and cluster, the
// modelled step (compute / exposed communication / recomputation), per-device peak memory by
// kind, and a per-op table (strategy, specs, inserted collectives, memory). --json prints the
// same as one JSON object (schema: docs/inspect-json.md); --dot/--trace/--html write views to
// files (tools/inspect_views.h). `tessera explain` (tools/explain.h) shares the loader.
#pragma once
#include <memory>
#include <string>

#include "tessera/plan_file.h"

namespace tessera::tools {

struct InspectOptions {
  bool json = false;
  std::string op_pattern;  // --op: glob over op type or node name; empty = every op
  int top = 0;             // --top N: the N ops with the most modelled seconds; 0 = all
  std::string dot_file, trace_file, html_file;
  bool colossal = false;   // --colossal: specs in Colossal-AI notation ([S01,R], P for partial)
};

int inspect_plan(const std::string& path, const InspectOptions& opts);

// Opens a plan for inspection. A plan of another format version fails with a message saying
// which side is newer and what to do (recompile, or use the tessera that wrote it).
StatusOr<std::unique_ptr<planfile::PlanFile>> open_plan_for_inspect(const std::string& path);

}  // namespace tessera::tools
