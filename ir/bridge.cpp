#include "ir/bridge.h"

#include <cstring>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

namespace tessera::ir {
namespace {

mlir::Type element_type(mlir::MLIRContext& ctx, DType t) {
  mlir::Builder b(&ctx);
  switch (t) {
    case DType::kFloat32: return b.getF32Type();
    case DType::kFloat64: return b.getF64Type();
    case DType::kFloat16: return b.getF16Type();
    case DType::kBFloat16: return b.getBF16Type();
    case DType::kBool: return b.getI1Type();
    case DType::kInt8: return b.getIntegerType(8);
    case DType::kInt16: return b.getIntegerType(16);
    case DType::kInt32: return b.getIntegerType(32);
    case DType::kInt64: return b.getIntegerType(64);
    case DType::kUInt8: return b.getIntegerType(8, false);
    case DType::kUInt16: return b.getIntegerType(16, false);
    case DType::kUInt32: return b.getIntegerType(32, false);
    case DType::kUInt64: return b.getIntegerType(64, false);
    default: return b.getNoneType();
  }
}

DType dtype_of(mlir::Type t) {
  if (t.isF32()) return DType::kFloat32;
  if (t.isF64()) return DType::kFloat64;
  if (t.isF16()) return DType::kFloat16;
  if (t.isBF16()) return DType::kBFloat16;
  if (auto it = t.dyn_cast<mlir::IntegerType>()) {
    bool u = it.isUnsigned();
    switch (it.getWidth()) {
      case 1: return DType::kBool;
      case 8: return u ? DType::kUInt8 : DType::kInt8;
      case 16: return u ? DType::kUInt16 : DType::kInt16;
      case 32: return u ? DType::kUInt32 : DType::kInt32;
      case 64: return u ? DType::kUInt64 : DType::kInt64;
      default: break;
    }
  }
  return DType::kUndefined;
}

// After partition (meta "partitioned") the module is the per-rank program: local shapes.
mlir::RankedTensorType tensor_type(mlir::MLIRContext& ctx, const Value& v, bool local) {
  const Shape& s = local && !v.local_shape.empty() ? v.local_shape : v.shape;
  return mlir::RankedTensorType::get(s, element_type(ctx, v.dtype));
}

mlir::Attribute to_mlir(mlir::Builder& b, const Attr& a) {
  switch (a.kind) {
    case Attr::kInt: return b.getI64IntegerAttr(a.i);
    case Attr::kFloat: return b.getF64FloatAttr(a.f);
    case Attr::kString: return b.getStringAttr(a.s);
    case Attr::kInts: return mlir::DenseI64ArrayAttr::get(b.getContext(), a.ints);
    case Attr::kFloats: {
      llvm::SmallVector<mlir::Attribute> xs;
      for (double f : a.floats) xs.push_back(b.getF64FloatAttr(f));
      return b.getArrayAttr(xs);
    }
    case Attr::kStrings: {
      llvm::SmallVector<mlir::Attribute> xs;
      for (const auto& s : a.strings) xs.push_back(b.getStringAttr(s));
      return b.getArrayAttr(xs);
    }
  }
  return {};
}

mlir::Attribute dense_attr(mlir::RankedTensorType type, const TensorData& d) {
  if (d.dtype == DType::kBool) {
    llvm::SmallVector<bool> bits(d.bytes.begin(), d.bytes.end());
    return mlir::DenseElementsAttr::get(type, llvm::makeArrayRef(bits));
  }
  llvm::ArrayRef<char> raw(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size());
  return mlir::DenseElementsAttr::getFromRawBuffer(type, raw);
}

// Names the graph's own keys use on ops; everything else is an op attribute.
constexpr const char* kNameAttr = "name";
constexpr const char* kShardingAttr = "sharding";
constexpr const char* kAbsentAttr = "absent_inputs";
constexpr const char* kStrategyAttr = "strategy";
constexpr const char* kInSpecsAttr = "in_shardings";

// Attributes the bridge itself owns; everything else on an op is an ONNX attribute.
bool is_bridge_attr(llvm::StringRef k) {
  return k == kNameAttr || k == kShardingAttr || k == kAbsentAttr || k == kStrategyAttr ||
         k == kInSpecsAttr;
}

struct Emitter {
  mlir::MLIRContext& ctx;
  const Graph& g;
  mlir::OpBuilder b;
  std::vector<mlir::Value> vals;
  bool local;

