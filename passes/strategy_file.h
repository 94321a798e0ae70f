// --strategy FILE: force strategies on named nodes, so tests can exercise every collective and
// users can pin a layout. One rule per line, `NODE_GLOB = STRATEGY`, where NODE_GLOB matches
// node names (fnmatch: * ? [..]) and STRATEGY is a strategy name as `tessera explain` and the
// IR print it: `replicated`, or factor assignments such as `0:{dp} 2:{tp}`. '#' starts a comment.
// The first matching rule wins; a rule that matches no node is an error (a typo must not be
// silently ignored), as is a strategy the node does not have (the message lists the ones it has).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/core/mesh.h"
#include "passes/core/strategies.h"
#include "tessera/status.h"

namespace tessera::passes {

struct StrategyOverride {
  std::string pattern, strategy;
  int line = 0;
  bool used = false;
};
using StrategyOverrides = std::vector<StrategyOverride>;

StatusOr<StrategyOverrides> parse_strategy_file(const std::string& text, const std::string& path);
StatusOr<StrategyOverrides> load_strategy_file(const std::string& path);
// Narrows `candidates` to the forced strategy when a rule matches the node.
Status apply_overrides(StrategyOverrides& rules, const ir::Node& n, const spmd::Mesh& mesh,
                       std::vector<spmd::Strategy>& candidates);
Status check_overrides_used(const StrategyOverrides& rules);

}  // namespace tessera::passes
