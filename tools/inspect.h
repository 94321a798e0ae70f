// `tessera inspect PLAN`: what a plan holds: model, mesh, parameters, per-op counts, collectives,
// per-rank memory. --json prints the same as one JSON object (schema: docs/inspect-json.md).
#pragma once
#include <string>

namespace tessera::tools {

struct InspectOptions {
  bool json = false;
};

int inspect_plan(const std::string& path, const InspectOptions& opts);

}  // namespace tessera::tools
