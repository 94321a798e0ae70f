// The canonical op table. One row per op; adding an op means adding a row here (and its kernel
// and sharding rule). Built once on first use (a function-local static, not a registry).
#include "ir/op_table.h"

#include <algorithm>

#include "ir/attention_ops.h"
#include "ir/quant_ops.h"
#include "ir/shape_fns.h"
#include "ir/train_ops.h"

namespace tessera::ir {

namespace {

using K = Attr::Kind;

std::vector<OpInfo> build_table() {
  using namespace fns;
  std::vector<OpInfo> t = {
      {"Abs", 1, 1, 1, unary, {}},
      {"Add", 2, 2, 1, same_type_broadcast, {}},
      {"And", 2, 2, 1, logical, {}},
      {"AveragePool", 1, 1, 1, pool, {}},
      {"BatchNormalization", 5, 5, 1, batch_norm, {}},
      {"Cast", 1, 1, 1, cast, {}},
      {"Ceil", 1, 1, 1, unary_float, {}},
      {"Clip", 1, 1, 1, unary, {{1, "min", K::kFloat, 11}, {2, "max", K::kFloat, 11}}},
      {"Concat", 1, -1, 1, concat, {}},
      {"Conv", 2, 3, 1, conv, {}},
      {"ConvTranspose", 2, 3, 1, conv_transpose, {}},
      {"Cos", 1, 1, 1, unary_float, {}},
      {"CumSum", 1, 1, 1, cumsum, {{1, "axis", K::kInt, 11}}},
      {"Div", 2, 2, 1, same_type_broadcast, {}},
      {"Equal", 2, 2, 1, compare, {}},
      {"Erf", 1, 1, 1, unary_float, {}},
      {"Exp", 1, 1, 1, unary_float, {}},
      {"Expand", 1, 1, 1, expand, {{1, "shape", K::kInts, 8}}},
      {"Flatten", 1, 1, 1, flatten, {}},
      {"Floor", 1, 1, 1, unary_float, {}},
      {"Gather", 2, 2, 1, gather, {}},
      {"GatherElements", 2, 2, 1, gather_elements, {}},
      {"GatherND", 2, 2, 1, gather_nd, {}},
      {"Gelu", 1, 1, 1, unary_float, {}},
      {"Gemm", 2, 3, 1, gemm, {}},
      {"GlobalAveragePool", 1, 1, 1, global_pool, {}},
      {"Greater", 2, 2, 1, compare, {}},
      {"GreaterOrEqual", 2, 2, 1, compare, {}},
      {"GroupNormalization", 3, 3, 1, group_norm, {}},
      {"Identity", 1, 1, 1, unary, {}},
      {"IsNaN", 1, 1, 1, is_nan, {}},
      {"LayerNormalization", 2, 3, 1, layer_norm, {}},
      {"LeakyRelu", 1, 1, 1, unary_float, {}},
      {"Less", 2, 2, 1, compare, {}},
      {"LessOrEqual", 2, 2, 1, compare, {}},
      {"Log", 1, 1, 1, unary_float, {}},
      {"LogSoftmax", 1, 1, 1, softmax, {}},
      {"MatMul", 2, 2, 1, matmul, {}},
      {"Max", 1, -1, 1, same_type_broadcast, {}},
      {"MaxPool", 1, 1, 1, pool, {}},
      {"Min", 1, -1, 1, same_type_broadcast, {}},
      {"Mul", 2, 2, 1, same_type_broadcast, {}},
      {"Neg", 1, 1, 1, unary, {}},
      {"Not", 1, 1, 1, not_op, {}},
      {"Or", 2, 2, 1, logical, {}},
      {"Pad",
       1,
       1,
       1,
       pad,
       {{1, "pads", K::kInts, 11},
        {2, "constant_value", K::kFloat, 11},
        {3, "axes", K::kInts, 18}}},
      {"Pow", 2, 2, 1, pow, {}},
      {"Reciprocal", 1, 1, 1, unary_float, {}},
      {"ReduceMax", 1, 1, 1, reduce, {{1, "axes", K::kInts, 18}}},
      {"ReduceMean", 1, 1, 1, reduce, {{1, "axes", K::kInts, 18}}},
      {"ReduceMin", 1, 1, 1, reduce, {{1, "axes", K::kInts, 18}}},
      {"ReduceProd", 1, 1, 1, reduce, {{1, "axes", K::kInts, 18}}},
      {"ReduceSum", 1, 1, 1, reduce, {{1, "axes", K::kInts, 13}}},
      {"Relu", 1, 1, 1, unary, {}},
      {"Reshape", 1, 1, 1, reshape, {{1, "shape", K::kInts, 5}}},
      {"Sigmoid", 1, 1, 1, unary_float, {}},
      {"Sin", 1, 1, 1, unary_float, {}},
      {"Slice",
       1,
       1,
       1,
       slice,
       {{1, "starts", K::kInts, 10},
        {2, "ends", K::kInts, 10},
        {3, "axes", K::kInts, 10},
        {4, "steps", K::kInts, 10}}},
      {"Softmax", 1, 1, 1, softmax, {}},
      {"Split", 1, 1, -1, split, {{1, "split", K::kInts, 13}}},
      {"Sqrt", 1, 1, 1, unary_float, {}},
      {"Squeeze", 1, 1, 1, squeeze, {{1, "axes", K::kInts, 13}}},
      {"Sub", 2, 2, 1, same_type_broadcast, {}},
      {"Tanh", 1, 1, 1, unary_float, {}},
      {"Tile", 1, 1, 1, tile, {{1, "repeats", K::kInts, 6}}},
      {"Transpose", 1, 1, 1, transpose, {}},
      {"Trilu", 1, 1, 1, trilu, {{1, "k", K::kInt, 14}}},
      {"Unsqueeze", 1, 1, 1, unsqueeze, {{1, "axes", K::kInts, 13}}},
      {"Where", 3, 3, 1, where, {}},
  };
  std::sort(t.begin(), t.end(), [](const OpInfo& a, const OpInfo& b) {
    return std::string_view(a.name) < std::string_view(b.name);
  });
  return t;
}

}  // namespace

const std::vector<OpInfo>& op_table() {
  static const std::vector<OpInfo> table = build_table();
  return table;
}

const OpInfo* find_in_table(const std::vector<OpInfo>& t, std::string_view name) {
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const OpInfo& a, std::string_view n) { return a.name < n; });
  return it != t.end() && it->name == name ? &*it : nullptr;
}

const OpInfo* find_op(std::string_view name) {
  if (const OpInfo* op = find_in_table(op_table(), name)) return op;
  if (const OpInfo* op = find_train_op(name)) return op;  // training ops (ir/train_ops.cpp)
  if (const OpInfo* op = find_quant_op(name)) return op;  // quantized ops (ir/quant_ops.cpp)
  return find_attention_op(name);  // fused attention (ir/attention_ops.cpp)
}

}  // namespace tessera::ir
