// Importer: graph building, constant folding, dtype promotion.
#include <algorithm>
#include <cstring>

#include "frontends/torchscript/ts_import_internal.h"
#include "ir/shape_infer.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tessera::ts_fe {

int Importer::constant(ir::TensorDataPtr data, const std::string& hint) {
  ir::Value v;
  v.name = fmt::format("{}_{}", hint, counter++);
  v.dtype = data->dtype;
  v.shape = data->shape;
  v.kind = ir::ValueKind::kConstant;
  v.data = std::move(data);
  return g.add_value(std::move(v));
}

namespace {

template <class T>
void fill(ir::TensorData& t, double v) {
  T x = static_cast<T>(v);
  for (int64_t i = 0; i < t.numel(); ++i)
    std::memcpy(t.bytes.data() + i * sizeof(T), &x, sizeof(T));
}

}  // namespace

ir::TensorDataPtr filled(DType t, const Shape& s, double v) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = t;
  d->shape = s;
  d->bytes.resize(num_elements(s) * dtype_size(t));
  switch (t) {
    case DType::kFloat32:
      fill<float>(*d, v);
      break;
    case DType::kFloat64:
      fill<double>(*d, v);
      break;
    case DType::kInt64:
      fill<int64_t>(*d, v);
      break;
    case DType::kInt32:
      fill<int32_t>(*d, v);
      break;
    case DType::kBool:
    case DType::kUInt8:
      fill<uint8_t>(*d, v != 0 ? 1 : 0);
      break;
    case DType::kInt8:
      fill<int8_t>(*d, v);
      break;
    default:
      break;  // f16/bf16 constants are made as f32 and cast by the caller
  }
  return d;
}

int Importer::scalar(DType t, double v) { return constant(filled(t, {}, v), "scalar"); }

int Importer::int_list(const std::vector<int64_t>& v) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kInt64;
  d->shape = {static_cast<int64_t>(v.size())};
  d->bytes.resize(v.size() * 8);
  if (!v.empty()) std::memcpy(d->bytes.data(), v.data(), v.size() * 8);
  return constant(d, "ints");
}

StatusOr<std::vector<int>> Importer::emit(const std::string& op, std::vector<int> in, AttrMap attrs,
                                          int num_outputs) {
  ir::Node n;
  n.op = op;
  n.name = fmt::format("{}{}{}_{}", scope, scope.empty() ? "" : "/", op, counter++);
  n.attrs = std::move(attrs);
  n.inputs = std::move(in);
  n.outputs.assign(num_outputs, -1);
  std::vector<ir::TypeShape> types;
  bool all_const = true;
  for (int v : n.inputs) {
    types.push_back(v < 0 ? ir::TypeShape{DType::kUndefined, {}}
                          : ir::TypeShape{dtype(v), shape(v)});
    all_const &= v < 0 || const_data(v) != nullptr;
  }
  auto out = ir::infer(n, types);
  if (!out.ok()) return fail("{}", out.status().message());
  int64_t total = 0;
  for (const auto& t : *out) total += num_elements(t.second);
  std::vector<int> ids;
  if (all_const && total <= opts.max_fold_elements) {  // fold: the result is a constant
    std::vector<kernels::TensorRef> ins, outs;
    for (int v : n.inputs) {
      const ir::TensorData* d = v < 0 ? nullptr : const_data(v);
      ins.push_back(
          d ? kernels::TensorRef{d->dtype, d->shape, const_cast<uint8_t*>(d->bytes.data())}
            : kernels::TensorRef{});
    }
    std::vector<std::shared_ptr<ir::TensorData>> results;
    for (const auto& [dt, sh] : *out) {
      auto d = std::make_shared<ir::TensorData>();
      d->dtype = dt, d->shape = sh;
      d->bytes.resize(num_elements(sh) * dtype_size(dt));
      outs.push_back({dt, sh, d->bytes.data()});
      results.push_back(d);
    }
    Status s = kernels::run_cpu_kernel(op, n.attrs, ins, outs);
    if (!s.ok()) return fail("folding {}: {}", op, s.message());
    for (auto& r : results) ids.push_back(constant(r, "folded"));
    return ids;
  }
  for (size_t k = 0; k < out->size(); ++k) {
    ir::Value v;
    v.name = n.name + (out->size() > 1 ? fmt::format(":{}", k) : "");
    v.dtype = (*out)[k].first;
    v.shape = (*out)[k].second;
    n.outputs[k] = g.add_value(std::move(v));
    ids.push_back(n.outputs[k]);
  }
  g.add_node(std::move(n));
  return ids;
}