  mlir::Location loc(const std::string& name) {
    return mlir::NameLoc::get(b.getStringAttr(name));
  }

  void set_sharding(mlir::Operation* op, const std::vector<int>& outs) {
    bool any = false;
    llvm::SmallVector<mlir::Attribute> specs;
    for (int o : outs) {
      specs.push_back(b.getStringAttr(g.values[o].sharding));
      any |= !g.values[o].sharding.empty();
    }
    if (any) op->setAttr(kShardingAttr, b.getArrayAttr(specs));
  }

  void emit_leaf(int id) {
    const Value& v = g.values[id];
    bool constant = v.kind == ValueKind::kConstant;
    mlir::OperationState st(loc(v.name), constant ? "tessera.constant" : "tessera.weight");
    st.addTypes(tensor_type(ctx, v, local));
    st.addAttribute(kNameAttr, b.getStringAttr(v.name));
    bool whole = !local || v.local_shape.empty() || v.local_shape == v.shape;
    if (constant && whole && v.data && v.data->numel() <= kInlineConstantElements)
      st.addAttribute("value", dense_attr(tensor_type(ctx, v, local), *v.data));
    mlir::Operation* op = b.create(st);
    set_sharding(op, {id});
    vals[id] = op->getResult(0);
  }

  void emit_node(const Node& n) {
    mlir::OperationState st(loc(n.name), "tessera." + n.op);
    llvm::SmallVector<int64_t> absent;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i] < 0) {
        absent.push_back(static_cast<int64_t>(i));
        continue;
      }
      int in = n.inputs[i];
      if (!vals[in]) emit_leaf(in);
      st.addOperands(vals[in]);
    }
    for (int o : n.outputs) st.addTypes(tensor_type(ctx, g.values[o], local));
    st.addAttribute(kNameAttr, b.getStringAttr(n.name));
    for (const auto& [k, a] : n.attrs) st.addAttribute(k, to_mlir(b, a));
    if (!absent.empty()) st.addAttribute(kAbsentAttr, mlir::DenseI64ArrayAttr::get(&ctx, absent));
    if (!n.strategy.empty()) st.addAttribute(kStrategyAttr, b.getStringAttr(n.strategy));
    if (!n.input_specs.empty()) {
      llvm::SmallVector<mlir::Attribute> specs;
      for (const auto& sp : n.input_specs) specs.push_back(b.getStringAttr(sp));
      st.addAttribute(kInSpecsAttr, b.getArrayAttr(specs));
    }
    mlir::Operation* op = b.create(st);
    set_sharding(op, n.outputs);
    for (size_t i = 0; i < n.outputs.size(); ++i) vals[n.outputs[i]] = op->getResult(i);
  }
};

}  // namespace

WeightStore weight_store(const Graph& g) {
  WeightStore s;
  for (const auto& v : g.values)
    if (v.data) s[v.name] = v.data;
  return s;
}

