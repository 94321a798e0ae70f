// The training ops' table (docs/ops.md, "Training ops"): same OpInfo as the forward table, so
// find_op can consult both. Sorted by name.
#pragma once
#include <string_view>
#include <vector>

#include "ir/op_table.h"

namespace tessera::ir {

const std::vector<OpInfo>& train_op_table();
// Linear scan: the table has a dozen entries.
const OpInfo* find_train_op(std::string_view name);

}  // namespace tessera::ir
