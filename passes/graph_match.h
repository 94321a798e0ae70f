// Small graph queries shared by the pattern-rewriting stages (passes/attention.cpp,
// passes/gelu.cpp): who reads a value, whether it leaves the graph, a constant's elements.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::passes {

// Node indices reading each value (a node reading a value twice appears twice).
std::vector<std::vector<int>> value_readers(const ir::Graph& g);
bool is_graph_output(const ir::Graph& g, int v);
// Element i of host data as a double (float, integer and bool dtypes); NaN for the others, which
// no pattern's constant matches.
double element_as_double(const ir::TensorData& d, int64_t i);

// A node a stage rewrote must infer the output types its output values already carry; Internal
// (naming the stage, node and value) when inference fails or a type would change.
Status check_inferred_types(const ir::Graph& g, const ir::Node& n, const std::string& stage);

}  // namespace tessera::passes