mlir::OwningOpRef<mlir::ModuleOp> graph_to_mlir(mlir::MLIRContext& ctx, const Graph& g) {
  Emitter e{ctx, g, mlir::OpBuilder(&ctx), std::vector<mlir::Value>(g.values.size()),
            attr_int(g.meta, "partitioned", 0) != 0};
  auto module = mlir::ModuleOp::create(e.loc(g.name.empty() ? "model" : g.name));
  for (const auto& [k, a] : g.meta) module->setAttr("tessera." + k, to_mlir(e.b, a));
  llvm::SmallVector<mlir::Type> in_types, out_types;
  for (int id : g.inputs) in_types.push_back(tensor_type(ctx, g.values[id], e.local));
  for (int id : g.outputs) out_types.push_back(tensor_type(ctx, g.values[id], e.local));
  e.b.setInsertionPointToEnd(module.getBody());
  auto fn = e.b.create<mlir::func::FuncOp>(e.loc("main"), "main",
                                           e.b.getFunctionType(in_types, out_types));
  mlir::Block* body = fn.addEntryBlock();
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.values[g.inputs[i]];
    fn.setArgAttr(i, "tessera.name", e.b.getStringAttr(v.name));
    if (!v.sharding.empty()) fn.setArgAttr(i, "tessera.sharding", e.b.getStringAttr(v.sharding));
    e.vals[g.inputs[i]] = body->getArgument(i);
  }
  for (size_t i = 0; i < g.outputs.size(); ++i)
    fn.setResultAttr(i, "tessera.name", e.b.getStringAttr(g.values[g.outputs[i]].name));
  e.b.setInsertionPointToEnd(body);
  for (const Node& n : g.nodes) e.emit_node(n);
  llvm::SmallVector<mlir::Value> rets;
  for (int id : g.outputs) {
    if (!e.vals[id]) e.emit_leaf(id);
    rets.push_back(e.vals[id]);
  }
  e.b.create<mlir::func::ReturnOp>(e.loc("return"), rets);
  return module;
}

}  // namespace tessera::ir

namespace tessera::ir {
namespace {

StatusOr<Attr> from_mlir(mlir::Operation* op, llvm::StringRef key, mlir::Attribute a) {
  if (auto i = a.dyn_cast<mlir::IntegerAttr>()) return Attr::Int(i.getInt());
  if (auto f = a.dyn_cast<mlir::FloatAttr>()) return Attr::Float(f.getValueAsDouble());
  if (auto s = a.dyn_cast<mlir::StringAttr>()) return Attr::Str(s.str());
  if (auto d = a.dyn_cast<mlir::DenseI64ArrayAttr>())
    return Attr::Ints(std::vector<int64_t>(d.asArrayRef().begin(), d.asArrayRef().end()));
  if (auto arr = a.dyn_cast<mlir::ArrayAttr>()) {
    if (arr.empty()) return Attr::Ints({});
    if (arr[0].isa<mlir::StringAttr>()) {
      std::vector<std::string> xs;
      for (auto x : arr) xs.push_back(x.cast<mlir::StringAttr>().str());
      return Attr::Strs(xs);
    }
    std::vector<double> fs;
    for (auto x : arr) {
      if (auto f = x.dyn_cast<mlir::FloatAttr>()) fs.push_back(f.getValueAsDouble());
      else if (auto i = x.dyn_cast<mlir::IntegerAttr>()) fs.push_back(static_cast<double>(i.getInt()));
      else break;
    }
    if (fs.size() == arr.size()) return Attr::Floats(fs);
  }
  op->emitError() << "attribute '" << key << "' has an unsupported kind";
  return InvalidArgument("attribute '" + key.str() + "' of op '" +
                         op->getName().getStringRef().str() + "' has an unsupported kind");
}

std::string node_name(mlir::Operation* op) {
  if (auto s = op->getAttrOfType<mlir::StringAttr>("name")) return s.str();
  if (auto nl = op->getLoc().dyn_cast<mlir::NameLoc>()) return nl.getName().str();
  return op->getName().getStringRef().str();
}

StatusOr<Value> value_of(mlir::Operation* where, mlir::Value v, std::string name) {
  auto t = v.getType().dyn_cast<mlir::RankedTensorType>();
  if (!t || !t.hasStaticShape()) {
    where->emitError() << "'" << name << "' must be a statically shaped tensor";
    return InvalidArgument("'" + name + "' must be a statically shaped tensor");
  }
  Value out;
  out.name = std::move(name);
  out.dtype = dtype_of(t.getElementType());
  out.shape.assign(t.getShape().begin(), t.getShape().end());
  return out;
}

std::shared_ptr<TensorData> data_of(const Value& v, mlir::DenseElementsAttr d) {
  auto td = std::make_shared<TensorData>();
  td->dtype = v.dtype;
  td->shape = v.shape;
  int64_t n = v.shape.empty() ? 1 : num_elements(v.shape);
  td->bytes.resize(n * dtype_size(v.dtype));
  if (v.dtype == DType::kBool) {
    int64_t i = 0;
    for (bool x : d.getValues<bool>()) td->bytes[i++] = x;
  } else {
    llvm::ArrayRef<char> raw = d.getRawData();
    if (d.isSplat())
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(td->bytes.data() + i * raw.size(), raw.data(), raw.size());
    else
      std::memcpy(td->bytes.data(), raw.data(), std::min(raw.size(), td->bytes.size()));
  }
  return td;
}

struct Importer {
  Graph g;
  const WeightStore* weights = nullptr;
  llvm::DenseMap<mlir::Value, int> ids;

