// Conversion between the plain graph (ir/graph.h) and the MLIR dialect: the driver dumps the IR
// after each stage through graph_to_mlir, and every MLIR pass adapts the IR to a plain-C++ core
// by a round trip. Weight bytes never enter MLIR (a 6 GB model would not print); they stay in
// the graph, and mlir_to_graph re-attaches them by name from `weights` when given.
#pragma once
#include <map>
#include <string>

#include "ir/graph.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "tessera/status.h"

namespace tessera::ir {

// Constants up to this many elements are printed inline as dense attributes.
constexpr int64_t kInlineConstantElements = 4096;

mlir::OwningOpRef<mlir::ModuleOp> graph_to_mlir(mlir::MLIRContext& ctx, const Graph& g);

using WeightStore = std::map<std::string, TensorDataPtr>;
WeightStore weight_store(const Graph& g);

// Errors are emitted as MLIR diagnostics on the offending op and returned as a Status.
StatusOr<Graph> mlir_to_graph(mlir::ModuleOp module, const WeightStore* weights);

}  // namespace tessera::ir

namespace mlir {
class Operation;
}
namespace tessera::ir {
// Runs shape inference on one canonical op and compares with its result types; returns an
// empty string when they agree, else the message (used by the dialect's verifier).
std::string verify_op_shapes(mlir::Operation* op);
}  // namespace tessera::ir
