// Shape and dtype inference for canonical ops (docs/ops.md). Validates as it goes: every error
// is one line naming the node, its op and the shapes or attribute at fault.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::ir {

using TypeShape = std::pair<DType, Shape>;  // an absent optional input is {kUndefined, {}}

// Output dtypes/shapes of a canonical node, one per node.outputs entry.
StatusOr<std::vector<TypeShape>> infer(const Node& n, const std::vector<TypeShape>& in);

// Multidirectional (numpy) broadcasting; error text names both shapes.
StatusOr<Shape> broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace tessera::ir
