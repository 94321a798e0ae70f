// Human-readable listing of a Graph for debugging and --dump-dir: one line per value of
// interest and per node. Constants print their first few elements.
#pragma once
#include <string>

#include "ir/graph.h"

namespace tessera::ir {

std::string dump_graph(const Graph& g);

}  // namespace tessera::ir