  Status leaf(mlir::Operation* op, bool constant) {
    TSR_ASSIGN_OR_RETURN(Value v, value_of(op, op->getResult(0), node_name(op)));
    v.kind = constant ? ValueKind::kConstant : ValueKind::kWeight;
    if (auto d = op->getAttrOfType<mlir::DenseElementsAttr>("value")) v.data = data_of(v, d);
    if (!v.data && weights) {
      auto it = weights->find(v.name);
      if (it != weights->end()) v.data = it->second;
    }
    if (constant && !v.data) {
      op->emitError() << "constant '" << v.name << "' has no value";
      return InvalidArgument("constant '" + v.name + "' has no value");
    }
    if (auto sh = op->getAttrOfType<mlir::ArrayAttr>("sharding"))
      v.sharding = sh[0].cast<mlir::StringAttr>().str();
    ids[op->getResult(0)] = g.add_value(std::move(v));
    return Status::Ok();
  }

  Status node(mlir::Operation* op) {
    Node n;
    n.name = node_name(op);
    n.op = op->getName().getStringRef().drop_front(strlen("tessera.")).str();
    llvm::SmallVector<int64_t> absent;
    if (auto a = op->getAttrOfType<mlir::DenseI64ArrayAttr>("absent_inputs"))
      absent.assign(a.asArrayRef().begin(), a.asArrayRef().end());
    size_t next = 0;
    for (size_t pos = 0; next < op->getNumOperands() || llvm::is_contained(absent, static_cast<int64_t>(pos)); ++pos) {
      if (llvm::is_contained(absent, static_cast<int64_t>(pos))) {
        n.inputs.push_back(-1);
        continue;
      }
      n.inputs.push_back(ids.lookup(op->getOperand(next++)));
    }
    for (auto named : op->getAttrs()) {
      llvm::StringRef k = named.getName().strref();
      if (k == kStrategyAttr) n.strategy = named.getValue().cast<mlir::StringAttr>().str();
      if (k == kInSpecsAttr)
        for (auto x : named.getValue().cast<mlir::ArrayAttr>())
          n.input_specs.push_back(x.cast<mlir::StringAttr>().str());
      if (is_bridge_attr(k)) continue;
      TSR_ASSIGN_OR_RETURN(n.attrs[k.str()], from_mlir(op, k, named.getValue()));
    }
    auto sh = op->getAttrOfType<mlir::ArrayAttr>("sharding");
    for (unsigned i = 0; i < op->getNumResults(); ++i) {
      std::string vname = op->getNumResults() == 1 ? n.name : n.name + ":" + std::to_string(i);
      TSR_ASSIGN_OR_RETURN(Value v, value_of(op, op->getResult(i), vname));
      if (sh && i < sh.size()) v.sharding = sh[i].cast<mlir::StringAttr>().str();
      int id = g.add_value(std::move(v));
      ids[op->getResult(i)] = id;
      n.outputs.push_back(id);
    }
    g.add_node(std::move(n));
    return Status::Ok();
  }
};

}  // namespace

StatusOr<Graph> mlir_to_graph(mlir::ModuleOp module, const WeightStore* weights) {
  auto fn = module.lookupSymbol<mlir::func::FuncOp>("main");
  if (!fn) {
    module.emitError() << "module has no func.func @main";
    return InvalidArgument("module has no func.func @main");
  }
  Importer im;
  im.weights = weights;
  if (auto nl = module.getLoc().dyn_cast<mlir::NameLoc>()) im.g.name = nl.getName().str();
  for (auto named : module->getAttrs()) {
    llvm::StringRef k = named.getName().strref();
    if (!k.consume_front("tessera.")) continue;
    TSR_ASSIGN_OR_RETURN(im.g.meta[k.str()], from_mlir(module, k, named.getValue()));
  }
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto nm = fn.getArgAttrOfType<mlir::StringAttr>(i, "tessera.name");
    TSR_ASSIGN_OR_RETURN(Value v, value_of(fn, fn.getArgument(i),
                                           nm ? nm.str() : "arg" + std::to_string(i)));
    v.kind = ValueKind::kInput;
    if (auto sh = fn.getArgAttrOfType<mlir::StringAttr>(i, "tessera.sharding")) v.sharding = sh.str();
    int id = im.g.add_value(std::move(v));
    im.ids[fn.getArgument(i)] = id;
    im.g.inputs.push_back(id);
  }
  for (mlir::Operation& op : fn.getBody().front()) {
    llvm::StringRef name = op.getName().getStringRef();
    if (name == "tessera.weight" || name == "tessera.constant") {
      TSR_RETURN_IF_ERROR(im.leaf(&op, name == "tessera.constant"));
    } else if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
        int id = im.ids.lookup(ret.getOperand(i));
        if (auto nm = fn.getResultAttrOfType<mlir::StringAttr>(i, "tessera.name"))
          im.g.values[id].name = nm.str();
        im.g.outputs.push_back(id);
      }
    } else if (name.startswith("tessera.")) {
      TSR_RETURN_IF_ERROR(im.node(&op));
    } else {
      op.emitError() << "unexpected op in a tessera function";
      return InvalidArgument("unexpected op '" + name.str() + "' in a tessera function");
    }
  }
  return std::move(im.g);
}

}  // namespace tessera::ir

