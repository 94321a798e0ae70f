// Lowers a partitioned graph to a plan file: tensor table, instruction list, arena offsets
// (passes/core/memory_planner) and per-rank weight shards. Plain C++ (no MLIR): it is the
// boundary where the compiler hands over to the runtime's schema.
#pragma once
#include <string>

#include "compiler/options.h"
#include "ir/graph.h"
#include "passes/core/mesh.h"
#include "tessera/status.h"

namespace tessera::compiler {

Status emit_plan(const ir::Graph& g, const spmd::Mesh& mesh, const std::string& path,
                 CompileSummary* summary);

}  // namespace tessera::compiler
