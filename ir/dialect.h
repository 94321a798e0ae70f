// The `tessera` MLIR dialect: one operation per canonical op (docs/ops.md), registered at
// dialect load from ir/op_table's explicit table (an ExtensibleDialect, so the op list lives in
// one place and needs no TableGen), plus `tessera.weight`, `tessera.constant`, `tessera.input`
// markers and the collectives inserted by resharding. Ops print as
//   %2 = tessera.MatMul %0, %1 {name = "mm0"} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
// Verification checks types and runs shape inference (ir/shape_infer) on every op.
#pragma once
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/ExtensibleDialect.h"

namespace tessera::ir {

class TesseraDialect : public mlir::ExtensibleDialect {
 public:
  explicit TesseraDialect(mlir::MLIRContext* ctx);
  static llvm::StringRef getDialectNamespace() { return "tessera"; }

 private:
  void registerOp(llvm::StringRef name, bool verifyShapes);
};

void register_dialects(mlir::DialectRegistry& registry);


}  // namespace tessera::ir

MLIR_DECLARE_EXPLICIT_TYPE_ID(tessera::ir::TesseraDialect)