#include "ir/shape_infer.h"

namespace tessera::ir {

std::string verify_op_shapes(mlir::Operation* op) {
  Node n;
  n.name = node_name(op);
  n.op = op->getName().getStringRef().drop_front(strlen("tessera.")).str();
  std::vector<TypeShape> in;
  llvm::SmallVector<int64_t> absent;
  if (auto a = op->getAttrOfType<mlir::DenseI64ArrayAttr>("absent_inputs"))
    absent.assign(a.asArrayRef().begin(), a.asArrayRef().end());
  size_t next = 0;
  for (size_t pos = 0; next < op->getNumOperands() || llvm::is_contained(absent, static_cast<int64_t>(pos)); ++pos) {
    if (llvm::is_contained(absent, static_cast<int64_t>(pos))) {
      in.push_back({DType::kUndefined, {}});
      n.inputs.push_back(-1);
      continue;
    }
    auto t = op->getOperand(next++).getType().cast<mlir::RankedTensorType>();
    in.push_back({dtype_of(t.getElementType()), Shape(t.getShape().begin(), t.getShape().end())});
    n.inputs.push_back(static_cast<int>(pos));
  }
  for (auto named : op->getAttrs()) {
    llvm::StringRef k = named.getName().strref();
    if (is_bridge_attr(k)) continue;
    auto a = from_mlir(op, k, named.getValue());
    if (!a.ok()) return a.status().message();
    n.attrs[k.str()] = a.value();
  }
  for (unsigned i = 0; i < op->getNumResults(); ++i) n.outputs.push_back(static_cast<int>(i));
  auto out = infer(n, in);
  if (!out.ok()) return out.status().message();
  for (unsigned i = 0; i < op->getNumResults() && i < out->size(); ++i) {
    auto t = op->getResult(i).getType().cast<mlir::RankedTensorType>();
    const auto& [dt, shape] = (*out)[i];
    if (dtype_of(t.getElementType()) != dt || Shape(t.getShape().begin(), t.getShape().end()) != shape)
      return "result " + std::to_string(i) + " has type " + std::string(dtype_name(dtype_of(t.getElementType()))) +
             "[" + shape_str(Shape(t.getShape().begin(), t.getShape().end())) + "] but inference gives " +
             dtype_name(dt) + "[" + shape_str(shape) + "]";
  }
  return "";
}

}  // namespace tessera::ir
