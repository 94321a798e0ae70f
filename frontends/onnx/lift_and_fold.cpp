// Attribute conversion, input lifting, the always-folded ops and generic constant folding.
// Folding runs the CPU reference kernels on host buffers; results above
// ImportOptions::max_fold_elements stay as nodes (time and memory at import).
#include <cmath>
#include <cstring>

#include "frontends/onnx/import_internal.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tessera::onnx_fe {

int ImportCtx::add_constant(const std::string& name, ir::TensorDataPtr data) {
  ir::Value v;
  v.name = name;
  v.dtype = data->dtype;
  v.shape = data->shape;
  v.kind = ir::ValueKind::kConstant;
  v.data = std::move(data);
  const int id = g.add_value(std::move(v));
  if (!name.empty()) by_name[name] = id;
  return id;
}

Status convert_attrs(const onnx::NodeProto& p, const std::string& name, AttrMap& out) {
  for (const auto& a : p.attribute()) {
    if (!a.ref_attr_name().empty()) {
      return invalid("node '{}' ({}): attribute '{}' refers to a function attribute; not supported",
                     name, p.op_type(), a.name());
    }
    switch (a.type()) {
      case onnx::AttributeProto::INT:
        out[a.name()] = Attr::Int(a.i());
        break;
      case onnx::AttributeProto::FLOAT:
        out[a.name()] = Attr::Float(a.f());
        break;
      case onnx::AttributeProto::STRING:
        out[a.name()] = Attr::Str(a.s());
        break;
      case onnx::AttributeProto::INTS:
        out[a.name()] = Attr::Ints({a.ints().begin(), a.ints().end()});
        break;
      case onnx::AttributeProto::FLOATS:
        out[a.name()] = Attr::Floats({a.floats().begin(), a.floats().end()});
        break;
      case onnx::AttributeProto::STRINGS:
        out[a.name()] = Attr::Strs({a.strings().begin(), a.strings().end()});
        break;
      case onnx::AttributeProto::TENSOR:
        break;  // read where used (Constant, ConstantOfShape)
      default:
        return invalid("node '{}' ({}): attribute '{}' has unsupported type {}", name, p.op_type(),
                       a.name(), static_cast<int>(a.type()));
    }
  }
  return Status::Ok();
}

bool is_special_op(const std::string& op) {
  return op == "Constant" || op == "Shape" || op == "Size" || op == "Range" ||
         op == "ConstantOfShape";
}

namespace {

std::shared_ptr<ir::TensorData> new_tensor(DType t, Shape s) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = t;
  d->shape = std::move(s);
  d->bytes.resize(d->numel() * dtype_size(t));
  return d;
}

ir::TensorDataPtr int64_tensor(const std::vector<int64_t>& v, Shape s) {
  auto d = new_tensor(DType::kInt64, std::move(s));
  std::memcpy(d->bytes.data(), v.data(), v.size() * 8);
  return d;
}

// Writes `x` converted to dtype t at element i.
void store(ir::TensorData& d, int64_t i, double x) {
  uint8_t* p = d.bytes.data() + i * dtype_size(d.dtype);
  auto put = [p](auto v) { std::memcpy(p, &v, sizeof(v)); };
  switch (d.dtype) {
    case DType::kFloat32:
      put(static_cast<float>(x));
      break;
    case DType::kFloat64:
      put(x);
      break;
    case DType::kInt64:
    case DType::kUInt64:
      put(static_cast<int64_t>(x));
      break;
    case DType::kInt32:
    case DType::kUInt32:
      put(static_cast<int32_t>(x));
      break;
    case DType::kInt16:
    case DType::kUInt16:
      put(static_cast<int16_t>(x));
      break;
    case DType::kBool:
      put(static_cast<uint8_t>(x != 0));
      break;
    default:
      put(static_cast<int8_t>(x));
      break;
  }
}

// Explains why value v is not a constant, following the first non-constant producer chain.
std::string why_not_constant(const ImportCtx& c, int v) {
  auto why = c.fold_failed.find(v);
  if (why != c.fold_failed.end()) return why->second;
  const ir::Value& x = c.g.values[v];
  if (x.kind == ir::ValueKind::kInput) return "it is a runtime input";
  if (x.kind == ir::ValueKind::kWeight) return "it is a weight without data";
  if (x.producer < 0) return "unknown producer";
  const ir::Node& n = c.g.nodes[x.producer];
  for (int u : n.inputs) {
    if (u >= 0 && c.g.values[u].kind != ir::ValueKind::kConstant) {
      return fmt::format("node '{}' ({}) depends on '{}': {}", n.name, n.op, c.g.values[u].name,
                         why_not_constant(c, u));
    }
  }
  if (!kernels::find_cpu_kernel(n.op))
    return fmt::format("node '{}' ({}) has no CPU kernel to fold it", n.name, n.op);
  return fmt::format("node '{}' ({}) was too large to fold", n.name, n.op);
}

