// The quantized ops' table (docs/ops.md, "Quantized ops"; docs/quantization.md): what the
// quantize pass emits. Same OpInfo as the forward table so find_op can consult it. Sorted by name.
#pragma once
#include <string_view>
#include <vector>

#include "ir/op_table.h"

namespace tessera::ir {

const std::vector<OpInfo>& quant_op_table();
// Linear scan: the table has four entries.
const OpInfo* find_quant_op(std::string_view name);

}  // namespace tessera::ir
