// The one table of canonical ops (docs/ops.md): arity, shape/dtype inference, and which ONNX
// inputs the frontend lifts into attributes (and from which opset the ONNX op took them as
// inputs rather than attributes). Sorted by name; looked up by binary search.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ir/shape_infer.h"

namespace tessera::ir {

// Fills `out` (already sized to node.outputs) or returns a message without the node prefix;
// infer() adds "node 'name' (Op): ".
using InferFn = Status (*)(const Node& n, const std::vector<TypeShape>& in,
                           std::vector<TypeShape>& out);

struct LiftedInput {
  int index;         // ONNX input position
  const char* attr;  // canonical attribute name
  Attr::Kind kind;   // kInts (list), kInt (scalar), kFloat (scalar)
  int since_opset;   // first default-domain opset where ONNX has it as an input
};

struct OpInfo {
  const char* name;
  int min_inputs;   // canonical (after lifting)
  int max_inputs;   // -1 = variadic
  int num_outputs;  // -1 = variadic (Split)
  InferFn infer;
  std::vector<LiftedInput> lifts;  // trailing ONNX inputs lifted to attributes
};

const OpInfo* find_op(std::string_view name);
// Binary search of one table sorted by name (every op table is; tests check the order).
const OpInfo* find_in_table(const std::vector<OpInfo>& table, std::string_view name);
const std::vector<OpInfo>& op_table();

}  // namespace tessera::ir