StatusOr<const ir::TensorData*> const_input(ImportCtx& c, const PendingNode& p, size_t i) {
  const int v = i < p.n.inputs.size() ? p.n.inputs[i] : -1;
  const ir::TensorData* d = c.const_data(v);
  if (v >= 0 && !d) {
    return invalid("node '{}' ({}): input {} '{}' must be a compile-time constant ({})", p.n.name,
                   p.n.op, i, c.g.values[v].name, why_not_constant(c, v));
  }
  return d;
}

Status fold_constant(ImportCtx& c, PendingNode& p, ir::TensorDataPtr& out) {
  for (const auto& a : p.proto->attribute()) {
    if (a.name() == "value") {
      TSR_ASSIGN_OR_RETURN(LoadedTensor t, load_tensor(a.t(), true, c.files));
      if (!t.data)
        return invalid("node '{}' (Constant): value's external data is missing", p.n.name);
      out = t.data;
    } else if (a.name() == "value_float" || a.name() == "value_floats") {
      std::vector<float> v(a.floats().begin(), a.floats().end());
      if (a.name() == "value_float") v = {a.f()};
      auto d =
          new_tensor(DType::kFloat32,
                     a.name() == "value_float" ? Shape{} : Shape{static_cast<int64_t>(v.size())});
      std::memcpy(d->bytes.data(), v.data(), v.size() * 4);
      out = d;
    } else if (a.name() == "value_int") {
      out = int64_tensor({a.i()}, {});
    } else if (a.name() == "value_ints") {
      out = int64_tensor({a.ints().begin(), a.ints().end()}, {a.ints_size()});
    } else {
      return invalid("node '{}' (Constant): attribute '{}' is not supported", p.n.name, a.name());
    }
  }
  if (!out) return invalid("node '{}' (Constant): no value attribute", p.n.name);
  return Status::Ok();
}

Status fold_shape(ImportCtx& c, PendingNode& p, ir::TensorDataPtr& out) {
  if (p.n.inputs.empty() || p.n.inputs[0] < 0)
    return invalid("node '{}' ({}): missing input", p.n.name, p.n.op);
  const Shape& s = c.g.values[p.n.inputs[0]].shape;
  if (p.n.op == "Size") {
    out = int64_tensor({num_elements(s)}, {});
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(s.size());
  auto clampi = [r](int64_t x) { return std::min(std::max(x < 0 ? x + r : x, int64_t{0}), r); };
  const int64_t b = clampi(attr_int(p.n.attrs, "start", 0)),
                e = clampi(attr_int(p.n.attrs, "end", r));
  std::vector<int64_t> v(s.begin() + b, s.begin() + std::max(b, e));
  out = int64_tensor(v, {static_cast<int64_t>(v.size())});
  return Status::Ok();
}

Status fold_constant_of_shape(ImportCtx& c, PendingNode& p, ir::TensorDataPtr& out) {
  TSR_ASSIGN_OR_RETURN(const ir::TensorData* shape, const_input(c, p, 0));
  if (!shape) return invalid("node '{}' (ConstantOfShape): missing input", p.n.name);
  DType dt = DType::kFloat32;
  double value = 0;
  for (const auto& a : p.proto->attribute()) {
    if (a.name() != "value") continue;
    TSR_ASSIGN_OR_RETURN(LoadedTensor t, load_tensor(a.t(), true, c.files));
    if (!t.data || t.data->numel() != 1)
      return invalid("node '{}' (ConstantOfShape): value must hold one element", p.n.name);
    dt = t.dtype;
    TSR_ASSIGN_OR_RETURN(value, tensor_scalar(*t.data));
  }
  const Shape s = tensor_ints(*shape);
  for (int64_t d : s) {
    if (d < 0)
      return invalid("node '{}' (ConstantOfShape): negative dim in shape {}", p.n.name,
                     shape_str(s));
  }
  if (num_elements(s) > 16 * c.opts.max_fold_elements) {
    return invalid("node '{}' (ConstantOfShape): {} elements is too large to materialise", p.n.name,
                   num_elements(s));
  }
  auto d = new_tensor(dt, s);
  if (value != 0) {
    for (int64_t i = 0; i < d->numel(); ++i) store(*d, i, value);
  }
  out = d;
  return Status::Ok();
}

Status fold_range(ImportCtx& c, PendingNode& p, ir::TensorDataPtr& out) {
  double v[3];
  DType dt = DType::kUndefined;
  for (size_t i = 0; i < 3; ++i) {
    TSR_ASSIGN_OR_RETURN(const ir::TensorData* t, const_input(c, p, i));
    if (!t) return invalid("node '{}' (Range): input {} is absent", p.n.name, i);
    auto x = tensor_scalar(*t);
    if (!x.ok())
      return invalid("node '{}' (Range): input {}: {}", p.n.name, i, x.status().message());
    v[i] = *x;
    dt = t->dtype;
  }
  if (v[2] == 0) return invalid("node '{}' (Range): delta is 0", p.n.name);
  const double n = std::max(std::ceil((v[1] - v[0]) / v[2]), 0.0);
  if (n > static_cast<double>(c.opts.max_fold_elements))
    return invalid("node '{}' (Range): {} elements is too large", p.n.name, n);
  auto d = new_tensor(dt, {static_cast<int64_t>(n)});
  for (int64_t i = 0; i < d->numel(); ++i) store(*d, i, v[0] + static_cast<double>(i) * v[2]);
  out = d;
  return Status::Ok();
}

}  // namespace