StatusOr<int> Importer::emit1(const std::string& op, std::vector<int> in, AttrMap attrs) {
  TSR_ASSIGN_OR_RETURN(auto ids, emit(op, std::move(in), std::move(attrs), 1));
  return ids[0];
}

StatusOr<int> Importer::cast(int v, DType to) {
  if (dtype(v) == to) return v;
  return emit1("Cast", {v}, {{"to", Attr::Int(static_cast<int64_t>(to))}});
}

StatusOr<int> Importer::module_tensor(const PyRef& t, const std::string& name) {
  auto it = tensors.find(t->tensor.get());
  if (it != tensors.end()) return it->second;  // tied weights: one value, first name wins
  const PyTensor& pt = *t->tensor;
  bool is_float = dtype_is_float(pt.dtype);
  ir::Value v;
  v.name = name;
  v.dtype = pt.dtype;
  v.shape = pt.sizes;
  // Float tensors are weights (trainable, shardable); integer and bool buffers are constants
  // so that index computations on them (position_ids) fold.
  v.kind = is_float ? ir::ValueKind::kWeight : ir::ValueKind::kConstant;
  if (!is_float || opts.load_weights) {
    TSR_ASSIGN_OR_RETURN(v.data, ar.tensor(pt, "data"));
  }
  int id = g.add_value(std::move(v));
  tensors[t->tensor.get()] = id;
  return id;
}

namespace {

int category(DType t) { return t == DType::kBool ? 0 : dtype_is_float(t) ? 2 : 1; }

}  // namespace

StatusOr<int> Importer::as_tensor(const TsVal& x, int like) {
  if (x.kind == TsVal::kTensor) return x.v;
  if (x.kind == TsVal::kList) {
    TSR_ASSIGN_OR_RETURN(auto v, to_ints(x));
    return int_list(v);
  }
  if (!x.is_number()) return fail("expected a tensor or a number");
  DType t = x.kind == TsVal::kFloat  ? DType::kFloat32
            : x.kind == TsVal::kBool ? DType::kBool
                                     : DType::kInt64;
  if (like >= 0 && category(dtype(like)) >= category(t)) t = dtype(like);
  return scalar(t, x.kind == TsVal::kFloat ? x.f : static_cast<double>(x.i));
}

StatusOr<std::vector<int>> Importer::promote(const std::vector<TsVal>& xs) {
  // Highest category per priority group: 0 tensors with dims, 1 zero-dim tensors, 2 scalars.
  int best_cat = -1;
  DType group_best[3] = {DType::kUndefined, DType::kUndefined, DType::kUndefined};
  for (const TsVal& x : xs) {
    DType t;
    int grp;
    if (x.kind == TsVal::kTensor) {
      t = dtype(x.v), grp = rank(x.v) > 0 ? 0 : 1;
    } else if (x.is_number()) {
      t = x.kind == TsVal::kFloat  ? DType::kFloat32
          : x.kind == TsVal::kBool ? DType::kBool
                                   : DType::kInt64;
      grp = 2;
    } else {
      return fail("expected a tensor or a number operand");
    }
    best_cat = std::max(best_cat, category(t));
    DType& gb = group_best[grp];
    if (gb == DType::kUndefined || category(t) > category(gb) ||
        (category(t) == category(gb) && dtype_size(t) > dtype_size(gb))) {
      gb = t;
    }
  }
  DType result = DType::kUndefined;
  for (DType gb : group_best) {
    if (gb != DType::kUndefined && category(gb) == best_cat) {
      result = gb;
      break;
    }
  }
  std::vector<int> ids;
  for (const TsVal& x : xs) {
    if (x.kind == TsVal::kTensor) {
      TSR_ASSIGN_OR_RETURN(int v, cast(x.v, result));
      ids.push_back(v);
    } else {
      ids.push_back(scalar(result, x.kind == TsVal::kFloat ? x.f : static_cast<double>(x.i)));
    }
  }
  return ids;
}

}  // namespace tessera::ts_fe
