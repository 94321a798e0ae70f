// A reference graph interpreter: runs an ir::Graph node by node on the CPU kernels, holding
// every value in host memory (no buffer reuse: it exists for tests and numerics checks, not
// speed). Training ops are found in the training kernel table as well as the forward one.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::core {

// Feeds by value name: every graph input must be fed; a weight or constant that is fed
// overrides its data (finite-difference tests perturb weights this way).
using Feeds = std::map<std::string, ir::TensorData>;

// Values of g.outputs, in order.
StatusOr<std::vector<ir::TensorData>> interpret(const ir::Graph& g, const Feeds& feeds);

// Every value by id (absent ones empty); for debugging a mismatch down to the first bad node.
StatusOr<std::vector<ir::TensorData>> interpret_all(const ir::Graph& g, const Feeds& feeds);

}  // namespace tessera::core
