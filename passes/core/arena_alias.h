// Arena aliasing of reshape-like ops (tessera/reshape_ops.h): the output shares its input's
// arena buffer, so the op costs no copy and no bytes. Plain C++ over ir::Graph: the plan
// emitter, the checkpoint pass's memory model and the chunk search's liveness all use it, so
// the arena they predict is the arena the plan gets (docs/plan-format.md, "Arena aliasing").
#pragma once
#include <vector>

#include "ir/graph.h"
#include "tessera/reshape_ops.h"  // merge_alias_lifetimes

namespace tessera::core {

// Per value id: the value whose arena buffer it shares (the root of its chain of reshapes),
// itself when it has a buffer of its own or takes no arena. A reshape-like node's output joins
// its input's buffer when both are arena values (activations or graph inputs, not weights,
// constants or optimizer updates written into a state: `inplace` is inplace_update_states(g))
// of equal dtype and local bytes. Safe because values are SSA: nothing writes an arena buffer
// after its producer, so the members of a group only ever hold the same bytes; graph inputs
// (copied in before the first instruction) and graph outputs (read after the last) included.
std::vector<int> arena_alias_roots(const ir::Graph& g, const std::vector<int>& inplace);

}  // namespace tessera::core