Status fold_special(ImportCtx& c, PendingNode& p, bool& handled) {
  handled = is_special_op(p.n.op);
  if (!handled) return Status::Ok();
  ir::TensorDataPtr out;
  if (p.n.op == "Constant")
    TSR_RETURN_IF_ERROR(fold_constant(c, p, out));
  else if (p.n.op == "Shape" || p.n.op == "Size")
    TSR_RETURN_IF_ERROR(fold_shape(c, p, out));
  else if (p.n.op == "Range")
    TSR_RETURN_IF_ERROR(fold_range(c, p, out));
  else
    TSR_RETURN_IF_ERROR(fold_constant_of_shape(c, p, out));
  if (p.outputs.size() != 1)
    return invalid("node '{}' ({}): expected one output", p.n.name, p.n.op);
  c.add_constant(p.outputs[0], std::move(out));
  ++c.folded;
  return Status::Ok();
}

namespace {

StatusOr<Attr> to_attr(const ir::TensorData& t, Attr::Kind kind) {
  if (kind == Attr::kInts) {
    if (t.dtype != DType::kInt64 && t.dtype != DType::kInt32) {
      return InvalidArgument(fmt::format("must be int64, is {}", dtype_name(t.dtype)));
    }
    return Attr::Ints(tensor_ints(t));
  }
  TSR_ASSIGN_OR_RETURN(double x, tensor_scalar(t));
  return kind == Attr::kInt ? Attr::Int(static_cast<int64_t>(x)) : Attr::Float(x);
}

}  // namespace

Status lift_inputs(ImportCtx& c, const ir::OpInfo& op, PendingNode& p) {
  size_t keep = p.n.inputs.size();
  for (const ir::LiftedInput& l : op.lifts) {
    if (l.since_opset > c.opset) continue;
    keep = std::min(keep, static_cast<size_t>(l.index));
    if (static_cast<size_t>(l.index) >= p.n.inputs.size() || p.n.inputs[l.index] < 0) continue;
    if (c.unknown.count(p.n.inputs[l.index])) {
      p.derive = true;  // graph-only model: attributes come from value_info (derive.cpp)
      continue;
    }
    TSR_ASSIGN_OR_RETURN(const ir::TensorData* t, const_input(c, p, l.index));
    auto a = to_attr(*t, l.kind);
    if (!a.ok())
      return invalid("node '{}' ({}): input '{}': {}", p.n.name, p.n.op, l.attr,
                     a.status().message());
    p.n.attrs[l.attr] = std::move(a).value();
  }
  p.n.inputs.resize(keep);
  while (static_cast<int>(p.n.inputs.size()) > op.min_inputs && p.n.inputs.back() < 0)
    p.n.inputs.pop_back();
  if (op.max_inputs >= 0 && static_cast<int>(p.n.inputs.size()) > op.max_inputs) {
    return invalid("node '{}' ({}): {} inputs, at most {} allowed at opset {}", p.n.name, p.n.op,
                   p.n.inputs.size(), op.max_inputs, c.opset);
  }
  return Status::Ok();
}

bool try_fold(ImportCtx& c, const ir::Node& n, const std::vector<ir::TypeShape>& out_types,
              std::vector<int>& out_ids) {
  std::vector<kernels::TensorRef> in, out;
  for (int v : n.inputs) {
    if (v < 0) {
      in.emplace_back();
      continue;
    }
    const ir::Value& x = c.g.values[v];
    if (x.kind != ir::ValueKind::kConstant || !x.data) return false;
    in.push_back({x.dtype, x.shape, const_cast<uint8_t*>(x.data->bytes.data())});
  }
  if (in.empty() || !kernels::find_cpu_kernel(n.op)) return false;
  std::vector<std::shared_ptr<ir::TensorData>> results;
  for (const auto& [dt, shape] : out_types) {
    if (num_elements(shape) > c.opts.max_fold_elements) return false;
    results.push_back(new_tensor(dt, shape));
    out.push_back({dt, shape, results.back()->bytes.data()});
  }
  Status s = kernels::run_cpu_kernel(n.op, n.attrs, in, out);
  if (!s.ok()) {
    for (int v : out_ids) c.fold_failed[v] = "folding node '" + n.name + "' failed: " + s.message();
    return false;
  }
  for (size_t i = 0; i < results.size(); ++i) {
    ir::Value& v = c.g.values[out_ids[i]];
    v.kind = ir::ValueKind::kConstant;
    v.data = std::move(results[i]);
  }
  ++c.folded;
  return true;
}

}  // namespace tessera::onnx_fe
