// Adapter from an MLIR pass to a graph-level pass function: module -> ir::Graph -> fn ->
// module. Costs one conversion each way (milliseconds for a 2000-node model); in exchange every
// pass core stays plain C++ and unit-testable. Errors become diagnostics on the module.
#pragma once
#include <functional>
#include <string>

#include "ir/bridge.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "passes/pipeline.h"

namespace tessera::passes {

using GraphFn = Status (*)(ir::Graph&, PipelineContext&);

class GraphPass : public mlir::PassWrapper<GraphPass, mlir::OperationPass<mlir::ModuleOp>> {
 public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(GraphPass)
  GraphPass(const char* arg, const char* desc, GraphFn fn) : arg_(arg), desc_(desc), fn_(fn) {}
  GraphPass(const GraphPass& o) = default;
  llvm::StringRef getArgument() const override { return arg_; }
  llvm::StringRef getDescription() const override { return desc_; }
  llvm::StringRef getName() const override { return arg_; }
  void runOnOperation() override;

 private:
  const char* arg_;
  const char* desc_;
  GraphFn fn_;
};

}  // namespace tessera::passes
