// `tessera explain PLAN NODE`: the strategies spmd-search weighed for one op, each with its own
// cost, the resharding it would need with its neighbours' chosen strategies, and its memory;
// then why the chosen one won. NODE is a node name or a unique part of one.
#pragma once
#include <string>

namespace tessera::tools {

struct ExplainOptions {
  bool json = false;
};

int explain_node(const std::string& plan_path, const std::string& node, const ExplainOptions& o);

}  // namespace tessera::tools
