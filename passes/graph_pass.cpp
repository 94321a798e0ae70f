#include "passes/graph_pass.h"

#include "mlir/IR/Builders.h"

namespace tessera::passes {

void GraphPass::runOnOperation() {
  mlir::ModuleOp module = getOperation();
  auto g = ir::mlir_to_graph(module, nullptr);
  if (!g.ok()) return signalPassFailure();
  auto ctx = context_from_graph(*g);
  Status st = ctx.ok() ? fn_(*g, *ctx) : ctx.status();
  if (!st.ok()) {
    module.emitError() << arg_ << ": " << st.message();
    return signalPassFailure();
  }
  auto fresh = ir::graph_to_mlir(*module.getContext(), *g);
  // Swap bodies and attributes so the pass manager keeps its handle on the same module op.
  module.getBodyRegion().takeBody(fresh->getBodyRegion());
  module->setAttrs(fresh.get()->getAttrDictionary());
}

}  // namespace tessera::passes
