// Training: which optimizer updates write straight into their state's storage (docs/plan-format.md,
// "In-place updates"). Plain C++ over ir::Graph: the plan emitter and the checkpoint pass's memory
// model both use it, so the arena the model predicts is the arena the plan gets.
#pragma once
#include <vector>

#include "ir/graph.h"

namespace tessera::core {

// Per value id: the state (a kWeight value) whose storage the value is written into, or -1.
// A "train.updates" pair (state, updated) is aliased when
//  - `updated` is a graph output produced by a node P, with the state's dtype, local shape and
//    sharding (so the bytes are interchangeable on every rank);
//  - every node that reads the state is P or comes before P (nothing reads the old value after
//    its update; checkpoint recomputation and gradient sync all precede the optimizer);
//  - if P reads the state itself, P is AdamW or SGD and reads it only at the input matching the
//    output (weight->weight, moment->moment): those kernels read every element before writing it.
// Other pairs (the step counter's Add, Dropout's step, BatchNorm statistics: a few bytes) stay
// out of place and the runtime copies them after the step.
std::vector<int> inplace_update_states(const ir::Graph& g);

}  // namespace tessera::core
