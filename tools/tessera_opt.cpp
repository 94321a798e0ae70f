// tessera-opt: parses, verifies and prints the tessera dialect and runs its passes; the driver
// of the lit tests (tests/lit).
#include "ir/dialect.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "passes/pipeline.h"

int main(int argc, char** argv) {
  mlir::DialectRegistry registry;
  tessera::ir::register_dialects(registry);
  tessera::passes::register_passes();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tessera pass driver\n", registry));
}
