#include "ir/dialect.h"

#include "ir/bridge.h"
#include "ir/op_table.h"
#include "tessera/collectives.h"
#include "ir/attention_ops.h"
#include "ir/quant_ops.h"
#include "ir/train_ops.h"
#include "ir/shape_infer.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"

MLIR_DEFINE_EXPLICIT_TYPE_ID(tessera::ir::TesseraDialect)

namespace tessera::ir {


namespace {

// `tessera.Op %a, %b {attrs} : (types) -> types`
mlir::ParseResult parse_op(mlir::OpAsmParser& p, mlir::OperationState& st) {
  llvm::SmallVector<mlir::OpAsmParser::UnresolvedOperand> operands;
  mlir::FunctionType type;
  llvm::SMLoc loc = p.getCurrentLocation();
  if (p.parseOperandList(operands) || p.parseOptionalAttrDict(st.attributes) ||
      p.parseColonType(type))
    return mlir::failure();
  st.addTypes(type.getResults());
  return p.resolveOperands(operands, type.getInputs(), loc, st.operands);
}

void print_op(mlir::Operation* op, mlir::OpAsmPrinter& p, llvm::StringRef default_dialect) {
  llvm::StringRef name = op->getName().getStringRef();
  if (!default_dialect.empty() && name.startswith(default_dialect) &&
      name.drop_front(default_dialect.size()).startswith("."))
    name = name.drop_front(default_dialect.size() + 1);
  p.getStream() << name;
  if (op->getNumOperands()) p << ' ';
  p.printOperands(op->getOperands());
  p.printOptionalAttrDict(op->getAttrs());
  p << " : ";
  p.printFunctionalType(op);
}

mlir::LogicalResult verify_types(mlir::Operation* op) {
  llvm::SmallVector<mlir::Type> types(op->getOperandTypes());
  types.append(op->getResultTypes().begin(), op->getResultTypes().end());
  for (mlir::Type t : types) {
    auto rt = t.dyn_cast<mlir::RankedTensorType>();
    if (!rt || !rt.hasStaticShape())
      return op->emitOpError() << "operands and results must be statically shaped tensors, got "
                               << t;
  }
  return mlir::success();
}

mlir::LogicalResult verify_leaf(mlir::Operation* op) {
  if (op->getNumOperands() != 0 || op->getNumResults() != 1)
    return op->emitOpError() << "takes no operands and has one result";
  if (!op->getAttrOfType<mlir::StringAttr>("name"))
    return op->emitOpError() << "needs a string attribute 'name'";
  return verify_types(op);
}

}  // namespace

TesseraDialect::TesseraDialect(mlir::MLIRContext* ctx)
    : mlir::ExtensibleDialect(getDialectNamespace(), ctx,
                              mlir::TypeID::get<TesseraDialect>()) {
  ctx->getOrLoadDialect<mlir::func::FuncDialect>();
  // Every table find_op consults: forward, training and quantized ops.
  for (const auto* table : {&op_table(), &train_op_table(), &quant_op_table(), &attention_op_table()})
    for (const OpInfo& info : *table) registerOp(info.name, true);
  for (const char* c : tessera::kCollectiveOps) registerOp(c, false);
  for (const char* leaf : {"weight", "constant"}) {
    auto def = mlir::DynamicOpDefinition::get(
        leaf, this, [](mlir::Operation* op) { return verify_leaf(op); },
        [](mlir::Operation*) { return mlir::success(); }, parse_op, print_op);
    registerDynamicOp(std::move(def));
  }
}

void TesseraDialect::registerOp(llvm::StringRef name, bool verifyShapes) {
  auto verify = [verifyShapes](mlir::Operation* op) -> mlir::LogicalResult {
    if (mlir::failed(verify_types(op))) return mlir::failure();
    if (!verifyShapes) return mlir::success();
    std::string err = verify_op_shapes(op);
    if (!err.empty()) return op->emitOpError() << err;
    return mlir::success();
  };
  registerDynamicOp(mlir::DynamicOpDefinition::get(
      name, this, std::move(verify), [](mlir::Operation*) { return mlir::success(); }, parse_op,
      print_op));
}

void register_dialects(mlir::DialectRegistry& registry) {
  registry.insert<mlir::func::FuncDialect, TesseraDialect>();
}

}  // namespace tessera::ir
